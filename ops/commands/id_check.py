"""``tracebus id check KIND VALUE``: check one identifier offline and say why it fails.

Exit codes: 0 valid (or, for ``region``, not judged because the date precedes
every snapshot: the flag is printed), 1 invalid (the reason, naming the failed
check and the 1-based position, goes to stderr), 2 usage error (unknown kind,
bad ``--on`` date).
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import Literal

import click

from schemas.identifiers.errors import IdentifierError

KINDS = ("uscc", "gtin", "gln", "sscc", "region", "drugcode")
_GS1_KINDS: dict[str, Literal["gtin", "gln", "sscc"]] = {"gtin": "gtin", "gln": "gln", "sscc": "sscc"}


def _check_uscc(value: str) -> str:
    from schemas.identifiers.uscc import validate_uscc

    validate_uscc(value)
    return "ok"


def _check_gs1(kind: Literal["gtin", "gln", "sscc"], value: str) -> str:
    from schemas.identifiers.gs1 import validate_gs1_key

    validate_gs1_key(kind, value)
    return "ok"


def _check_drugcode(value: str) -> str:
    from schemas.identifiers.drugcode import OFFLINE_LIMITATION, validate_drug_trace_code

    validate_drug_trace_code(value)
    return f"ok ({OFFLINE_LIMITATION})"


def _check_region(value: str, on: date) -> str:
    from schemas.identifiers.region import RegionTable

    verdict = RegionTable.load_default().check(value, on)
    if verdict.flag is not None:
        listed = f"listed there as {verdict.describe()}" if verdict.known else "not listed there"
        return (
            f"{verdict.flag}: {on.isoformat()} precedes the oldest snapshot ({verdict.snapshot.isoformat()}); "
            f"{value} is {listed}; not judged"
        )
    return f"ok {verdict.describe()} (snapshot {verdict.snapshot.isoformat()})"


@click.command("check")
@click.argument("kind", metavar="KIND", type=click.Choice(KINDS, case_sensitive=False))
@click.argument("value")
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    help="Date of the event, YYYY-MM-DD (region only; default today): picks the GB/T 2260 snapshot in force.",
)
def check(kind: str, value: str, on: datetime | None) -> None:
    """Check one identifier: KIND is uscc, gtin, gln, sscc, region or drugcode.

    Prints "ok" (with the names and snapshot date for a region) and exits 0 when VALUE is valid;
    prints which check failed, at which position, and exits 1 otherwise.
    Drug trace codes are checked for format only: their check characters come
    from a non-public algorithm.
    """
    kind = kind.lower()
    if on is not None and kind != "region":
        raise click.UsageError("--on applies to KIND region only")
    try:
        if kind == "uscc":
            message = _check_uscc(value)
        elif kind == "region":
            message = _check_region(value, on.date() if on is not None else date.today())
        elif kind == "drugcode":
            message = _check_drugcode(value)
        elif kind in _GS1_KINDS:
            message = _check_gs1(_GS1_KINDS[kind], value)
        else:  # pragma: no cover - click.Choice admits only KINDS
            raise click.UsageError(f"unknown kind {kind!r}")
    except IdentifierError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(message)
