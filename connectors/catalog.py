"""Every shipped connector, imported so that it registers (:mod:`connectors.registry`).

A new connector adds one import line here; that is also what puts it under the
conformance suite.
"""

from __future__ import annotations

import connectors.webhook.connector  # noqa: F401
