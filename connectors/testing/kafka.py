"""Kafka helpers for conformance kits (re-exported from :mod:`streams.kafka.read`)."""

from streams.kafka.read import canonical_records, read_topic, settle

__all__ = ["canonical_records", "read_topic", "settle"]
