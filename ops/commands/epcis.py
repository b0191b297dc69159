"""``tracebus epcis``: EPCIS document tools.

``tracebus epcis hash FILE`` prints the CBV 2.0 event hash ID (``ni:///sha-256;…?ver=CBV2.0``)
of every event in an EPCIS document (JSON-LD or XML), one line each in document order;
``--prehash`` prints the canonical pre-hash strings instead. ``FILE`` may be ``-`` for stdin.
"""

from __future__ import annotations

import sys

import click

from schemas.epcis import parse_document
from schemas.epcis.hash import document_hashes, document_prehashes
from schemas.errors import DocumentError

__all__ = ["epcis"]

_CONTENT_TYPES = {".xml": "application/xml", ".jsonld": "application/ld+json", ".json": "application/json"}


@click.group("epcis")
def epcis() -> None:
    """EPCIS 2.0 document tools."""


@epcis.command("hash")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--prehash", is_flag=True, help="Print the canonical pre-hash strings instead of the hashes.")
def hash_command(file: str, prehash: bool) -> None:
    """Print the event hash ID of every event in FILE (JSON-LD or XML), in document order."""
    if file == "-":
        body = sys.stdin.buffer.read()
        content_type = None
    else:
        try:
            with open(file, "rb") as handle:
                body = handle.read()
        except OSError as exc:
            raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from exc
        suffix = file[file.rfind(".") :].lower() if "." in file else ""
        content_type = _CONTENT_TYPES.get(suffix)
    try:
        doc = parse_document(body, content_type)
    except DocumentError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    for line in document_prehashes(doc) if prehash else document_hashes(doc):
        click.echo(line)
