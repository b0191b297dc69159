"""streams.steps.route (matching) and streams.subscriptions (the subscriptions file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.errors import ConfigurationError
from streams.settings import OPS_DIR
from streams.steps.route import Router, gs1_company_prefix
from streams.subscriptions import Subscription, SubscriptionFilter, WebhookTarget, load_subscriptions


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_type": "ObjectEvent",
        "biz_step": "shipping",
        "disposition": "in_transit",
        "reporter": "mofcom-platform",
        "read_point": "urn:epc:id:sgln:6901234.00001.0",
        "biz_location": None,
        "epcs": ["urn:epc:id:sgtin:6901234.012345.1001"],
    }
    base.update(changes)
    return base


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
        ("event_types", ["ObjectEvent"], {}, {"event_type": "AggregationEvent"}),
        ("biz_steps", ["shipping"], {}, {"biz_step": "receiving"}),
        ("biz_steps", ["shipping"], {}, {"biz_step": None}),
        ("dispositions", ["in_transit"], {}, {"disposition": "recalled"}),
        ("reporters", ["mofcom-platform"], {}, {"reporter": "samr-platform"}),
        ("gs1_company_prefixes", ["6901234"], {}, {"epcs": ["urn:epc:id:sgtin:6905555.012345.1"]}),
        ("gs1_company_prefixes", ["6901234"], {}, {"epcs": []}),
        (
            "gs1_company_prefixes",
            ["6901234"],
            {"epcs": ["urn:x", "urn:epc:idpat:sgtin:6901234.1.*"]},
            {"epcs": ["urn:x"]},
        ),
        ("location_prefixes", ["urn:epc:id:sgln:6901234."], {}, {"read_point": "urn:epc:id:sgln:6905555.1.0"}),
        ("location_prefixes", ["urn:epc:id:sgln:6901234."], {}, {"read_point": None}),
    ],
)
def test_each_criterion_alone_matches_and_misses(
    criterion: str, accepted: list[str], hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    assert routed(record(**hit), **{criterion: accepted})
    assert not routed(record(**miss), **{criterion: accepted})


def test_location_prefix_matches_biz_location_too() -> None:
    place = "urn:epc:id:sgln:6909999.00002.0"
    assert routed(record(read_point=None, biz_location=place), location_prefixes=["urn:epc:id:sgln:6909999."])
    assert routed(
        record(read_point="urn:epc:id:sgln:1.1.1", biz_location=place), location_prefixes=["urn:epc:id:sgln:6909999."]
    )
    assert not routed(record(read_point=None, biz_location=None), location_prefixes=[""])


def test_company_prefix_must_be_the_whole_prefix_not_a_start() -> None:
    assert not routed(record(epcs=["urn:epc:id:sgtin:69012345.01234.1"]), gs1_company_prefixes=["6901234"])


def test_any_value_within_one_criterion_may_match() -> None:
    for step in ("shipping", "receiving"):
        assert routed(record(biz_step=step), biz_steps=["shipping", "receiving"])
    assert not routed(record(biz_step="packing"), biz_steps=["shipping", "receiving"])
    assert routed(record(epcs=["urn:epc:id:sscc:6905555.0000000019"]), gs1_company_prefixes=["6901234", "6905555"])


def test_criteria_are_a_conjunction() -> None:
    criteria: dict[str, list[str]] = {
        "event_types": ["ObjectEvent"],
        "biz_steps": ["shipping"],
        "reporters": ["mofcom-platform"],
    }
    assert routed(record(), **criteria)
    assert not routed(record(event_type="TransactionEvent"), **criteria)
    assert not routed(record(biz_step="receiving"), **criteria)
    assert not routed(record(reporter="other"), **criteria)


def test_empty_filter_matches_everything() -> None:
    bare = {"event_type": "AssociationEvent", "biz_step": None, "disposition": None, "reporter": "x"}
    assert routed(record(**bare, read_point=None, epcs=[]))
    assert routed(record())


@pytest.mark.parametrize(
    ("criterion", "spelling", "field", "bare"),
    [
        ("biz_steps", "urn:epcglobal:cbv:bizstep:shipping", "biz_step", "shipping"),
        ("biz_steps", "https://ref.gs1.org/cbv/BizStep-shipping", "biz_step", "shipping"),
        ("biz_steps", "gs1:BizStep-shipping", "biz_step", "shipping"),
        ("dispositions", "urn:epcglobal:cbv:disp:recalled", "disposition", "recalled"),
        ("dispositions", "https://ref.gs1.org/cbv/Disp-recalled", "disposition", "recalled"),
    ],
)
def test_cbv_spellings_in_filters_are_normalised(criterion: str, spelling: str, field: str, bare: str) -> None:
    assert routed(record(**{field: bare}), **{criterion: [spelling]})


def test_user_vocabulary_in_filter_matches_as_given() -> None:
    step = "https://vocab.example.cn/bizstep/slaughtering"
    assert routed(record(biz_step=step), biz_steps=[step])
    assert not routed(record(biz_step="slaughtering"), biz_steps=[step])


def test_router_returns_every_matching_subscription_in_order() -> None:
    subscriptions = [
        Subscription(name="all-events", department="SAMR"),
        Subscription(name="recalls", department="GACC", filter=SubscriptionFilter(dispositions=["recalled"])),
        Subscription(name="shipping", department="MOFCOM", filter=SubscriptionFilter(biz_steps=["shipping"])),
    ]
    router = Router(subscriptions)
    assert router.subscription_names == ["all-events", "recalls", "shipping"]
    assert router.route(record()) == ["all-events", "shipping"]
    assert router.route(record(biz_step="receiving", disposition="recalled")) == ["all-events", "recalls"]
    assert Router([]).route(record()) == []


# --- the subscriptions file ---------------------------------------------------------------------


def load_text(tmp_path: Path, text: str) -> list[Subscription]:
    path = tmp_path / "subscriptions.yaml"
    path.write_text(text, encoding="utf-8")
    return load_subscriptions(path)


def test_shipped_subscriptions_file_loads() -> None:
    subscriptions = load_subscriptions(OPS_DIR / "subscriptions.yaml")
    names = ["mofcom-circulation", "mara-origin", "nmpa-drugs", "samr-all", "gacc-recalls"]
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
