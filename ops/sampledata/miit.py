"""MIIT's platform exports of the sample world: one JSON document per infant formula production batch.

Each document is an array: the batch record (生产批次, with its raw-milk sources
and factory test reports), then the batch's shipments (发货记录). Record
shapes: :mod:`connectors.platforms.miit.records`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from connectors.platforms.miit import records as r
from ops.sampledata.world import Business, Movement, Report, World


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _business(business: Business, *, named: bool = True) -> dict[str, object]:
    found: dict[str, object] = {r.NAME: business.name if named else None, r.USCC: business.uscc}
    if business.licence:
        found[r.LICENCE] = business.licence
    found[r.REGION] = business.region_code
    return found


def _common(movement: Movement, report: Report, kind: str) -> dict[str, object]:
    product = movement.product
    if report.unit is not None and report.unit != movement.unit:
        raise ValueError(f"{movement.id}: MIIT writes the movement's own unit, not {report.unit}")
    return {
        r.RECORD_TYPE: kind,
        "记录编号": report.record_id,
        r.PRODUCER: _business(movement.producer),
        "产品名称": product.name,
        "商品条码": product.code,
        "规格": product.spec,
        "产品类别": product.category,
        "生产批号": movement.batch,
        "追溯码": movement.trace_code,
    }


def _time(movement: Movement, report: Report) -> str:
    return movement.reported_time(report).strftime("%Y-%m-%d %H:%M:%S")


def _batch(movement: Movement, report: Report) -> dict[str, object]:
    return {
        **_common(movement, report, r.BATCH),
        "生产时间": _time(movement, report),
        "数量": _number(movement.quantity),
        "单位": movement.unit,
        r.RAW_MILK: [{r.NAME: s.name, r.USCC: s.uscc, r.REGION: s.region_code} for s in movement.suppliers],
        r.TEST_REPORTS: [
            {"报告编号": c.number, "检验机构": c.issuer, "检验结论": "合格"}
            for c in movement.certificates
            if c.kind == "test-report"
        ],
    }


def _shipment(movement: Movement, report: Report) -> dict[str, object]:
    assert movement.destination is not None, movement.id
    named = "destination_name" not in report.missing
    return {
        **_common(movement, report, r.SHIPMENT),
        "发货时间": _time(movement, report),
        "数量": _number(movement.quantity),
        "单位": movement.unit,
        "发货单号": movement.voucher,
        r.CONSIGNEE: _business(movement.destination, named=named),
    }


def export(world: World, directory: Path) -> list[Path]:
    """Write ``miit-formula-batch-<batch>.json`` per production batch; return the paths written."""
    documents: dict[str, list[dict[str, object]]] = {}
    for movement, report in world.reports_of("MIIT"):
        if movement.step == "commissioning":
            documents.setdefault(movement.batch, []).insert(0, _batch(movement, report))
        elif movement.step == "shipping":
            documents.setdefault(movement.batch, []).append(_shipment(movement, report))
        else:
            raise ValueError(f"{movement.id}: MIIT records batches and shipments, not {movement.step}")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for batch, records in documents.items():
        path = directory / f"miit-formula-batch-{batch}.json"
        path.write_bytes(r.document_bytes(records))
        written.append(path)
    return written
