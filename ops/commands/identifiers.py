"""``tracebus id``: check and convert identifiers."""

from __future__ import annotations

import click

from ops.commands.id_check import check
from ops.commands.id_convert import convert


@click.group("id")
def identifiers() -> None:
    """Check codes (USCC, GS1 keys, GB/T 2260 regions, drug trace codes) and convert EPC URNs ↔ Digital Link."""


identifiers.add_command(check)
identifiers.add_command(convert)
