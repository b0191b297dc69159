"""Daily file sinks: JSON Lines and CSV, one file per calendar day, fsynced and idempotent on event identity."""
