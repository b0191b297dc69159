"""The connector runtime: runners for sources and sinks, the worker that manages them, and its REST API."""
