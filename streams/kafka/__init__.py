"""Kafka plumbing: the embedded broker, client factories, topic provisioning, the schema log."""
