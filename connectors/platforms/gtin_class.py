"""The EPC class of a platform's product lot: a GS1 LGTIN when the product has a GTIN, else a producer's batch.

Platforms write a product's barcode (商品条码, a GTIN-14 or GTIN-13) and a
batch number (批号) in separate fields. A GTIN does not show where its GS1
Company Prefix ends; the operator's table ``ops/gs1-company-prefixes.yaml``
says (China's 690/691 ranges: 7 digits), read once per process.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final
from urllib.parse import quote

from connectors.base import SourceRecordError
from connectors.mapping.builder import batch_class
from schemas.identifiers.epc import CompanyPrefixTable, digital_link_to_urn
from schemas.identifiers.errors import IdentifierError

PREFIX_TABLE: Final = Path(__file__).resolve().parents[2] / "ops" / "gs1-company-prefixes.yaml"


@cache
def _prefixes() -> CompanyPrefixTable:
    return CompanyPrefixTable.from_file(PREFIX_TABLE)


def product_class(code: str | None, batch: str, producer_uscc: str) -> str:
    """``urn:epc:class:lgtin:…`` for a GTIN and lot, else ``urn:tracebus:class:batch:<producer>:<batch>``.

    A 13-digit GTIN is written as GTIN-14 (leading 0). A code that looks like a
    GTIN but fails its check digit, or whose company prefix the table does not
    cover, is a mapping error: guessing another class would split one lot in two.
    """
    digits = (code or "").strip()
    if len(digits) == 13 and digits.isdigit():
        digits = "0" + digits
    if len(digits) != 14 or not digits.isdigit():
        return batch_class(producer_uscc, batch)
    try:
        return digital_link_to_urn(f"https://id.gs1.org/01/{digits}/10/{quote(batch.strip(), safe='')}", _prefixes())
    except IdentifierError as exc:
        raise SourceRecordError("bad-gtin", f"product code {code!r} with batch {batch!r}: {exc}") from None
