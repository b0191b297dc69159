"""Mappers: a platform's native record (one row, line or element, as a dict) → EPCIS events.

Sources read records; a mapper named in the source's ``mapper`` key turns each
into events in the EPCIS 2.0 JSON binding with the traceability extension.
See :class:`~connectors.mapping.base.RecordMapper` for the contract.
"""

from connectors.mapping.base import Mapped, RecordMapper, mapper_for, mapper_names, register_mapper

__all__ = ["Mapped", "RecordMapper", "mapper_for", "mapper_names", "register_mapper"]
