"""Sub-command groups of the ``tracebus`` CLI, one module each (wired in :mod:`ops.cli`)."""
