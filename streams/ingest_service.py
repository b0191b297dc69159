"""Ingest: connector input validated in the stream, exactly as capture validates at the door.

Connectors map a platform's native records to EPCIS events and publish them,
unvalidated, as ``incoming_event`` records on ``events.incoming``. This
service runs the same ``validate`` step capture runs (:mod:`streams.steps.validate`)
and publishes each valid event to ``events.canonical``, keyed by its trace key,
where the router takes over. A rejected event is dead-lettered with its
original bytes, stage ``validate`` and the step's reason; an envelope that
does not decode is dead-lettered at stage ``decode``. Offsets are committed
only after every output and dead letter of the batch was acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.codec import Deserializer, TopicSerializer
from schemas.errors import WireFormatError
from streams.batch_loop import Batch, BatchLoopService
from streams.deadletter import DeadLetterPublisher
from streams.metrics import BATCH_SECONDS, STEP_OUTCOMES
from streams.pipeline import EVENT_ID_HEADER, letter
from streams.settings import KafkaSettings
from streams.steps.base import Emit, Fail
from streams.steps.validate import STEP as VALIDATE
from streams.steps.validate import CaptureContext, validate_event

logger = logging.getLogger(__name__)
DECODE = "decode"
INCOMING_SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "avro" / "incoming_event" / "v1.avsc"


def incoming_record(
    event: Mapping[str, Any],
    *,
    source: str,
    reporter: str,
    context: Sequence[Any] = (),
    source_record: str | None = None,
    received_at_ms: int | None = None,
) -> dict[str, Any]:
    """The ``incoming_event`` record a connector publishes for one mapped event."""
    return {
        "source": source,
        "reporter": reporter,
        "source_record": source_record,
        "received_at_ms": int(time.time() * 1000) if received_at_ms is None else received_at_ms,
        "event_json": orjson.dumps(event).decode(),
        "context_json": orjson.dumps(list(context)).decode(),
    }


class IngestService(BatchLoopService):
    name_for_logs = "ingest"

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        group_id: str,
        input_topic: str,
        canonical: TopicSerializer,
        deserializer: Deserializer,
        producer: AIOKafkaProducer,
        dead_letters: DeadLetterPublisher,
        future_skew: timedelta,
        retry_pause_s: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(kafka=kafka, group_id=group_id, topics=[input_topic], retry_pause_s=retry_pause_s, **kwargs)
        self._canonical = canonical
        self._deserializer = deserializer
        self._producer = producer
        self._dead_letters = dead_letters
        self._future_skew = future_skew

    async def process(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        started = time.perf_counter()
        now = datetime.now(UTC)
        sends = []
        letters = []
        for messages in batch.values():
            for message in messages:
                try:
                    envelope = await self._deserializer.decode_any(message.value)
                    event = orjson.loads(envelope["event_json"])
                    context = orjson.loads(envelope["context_json"])
                except (WireFormatError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
                    STEP_OUTCOMES.labels(DECODE, "fail").inc()
                    letters.append(letter(message, DECODE, "undecodable", str(exc), type(exc).__name__))
                    continue
                capture = CaptureContext.of(
                    reporter=envelope["reporter"],
                    capture_id=envelope["source_record"] or envelope["source"],
                    received_at_ms=envelope["received_at_ms"],
                    context=context if isinstance(context, list) else [],
                )
                result = validate_event(event, capture, now=now, future_skew=self._future_skew)
                if isinstance(result, Fail):
                    STEP_OUTCOMES.labels(VALIDATE, "fail").inc()
                    letters.append(letter(message, VALIDATE, result.reason, result.message, result.error_class))
                    continue
                assert isinstance(result, Emit)
                record = result.value
                STEP_OUTCOMES.labels(VALIDATE, "emit").inc()
                sends.append(
                    await self._producer.send(
                        self._canonical.topic,
                        self._canonical.serialize(record),
                        key=record["trace_key"].encode(),
                        headers=[(EVENT_ID_HEADER, record["event_id"].encode())],
                    )
                )
        await asyncio.gather(*sends)
        await self._dead_letters.publish(letters)
        await consumer.commit({tp: messages[-1].offset + 1 for tp, messages in batch.items()})
        BATCH_SECONDS.labels("ingest").observe(time.perf_counter() - started)
