"""Knowing when a reader has reached the end of a partition.

Reading a topic "to its end" (restoring state, loading reference data,
reading the subscriptions or the schema log) must not stop early. The end
that ListOffsets (``end_offsets``) reports is not enough on its own: the
embedded broker answers it with the base offset of the last record batch + 1,
not the log end offset, so a reader trusting it can stop inside the last
batch and miss its tail. The high watermark that comes back with fetched data
is the true end; :func:`caught_up` requires both.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition


async def caught_up(consumer: AIOKafkaConsumer, tp: TopicPartition, listed_end: int) -> bool:
    """Whether ``consumer`` has read ``tp`` to its end (``listed_end`` from ``end_offsets`` at the start)."""
    position = int(await consumer.position(tp))
    if position < listed_end:
        return False
    high = consumer.highwater(tp)
    if high is None:  # never fetched: only an empty partition is at its end without a fetch
        return listed_end == 0
    return position >= int(high)
