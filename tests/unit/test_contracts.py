"""The contract catalogue: the repository's own contracts, plus fixture trees that must be rejected."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from schemas.contracts import (
    DEFAULT_ROOT,
    canonical_fingerprint,
    contract_problems,
    load_contracts,
    lock_problems,
    released_lock,
    write_lock,
)
from schemas.errors import SchemaError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"


def write_schema(root: Path, name: str, version: int, schema: object) -> Path:
    path = root / name / f"v{version}.avsc"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    return path


def widget(*fields: tuple[str, str]) -> dict[str, object]:
    return {
        "type": "record",
        "name": "Widget",
        "namespace": "t",
        "fields": [{"name": n, "type": t} for n, t in fields],
    }


# --- (a) enforcement over every contract in the repository --------------------------------------


def test_repository_contracts_are_valid_and_fully_transitively_compatible() -> None:
    assert contract_problems() == []


def test_repository_release_lock_matches_every_released_contract() -> None:
    assert lock_problems() == []


def test_default_root_is_the_repository_avro_directory() -> None:
    assert Path(__file__).resolve().parents[2] / "schemas" / "avro" == DEFAULT_ROOT


# --- (b) incompatible and tampered fixtures are rejected ----------------------------------------


def test_incompatible_released_version_is_rejected() -> None:
    assert contract_problems(FIXTURES / "incompatible") == [
        "widget/v2.avsc against v1, backward (new schema reads v1): "
        "/fields/colour: reader field has no default and is missing from writer",
        "widget/v2.avsc against v1, forward (v1 reads new schema): "
        "/fields/quantity: writer type 'long' cannot be promoted to reader type 'int'",
    ]
    assert lock_problems(FIXTURES / "incompatible") == []


def test_break_with_an_older_version_is_caught_transitively() -> None:
    assert contract_problems(FIXTURES / "transitive") == [
        "widget/v3.avsc against v1, forward (v1 reads new schema): "
        "/fields/note: reader field has no default and is missing from writer"
    ]


def test_lock_drift_is_reported_precisely() -> None:
    assert lock_problems(FIXTURES / "lock_drift") == [
        "released contract gadget/v1.avsc changed without a new version",
        "gizmo/v1.avsc is not in released.json: run `tracebus schemas release`",
        "gone/v1.avsc is in released.json but the file no longer exists",
    ]
    assert contract_problems(FIXTURES / "lock_drift") == []


def test_provisional_version_in_the_lock_is_a_problem(tmp_path: Path) -> None:
    write_schema(tmp_path, "widget", 0, widget(("id", "string")))
    (tmp_path / "released.json").write_text(
        json.dumps({"widget/v0.avsc": canonical_fingerprint(json.dumps(widget(("id", "string"))))})
    )
    assert lock_problems(tmp_path) == ["widget/v0.avsc is provisional (v0) and must not be in released.json"]


def test_unparseable_contract_is_reported(tmp_path: Path) -> None:
    write_schema(tmp_path, "widget", 1, {"type": "record", "name": "W", "fields": [{"name": "a", "type": "Nope"}]})
    problems = contract_problems(tmp_path)
    assert len(problems) == 1
    assert problems[0].startswith("widget/v1.avsc: not a valid Avro schema: ")


def test_misplaced_schema_files_are_reported(tmp_path: Path) -> None:
    write_schema(tmp_path, "widget", 1, widget(("id", "string")))
    (tmp_path / "widget" / "version2.avsc").write_text(json.dumps(widget(("id", "string"))))
    (tmp_path / "loose.avsc").write_text(json.dumps(widget(("id", "string"))))
    assert contract_problems(tmp_path) == [
        "loose.avsc is not laid out as <contract-name>/v<N>.avsc and is ignored",
        "widget/version2.avsc is not laid out as <contract-name>/v<N>.avsc and is ignored",
    ]


# --- (c) v0 is outside the compatibility check and the lock -------------------------------------


def test_provisional_v0_may_be_wildly_incompatible() -> None:
    root = FIXTURES / "provisional"
    versions = load_contracts(root)["sprocket"]
    assert [(v.version, v.provisional) for v in versions] == [(0, True), (1, False), (2, False)]
    assert contract_problems(root) == []
    assert lock_problems(root) == []
    assert "sprocket/v0.avsc" not in released_lock(root)


def test_provisional_v0_alone_needs_no_lock(tmp_path: Path) -> None:
    write_schema(tmp_path, "draft", 0, {"type": "enum", "name": "D", "symbols": ["A"]})
    assert contract_problems(tmp_path) == []
    assert lock_problems(tmp_path) == []
    write_lock(tmp_path)
    assert not (tmp_path / "released.json").exists()


# --- (d) write_lock -----------------------------------------------------------------------------


def test_write_lock_adds_new_entries_and_never_rewrites_old_ones(tmp_path: Path) -> None:
    write_schema(tmp_path, "widget", 0, {"type": "enum", "name": "Draft", "symbols": ["X"]})
    v1 = write_schema(tmp_path, "widget", 1, widget(("id", "string")))
    write_lock(tmp_path)
    first = released_lock(tmp_path)
    assert first == {"widget/v1.avsc": canonical_fingerprint(v1.read_text())}

    v1.write_text(json.dumps(widget(("id", "bytes"))))  # tampering with a released file
    write_schema(tmp_path, "widget", 2, widget(("id", "string")))
    write_schema(tmp_path, "gizmo", 1, widget(("size", "int")))
    write_lock(tmp_path)
    second = released_lock(tmp_path)
    assert second["widget/v1.avsc"] == first["widget/v1.avsc"]
    assert set(second) == {"widget/v1.avsc", "widget/v2.avsc", "gizmo/v1.avsc"}
    assert lock_problems(tmp_path) == ["released contract widget/v1.avsc changed without a new version"]


def test_write_lock_is_deterministic_and_sorted(tmp_path: Path) -> None:
    write_schema(tmp_path, "zeta", 1, widget(("id", "string")))
    write_schema(tmp_path, "alpha", 1, widget(("id", "string")))
    write_lock(tmp_path)
    text = (tmp_path / "released.json").read_text()
    assert list(json.loads(text)) == ["alpha/v1.avsc", "zeta/v1.avsc"]
    assert text.endswith("}\n")
    write_lock(tmp_path)
    assert (tmp_path / "released.json").read_text() == text


def test_write_lock_fixes_a_missing_entry_found_by_lock_problems(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "lock_drift", tmp_path, dirs_exist_ok=True)
    write_lock(tmp_path)
    assert lock_problems(tmp_path) == [
        "released contract gadget/v1.avsc changed without a new version",
        "gone/v1.avsc is in released.json but the file no longer exists",
    ]


# --- catalogue loading and fingerprints ---------------------------------------------------------


def test_versions_are_sorted_numerically(tmp_path: Path) -> None:
    for version in (10, 2, 1):
        write_schema(tmp_path, "widget", version, widget(("id", "string")))
    versions = load_contracts(tmp_path)["widget"]
    assert [v.version for v in versions] == [1, 2, 10]
    assert versions[0].name == "widget"
    assert versions[0].path == tmp_path / "widget" / "v1.avsc"
    assert json.loads(versions[0].schema_text) == widget(("id", "string"))


def test_missing_root_has_no_contracts(tmp_path: Path) -> None:
    assert load_contracts(tmp_path / "absent") == {}
    assert contract_problems(tmp_path / "absent") == []
    assert lock_problems(tmp_path / "absent") == []


def test_fingerprint_is_sha256_of_parsing_canonical_form() -> None:
    assert canonical_fingerprint('"int"') == hashlib.sha256(b'"int"').hexdigest()
    text = json.dumps({"type": "record", "name": "A", "namespace": "x", "fields": [{"name": "a", "type": "int"}]})
    expected = '{"name":"x.A","type":"record","fields":[{"name":"a","type":"int"}]}'
    assert canonical_fingerprint(text) == hashlib.sha256(expected.encode()).hexdigest()


def test_fingerprint_ignores_docs_defaults_aliases_and_whitespace() -> None:
    plain = widget(("id", "string"))
    decorated = {
        "doc": "A widget.",
        "aliases": ["Gadget"],
        "type": "record",
        "name": "t.Widget",
        "fields": [{"name": "id", "type": "string", "default": "", "doc": "the id"}],
    }
    assert canonical_fingerprint(json.dumps(plain)) == canonical_fingerprint(json.dumps(decorated, indent=4))


def test_fingerprint_changes_with_the_wire_shape() -> None:
    assert canonical_fingerprint(json.dumps(widget(("id", "string")))) != canonical_fingerprint(
        json.dumps(widget(("id", "bytes")))
    )


def test_fingerprint_of_invalid_schema_raises() -> None:
    with pytest.raises(SchemaError, match="not a valid Avro schema"):
        canonical_fingerprint('{"type": "nonsense"}')


def test_malformed_lock_raises(tmp_path: Path) -> None:
    (tmp_path / "released.json").write_text('["not", "a", "mapping"]')
    with pytest.raises(SchemaError, match="must be a JSON object"):
        released_lock(tmp_path)
