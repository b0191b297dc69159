"""The trace key: the Kafka key of every canonical record, and so its partition.

Every report that may concern one batch or movement must land on one
partition, so that deduplication, merging and per-key order need no
repartition hop. Reports of one movement by different departments share
some identifier, but not always the same kind, so the key is chosen by a
fixed priority over identifier kinds; within the highest kind an event names,
the smallest value (in code-point order) wins, so list order never matters.

========  =======================================================================  =====================
priority  identifiers (from the event and its traceability extension)             key
========  =======================================================================  =====================
1         trace code: ``tb:traceCode``, ``tb:outboundBatch``, ``tb:inboundBatch``  ``trace:<code>``
          (the outbound batch is the trace code handed downstream, 出库批次/追溯码),
          ``urn:tracebus:id:tracecode:*`` and ``urn:tracebus:id:drugcode:*``
2         batch/lot: LGTIN classes (any spelling: URN or Digital Link),            ``lot:<canonical>``
          ``urn:tracebus:class:batch:*``
3         instances: SGTIN, SSCC, … in the what dimension, ``parentID``             ``item:<canonical>``
4         certificates: ``tb:certificates`` numbers, ``urn:tracebus:doc:*``         ``cert:<number>``
          business transactions
5         none of these: the event's identity                                      ``event:<hash>``
========  =======================================================================  =====================

GS1 identifiers are compared in their canonical GS1 Digital Link form, so a
URN and a Digital Link naming the same lot give the same key. This rule is
part of the data layout: changing it moves keys between partitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from schemas.identifiers.epc import canonical_epc
from schemas.identifiers.private_uri import PREFIX as PRIVATE

_TRACE_FIELDS: Final = ("trace_code", "outbound_batch", "inbound_batch")
_CODE_URIS: Final = (PRIVATE + "id:tracecode:", PRIVATE + "id:drugcode:")
_BATCH_URI: Final = PRIVATE + "class:batch:"
_DOC_URI: Final = PRIVATE + "doc:"
_EPC_LISTS: Final = ("epc_list", "child_epcs", "input_epc_list", "output_epc_list")
_QUANTITY_LISTS: Final = ("quantity_list", "child_quantity_list", "input_quantity_list", "output_quantity_list")


def _what(event: Mapping[str, Any]) -> Iterable[str]:
    if event["parent_id"] is not None:
        yield event["parent_id"]
    for name in _EPC_LISTS:
        yield from event[name] or ()
    for name in _QUANTITY_LISTS:
        for quantity in event[name] or ():
            yield quantity["epc_class"]


def _is_class(canonical: str, original: str) -> bool:
    return original.startswith(("urn:epc:class:", "urn:epc:idpat:")) or (
        canonical.startswith("https://id.gs1.org/01/") and "/21/" not in canonical
    )


def trace_key(event: Mapping[str, Any], trace: Mapping[str, Any] | None, identity: str) -> str:
    """The key for a record's ``event`` and ``trace`` parts (the ``trace_event`` record shapes)."""
    codes: list[str] = []
    lots: list[str] = []
    items: list[str] = []
    certificates: list[str] = []
    if trace is not None:
        codes.extend(trace[name].strip() for name in _TRACE_FIELDS if trace[name])
        certificates.extend(c["number"].strip() for c in trace["certificates"])
    for identifier in _what(event):
        if identifier.startswith(_CODE_URIS):
            codes.append(identifier.rsplit(":", 1)[1])
        elif identifier.startswith(_BATCH_URI):
            lots.append(identifier)
        else:
            canonical = canonical_epc(identifier)
            (lots if _is_class(canonical, identifier) else items).append(canonical)
    for transaction in event["biz_transaction_list"] or ():
        if transaction["value"].startswith(_DOC_URI):
            certificates.append(transaction["value"].rsplit(":", 1)[1])
    for kind, values in (("trace", codes), ("lot", lots), ("item", items), ("cert", certificates)):
        if values:
            return f"{kind}:{min(values)}"
    return f"event:{identity}"
