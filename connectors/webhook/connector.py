"""Registration of the webhook sink as a connector (``connector.class: webhook``)."""

from __future__ import annotations

from pydantic import Field, HttpUrl

from connectors.config import Secret, SinkConfig
from connectors.registry import ConnectorContext, register
from connectors.webhook.sink import WebhookSink


class WebhookSinkConfig(SinkConfig):
    url: HttpUrl = Field(description="where EPCIS query documents are POSTed")
    signature_token: Secret = Field(
        alias="signature.token",
        description="HMAC key of GS1-Signature (inline, ${env:NAME} or ${file:/path})",
    )
    timeout_ms: int = Field(default=10_000, ge=100, alias="request.timeout.ms")


@register(
    name="webhook",
    kind="sink",
    transport="webhook",
    config=WebhookSinkConfig,
    conformance="connectors.webhook.conformance:WebhookSinkKit",
)
class WebhookConnector(WebhookSink):
    """Signed EPCIS 2.0 query documents POSTed to a subscriber's URL (GS1-Signature, Idempotency-Key)."""

    @classmethod
    def create(cls, config: WebhookSinkConfig, context: ConnectorContext) -> WebhookConnector:
        return cls(
            config.name,
            str(config.url),
            config.signature_token.get_secret_value().encode(),
            timeout_s=config.timeout_ms / 1000,
        )
