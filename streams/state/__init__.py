"""Partition-local state of the stream processor: on disk, written through to changelog topics."""
