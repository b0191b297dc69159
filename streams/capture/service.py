"""Capture logic, without HTTP: parse, validate each event, publish, record the job.

Order of writes: the raw submission first (always, valid or not), then the
canonical events that may be published, then all are awaited together with
acks=all. Only when every write was acknowledged is the job recorded and the
caller told 202; a failure or time-out raises :class:`PublishError` and no
job is recorded ("nothing is reported as captured"). Events that did reach
Kafka before such a failure are harmless: the caller retries, and the router
drops the repeats by identity.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.codec import TopicSerializer
from schemas.epcis import parse_document
from streams.capture.jobs import CaptureErrorBehaviour, CaptureJob, CaptureJobs, EventRejection
from streams.errors import PublishError
from streams.metrics import CAPTURE_REJECTED_EVENTS, CAPTURE_SECONDS, CAPTURED_EVENTS, STEP_OUTCOMES
from streams.router_service import EVENT_ID_HEADER
from streams.steps.base import Emit, Fail
from streams.steps.validate import STEP as VALIDATE
from streams.steps.validate import CaptureContext, validate_event


class TooManyEventsError(ValueError):
    """The document holds more events than one capture accepts."""


class Capturer:
    def __init__(
        self,
        *,
        producer: AIOKafkaProducer,
        raw: TopicSerializer,
        canonical: TopicSerializer,
        jobs: CaptureJobs,
        max_events: int,
        publish_timeout_s: float,
        future_skew: timedelta,
    ) -> None:
        self._producer = producer
        self._raw = raw
        self._canonical = canonical
        self.jobs = jobs
        self._max_events = max_events
        self._publish_timeout_s = publish_timeout_s
        self._future_skew = future_skew

    async def capture(
        self,
        body: bytes,
        *,
        content_type: str | None,
        source: str,
        behaviour: CaptureErrorBehaviour,
        remote_address: str | None = None,
    ) -> CaptureJob:
        """Raises DocumentError (unparseable), TooManyEventsError, or PublishError (Kafka did not ack)."""
        started = time.perf_counter()
        created = datetime.now(UTC)
        capture_id = uuid.uuid4().hex
        document = parse_document(body, content_type)
        if len(document.events) > self._max_events:
            raise TooManyEventsError(
                f"document holds {len(document.events)} events; one capture accepts at most {self._max_events}"
            )
        context = CaptureContext.of(
            reporter=source,
            capture_id=capture_id,
            received_at_ms=int(created.timestamp() * 1000),
            context=document.context,
        )
        records: list[dict[str, Any]] = []
        rejections: list[EventRejection] = []
        for index, event in enumerate(document.events):
            result = validate_event(event, context, now=created, future_skew=self._future_skew)
            if isinstance(result, Emit):
                records.append(result.value)
                STEP_OUTCOMES.labels(VALIDATE, "emit").inc()
            elif isinstance(result, Fail):
                rejections.append(EventRejection(index, result.reason, result.message))
                STEP_OUTCOMES.labels(VALIDATE, "fail").inc()
                CAPTURE_REJECTED_EVENTS.labels(result.reason).inc()
        publishable = records if behaviour == "proceed" or not rejections else []
        raw = {
            "capture_id": capture_id,
            "source": source,
            "content_type": content_type or "",
            "received_at_ms": context.received_at_ms,
            "remote_address": remote_address,
            "body": body,
        }
        try:
            await asyncio.wait_for(self._publish(capture_id, raw, publishable), self._publish_timeout_s)
        except (KafkaError, TimeoutError) as exc:
            raise PublishError(f"Kafka did not acknowledge capture {capture_id}: {type(exc).__name__}: {exc}") from exc
        job = CaptureJob(
            capture_id=capture_id,
            source=source,
            created_at=created,
            finished_at=datetime.now(UTC),
            behaviour=behaviour,
            accepted=len(records),
            rejected=rejections,
            published=len(publishable),
        )
        self.jobs.add(job)
        CAPTURED_EVENTS.labels(source).inc(len(publishable))
        CAPTURE_SECONDS.observe(time.perf_counter() - started)
        return job

    async def _publish(self, capture_id: str, raw: dict[str, Any], records: list[dict[str, Any]]) -> None:
        capture_header = ("tracebus-capture-id", capture_id.encode())
        futures = [await self._producer.send(self._raw.topic, self._raw.serialize(raw), key=capture_id.encode())]
        for record in records:
            futures.append(
                await self._producer.send(
                    self._canonical.topic,
                    self._canonical.serialize(record),
                    key=record["trace_key"].encode(),
                    headers=[(EVENT_ID_HEADER, record["event_id"].encode()), capture_header],
                )
            )
        await asyncio.gather(*futures)
