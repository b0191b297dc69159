"""The tracebus exception tree, drawn once.

::

    TracebusError                         schemas.errors
    ├── SchemaError                       schemas.errors (wire contracts)
    │   ├── WireFormatError
    │   ├── SchemaNotFoundError
    │   ├── IncompatibleSchemaError
    │   ├── RegistryUnavailableError
    │   └── DocumentError
    ├── ConnectorError                    connectors.errors
    │   ├── ConnectorConfigError          config refused before start (every problem listed)
    │   ├── UnknownConnectorError         no connector class or instance of that name
    │   ├── SourceUnavailableError        the source system cannot be read now (retried)
    │   ├── RetriableSinkError            the write may succeed if tried again
    │   └── SinkRejectedError             the target refused the records for good
    └── BusError                          streams.errors (this module)
        ├── ConfigurationError            settings, topics or subscriptions file invalid
        ├── BrokerError                   the embedded broker could not start or stopped
        ├── TopicProvisioningError        the cluster's topics disagree with ops/topics.yaml
        └── PublishError                  Kafka did not acknowledge a write in time

Errors about *one event* are not exceptions that travel: steps return them as
data (:class:`streams.steps.base.Fail`) and they end in the dead-letter topic.
"""

from __future__ import annotations

from schemas.errors import TracebusError


class BusError(TracebusError):
    """A problem of the bus itself (not of one event)."""


class ConfigurationError(BusError):
    """Settings, the topics file or the subscriptions file is invalid."""


class BrokerError(BusError):
    """The embedded broker could not be started, or it died."""


class TopicProvisioningError(BusError):
    """The cluster's topics cannot be made to match ``ops/topics.yaml``."""


class PublishError(BusError):
    """Kafka did not acknowledge a write (acks=all) in time."""
