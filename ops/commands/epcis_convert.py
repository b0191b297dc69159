"""``tracebus epcis convert FILE --to jsonld|avro-json``: show the canonical form of a document's events."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from schemas.codec import AvroCodec
from schemas.epcis import parse_document
from schemas.epcis.jsonld import render_events
from schemas.errors import DocumentError
from streams.bus import CANONICAL_SCHEMA
from streams.steps.base import Emit
from streams.steps.validate import CaptureContext, validate_event


@click.command("convert")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "target",
    type=click.Choice(["jsonld", "avro-json"]),
    default="jsonld",
    show_default=True,
    help="jsonld: the EPCIS 2.0 JSON-LD document as the bus delivers it; "
    "avro-json: each canonical trace_event v1 record as JSON, identity and flags included.",
)
@click.option("--source", default="cli", show_default=True, help="Reporter recorded in avro-json output.")
def convert(file: Path, target: str, source: str) -> None:
    """Parse FILE (EPCIS 2.0 JSON-LD or XML), validate every event, and print its canonical form.

    Exit 1 if the document cannot be parsed or any event is rejected (the reasons go to stderr).
    """
    from datetime import UTC, datetime, timedelta

    try:
        document = parse_document(file.read_bytes(), None)
    except DocumentError as exc:
        raise click.ClickException(str(exc)) from exc
    now = datetime.now(UTC)
    context = CaptureContext.of(
        reporter=source, capture_id="cli", received_at_ms=int(now.timestamp() * 1000), context=document.context
    )
    records: list[dict[str, Any]] = []
    failed = False
    for index, event in enumerate(document.events):
        result = validate_event(event, context, now=now, future_skew=timedelta(days=36500))
        if isinstance(result, Emit):
            records.append(result.value)
        else:
            failed = True
            click.echo(f"event {index}: {result.reason}: {result.message}", err=True)  # type: ignore[union-attr]
    codec = AvroCodec(CANONICAL_SCHEMA.read_text())
    records = [codec.decode(codec.encode(r)) for r in records]  # exactly what the wire carries
    if target == "avro-json":
        output: Any = records
    else:
        contexts, events = render_events(records)
        output = {
            "@context": contexts,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "epcisBody": {"eventList": events},
        }
    click.echo(orjson.dumps(output, option=orjson.OPT_INDENT_2).decode())
    if failed:
        sys.exit(1)
