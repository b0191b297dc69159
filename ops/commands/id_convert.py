"""``tracebus id convert``: EPC URN ↔ GS1 Digital Link URI on the command line.

Registered by :mod:`ops.cli` (``main.add_command(convert, …)`` under the ``id`` group).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from schemas.identifiers.epc import CompanyPrefixTable, digital_link_to_urn, urn_to_digital_link
from schemas.identifiers.errors import IdentifierError

DEFAULT_PREFIXES = Path(__file__).resolve().parent.parent / "gs1-company-prefixes.yaml"


@click.command("convert")
@click.argument("value")
@click.option(
    "--prefixes",
    "prefixes_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_PREFIXES,
    show_default=True,
    help="GS1 Company Prefix table (YAML/JSON) used to turn a Digital Link into a URN.",
)
def convert(value: str, prefixes_file: Path) -> None:
    """Convert VALUE between EPC URN and GS1 Digital Link URI.

    \b
    urn:epc:id:sgtin:0614141.107346.2017  → https://id.gs1.org/01/10614141073464/21/2017
    https://id.gs1.org/414/0614141073467 → urn:epc:id:sgln:0614141.07346.0

    A Digital Link needs the length of its GS1 Company Prefix, read from --prefixes.
    Exits 1 with the reason on stderr when VALUE cannot be converted.
    """
    text = value.strip()
    lowered = text[:8].lower()
    try:
        if lowered.startswith("urn:epc:"):
            result = urn_to_digital_link(text)
        elif lowered.startswith(("http://", "https://")):
            result = digital_link_to_urn(text, CompanyPrefixTable.from_file(prefixes_file))
        else:
            raise IdentifierError(
                "epc", "syntax", f"neither an EPC URN (urn:epc:…) nor a GS1 Digital Link URI: {text!r}"
            )
    except IdentifierError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(result)
