"""Connectors: sources that bring platform records in, sinks that deliver to subscribers."""
