"""GB/T 2260 administrative division codes (行政区划代码), checked against dated snapshots.

A code is 6 digits: 2 for the province, 2 for the prefecture, 2 for the county::

    330000  浙江省            province    (digits 3–6 are 0000)
    330100  杭州市            prefecture  (digits 5–6 are 00)
    330109  萧山区            county

The table is revised every year, so a code is judged against the list that was
in force on the event's date: the snapshot used is the latest one whose
effective date is on or before that date. Snapshots ship as package data in
``schemas/identifiers/data`` (``gb2260-index.json`` lists them; see the README
there for their source and for adding one). A list for year Y describes the
divisions at the end of year Y, so it takes effect on Y-12-31: an event dated
during year Y+1 is judged against it, and a division created or abolished
during Y+1 is only seen once the Y+1 list is added.

An event dated before the oldest snapshot is not rejected: the verdict is
flagged ``older-than-oldest-snapshot`` and carries what the oldest snapshot says,
if anything (codes were renumbered too often for an unknown code to mean much).

Some prefecture-level entries are groupings, not places: ``市辖区`` (districts of a
municipality, e.g. 110100), ``县`` (500200) and ``直辖县`` (county-level divisions
directly under the province, e.g. 429000). :meth:`RegionTable.names` returns
``None`` for such a prefecture.

Do not use this table for the area code inside a unified social credit code:
that one is frozen at issue (see :mod:`schemas.identifiers.uscc`).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Literal

from schemas.identifiers.errors import IdentifierError

KIND = "region"
OLDER_THAN_OLDEST = "older-than-oldest-snapshot"
GROUPING_NAMES = frozenset({"市辖区", "县", "直辖县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
INDEX_FILE = "gb2260-index.json"

Level = Literal["province", "prefecture", "county"]


def _require_format(code: str) -> None:
    if len(code) != 6:
        raise IdentifierError(KIND, "length", f"expected 6 digits, found {len(code)} characters")
    for position, char in enumerate(code, start=1):
        if not ("0" <= char <= "9"):
            raise IdentifierError(KIND, "alphabet", f"expected a digit 0–9, found {char!r}", position=position)


def province_prefix(code: str) -> str:
    """The 2-digit province part: ``province_prefix("330109") == "33"``."""
    _require_format(code)
    return code[:2]


def province_code(code: str) -> str:
    """The code of the province the code lies in: ``"330109"`` → ``"330000"``."""
    return province_prefix(code) + "0000"


def prefecture_code(code: str) -> str | None:
    """The prefecture's code (``"330109"`` → ``"330100"``), ``None`` for a province's code."""
    if level(code) == "province":
        return None
    return code[:4] + "00"


def level(code: str) -> Level:
    """``province`` (``330000``), ``prefecture`` (``330100``) or ``county`` (``330109``)."""
    _require_format(code)
    if code[2:] == "0000":
        return "province"
    if code[4:] == "00":
        return "prefecture"
    return "county"


@dataclass(frozen=True, slots=True)
class RegionSnapshot:
    """One dated list: every code in force on ``effective``, with its name."""

    effective: date
    codes: Mapping[str, str]
    label: str = ""


@dataclass(frozen=True, slots=True)
class RegionVerdict:
    """The outcome of :meth:`RegionTable.check` for a code that was not rejected.

    ``snapshot`` is the effective date of the snapshot consulted. ``flag`` is
    ``None`` when the code was judged against the snapshot in force on the date,
    or ``"older-than-oldest-snapshot"`` when the date precedes every snapshot
    (then ``known`` tells whether the oldest snapshot lists the code; nothing was
    rejected).
    """

    code: str
    level: Level
    snapshot: date
    known: bool
    province: str | None = None
    prefecture: str | None = None
    county: str | None = None
    flag: str | None = None

    @property
    def names(self) -> tuple[str | None, str | None, str | None]:
        """(province, prefecture, county) names; ``None`` where absent or a grouping."""
        return self.province, self.prefecture, self.county

    def describe(self) -> str:
        """Names joined by spaces, e.g. ``浙江省 杭州市 萧山区``."""
        return " ".join(name for name in self.names if name)


class RegionTable:
    """Dated GB/T 2260 snapshots; :meth:`check` picks the one in force on a date."""

    __slots__ = ("_dates", "snapshots")

    def __init__(self, snapshots: Iterable[RegionSnapshot]) -> None:
        ordered = tuple(sorted(snapshots, key=lambda s: s.effective))
        if not ordered:
            raise ValueError("a region table needs at least one snapshot")
        dates = tuple(s.effective for s in ordered)
        if len(set(dates)) != len(dates):
            raise ValueError("two snapshots have the same effective date")
        self.snapshots: tuple[RegionSnapshot, ...] = ordered
        self._dates = dates

    def __repr__(self) -> str:
        return f"RegionTable(snapshots effective {', '.join(d.isoformat() for d in self._dates)})"

    @classmethod
    def load_default(cls) -> RegionTable:
        """The snapshots shipped in ``schemas/identifiers/data`` (loaded once, then cached)."""
        return _default_table()

    def snapshot_for(self, on: date) -> RegionSnapshot | None:
        """The latest snapshot effective on or before ``on``; ``None`` if ``on`` precedes them all."""
        index = bisect.bisect_right(self._dates, _as_date(on))
        return self.snapshots[index - 1] if index else None

    def check(self, code: str, on: date) -> RegionVerdict:
        """Judge ``code`` against the snapshot in force on ``on``.

        Raises :class:`IdentifierError` when the code is not 6 digits
        (``length``/``alphabet``) or is not in that snapshot (``unknown-region``).
        A date before the oldest snapshot gives a flagged verdict instead.
        """
        code_level = level(code)
        snapshot = self.snapshot_for(on)
        flag: str | None = None
        if snapshot is None:
            snapshot, flag = self.snapshots[0], OLDER_THAN_OLDEST
        name = snapshot.codes.get(code)
        if name is None and flag is None:
            raise IdentifierError(
                KIND,
                "unknown-region",
                f"{code} is not in the GB/T 2260 list in force on {_as_date(on).isoformat()} "
                f"(snapshot effective {snapshot.effective.isoformat()})",
            )
        province, prefecture, county = _names(snapshot, code) if name is not None else (None, None, None)
        return RegionVerdict(
            code=code,
            level=code_level,
            snapshot=snapshot.effective,
            known=name is not None,
            province=province,
            prefecture=prefecture,
            county=county,
            flag=flag,
        )

    def names(self, code: str, on: date) -> tuple[str | None, str | None, str | None]:
        """(province, prefecture, county) names of ``code`` on ``on`` (same rules as :meth:`check`)."""
        return self.check(code, on).names


def _names(snapshot: RegionSnapshot, code: str) -> tuple[str | None, str | None, str | None]:
    def lookup(part: str | None) -> str | None:
        name = snapshot.codes.get(part) if part is not None else None
        return None if name in GROUPING_NAMES else name

    code_level = level(code)
    province = lookup(province_code(code))
    prefecture = lookup(prefecture_code(code)) if code_level != "province" else None
    county = lookup(code) if code_level == "county" else None
    return province, prefecture, county


def _as_date(on: date) -> date:
    return on.date() if isinstance(on, datetime) else on


def _read_snapshot(raw: str, expected_effective: str) -> RegionSnapshot:
    document = json.loads(raw)
    if document["effective"] != expected_effective:
        raise ValueError(f"snapshot says it takes effect {document['effective']}, the index says {expected_effective}")
    codes = {str(code): str(name) for code, name in document["codes"].items()}
    return RegionSnapshot(date.fromisoformat(expected_effective), codes, str(document.get("list", "")))


@cache
def _default_table() -> RegionTable:
    data = resources.files("schemas.identifiers") / "data"
    index = json.loads((data / INDEX_FILE).read_text(encoding="utf-8"))
    return RegionTable(
        _read_snapshot((data / entry["file"]).read_text(encoding="utf-8"), entry["effective"])
        for entry in index["snapshots"]
    )
