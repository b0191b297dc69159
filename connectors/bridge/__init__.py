"""The Kafka bridge: forwards topics of one tracebus cluster to another (see :mod:`connectors.bridge.source`)."""

from connectors.bridge.config import KafkaBridgeConfig
from connectors.bridge.source import KafkaBridge, provenance_identity

__all__ = ["KafkaBridge", "KafkaBridgeConfig", "provenance_identity"]
