"""Subscriptions: who receives which events.

A filter is a conjunction of criteria; each criterion is a list of accepted
values (any may match); an absent or empty criterion accepts everything. What
each criterion looks at in a record is described on :class:`SubscriptionFilter`
and implemented in :mod:`streams.steps.route`.

Subscriptions live in the compacted ``subscriptions`` topic
(:mod:`streams.subscription_store`); ``ops/subscriptions.yaml`` seeds it.

Secrets. A webhook's inline ``signature_token`` and any credentials in its URL
(a password in the user part, query values such as ``access_token=…``) are
masked in ``repr``, in :meth:`Subscription.public_view` and in plain
``model_dump_json()``. Only :meth:`Subscription.store_json`, which writes the
subscriptions topic, keeps them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import yaml
from pydantic import (
    BaseModel,
    Field,
    HttpUrl,
    SecretStr,
    SerializationInfo,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.region import level as region_level
from schemas.identifiers.uscc import validate_uscc
from streams.errors import ConfigurationError

EventType = Literal["ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"]
Department = Literal["MARA", "MIIT", "SAMR", "NATCM", "NMPA", "GACC", "MOFCOM", "OTHER"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
FLAG_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9.-]*")
MASK: Final = "**********"
REVEAL_SECRETS: Final[dict[str, Any]] = {"secrets": "reveal"}
"""Serialization context under which secrets are written in clear (the subscriptions topic only)."""


class SubscriptionFilter(BaseModel):
    """Which records a subscription receives.

    Record fields below are those of ``trace_event`` v2 (``trace`` is the
    traceability extension, ``enrichment`` the bus's master data).
    """

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
    categories: list[str] = Field(
        default_factory=list,
        description="product category codes, exact: trace.product_category, enrichment.catalogue.category "
        "or enrichment.product.category",
    )
    regions: list[str] = Field(
        default_factory=list,
        description="GB/T 2260 codes with containment (330000: every code 33xxxx; 330100: every 3301xx; a county "
        "exactly); matched against the event's location (trace.region_code, enrichment.region.code; else the "
        "reporting business's enrichment.business.region_code) and the source and destination businesses' regions",
    )
    businesses: list[str] = Field(
        default_factory=list,
        description="USCCs: the reporting business, the source business or the destination business",
    )
    departments: list[Department] = Field(
        default_factory=list,
        description="reporting department: trace.reporting_department or any provenance department",
    )
    flags_any: list[str] = Field(default_factory=list, description="the record carries at least one of these flags")
    flags_none: list[str] = Field(default_factory=list, description="the record carries none of these flags")

    @model_validator(mode="after")
    def _prefixes_are_digits(self) -> SubscriptionFilter:
        for prefix in self.gs1_company_prefixes:
            if not re.fullmatch(r"\d{4,12}", prefix):
                raise ValueError(f"gs1_company_prefixes: {prefix!r} is not 4 to 12 digits")
        overlap = sorted(set(self.flags_any) & set(self.flags_none))
        if overlap:
            raise ValueError(f"flags_any and flags_none both name {overlap}: such a filter matches nothing")
        return self

    @field_validator("categories")
    @classmethod
    def _categories_are_codes(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.strip():
                raise ValueError("categories: a category code is empty")
            if value != value.strip():
                raise ValueError(f"categories: {value!r} has leading or trailing whitespace")
        return values

    @field_validator("regions")
    @classmethod
    def _regions_are_gb2260(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                region_level(value)
            except IdentifierError as exc:
                raise ValueError(f"regions: {value!r} is not a 6-digit GB/T 2260 code ({exc})") from None
        return values

    @field_validator("businesses")
    @classmethod
    def _businesses_are_usccs(cls, values: list[str]) -> list[str]:
        normalised: list[str] = []
        for value in values:
            try:
                normalised.append(validate_uscc(value))
            except IdentifierError as exc:
                raise ValueError(f"businesses: {value!r} is not a valid USCC ({exc})") from None
        return normalised

    @field_validator("flags_any", "flags_none")
    @classmethod
    def _flags_are_names(cls, values: list[str], info: ValidationInfo) -> list[str]:
        for value in values:
            if not FLAG_PATTERN.fullmatch(value):
                raise ValueError(
                    f"{info.field_name}: {value!r} is not a flag name (lowercase letters, digits, '-' and '.')"
                )
        return values


def mask_url(url: str) -> str:
    """``https://u:pw@host/p?access_token=x`` → ``https://u:**********@host/p?access_token=**********``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{MASK}@{host}"
    query = "&".join(f"{key}={MASK}" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    fragment = MASK if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _reveals(info: SerializationInfo) -> bool:
    context = info.context
    return isinstance(context, dict) and context.get("secrets") == "reveal"


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

    @field_serializer("url", when_used="json")
    def _url_json(self, url: HttpUrl, info: SerializationInfo) -> str:
        return str(url) if _reveals(info) else mask_url(str(url))

    @field_serializer("signature_token", when_used="json")
    def _token_json(self, token: SecretStr | None, info: SerializationInfo) -> str | None:
        if token is None:
            return None
        return token.get_secret_value() if _reveals(info) else MASK

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (mask_url(str(value)) if name == "url" else value)

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
    personal_data: Literal["entitled", "masked"] | None = Field(
        default=None,
        description="natural persons' ID numbers and phones (streams/steps/personal.py): entitled receives them, "
        "masked never does; unset: only events its own department reported",
    )

    def store_json(self) -> bytes:
        """The value written to the subscriptions topic: ``model_dump_json`` with secrets in clear."""
        return self.model_dump_json(context=REVEAL_SECRETS).encode()

    def public_view(self) -> dict[str, Any]:
        """JSON-ready view for listings, logs and APIs: tokens and URL credentials masked."""
        view: dict[str, Any] = self.model_dump(mode="json")
        return view


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
