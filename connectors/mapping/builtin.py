"""The mappers every deployment has; platform mappers live in their own modules and are imported here."""

from __future__ import annotations

from connectors.mapping import epcis, flat  # noqa: F401 - registration side effects
