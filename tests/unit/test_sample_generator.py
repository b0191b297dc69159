"""The sample generator: the committed samples are what it writes, and what it writes is consistent.

The comparison with the committed files fails until ``tracebus samples generate``
has been run and its output committed.
"""

from __future__ import annotations

import csv
import shutil
import time
from datetime import date
from pathlib import Path

import pytest

from ops.commands.masterdata_rows import read_files
from ops.sampledata.generate import (
    LIST_FILES,
    MASTERDATA_DIR,
    MASTERDATA_FILES,
    PLATFORMS,
    PLATFORMS_DIR,
    Generated,
    differences,
    generate,
)
from ops.sampledata.world import build_world
from streams.settings import OPS_DIR


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("samples"), note=lambda _: None)


@pytest.mark.parametrize("department", PLATFORMS)
def test_committed_platform_files_are_up_to_date(generated: Generated, department: str) -> None:
    found = differences(generated, OPS_DIR, only=[PLATFORMS_DIR / department.lower()])
    assert not found, "run `tracebus samples generate`:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "relative", [PLATFORMS_DIR / name for name in LIST_FILES] + [MASTERDATA_DIR / name for name in MASTERDATA_FILES]
)
def test_committed_lists_and_master_data_are_up_to_date(generated: Generated, relative: Path) -> None:
    found = differences(generated, OPS_DIR, only=[relative])
    assert not found, "run `tracebus samples generate`:\n" + "\n".join(found)


def test_generating_twice_gives_the_same_bytes(generated: Generated, tmp_path: Path) -> None:
    time.sleep(1.1)  # a file stamped with the current time (zip entries, XLSX properties) would differ now
    again = generate(tmp_path, note=lambda _: None)
    assert differences(again, generated.out) == []
    assert {p.relative_to(tmp_path) for p in again.files} == {p.relative_to(generated.out) for p in generated.files}


def test_check_reports_changed_missing_and_stale_files(generated: Generated, tmp_path: Path) -> None:
    committed = tmp_path / "committed"
    shutil.copytree(generated.out, committed)
    assert differences(generated, committed) == []
    department = next(iter(generated.platforms))
    changed = committed / generated.platforms[department][0].relative_to(generated.out)
    changed.write_bytes(changed.read_bytes() + b"\n")
    (committed / MASTERDATA_DIR / "products.csv").unlink()
    stale = committed / PLATFORMS_DIR / department.lower() / "old-export.csv"
    stale.write_text("x\n")
    found = differences(generated, committed)
    assert f"{changed.relative_to(committed)}: differs from the generated file" in found
    assert f"{MASTERDATA_DIR / 'products.csv'}: missing from {committed}" in found
    assert f"{stale.relative_to(committed)}: stale (no longer generated)" in found
    assert len(found) == 3


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_expected_merges_and_near_misses_list_every_report(generated: Generated) -> None:
    world = build_world()
    merges = _rows(generated.out / PLATFORMS_DIR / "expected-merges.csv")
    expected = [(m, p, r) for m, reports in world.expected_merges() for p, r in reports]
    assert [(row["observation"], row["platform"], row["record_id"]) for row in merges] == expected
    assert all(row["chain"] and row["step"] for row in merges)
    misses = _rows(generated.out / PLATFORMS_DIR / "near-misses.csv")
    near = [m for m in world.movements if m.near_miss_of]
    assert len(misses) == sum(len(m.reports) for m in near)
    assert {(row["movement"], row["resembles"], row["kind"]) for row in misses} == {
        (m.id, m.near_miss_of, m.near_miss_kind) for m in near
    }


def test_master_data_keeps_the_committed_rows_and_adds_the_world(generated: Generated) -> None:
    world = build_world()
    out = generated.out / MASTERDATA_DIR
    for name, key in (("businesses.csv", "uscc"), ("products.csv", "code"), ("catalogue.csv", "category")):
        written = {row[key]: row for row in _rows(out / name)}
        for row in _rows(OPS_DIR / MASTERDATA_DIR / name):
            assert row[key] in written, f"{name}: committed row {row[key]} kept"
            if name == "businesses.csv":  # credit grades and licence wording only the committed file knows
                assert written[row[key]]["credit_grade"] == row["credit_grade"]
                if row["licences"]:
                    assert written[row[key]]["licences"] == row["licences"]
    businesses = {row["uscc"]: row for row in _rows(out / "businesses.csv")}
    for business in world.businesses.values():
        assert businesses[business.uscc]["name"] == business.name
        assert businesses[business.uscc]["natural_person"] == ("true" if business.natural_person else "false")
    categories = {row["category"] for row in _rows(out / "catalogue.csv")}
    assert {p.category for p in world.products.values()} <= categories
    parsed = read_files([out / name for name in MASTERDATA_FILES], None, on=date(2026, 11, 2))
    assert parsed.problems == [], "every row passes `tracebus masterdata load --dry-run` (GB/T 2260 regions too)"


def test_readme_describes_each_platform(generated: Generated) -> None:
    text = (generated.out / PLATFORMS_DIR / "README.md").read_text(encoding="utf-8")
    for department in PLATFORMS:
        assert f"### {department} (" in text
    for department, files in generated.platforms.items():
        for path in files:
            assert f"`{path.relative_to(generated.out / PLATFORMS_DIR).as_posix()}`" in text, department
