"""Units as platforms write them (头, 斤, 公斤, 箱, 盒 …) → UN/ECE Recommendation 20 codes.

EPCIS quantities carry a Rec 20 code in ``uom``. Packaging units use Rec 20's
``X`` + Rec 21 package code form (``XCS`` case, ``XBX`` box, ``XBG`` bag …).
A unit that Rec 20 measures differently is converted (1 斤 = 0.5 kg), and the
platform's own value and unit are kept beside the event
(``src:originalQuantity``) so nothing the platform wrote is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from connectors.base import SourceRecordError


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    """The UN/ECE Rec 20 code."""
    factor: Decimal = Decimal(1)
    """Multiply the platform's value by this to get a quantity in ``code``."""


_KILOGRAM: Final = Unit("KGM")
_PIECE: Final = Unit("H87")
UNITS: Final[dict[str, Unit]] = {
    # mass
    "公斤": _KILOGRAM,
    "千克": _KILOGRAM,
    "kg": _KILOGRAM,
    "KGM": _KILOGRAM,
    "斤": Unit("KGM", Decimal("0.5")),  # 市斤: half a kilogram
    "克": Unit("GRM"),
    "g": Unit("GRM"),
    "GRM": Unit("GRM"),
    "吨": Unit("TNE"),
    "t": Unit("TNE"),
    "TNE": Unit("TNE"),
    # volume
    "升": Unit("LTR"),
    "L": Unit("LTR"),
    "LTR": Unit("LTR"),
    "毫升": Unit("MLT"),
    "ml": Unit("MLT"),
    # counted things: livestock heads, pieces, items
    "头": _PIECE,
    "只": _PIECE,
    "个": _PIECE,
    "件": _PIECE,
    "支": _PIECE,
    "枚": _PIECE,
    "H87": _PIECE,
    "EA": _PIECE,
    # packages (Rec 20 "X" + Rec 21 package code)
    "箱": Unit("XCS"),
    "XCS": Unit("XCS"),
    "盒": Unit("XBX"),
    "XBX": Unit("XBX"),
    "袋": Unit("XBG"),
    "XBG": Unit("XBG"),
    "瓶": Unit("XBO"),
    "XBO": Unit("XBO"),
    "罐": Unit("XCX"),
    "XCX": Unit("XCX"),
    "包": Unit("XPK"),
    "XPK": Unit("XPK"),
    "桶": Unit("XBA"),
}


def rec20(value: Decimal, unit: str) -> tuple[Decimal, str]:
    """(quantity, Rec 20 code) for a platform's value and unit; an unknown unit is a mapping error."""
    found = UNITS.get(unit.strip())
    if found is None:
        raise SourceRecordError("unknown-unit", f"unit {unit!r} has no UN/ECE Rec 20 mapping")
    return value * found.factor, found.code
