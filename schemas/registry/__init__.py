"""Schema registries: where Avro schemas get the ids that Confluent framing carries.

Two implementations share :class:`~schemas.registry.base.SchemaRegistry`:

* :class:`~schemas.registry.http.ConfluentRegistryClient` talks to any
  Confluent-compatible Schema Registry over HTTP (Confluent, Karapace,
  Apicurio's ccompat API, Redpanda).
* :class:`~schemas.registry.embedded.EmbeddedRegistry` needs no server: ids are
  derived from the schema's canonical form, so every process of a deployment
  computes the same id for the same schema without talking to anyone.
"""

from schemas.registry.base import COMPATIBILITY_LEVELS, RegisteredSchema, SchemaRegistry, subject_for_topic

__all__ = ["COMPATIBILITY_LEVELS", "RegisteredSchema", "SchemaRegistry", "subject_for_topic"]
