"""The two ledgers of SAMR's national food-safety collaboration platform, as its XLSX exports spell them.

A food business keeps a 进货台账 (inbound ledger: what it bought, from whom,
checked against which certificates, 进货查验) and a 销货台账 (outbound ledger:
what it sold, to whom). The platform exports each as one XLSX workbook per
business and ledger, one row per movement, headers in Chinese. The columns
are shared by the sample exporter (:mod:`ops.sampledata.samr`), the
conformance kit and the mapper, so the three cannot drift apart.

Every workbook is written deterministically (fixed document properties and
zip entry times): the same rows always give the same bytes, hence the same
file digest and record identities.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final, Literal

Ledger = Literal["in", "out"]

IN_SHEET: Final = "进货台账"
OUT_SHEET: Final = "销货台账"

# the business whose ledger it is (经营者) — one workbook per business, yet every row names it,
# because the platform's export is a flat query over all its businesses' ledgers
OWNER_COLUMNS: Final = (
    "经营者名称",
    "经营者统一社会信用代码",
    "经营者许可证编号",
    "经营者类型",
    "经营场所行政区划代码",
)
PRODUCT_COLUMNS: Final = (
    "记录编号",
    "{time}",
    "食品名称",
    "商品条码",
    "规格型号",
    "食品类别",
    "生产批号",
    "数量",
    "单位",
    "箱规",
    "追溯码",
    "报关单号",
    "原产国（地区）",
    "生产者名称",
    "生产者统一社会信用代码",
)
PARTNER_FIELDS: Final = ("名称", "统一社会信用代码", "许可证编号", "身份证号", "联系电话")
IN_TIME: Final = "进货日期"
OUT_TIME: Final = "销售日期"
IN_PARTNER: Final = "供货者"
"""来源: the supplier of an inbound row."""
OUT_PARTNER: Final = "购货者"
"""去向: the buyer of an outbound row."""
IN_CERTIFICATES: Final = ("查验票证类型", "查验票证编号", "发证机构")
OUT_CERTIFICATES: Final = ("随附票证类型", "随附票证编号", "发证机构")
IN_VOUCHER: Final = "随货凭证号"
OUT_VOUCHER: Final = "销售凭证号"


def columns(ledger: Ledger) -> tuple[str, ...]:
    """The header row of a ledger's workbook, in order."""
    time, partner = (IN_TIME, IN_PARTNER) if ledger == "in" else (OUT_TIME, OUT_PARTNER)
    certificates, voucher = (IN_CERTIFICATES, IN_VOUCHER) if ledger == "in" else (OUT_CERTIFICATES, OUT_VOUCHER)
    product = tuple(time if c == "{time}" else c for c in PRODUCT_COLUMNS)
    return (*product, *(partner + f for f in PARTNER_FIELDS), *certificates, voucher, *OWNER_COLUMNS)


CERTIFICATE_LABELS: Final = {
    "compliance": "承诺达标合格证",
    "import-quarantine": "入境货物检验检疫证明",
    "test-report": "检验报告",
    "animal-quarantine": "动物检疫合格证明",
    "meat-quality": "肉品品质检验合格证",
    "origin": "产地证明",
}
"""The ``tb:certificates`` type of each certificate kind → the label the ledger writes."""
CERTIFICATE_KINDS: Final = {label: kind for kind, label in CERTIFICATE_LABELS.items()}
SEPARATOR: Final = "；"
"""Several certificates in one cell are separated by a full-width semicolon, aligned across the three cells."""

BUSINESS_TYPES: Final = {
    "wholesale-market": "食用农产品批发市场",
    "manufacturer": "食品生产企业",
    "distributor": "食品批发经营者",
    "importer": "进口食品进口商",
    "retailer": "食品零售经营者",
}
"""``tb:businessRole`` → 经营者类型 as the platform writes it."""
BUSINESS_ROLES: Final = {label: role for role, label in BUSINESS_TYPES.items()}

COUNTRIES: Final = {
    "AU": "澳大利亚",
    "NZ": "新西兰",
    "BR": "巴西",
    "AR": "阿根廷",
    "UY": "乌拉圭",
    "US": "美国",
    "CA": "加拿大",
    "IE": "爱尔兰",
    "FR": "法国",
    "NL": "荷兰",
}
"""ISO 3166-1 alpha-2 → 原产国 as the ledger writes it (the countries food imports commonly come from)."""
COUNTRY_CODES: Final = {name: code for code, name in COUNTRIES.items()}

_FIXED_TIME: Final = datetime(2026, 11, 23, 0, 0, 0)
_ZIP_TIME: Final = (2026, 11, 23, 0, 0, 0)


def workbook_bytes(ledger: Ledger, rows: Iterable[Sequence[Any]]) -> bytes:
    """An XLSX workbook of one ledger: a header row, then ``rows`` (values in :func:`columns` order).

    Times are written as date-time cells (as the platform does); the reader
    gives them back as ISO text without offset, which mappers read as China time.
    """
    import openpyxl  # only writers of workbooks pay for the import

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = IN_SHEET if ledger == "in" else OUT_SHEET
    sheet.append(list(columns(ledger)))
    for row in rows:
        sheet.append(list(row))
    for cell in sheet["B"][1:]:
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
    book.properties.creator = "国家食品安全追溯协同平台"
    book.properties.created = _FIXED_TIME
    book.properties.modified = _FIXED_TIME
    buffer = io.BytesIO()
    book.save(buffer)
    return _fixed_zip_times(buffer.getvalue())


_CORE_TIMES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")
_CORE_TIME = b"2026-11-23T00:00:00Z"


def _fixed_zip_times(data: bytes) -> bytes:
    # openpyxl stamps every zip entry with the current time: rewrite them so equal rows give equal bytes
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl writes the save time as "modified": pin it
                content = _CORE_TIMES.sub(rb"\g<1>" + _CORE_TIME + rb"\g<2>", content)
            target.writestr(entry, content)
    return out.getvalue()
