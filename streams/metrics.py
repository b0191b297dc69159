"""Every Prometheus metric tracebus exports: one ``tracebus_`` prefix, base units, low-cardinality labels.

Labels are names of steps, stages, subscriptions and sources — never event
identities. ``stage`` and ``step`` values are the same strings that appear in
dead-letter headers, so a counter and the records it counts can be joined.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CAPTURE_REQUESTS = Counter("tracebus_capture_requests_total", "Capture requests by outcome.", ["outcome"])
CAPTURED_EVENTS = Counter(
    "tracebus_captured_events_total", "Events published to the canonical topic by capture.", ["source"]
)
CAPTURE_REJECTED_EVENTS = Counter(
    "tracebus_capture_rejected_events_total",
    "Events refused at capture (reported in the capture job, not dead-lettered).",
    ["reason"],
)
CAPTURE_SECONDS = Histogram(
    "tracebus_capture_duration_seconds", "Time from request body read to Kafka acknowledgement."
)
STEP_OUTCOMES = Counter(
    "tracebus_step_events_total",
    "Events leaving a named step, by outcome (emit, drop, fail).",
    ["step", "outcome"],
)
DROPPED_EVENTS = Counter(
    "tracebus_dropped_events_total", "Events deliberately dropped, by step and reason.", ["step", "reason"]
)
DEAD_LETTERS = Counter(
    "tracebus_dead_letters_total",
    "Records written to the dead-letter topic, by stage and reason.",
    ["stage", "reason"],
)
ROUTED_EVENTS = Counter("tracebus_routed_events_total", "Events routed to a subscription's topic.", ["subscription"])
BATCH_SECONDS = Histogram(
    "tracebus_batch_duration_seconds",
    "Time to process one consumed batch, through commit.",
    ["processor"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DELIVERIES = Counter("tracebus_sink_deliveries_total", "Sink write attempts, by sink and outcome.", ["sink", "outcome"])
DELIVERED_EVENTS = Counter(
    "tracebus_sink_delivered_events_total", "Events a sink wrote durably (offsets then committed).", ["sink"]
)
DELIVERY_SECONDS = Histogram("tracebus_sink_write_duration_seconds", "Duration of one sink write.", ["sink"])
PARKED_EVENTS = Counter(
    "tracebus_sink_parked_events_total",
    "Events appended to a sink's retry topic, by reason: retriable (in-line attempts failed), "
    "retry-failed (an attempt from the retry topic failed), held-behind (an earlier event of its key is parked).",
    ["sink", "reason"],
)
PARKED_KEYS = Gauge(
    "tracebus_sink_parked_keys",
    "Keys (trace keys) with events parked on a sink's retry topic, in this process.",
    ["sink"],
)
READY = Gauge("tracebus_ready", "1 when every component of this process reports ready.")
SOURCE_RECORDS = Counter(
    "tracebus_source_records_total", "Native records read by a source connector, by outcome.", ["connector", "outcome"]
)
SOURCE_EVENTS = Counter("tracebus_source_events_total", "Events published by a source connector.", ["connector"])
