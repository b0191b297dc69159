"""Secrets of a subscription: kept in the JSON written to the subscriptions topic, masked everywhere else."""

from __future__ import annotations

import pytest

from streams.subscriptions import MASK, Subscription, mask_url

SECRET_HOOK = {
    "url": "https://robot:pw-42@oapi.example.cn/robot/send?access_token=tok-42&sign=1",
    "signature_token": "very-secret",
}


def secret_subscription() -> Subscription:
    return Subscription.model_validate({"name": "ab", "department": "NMPA", "webhook": SECRET_HOOK})


def test_public_view_masks_the_token_and_url_credentials() -> None:
    view = secret_subscription().public_view()
    assert view["webhook"] == {
        "url": f"https://robot:{MASK}@oapi.example.cn/robot/send?access_token={MASK}&sign={MASK}",
        "signature_token": MASK,
        "signature_token_env": None,
    }
    assert view["filter"]["regions"] == []
    assert view["name"] == "ab"


def test_no_view_but_the_store_json_shows_a_secret() -> None:
    subscription = secret_subscription()
    for shown in (
        repr(subscription),
        str(subscription),
        subscription.model_dump_json(),
        str(subscription.public_view()),
    ):
        assert "very-secret" not in shown
        assert "pw-42" not in shown
        assert "tok-42" not in shown
    stored = subscription.store_json()
    assert b"very-secret" in stored
    assert b"pw-42" in stored
    assert b"tok-42" in stored
    again = Subscription.model_validate_json(stored)
    assert again == subscription
    assert again.webhook is not None
    assert again.webhook.token() == b"very-secret"


def test_an_environment_token_is_stored_by_name_only() -> None:
    subscription = Subscription.model_validate(
        {"name": "ab", "department": "X", "webhook": {"url": "http://127.0.0.1:1/h", "signature_token_env": "TB_T"}}
    )
    assert subscription.public_view()["webhook"] == {
        "url": "http://127.0.0.1:1/h",
        "signature_token": None,
        "signature_token_env": "TB_T",
    }
    assert Subscription.model_validate_json(subscription.store_json()) == subscription


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://127.0.0.1:8091/hooks/a", "http://127.0.0.1:8091/hooks/a"),
        ("https://u@h.cn/p", "https://u@h.cn/p"),
        ("https://u:p@h.cn:8443/p", f"https://u:{MASK}@h.cn:8443/p"),
        ("https://h.cn/p?access_token=x", f"https://h.cn/p?access_token={MASK}"),
        ("https://h.cn/p?a=1&b=", f"https://h.cn/p?a={MASK}&b={MASK}"),
        ("https://h.cn/p#secret", f"https://h.cn/p#{MASK}"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked
