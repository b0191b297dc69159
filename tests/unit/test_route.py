"""streams.steps.route (matching) and streams.subscriptions (the subscriptions file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.epcis import parse_document
from schemas.epcis.convert import prefix_map, to_record_event
from streams.errors import ConfigurationError
from streams.settings import OPS_DIR
from streams.steps.base import Emit
from streams.steps.route import Router, RouteView, gs1_company_prefix
from streams.steps.validate import CaptureContext, validate_event
from streams.subscriptions import Subscription, SubscriptionFilter, WebhookTarget, load_subscriptions

NOW = datetime(2026, 11, 19, 12, 0, 0, tzinfo=UTC)
CONTEXT: list[Any] = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]


def json_event(**changes: Any) -> dict[str, Any]:
    """An EPCIS 2.0 JSON event; a change to None drops the field."""
    base: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-19T07:40:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": ["urn:epc:id:sgtin:6901234.012345.1001"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:6901234.00001.0"},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def record(reporter: str = "mofcom-platform", **changes: Any) -> dict[str, Any]:
    """The v1 record validate builds for ``json_event(**changes)`` submitted by ``reporter``."""
    context = CaptureContext.of(reporter=reporter, capture_id="cap-1", received_at_ms=0, context=CONTEXT)
    result = validate_event(json_event(**changes), context, now=NOW, future_skew=timedelta(0))
    assert isinstance(result, Emit), result
    value: dict[str, Any] = result.value
    return value


def routed(record_: dict[str, Any], **criteria: list[str]) -> bool:
    subscription = Subscription(name="s1", department="D", filter=SubscriptionFilter.model_validate(criteria))
    return Router([subscription]).route(record_) == ["s1"]


# --- company prefixes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "prefix"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", "0614141"),
        ("urn:epc:id:sscc:6905555.0000000019", "6905555"),
        ("urn:epc:class:lgtin:6905555.000871.HV20261119B3", "6905555"),
        ("urn:epc:idpat:sgtin:6909999.012345.*", "6909999"),
        ("urn:epc:id:sgln:690123456789.0.0", "690123456789"),
        ("https://id.gs1.org/01/06141411073467/21/2017", None),
        ("urn:uuid:6f0b6a1e-0000-4000-8000-000000000001", None),
        ("urn:epc:tag:sgtin-96:3.0614141.107346.2017", None),
        ("urn:epc:id:sgtin:noprefix", None),
        ("urn:epc:id:gid:abc.1.2", None),
    ],
)
def test_gs1_company_prefix(identifier: str, prefix: str | None) -> None:
    assert gs1_company_prefix(identifier) == prefix


# --- each criterion alone -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "accepted", "hit", "miss"),
    [
        ("event_types", ["ObjectEvent"], {}, {"type": "AggregationEvent"}),
        ("biz_steps", ["shipping"], {}, {"bizStep": "receiving"}),
        ("biz_steps", ["shipping"], {}, {"bizStep": None}),
        ("dispositions", ["in_transit"], {}, {"disposition": "recalled"}),
        ("reporters", ["mofcom-platform"], {}, {"reporter": "samr-platform"}),
        ("gs1_company_prefixes", ["6901234"], {}, {"epcList": ["urn:epc:id:sgtin:6905555.012345.1"]}),
        ("gs1_company_prefixes", ["6901234"], {}, {"epcList": []}),
        (
            "gs1_company_prefixes",
            ["6901234"],
            {"epcList": ["urn:x", "urn:epc:idpat:sgtin:6901234.1.*"]},
            {"epcList": ["urn:x"]},
        ),
        (
            "gs1_company_prefixes",
            ["6901234"],
            {"epcList": None, "parentID": "urn:epc:id:sscc:6901234.0000000019"},
            {"epcList": None, "parentID": "urn:epc:id:sscc:6905555.0000000019"},
        ),
        (
            "gs1_company_prefixes",
            ["6901234"],
            {"epcList": None, "quantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.012345.L1", "quantity": 5}]},
            {"epcList": None, "quantityList": [{"epcClass": "urn:epc:class:lgtin:6905555.012345.L1", "quantity": 5}]},
        ),
        (
            "location_prefixes",
            ["urn:epc:id:sgln:6901234."],
            {},
            {"readPoint": {"id": "urn:epc:id:sgln:6905555.1.0"}},
        ),
        ("location_prefixes", ["urn:epc:id:sgln:6901234."], {}, {"readPoint": None}),
    ],
)
def test_each_criterion_alone_matches_and_misses(
    criterion: str, accepted: list[str], hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    assert routed(record(**hit), **{criterion: accepted})
    assert not routed(record(**miss), **{criterion: accepted})


def test_location_prefix_matches_biz_location_too() -> None:
    place = "urn:epc:id:sgln:6909999.00002.0"
    assert routed(record(readPoint=None, bizLocation={"id": place}), location_prefixes=["urn:epc:id:sgln:6909999."])
    assert routed(
        record(readPoint={"id": "urn:epc:id:sgln:1.1.1"}, bizLocation={"id": place}),
        location_prefixes=["urn:epc:id:sgln:6909999."],
    )
    assert not routed(record(readPoint=None, bizLocation=None), location_prefixes=[""])


def test_company_prefix_must_be_the_whole_prefix_not_a_start() -> None:
    assert not routed(record(epcList=["urn:epc:id:sgtin:69012345.01234.1"]), gs1_company_prefixes=["6901234"])


def test_any_value_within_one_criterion_may_match() -> None:
    for step in ("shipping", "receiving"):
        assert routed(record(bizStep=step), biz_steps=["shipping", "receiving"])
    assert not routed(record(bizStep="packing"), biz_steps=["shipping", "receiving"])
    assert routed(record(epcList=["urn:epc:id:sscc:6905555.0000000019"]), gs1_company_prefixes=["6901234", "6905555"])


def test_criteria_are_a_conjunction() -> None:
    criteria: dict[str, list[str]] = {
        "event_types": ["ObjectEvent"],
        "biz_steps": ["shipping"],
        "reporters": ["mofcom-platform"],
    }
    assert routed(record(), **criteria)
    assert not routed(record(type="TransactionEvent"), **criteria)
    assert not routed(record(bizStep="receiving"), **criteria)
    assert not routed(record(reporter="other"), **criteria)


def test_empty_filter_matches_everything() -> None:
    bare: dict[str, Any] = {"type": "AssociationEvent", "bizStep": None, "disposition": None, "reporter": "x"}
    assert routed(record(**bare, readPoint=None, epcList=[]))
    assert routed(record())


@pytest.mark.parametrize(
    ("criterion", "spelling", "field", "bare"),
    [
        ("biz_steps", "urn:epcglobal:cbv:bizstep:shipping", "bizStep", "shipping"),
        ("biz_steps", "https://ref.gs1.org/cbv/BizStep-shipping", "bizStep", "shipping"),
        ("biz_steps", "gs1:BizStep-shipping", "bizStep", "shipping"),
        ("dispositions", "urn:epcglobal:cbv:disp:recalled", "disposition", "recalled"),
        ("dispositions", "https://ref.gs1.org/cbv/Disp-recalled", "disposition", "recalled"),
    ],
)
def test_cbv_spellings_in_filters_are_normalised(criterion: str, spelling: str, field: str, bare: str) -> None:
    assert routed(record(**{field: bare}), **{criterion: [spelling]})


@pytest.mark.parametrize(
    ("criterion", "spelling", "field", "bare"),
    [
        ("biz_steps", "urn:epcglobal:cbv:bizstep:shipping", "bizStep", "shipping"),
        ("biz_steps", "https://ref.gs1.org/cbv/BizStep-shipping", "bizStep", "shipping"),
        ("biz_steps", "cbv:BizStep-shipping", "bizStep", "shipping"),
        ("dispositions", "urn:epcglobal:cbv:disp:recalled", "disposition", "recalled"),
        ("dispositions", "https://ref.gs1.org/cbv/Disp-recalled", "disposition", "recalled"),
    ],
)
def test_cbv_spellings_in_events_are_normalised(criterion: str, spelling: str, field: str, bare: str) -> None:
    submitted = record(**{field: spelling})
    assert submitted["event"]["biz_step" if field == "bizStep" else "disposition"] == spelling  # kept as submitted
    assert routed(submitted, **{criterion: [bare]})
    assert routed(submitted, **{criterion: [spelling]})


def test_user_vocabulary_in_filter_matches_as_given() -> None:
    step = "https://vocab.example.cn/bizstep/slaughtering"
    assert routed(record(bizStep=step), biz_steps=[step])
    assert not routed(record(bizStep="slaughtering"), biz_steps=[step])


def test_router_returns_every_matching_subscription_in_order() -> None:
    subscriptions = [
        Subscription(name="all-events", department="SAMR"),
        Subscription(name="recalls", department="GACC", filter=SubscriptionFilter(dispositions=["recalled"])),
        Subscription(name="shipping", department="MOFCOM", filter=SubscriptionFilter(biz_steps=["shipping"])),
    ]
    router = Router(subscriptions)
    assert router.subscription_names == ["all-events", "recalls", "shipping"]
    assert router.route(record()) == ["all-events", "shipping"]
    assert router.route(record(bizStep="receiving", disposition="recalled")) == ["all-events", "recalls"]
    assert Router([]).route(record()) == []


XML_EVENT = b"""<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2024-05-01T18:00:00+08:00">
  <EPCISBody><EventList>
    <AggregationEvent>
      <eventTime>2024-05-01T07:40:00+08:00</eventTime>
      <eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
      <parentID>urn:epc:id:sscc:6905555.0000000019</parentID>
      <childEPCs><epc>urn:epc:id:sgtin:6905555.000871.77</epc></childEPCs>
      <action>ADD</action>
      <bizStep>urn:epcglobal:cbv:bizstep:packing</bizStep>
      <disposition>urn:epcglobal:cbv:disp:in_progress</disposition>
      <bizLocation><id>urn:epc:id:sgln:6905555.00003.0</id></bizLocation>
      <extension><childQuantityList><quantityElement>
        <epcClass>urn:epc:class:lgtin:6901234.012345.L1</epcClass><quantity>12</quantity><uom>KGM</uom>
      </quantityElement></childQuantityList></extension>
    </AggregationEvent>
  </EventList></EPCISBody>
</epcis:EPCISDocument>"""


def test_route_view_of_a_record_converted_from_an_xml_event() -> None:
    document = parse_document(XML_EVENT, "application/xml")
    (submitted,) = document.events
    event, trace = to_record_event(submitted, prefix_map(document.context))
    converted = {"reporter": "mara-platform", "event": event, "trace": trace}
    view = RouteView.of(converted)
    assert view == RouteView(
        event_type="AggregationEvent",
        biz_step="packing",
        disposition="in_progress",
        reporter="mara-platform",
        places=("urn:epc:id:sgln:6905555.00003.0",),
        identifiers=(
            "urn:epc:id:sscc:6905555.0000000019",
            "urn:epc:id:sgtin:6905555.000871.77",
            "urn:epc:class:lgtin:6901234.012345.L1",
        ),
    )
    assert routed(converted, event_types=["AggregationEvent"], biz_steps=["packing"], gs1_company_prefixes=["6901234"])
    assert routed(converted, location_prefixes=["urn:epc:id:sgln:6905555."], reporters=["mara-platform"])
    assert not routed(converted, dispositions=["in_transit"])


# --- the subscriptions file ---------------------------------------------------------------------


def load_text(tmp_path: Path, text: str) -> list[Subscription]:
    path = tmp_path / "subscriptions.yaml"
    path.write_text(text, encoding="utf-8")
    return load_subscriptions(path)


def test_shipped_subscriptions_file_loads() -> None:
    subscriptions = load_subscriptions(OPS_DIR / "subscriptions.yaml")
    names = [
        "mofcom-circulation",
        "mara-origin",
        "nmpa-drugs",
        "samr-all",
        "gacc-recalls",
        "hangzhou-city",
        "natcm-herbs",
    ]
    assert [s.name for s in subscriptions] == names
    by_name = {s.name: s for s in subscriptions}
    assert by_name["mara-origin"].filter.gs1_company_prefixes == ["6905555", "6901234"]
    assert by_name["samr-all"].webhook is None
    webhook = by_name["nmpa-drugs"].webhook
    assert webhook is not None
    assert webhook.token() == b"demo-token-nmpa"


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    text = (
        "subscriptions:\n  - {name: a1, department: X}\n  - {name: b2, department: Y}\n  - {name: a1, department: Z}\n"
    )
    with pytest.raises(ConfigurationError, match=r"subscription names used twice: \['a1'\]"):
        load_text(tmp_path, text)


@pytest.mark.parametrize("name", ["Upper", "a", "-leading", "under_score", "x" * 64])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"subscriptions\.0\.name\n  String should match pattern"):
        load_text(tmp_path, f"subscriptions:\n  - {{name: '{name}', department: X}}\n")


def test_unknown_key_is_refused_with_its_location(tmp_path: Path) -> None:
    text = "subscriptions:\n  - name: ab\n    department: X\n    filter:\n      biz_step: [shipping]\n"
    with pytest.raises(ConfigurationError) as caught:
        load_text(tmp_path, text)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'subscriptions.yaml'}: 1 validation error")
    assert "subscriptions.0.filter.biz_step\n  Extra inputs are not permitted" in message


def test_company_prefix_must_be_digits(tmp_path: Path) -> None:
    text = "subscriptions:\n  - {name: ab, department: X, filter: {gs1_company_prefixes: ['69x1234']}}\n"
    with pytest.raises(ConfigurationError, match="gs1_company_prefixes: '69x1234' is not 4 to 12 digits"):
        load_text(tmp_path, text)


@pytest.mark.parametrize(
    "webhook",
    [
        "{url: 'http://127.0.0.1:1/h', signature_token: t, signature_token_env: T}",
        "{url: 'http://127.0.0.1:1/h'}",
    ],
)
def test_webhook_needs_exactly_one_token_source(tmp_path: Path, webhook: str) -> None:
    text = f"subscriptions:\n  - {{name: ab, department: X, webhook: {webhook}}}\n"
    with pytest.raises(ConfigurationError, match="give exactly one of signature_token or signature_token_env"):
        load_text(tmp_path, text)


def test_webhook_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    target = WebhookTarget.model_validate({"url": "http://127.0.0.1:1/h", "signature_token_env": "TB_TEST_TOKEN"})
    monkeypatch.setenv("TB_TEST_TOKEN", "秘密-token")
    assert target.token() == "秘密-token".encode()


@pytest.mark.parametrize("value", [None, ""])
def test_missing_token_variable_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("TB_TEST_TOKEN", raising=False)
    else:
        monkeypatch.setenv("TB_TEST_TOKEN", value)
    target = WebhookTarget.model_validate({"url": "http://127.0.0.1:1/h", "signature_token_env": "TB_TEST_TOKEN"})
    with pytest.raises(ConfigurationError, match=r"environment variable TB_TEST_TOKEN \(webhook token\) is not set"):
        target.token()


def test_inline_token_is_not_shown() -> None:
    target = WebhookTarget.model_validate({"url": "http://127.0.0.1:1/h", "signature_token": "very-secret"})
    assert "very-secret" not in repr(target)
    assert target.token() == b"very-secret"


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"nothing\.yaml"):
        load_subscriptions(tmp_path / "nothing.yaml")


def test_company_prefix_of_a_serial_containing_a_colon() -> None:
    assert gs1_company_prefix("urn:epc:id:sgtin:0614141.107346.A:1") == "0614141"
