"""Registration of the Kafka bridge as a connector (``connector.class: kafka-bridge``)."""

from __future__ import annotations

from connectors.bridge.config import KafkaBridgeConfig
from connectors.bridge.source import KafkaBridge
from connectors.errors import ConnectorConfigError
from connectors.registry import ConnectorContext, register


@register(
    name="kafka-bridge",
    kind="source",
    transport="bridge",
    config=KafkaBridgeConfig,
    conformance="connectors.bridge.conformance:KafkaBridgeKit",
)
class KafkaBridgeConnector(KafkaBridge):
    """Forwards topics of another tracebus cluster (a provincial bus) into this one, re-framed, with provenance."""

    @classmethod
    def create(cls, config: KafkaBridgeConfig, context: ConnectorContext) -> KafkaBridgeConnector:
        if context.registry is None:
            raise ConnectorConfigError(
                f"connector {config.name!r}: the bridge re-registers schemas with this bus's registry, and it has none"
            )
        namespace = context.settings.namespace
        bridge = cls(config, target_namespace=namespace, target_registry=context.registry, kafka=context.kafka)
        same_cluster = {s.strip() for s in config.source_bootstrap_servers.split(",")} == {
            s.strip() for s in (context.kafka.bootstrap_servers or "").split(",")
        }
        loops = sorted(source for source, target in bridge.routes.items() if source == target)
        if same_cluster and loops:
            # reading and writing the same topic would forward every record to itself forever
            raise ConnectorConfigError(
                f"connector {config.name!r}: {', '.join(loops)} would be bridged onto itself",
                problems=(("topics", "source and target are the same topic of the same cluster"),),
            )
        return bridge
