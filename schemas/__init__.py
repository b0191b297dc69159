"""tracebus wire contracts: Avro schemas, the Confluent wire format, schema registries, EPCIS parsing.

Dependency direction: ``schemas`` imports nothing from ``connectors`` or ``streams``.
"""
