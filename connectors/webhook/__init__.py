"""Webhook delivery: EPCIS 2.0 subscription callbacks, signed with GS1-Signature."""

from connectors.webhook.signing import sign_body, verify_signature
from connectors.webhook.sink import WebhookSink

__all__ = ["WebhookSink", "sign_body", "verify_signature"]
