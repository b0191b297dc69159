"""Subscriptions: who receives which events, from ``ops/subscriptions.yaml``.

A filter is a conjunction of criteria; each criterion is a list of accepted
values (any may match); an absent or empty criterion accepts everything. The
stream-core issue moves subscriptions to a compacted topic with live changes
and adds the traceability criteria (category, region, business, flags).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, HttpUrl, SecretStr, ValidationError, model_validator

from streams.errors import ConfigurationError

EventType = Literal["ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"


class SubscriptionFilter(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    event_types: list[EventType] = Field(default_factory=list)
    biz_steps: list[str] = Field(default_factory=list, description="CBV bare names (shipping) or full URIs")
    dispositions: list[str] = Field(default_factory=list)
    gs1_company_prefixes: list[str] = Field(
        default_factory=list,
        description="matches EPC URNs of the what dimension issued under this GS1 company prefix",
    )
    reporters: list[str] = Field(default_factory=list, description="who submitted the event (capture source)")
    location_prefixes: list[str] = Field(
        default_factory=list, description="readPoint or bizLocation identifier starts with one of these"
    )

    @model_validator(mode="after")
    def _prefixes_are_digits(self) -> SubscriptionFilter:
        for prefix in self.gs1_company_prefixes:
            if not re.fullmatch(r"\d{4,12}", prefix):
                raise ValueError(f"gs1_company_prefixes: {prefix!r} is not 4 to 12 digits")
        return self


class WebhookTarget(BaseModel):
    """Where and how the webhook sink delivers. The token signs every body (GS1-Signature)."""

    model_config = {"frozen": True, "extra": "forbid"}

    url: HttpUrl
    signature_token: SecretStr | None = None
    signature_token_env: str | None = Field(default=None, description="read the token from this variable")

    @model_validator(mode="after")
    def _one_token_source(self) -> WebhookTarget:
        if (self.signature_token is None) == (self.signature_token_env is None):
            raise ValueError("give exactly one of signature_token or signature_token_env")
        return self

    def token(self) -> bytes:
        if self.signature_token is not None:
            return self.signature_token.get_secret_value().encode()
        assert self.signature_token_env is not None
        value = os.environ.get(self.signature_token_env)
        if not value:
            raise ConfigurationError(f"environment variable {self.signature_token_env} (webhook token) is not set")
        return value.encode()


class Subscription(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    name: str = Field(pattern=NAME_PATTERN)
    department: str
    description: str = ""
    filter: SubscriptionFilter = SubscriptionFilter()
    webhook: WebhookTarget | None = None


class SubscriptionsFile(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    subscriptions: list[Subscription]

    @model_validator(mode="after")
    def _unique_names(self) -> SubscriptionsFile:
        names = [s.name for s in self.subscriptions]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"subscription names used twice: {duplicated}")
        return self


def load_subscriptions(path: Path) -> list[Subscription]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return SubscriptionsFile.model_validate(raw).subscriptions
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc
