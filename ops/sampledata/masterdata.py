"""The sample world's master data: businesses, products and catalogue, merged with the committed rows.

The committed files (``ops/masterdata/*.csv``) carry what the world does not
know: credit grades (信用等级), the licence wording, products no movement
names. So every committed row is kept; a world business or product is
written from the world (name, region, natural person, category, spec), taking
the credit grade and licences of its committed row when that row gives them.
Committed rows keep their order; world entries not yet committed follow in
the world's order. Columns are those of :mod:`ops.commands.masterdata_rows`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from ops.commands.masterdata_rows import COLUMNS
from ops.sampledata.world import START, Business, World
from schemas.identifiers.gs1 import gtin14

Row = dict[str, str]

BUSINESS_COLUMNS: Final = tuple(c for c in COLUMNS["business"] if c != "deleted")
PRODUCT_COLUMNS: Final = tuple(c for c in COLUMNS["product"] if c != "deleted")
CATALOGUE_COLUMNS: Final = tuple(c for c in COLUMNS["catalogue"] if c != "deleted")
_LICENCE_KINDS: Final = (
    (re.compile(r"^SC\d{14}$"), "食品生产许可证"),
    (re.compile(r"^JY\d{14}$"), "食品经营许可证"),
    (re.compile(r"^[\u4e00-\u9fff]\d{8}$"), "药品生产许可证"),
    (re.compile(r"^[\u4e00-\u9fff][A-Z]{2}\d{7}$"), "药品经营许可证"),
)


def read_rows(path: Path) -> list[Row]:
    """A committed CSV's rows (empty when the file does not exist)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{k: (v or "") for k, v in row.items()} for row in csv.DictReader(handle)]


def csv_text(columns: Sequence[str], rows: Iterable[Row]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def licence_text(number: str) -> str:
    """A licence as the committed files write it: its kind (许可证 name), a space, its number."""
    for pattern, kind in _LICENCE_KINDS:
        if pattern.match(number):
            return f"{kind} {number}"
    return f"许可证 {number}"


def _merge(key: str, committed: list[Row], fresh: list[Row], keep: Sequence[str]) -> list[Row]:
    """Committed rows in their order (world values over them, ``keep`` columns from them when given), then the rest."""
    by_key = {row[key]: row for row in fresh}
    merged: list[Row] = []
    for row in committed:
        new = by_key.pop(row[key], None)
        if new is None:
            merged.append(row)
            continue
        merged.append(new | {column: row[column] for column in keep if row.get(column)})
    return merged + list(by_key.values())


def business_row(business: Business) -> Row:
    return {
        "uscc": business.uscc,
        "name": business.name,
        "natural_person": "true" if business.natural_person else "false",
        "credit_grade": "",
        "region_code": business.region_code,
        "licences": licence_text(business.licence) if business.licence else "",
    }


def _product_code(code: str) -> str:
    return gtin14(code) if code.isdigit() and len(code) in (8, 12, 13, 14) else code


def businesses(world: World, committed: list[Row]) -> list[Row]:
    fresh = [business_row(b) for b in world.businesses.values()]
    return _merge("uscc", committed, fresh, keep=("credit_grade", "licences"))


def products(world: World, committed: list[Row]) -> list[Row]:
    fresh = [
        {"code": _product_code(p.code), "name": p.name, "category": p.category, "spec": p.spec}
        for p in world.products.values()
    ]
    return _merge("code", committed, fresh, keep=())


def catalogue(world: World, committed: list[Row]) -> list[Row]:
    """The committed catalogue, plus any category a world product uses that it lacks (traced since the start)."""
    rows = list(committed)
    known = {row["category"] for row in rows}
    for product in world.products.values():
        if product.category in known:
            continue
        platform = next((m.reports[0].platform for m in world.movements if m.product is product), "OTHER")
        rows.append(
            {
                "category": product.category,
                "name": product.name,
                "traced": "true",
                "department": platform,
                "since": START.isoformat(),
            }
        )
        known.add(product.category)
    return rows


def write_masterdata(world: World, committed: Path, out: Path) -> list[Path]:
    """Write ``businesses.csv``, ``products.csv``, ``catalogue.csv`` to ``out`` from the world and ``committed``."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "businesses.csv": csv_text(BUSINESS_COLUMNS, businesses(world, read_rows(committed / "businesses.csv"))),
        "products.csv": csv_text(PRODUCT_COLUMNS, products(world, read_rows(committed / "products.csv"))),
        "catalogue.csv": csv_text(CATALOGUE_COLUMNS, catalogue(world, read_rows(committed / "catalogue.csv"))),
    }
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8", newline="")
        written.append(path)
    return written
