"""A plain Kafka topic as a sink: EPCIS JSON-LD or the original Avro bytes, with identity headers."""
