"""The mappers every deployment has; platform mappers live in their own modules and are imported here.

Importing a mapper module registers it (:func:`connectors.mapping.base.register_mapper`).
"""

from __future__ import annotations

import connectors.platforms.gacc.mapper  # GACC import declarations
import connectors.platforms.mara.mapper  # MARA quarantine, slaughter, 合格证, 产地准出 rows
import connectors.platforms.miit.mapper  # MIIT infant formula batches and shipments
import connectors.platforms.mofcom.mapper  # MOFCOM meat and vegetable circulation records
import connectors.platforms.natcm.mapper  # NATCM herb planting, processing, 饮片, sales rows
import connectors.platforms.nmpa.mapper  # NMPA drug code associations and shipments (XML)
import connectors.platforms.samr.mapper  # noqa: F401 - SAMR food business ledgers
from connectors.mapping import epcis, flat  # noqa: F401 - registration side effects
