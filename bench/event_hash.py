"""Event-hash benchmark: parse (``parse_document``) + CBV 2.0 event hash, JSON-LD and XML.

Run: ``.venv/bin/python bench/event_hash.py [--seconds N]``. Builds 100-event documents by
repeating the events of the shared ``epcis-event-hash`` vectors with varied serial numbers
(every document has fresh serials, so the identifier cache only helps with what really
repeats: locations, classes, parties), then measures events/s for parse + hash per format,
with the parse-only rate and the hash's share beside. Target: ≥ 10,000 events/s in each format.
Prints a table and, last, one JSON line. A measurement, not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson
from lxml import etree

import schemas.epcis.hash as hash_module
from schemas.epcis import parse_document
from schemas.epcis.hash import document_hashes

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "epcis-event-hash"
EVENTS_PER_DOCUMENT = 100
TARGET_EPS = 10_000
T = TypeVar("T")
JSON_CONTEXT: list[Any] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"gs1": "https://gs1.org/voc/"},
    {"example": "https://ns.example.com/epcis/"},
    {"cbvmda": "urn:epcglobal:cbv:mda:"},
]
XML_HEAD = (
    '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" '
    'creationDate="2024-01-01T00:00:00Z" xmlns:cbvmda="urn:epcglobal:cbv:mda:" '
    'xmlns:example="https://ns.example.com/epcis/"><EPCISBody><EventList>'
)
XML_TAIL = "</EventList></EPCISBody></epcis:EPCISDocument>"

_SGTIN = re.compile(r"(urn:epc:id:(?:sgtin|giai|grai|gdti|sgcn|cpi|itip|upui):[0-9A-Za-z.]+?\.)([0-9A-Za-z]+)(?=[\"<])")
_SSCC = re.compile(r"(urn:epc:id:sscc:\d+\.)(\d+)")
_DL_SERIAL = re.compile(r"(/21/)([0-9A-Za-z-]+)")


def vary(text: str, serial: int) -> str:
    """The same event text with other serial numbers (SSCC serial references keep their length)."""
    text = _SGTIN.sub(lambda m: f"{m.group(1)}{m.group(2)}{serial}", text)
    text = _SSCC.sub(lambda m: m.group(1) + (m.group(2) + f"{serial:07d}")[-len(m.group(2)) :], text)
    return _DL_SERIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{serial}", text)


def json_templates() -> list[str]:
    templates: list[str] = []
    for path in sorted(VECTORS.glob("*.jsonld")):
        for event in orjson.loads(path.read_bytes())["epcisBody"]["eventList"]:
            templates.append(orjson.dumps(event).decode())
    return templates


def xml_templates() -> list[str]:
    templates: list[str] = []
    for path in sorted(VECTORS.glob("*.xml")):
        root = etree.fromstring(path.read_bytes())
        for event in root.iter("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent"):
            text = etree.tostring(event, encoding="unicode")
            templates.append(re.sub(r'\s+xmlns:\w+="[^"]*"', "", text))
    return templates


def build_documents(count: int) -> tuple[list[bytes], list[bytes]]:
    """``count`` JSON-LD and ``count`` XML documents of 100 events, all with distinct serials."""
    json_events, xml_events = json_templates(), xml_templates()
    json_docs: list[bytes] = []
    xml_docs: list[bytes] = []
    for doc in range(count):
        base = doc * EVENTS_PER_DOCUMENT
        events = [vary(json_events[i % len(json_events)], base + i) for i in range(EVENTS_PER_DOCUMENT)]
        body = {"@context": JSON_CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0"}
        text = orjson.dumps(body).decode()[:-1] + ',"epcisBody":{"eventList":[' + ",".join(events) + "]}}"
        json_docs.append(text.encode())
        xml_base = (count + doc) * EVENTS_PER_DOCUMENT  # other serials than the JSON documents'
        xml_body = "".join(vary(xml_events[i % len(xml_events)], xml_base + i) for i in range(EVENTS_PER_DOCUMENT))
        xml_docs.append((XML_HEAD + xml_body + XML_TAIL).encode())
    return json_docs, xml_docs


def measure(items: Sequence[T], seconds: float, step: Callable[[T], int]) -> tuple[float, float]:
    """Events/s of ``step`` over ``items`` (cycled) for about ``seconds``, by the wall clock and by
    this process's CPU time (the latter shows what a shared machine's load took away); the hash
    caches start cold."""
    hash_module._canonical.cache_clear()
    events = 0
    index = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    while True:
        events += step(items[index % len(items)])
        index += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return events / elapsed, events / max(time.process_time() - cpu_start, 1e-9)


def run(seconds: float) -> dict[str, float]:
    # distinct serials for ~40k events/s over the whole run (no identifier is ever seen twice)
    count = max(4, min(800, int(seconds * 400)))
    json_docs, xml_docs = build_documents(count)
    results: dict[str, float] = {}
    rows = []
    for name, docs, content_type in (
        ("jsonld", json_docs, "application/ld+json"),
        ("xml", xml_docs, "application/xml"),
    ):

        def both(body: bytes, content_type: str = content_type) -> int:
            return len(document_hashes(parse_document(body, content_type)))

        def parse_only(body: bytes, content_type: str = content_type) -> int:
            return len(parse_document(body, content_type).events)

        eps, cpu_eps = measure(docs, seconds, both)
        parse_eps, _ = measure(docs, seconds / 2, parse_only)
        # the hash's own rate, from the two above (hashing documents parsed long before is
        # slower than in the pipeline, where the events are still in the CPU caches)
        hash_eps = 1 / max(1 / eps - 1 / parse_eps, 1e-12)
        results[f"{name}_eps"] = round(eps)
        rows.append((name, eps, cpu_eps, parse_eps, hash_eps))
    print(
        f"{'format':8} {'parse+hash ev/s':>16} {'(per CPU s)':>12} {'parse only':>12} {'hash share':>12}"
        f"  target ≥ {TARGET_EPS:,}"
    )
    for name, eps, cpu_eps, parse_eps, hash_eps in rows:
        verdict = "ok" if eps >= TARGET_EPS else "BELOW TARGET"
        print(f"{name:8} {eps:16,.0f} {cpu_eps:12,.0f} {parse_eps:12,.0f} {hash_eps:12,.0f}  {verdict}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per figure (default 2)")
    args = parser.parse_args()
    if not VECTORS.is_dir():
        print(f"skipped: {VECTORS} not present (outside the tracebus workplace)")
        print(json.dumps({"jsonld_eps": None, "xml_eps": None, "skipped": True}))
        return
    print(json.dumps(run(args.seconds)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
