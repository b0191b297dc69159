"""The private URI scheme is part of event hashes: these pins must never change."""

from __future__ import annotations

import pytest

from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.private_uri import PrivateUri, build, is_private_uri, parse


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("id", "tracecode", "330109202611200042"), "urn:tracebus:id:tracecode:330109202611200042"),
        (("id", "drugcode", "81000000000000012345"), "urn:tracebus:id:drugcode:81000000000000012345"),
        (
            ("class", "batch", "91330109ma2b0001xk", "SL20261120A"),
            "urn:tracebus:class:batch:91330109MA2B0001XK:SL20261120A",
        ),
        (("party", "uscc", " 91350200776049653a "), "urn:tracebus:party:uscc:91350200776049653A"),
        (("loc", "region", "330109"), "urn:tracebus:loc:region:330109"),
        (("loc", "stall", "91330100MA2B0003XM", "A-108"), "urn:tracebus:loc:stall:91330100MA2B0003XM:A-108"),
        (("doc", "voucher", "PF-20261120-000917"), "urn:tracebus:doc:voucher:PF-20261120-000917"),
        # Chinese, space and ':' inside a value are percent-encoded as UTF-8, upper-case hex
        (("doc", "compliance", "合格证 1:2"), "urn:tracebus:doc:compliance:%E5%90%88%E6%A0%BC%E8%AF%81%201%3A2"),
        (("loc", "plot", "93330109MA2B0002XL", "B/03"), "urn:tracebus:loc:plot:93330109MA2B0002XL:B%2F03"),
    ],
)
def test_build_is_pinned(parts: tuple[str, ...], expected: str) -> None:
    assert build(*parts) == expected
    parsed = parse(expected)
    assert str(parsed) == expected
    assert is_private_uri(expected)


def test_parse_splits_parts_and_decodes() -> None:
    assert parse("urn:tracebus:doc:compliance:%E5%90%88%E6%A0%BC%E8%AF%81%3A7") == PrivateUri(
        "doc", "compliance", ("合格证:7",)
    )


@pytest.mark.parametrize(
    ("uri", "check"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", "prefix"),
        ("urn:tracebus:id", "parts"),
        ("urn:tracebus:thing:tracecode:1", "category"),
        ("urn:tracebus:id:barcode:1", "kind"),
        ("urn:tracebus:class:batch:91350200776049653A", "parts"),
        ("urn:tracebus:party:uscc:91350200776049653a", "canonical-form"),
        ("urn:tracebus:doc:voucher:a%3ab", "canonical-form"),
    ],
)
def test_parse_refuses_what_build_would_not_produce(uri: str, check: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        parse(uri)
    assert caught.value.check == check


def test_empty_part_is_refused_with_its_position() -> None:
    with pytest.raises(IdentifierError, match="value part 2 is empty"):
        build("class", "batch", "91350200776049653A", "  ")
