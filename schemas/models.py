"""pydantic v2 models mirroring the latest ``trace_event`` Avro contract (v3), field by field.

The ``.avsc`` file is the wire contract; these models are its typed twin for
code that builds or inspects events outside the hot path (connectors mapping
platform records, tests, the CLI). ``tests/unit/test_models_match_avro.py``
proves that both agree on every field name, type and optionality. The hot
path works on plain dicts and never builds these models per event.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventType(StrEnum):
    OBJECT = "ObjectEvent"
    AGGREGATION = "AggregationEvent"
    TRANSACTION = "TransactionEvent"
    TRANSFORMATION = "TransformationEvent"
    ASSOCIATION = "AssociationEvent"


class Action(StrEnum):
    ADD = "ADD"
    OBSERVE = "OBSERVE"
    DELETE = "DELETE"


class Department(StrEnum):
    MARA = "MARA"
    MIIT = "MIIT"
    SAMR = "SAMR"
    NATCM = "NATCM"
    NMPA = "NMPA"
    GACC = "GACC"
    MOFCOM = "MOFCOM"
    OTHER = "OTHER"


class CertificateType(StrEnum):
    ANIMAL_QUARANTINE = "ANIMAL_QUARANTINE"
    MEAT_QUALITY = "MEAT_QUALITY"
    COMPLIANCE = "COMPLIANCE"
    ORIGIN = "ORIGIN"
    TEST_REPORT = "TEST_REPORT"
    IMPORT_QUARANTINE = "IMPORT_QUARANTINE"
    OTHER = "OTHER"


class QuantityElement(_Model):
    epc_class: str
    quantity: float | None = None
    uom: str | None = None


class Place(_Model):
    id: str
    extensions: dict[str, str] = Field(default_factory=dict)


class BizTransaction(_Model):
    type: str | None = None
    value: str


class SourceDestination(_Model):
    type: str
    id: str


class PersistentDisposition(_Model):
    set: list[str] | None = None
    unset: list[str] | None = None


class ErrorDeclaration(_Model):
    declaration_time: str
    reason: str | None = None
    corrective_event_ids: list[str] | None = None
    extensions: dict[str, str] = Field(default_factory=dict)


class SensorMetadata(_Model):
    time: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    device_id: str | None = None
    device_metadata: str | None = None
    raw_data: str | None = None
    data_processing_method: str | None = None
    biz_rules: str | None = None
    extensions: dict[str, str] = Field(default_factory=dict)


class SensorReport(_Model):
    type: str | None = None
    exception: str | None = None
    device_id: str | None = None
    device_metadata: str | None = None
    raw_data: str | None = None
    data_processing_method: str | None = None
    biz_rules: str | None = None
    time: str | None = None
    microorganism: str | None = None
    chemical_substance: str | None = None
    coordinate_reference_system: str | None = None
    component: str | None = None
    string_value: str | None = None
    hex_binary_value: str | None = None
    uri_value: str | None = None
    uom: str | None = None
    value: float | None = None
    min_value: float | None = None
    max_value: float | None = None
    mean_value: float | None = None
    s_dev: float | None = None
    perc_rank: float | None = None
    perc_value: float | None = None
    boolean_value: bool | None = None
    extensions: dict[str, str] = Field(default_factory=dict)


class SensorElement(_Model):
    metadata: SensorMetadata | None = None
    reports: list[SensorReport]
    extensions: dict[str, str] = Field(default_factory=dict)


class EpcisEvent(_Model):
    type: EventType
    event_id: str | None = None
    event_time: str
    event_time_ms: int
    event_time_zone_offset: str
    record_time: str | None = None
    certification_info: str | list[str] | None = None
    error_declaration: ErrorDeclaration | None = None
    action: Action | None = None
    parent_id: str | None = None
    epc_list: list[str] | None = None
    child_epcs: list[str] | None = None
    input_epc_list: list[str] | None = None
    output_epc_list: list[str] | None = None
    quantity_list: list[QuantityElement] | None = None
    child_quantity_list: list[QuantityElement] | None = None
    input_quantity_list: list[QuantityElement] | None = None
    output_quantity_list: list[QuantityElement] | None = None
    transformation_id: str | None = None
    biz_step: str | None = None
    disposition: str | None = None
    persistent_disposition: PersistentDisposition | None = None
    read_point: Place | None = None
    biz_location: Place | None = None
    biz_transaction_list: list[BizTransaction] | None = None
    source_list: list[SourceDestination] | None = None
    destination_list: list[SourceDestination] | None = None
    sensor_element_list: list[SensorElement] | None = None
    ilmd: dict[str, str] | None = None
    extensions: dict[str, str] = Field(default_factory=dict)


class BusinessRef(_Model):
    uscc: str | None = None
    name: str | None = None


class Certificate(_Model):
    type: CertificateType
    number: str
    issuer: str | None = None


class TraceExtension(_Model):
    reporting_department: Department | None = None
    reporting_platform: str | None = None
    product_category: str | None = None
    business_uscc: str | None = None
    business_role: str | None = None
    region_code: str | None = None
    inbound_batch: str | None = None
    outbound_batch: str | None = None
    trace_code: str | None = None
    certificates: list[Certificate] = Field(default_factory=list)
    source_business: BusinessRef | None = None
    destination_business: BusinessRef | None = None


class BusinessInfo(_Model):
    uscc: str
    name: str
    natural_person: bool = False
    credit_grade: str | None = None
    region_code: str | None = None
    licences: list[str] = Field(default_factory=list)


class ProductInfo(_Model):
    code: str
    name: str
    category: str | None = None
    spec: str | None = None


class RegionInfo(_Model):
    code: str
    province: str | None = None
    prefecture: str | None = None
    county: str | None = None
    snapshot: str | None = None


class CatalogueInfo(_Model):
    category: str
    name: str
    traced: bool
    department: str | None = None
    since: str | None = None


class Enrichment(_Model):
    business: BusinessInfo | None = None
    source_business: BusinessInfo | None = None
    destination_business: BusinessInfo | None = None
    product: ProductInfo | None = None
    region: RegionInfo | None = None
    catalogue: CatalogueInfo | None = None


class Provenance(_Model):
    event_id: str
    department: str | None = None
    platform: str | None = None
    reporter: str
    capture_id: str
    received_at_ms: int


class TraceEvent(_Model):
    """The record on ``events.canonical`` and every subscription topic."""

    event_id: str
    trace_key: str
    reporter: str
    capture_id: str
    received_at_ms: int
    context_json: str
    flags: list[str] = Field(default_factory=list)
    event: EpcisEvent
    trace: TraceExtension | None = None
    enrichment: Enrichment | None = None
    observation_id: str | None = None
    provenance: list[Provenance] = Field(default_factory=list)
    linked_observations: list[str] = Field(default_factory=list)
