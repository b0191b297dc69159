"""Every shipped connector, imported so that it registers (:mod:`connectors.registry`).

A new connector adds one import line here; that is also what puts it under the
conformance suite.
"""

from __future__ import annotations

import connectors.bridge.connector
import connectors.epcis_export.connector
import connectors.file.source
import connectors.files.connector
import connectors.http.source
import connectors.kafka_sink.connector
import connectors.platforms.gacc.source
import connectors.platforms.mara.source
import connectors.platforms.miit.source
import connectors.platforms.mofcom.source
import connectors.platforms.natcm.source
import connectors.platforms.nmpa.source
import connectors.platforms.samr.source
import connectors.postgres
import connectors.webhook.connector  # noqa: F401
