"""Avro schema-resolution compatibility: one group of cases per rule of the specification."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.compatibility import compatibility_problems, reader_problems
from schemas.registry.base import COMPATIBILITY_LEVELS, CompatibilityLevel


def schema(value: Any) -> str:
    return json.dumps(value)


def record(*fields: dict[str, Any], name: str = "Item", **attrs: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, **attrs, "fields": list(fields)}


def fld(name: str, type_: Any, **attrs: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **attrs}


def rec_text(*fields: dict[str, Any], name: str = "Item", **attrs: Any) -> str:
    return schema(record(*fields, name=name, **attrs))


# --- primitives and promotions ------------------------------------------------------------------

PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]


@pytest.mark.parametrize("primitive", PRIMITIVES)
def test_identical_primitives_are_compatible(primitive: str) -> None:
    assert reader_problems(schema(primitive), schema(primitive)) == []


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    ],
)
def test_spec_promotions_are_allowed(writer: str, reader: str) -> None:
    assert reader_problems(schema(reader), schema(writer)) == []


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        ("long", "int"),
        ("float", "int"),
        ("double", "float"),
        ("double", "long"),
        ("float", "long"),
        ("string", "int"),
        ("int", "string"),
        ("boolean", "int"),
        ("null", "string"),
        ("bytes", "long"),
        ("int", "boolean"),
    ],
)
def test_demotions_and_unrelated_primitives_are_rejected(writer: str, reader: str) -> None:
    assert reader_problems(schema(reader), schema(writer)) == [
        f"/: writer type '{writer}' cannot be promoted to reader type '{reader}'"
    ]


def test_primitive_in_object_form_equals_plain_name() -> None:
    assert reader_problems(schema({"type": "long"}), schema("int")) == []
    assert reader_problems(schema({"type": "int"}), schema("long")) != []


# --- records ------------------------------------------------------------------------------------


def test_field_type_problem_names_the_field_path() -> None:
    reader = rec_text(fld("quantity", "long"))
    writer = rec_text(fld("quantity", "string"))
    assert reader_problems(reader, writer) == [
        "/fields/quantity: writer type 'string' cannot be promoted to reader type 'long'"
    ]


def test_field_promotion_inside_record_is_compatible() -> None:
    assert reader_problems(rec_text(fld("quantity", "double")), rec_text(fld("quantity", "int"))) == []


def test_reader_field_missing_from_writer_without_default_is_a_problem() -> None:
    reader = rec_text(fld("quantity", "long"), fld("unit", "string"))
    writer = rec_text(fld("quantity", "long"))
    assert reader_problems(reader, writer) == ["/fields/unit: reader field has no default and is missing from writer"]


def test_reader_field_missing_from_writer_with_default_is_fine() -> None:
    reader = rec_text(fld("quantity", "long"), fld("unit", "string", default="kg"))
    assert reader_problems(reader, rec_text(fld("quantity", "long"))) == []


def test_null_default_counts_as_a_default() -> None:
    reader = rec_text(fld("note", ["null", "string"], default=None))
    assert reader_problems(reader, rec_text()) == []


def test_writer_fields_unknown_to_reader_are_skipped() -> None:
    writer = rec_text(fld("quantity", "long"), fld("extra", "bytes"))
    assert reader_problems(rec_text(fld("quantity", "long")), writer) == []


def test_field_order_does_not_matter() -> None:
    reader = rec_text(fld("b", "string"), fld("a", "int"))
    writer = rec_text(fld("a", "int"), fld("b", "string"))
    assert reader_problems(reader, writer) == []


def test_reader_field_alias_matches_renamed_writer_field() -> None:
    reader = rec_text(fld("amount", "long", aliases=["quantity"]))
    assert reader_problems(reader, rec_text(fld("quantity", "int"))) == []


def test_alias_match_still_checks_the_type_at_the_reader_field_path() -> None:
    reader = rec_text(fld("amount", "int", aliases=["quantity"]))
    assert reader_problems(reader, rec_text(fld("quantity", "string"))) == [
        "/fields/amount: writer type 'string' cannot be promoted to reader type 'int'"
    ]


def test_writer_field_alias_does_not_help_the_reader() -> None:
    writer = rec_text(fld("quantity", "int", aliases=["amount"]))
    assert reader_problems(rec_text(fld("amount", "int")), writer) == [
        "/fields/amount: reader field has no default and is missing from writer"
    ]


def test_nested_record_problems_carry_the_full_path() -> None:
    address_r = record(fld("street", "string"), fld("zip", "int"), name="Address")
    address_w = record(fld("street", "string"), fld("zip", "string"), name="Address")
    problems = reader_problems(rec_text(fld("address", address_r)), rec_text(fld("address", address_w)))
    assert problems == ["/fields/address/fields/zip: writer type 'string' cannot be promoted to reader type 'int'"]


def test_every_problem_is_reported_not_only_the_first() -> None:
    reader = rec_text(fld("a", "int"), fld("b", "string"), fld("c", "boolean"))
    writer = rec_text(fld("a", "long"), fld("c", "boolean"))
    assert reader_problems(reader, writer) == [
        "/fields/a: writer type 'long' cannot be promoted to reader type 'int'",
        "/fields/b: reader field has no default and is missing from writer",
    ]


def test_record_names_must_match() -> None:
    problems = reader_problems(rec_text(name="Order"), rec_text(name="Invoice"))
    assert problems == [
        "/: writer record 'Invoice' does not match reader record 'Order': names differ and no reader alias is 'Invoice'"
    ]


def test_record_name_matches_through_reader_alias() -> None:
    reader = rec_text(name="Order", namespace="shop", aliases=["legacy.Invoice"])
    assert reader_problems(reader, rec_text(name="Invoice", namespace="legacy")) == []


def test_unqualified_reader_alias_is_resolved_in_the_reader_namespace() -> None:
    reader = rec_text(name="Order", namespace="shop", aliases=["Invoice"])
    assert reader_problems(reader, rec_text(name="Invoice", namespace="shop")) == []
    assert reader_problems(reader, rec_text(name="Invoice", namespace="legacy")) != []


def test_records_match_on_unqualified_name_across_namespaces() -> None:
    reader = rec_text(fld("a", "int"), name="Item", namespace="new.ns")
    writer = rec_text(fld("a", "int"), name="Item", namespace="old.ns")
    assert reader_problems(reader, writer) == []


def test_record_against_primitive_is_a_type_mismatch() -> None:
    assert reader_problems(rec_text(name="Item", namespace="x"), schema("string")) == [
        "/: writer type 'string' does not match reader type record 'x.Item'"
    ]


# --- enums --------------------------------------------------------------------------------------


def enum(*symbols: str, name: str = "Colour", **attrs: Any) -> str:
    return schema({"type": "enum", "name": name, "symbols": list(symbols), **attrs})


def test_identical_enums_are_compatible() -> None:
    assert reader_problems(enum("RED", "GREEN"), enum("RED", "GREEN")) == []


def test_reader_may_add_symbols_and_reorder() -> None:
    assert reader_problems(enum("GREEN", "BLUE", "RED"), enum("RED", "GREEN")) == []


def test_writer_symbols_missing_from_reader_are_each_reported() -> None:
    assert reader_problems(enum("RED"), enum("RED", "GREEN", "BLUE")) == [
        "/: writer symbol 'GREEN' is not in reader enum 'Colour' and the reader enum has no default",
        "/: writer symbol 'BLUE' is not in reader enum 'Colour' and the reader enum has no default",
    ]


def test_reader_enum_default_absorbs_unknown_writer_symbols() -> None:
    assert reader_problems(enum("RED", "UNKNOWN", default="UNKNOWN"), enum("RED", "GREEN")) == []


def test_enum_names_must_match() -> None:
    assert reader_problems(enum("RED", name="Colour"), enum("RED", name="Shade")) == [
        "/: writer enum 'Shade' does not match reader enum 'Colour': names differ and no reader alias is 'Shade'"
    ]


def test_enum_name_matches_through_alias() -> None:
    assert reader_problems(enum("RED", name="Colour", aliases=["Shade"]), enum("RED", name="Shade")) == []


def test_enum_inside_record_reports_field_path() -> None:
    reader = rec_text(fld("colour", {"type": "enum", "name": "Colour", "symbols": ["RED"]}))
    writer = rec_text(fld("colour", {"type": "enum", "name": "Colour", "symbols": ["RED", "TEAL"]}))
    assert reader_problems(reader, writer) == [
        "/fields/colour: writer symbol 'TEAL' is not in reader enum 'Colour' and the reader enum has no default"
    ]


def test_enum_is_not_a_string() -> None:
    assert reader_problems(schema("string"), enum("RED")) == [
        "/: writer type enum 'Colour' does not match reader type 'string'"
    ]


# --- arrays and maps ----------------------------------------------------------------------------


def test_array_items_are_promoted() -> None:
    assert reader_problems(schema({"type": "array", "items": "long"}), schema({"type": "array", "items": "int"})) == []


def test_array_items_problem_has_items_path() -> None:
    reader = schema({"type": "array", "items": "int"})
    writer = schema({"type": "array", "items": "long"})
    assert reader_problems(reader, writer) == ["/items: writer type 'long' cannot be promoted to reader type 'int'"]


def test_array_of_records_in_a_record_reports_deep_path() -> None:
    line_r = record(fld("sku", "string"), fld("qty", "int"), name="Line")
    line_w = record(fld("sku", "string"), fld("qty", "double"), name="Line")
    reader = rec_text(fld("lines", {"type": "array", "items": line_r}))
    writer = rec_text(fld("lines", {"type": "array", "items": line_w}))
    assert reader_problems(reader, writer) == [
        "/fields/lines/items/fields/qty: writer type 'double' cannot be promoted to reader type 'int'"
    ]


def test_map_values_are_promoted() -> None:
    reader = schema({"type": "map", "values": "double"})
    assert reader_problems(reader, schema({"type": "map", "values": "float"})) == []


def test_map_values_problem_has_values_path() -> None:
    reader = schema({"type": "map", "values": "boolean"})
    writer = schema({"type": "map", "values": "string"})
    assert reader_problems(reader, writer) == [
        "/values: writer type 'string' cannot be promoted to reader type 'boolean'"
    ]


def test_map_is_not_an_array() -> None:
    reader = schema({"type": "array", "items": "string"})
    writer = schema({"type": "map", "values": "string"})
    assert reader_problems(reader, writer) == ["/: writer type 'map' does not match reader type 'array'"]


# --- fixed --------------------------------------------------------------------------------------


def fixed(size: int, name: str = "Digest", **attrs: Any) -> str:
    return schema({"type": "fixed", "name": name, "size": size, **attrs})


def test_identical_fixed_is_compatible() -> None:
    assert reader_problems(fixed(16), fixed(16)) == []


def test_fixed_sizes_must_match() -> None:
    assert reader_problems(fixed(32), fixed(16)) == [
        "/: writer fixed 'Digest' has size 16 but reader fixed 'Digest' has size 32"
    ]


def test_fixed_names_must_match() -> None:
    assert reader_problems(fixed(16, name="Digest"), fixed(16, name="Uuid")) == [
        "/: writer fixed 'Uuid' does not match reader fixed 'Digest': names differ and no reader alias is 'Uuid'"
    ]


def test_fixed_name_matches_through_alias() -> None:
    assert reader_problems(fixed(16, name="Digest", aliases=["Uuid"]), fixed(16, name="Uuid")) == []


def test_fixed_is_not_bytes() -> None:
    assert reader_problems(schema("bytes"), fixed(16)) == [
        "/: writer type fixed 'Digest' does not match reader type 'bytes'"
    ]


# --- unions -------------------------------------------------------------------------------------


def test_reader_union_superset_of_writer_union_is_compatible() -> None:
    assert reader_problems(schema(["null", "string", "long"]), schema(["string", "null"])) == []


def test_writer_union_branch_missing_from_reader_union_is_a_problem() -> None:
    assert reader_problems(schema(["null", "long"]), schema(["null", "string", "int"])) == [
        "/: writer union branch 'string' matches no branch of reader union [null, long]"
    ]


def test_writer_union_branch_may_be_promoted_into_reader_union() -> None:
    assert reader_problems(schema(["null", "double"]), schema(["null", "int", "float"])) == []


def test_plain_writer_into_reader_union() -> None:
    assert reader_problems(schema(["null", "string"]), schema("string")) == []
    assert reader_problems(schema(["null", "long"]), schema("int")) == []
    assert reader_problems(schema(["null", "string"]), schema("boolean")) == [
        "/: writer type 'boolean' matches no branch of reader union [null, string]"
    ]


def test_writer_union_into_plain_reader_needs_every_branch_readable() -> None:
    assert reader_problems(schema("double"), schema(["int", "long", "float"])) == []
    assert reader_problems(schema("long"), schema(["null", "int"])) == [
        "/: writer union branch 'null' cannot be promoted to reader type 'long'"
    ]


def test_making_a_field_optional_is_readable_but_not_the_reverse() -> None:
    optional = rec_text(fld("note", ["null", "string"], default=None))
    required = rec_text(fld("note", "string"))
    assert reader_problems(optional, required) == []
    assert reader_problems(required, optional) == [
        "/fields/note: writer union branch 'null' cannot be promoted to reader type 'string'"
    ]


def test_reader_union_resolves_record_branch_by_name_and_reports_its_problems() -> None:
    reader = schema(["null", record(fld("a", "int"), fld("b", "string"), name="Item"), "string"])
    writer = rec_text(fld("a", "int"), name="Item")
    assert reader_problems(reader, writer) == ["/fields/b: reader field has no default and is missing from writer"]


def test_writer_record_not_named_in_reader_union_is_a_problem() -> None:
    reader = schema(["null", record(name="Order")])
    writer = rec_text(name="Invoice")
    assert reader_problems(reader, writer) == [
        "/: writer type record 'Invoice' matches no branch of reader union [null, Order]"
    ]


def test_union_of_named_types_selects_each_by_name() -> None:
    a = record(fld("x", "int"), name="A")
    b = record(fld("y", "string"), name="B")
    assert reader_problems(schema([b, a]), schema([a, b])) == []


# --- logical types ------------------------------------------------------------------------------


def test_logical_types_are_judged_by_their_underlying_type() -> None:
    date = {"type": "int", "logicalType": "date"}
    ts = {"type": "long", "logicalType": "timestamp-millis"}
    assert reader_problems(schema(date), schema("int")) == []
    assert reader_problems(schema("int"), schema(date)) == []
    assert reader_problems(schema(ts), schema(date)) == []  # int promotes to long
    assert reader_problems(schema(date), schema(ts)) == [
        "/: writer type 'long' cannot be promoted to reader type 'int'"
    ]


def test_decimal_on_bytes_and_fixed_follows_the_underlying_type() -> None:
    dec_bytes = {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}
    dec_fixed = {"type": "fixed", "name": "Money", "size": 8, "logicalType": "decimal", "precision": 9}
    assert reader_problems(schema(dec_bytes), schema("bytes")) == []
    assert reader_problems(schema("string"), schema(dec_bytes)) == []
    assert reader_problems(schema(dec_bytes), schema(dec_fixed)) == [
        "/: writer type fixed 'Money' does not match reader type 'bytes'"
    ]


def test_uuid_string_is_a_string() -> None:
    assert reader_problems(schema({"type": "string", "logicalType": "uuid"}), schema("bytes")) == []


# --- named references and recursion -------------------------------------------------------------


def linked_list(value_type: str, *extra: dict[str, Any]) -> str:
    return rec_text(fld("value", value_type), fld("next", ["null", "Node"], default=None), *extra, name="Node")


def test_recursive_types_terminate_when_compatible() -> None:
    assert reader_problems(linked_list("long"), linked_list("int")) == []


def test_recursive_types_terminate_and_report_once_when_incompatible() -> None:
    assert reader_problems(linked_list("int"), linked_list("long")) == [
        "/fields/value: writer type 'long' cannot be promoted to reader type 'int'"
    ]


def test_mutually_recursive_types_terminate() -> None:
    def tree(label_type: str) -> str:
        forest = {"type": "array", "items": "Tree"}
        return rec_text(
            fld("label", label_type),
            fld("children", record(fld("trees", forest), name="Forest")),
            name="Tree",
            namespace="t",
        )

    assert reader_problems(tree("string"), tree("bytes")) == []
    assert reader_problems(tree("int"), tree("string")) == [
        "/fields/label: writer type 'string' cannot be promoted to reader type 'int'"
    ]


def test_named_reference_resolves_in_the_enclosing_namespace() -> None:
    money = record(fld("cents", "long"), name="Money")
    reader = rec_text(fld("price", money), fld("tax", "Money"), namespace="shop")
    writer_money = record(fld("cents", "int"), name="Money")
    writer = rec_text(fld("price", writer_money), fld("tax", "shop.Money"), namespace="shop")
    assert reader_problems(reader, writer) == []


def test_named_reference_to_incompatible_type_is_reported() -> None:
    reader = rec_text(fld("colour", {"type": "enum", "name": "C", "symbols": ["R"]}), fld("again", "C"))
    writer = rec_text(fld("colour", {"type": "enum", "name": "C", "symbols": ["R", "G"]}), fld("again", "C"))
    problems = reader_problems(reader, writer)
    assert problems == [
        "/fields/colour: writer symbol 'G' is not in reader enum 'C' and the reader enum has no default"
    ]


# --- invalid schemas ----------------------------------------------------------------------------


def test_invalid_reader_json_is_reported() -> None:
    problems = reader_problems("{not json", schema("int"))
    assert len(problems) == 1
    assert problems[0].startswith("reader schema is not valid Avro: ")


def test_unknown_type_in_writer_is_reported() -> None:
    problems = reader_problems(schema("int"), rec_text(fld("a", "Missing")))
    assert len(problems) == 1
    assert problems[0].startswith("writer schema is not valid Avro: ")


def test_invalid_default_is_reported() -> None:
    problems = reader_problems(rec_text(fld("a", "int", default="x")), rec_text())
    assert problems[0].startswith("reader schema is not valid Avro: ")


# --- compatibility levels -----------------------------------------------------------------------

BASE = rec_text(fld("id", "string"))
WITH_REQUIRED = rec_text(fld("id", "string"), fld("qty", "int"))
WITH_DEFAULT = rec_text(fld("id", "string"), fld("qty", "int", default=0))
MISSING = "reader field has no default and is missing from writer"


def test_none_accepts_anything() -> None:
    assert compatibility_problems(schema("string"), [BASE], "NONE") == []


@pytest.mark.parametrize("level", COMPATIBILITY_LEVELS)
def test_first_version_is_always_accepted(level: CompatibilityLevel) -> None:
    assert compatibility_problems(BASE, [], level) == []


@pytest.mark.parametrize("level", COMPATIBILITY_LEVELS)
def test_adding_a_field_with_default_passes_every_level(level: CompatibilityLevel) -> None:
    assert compatibility_problems(WITH_DEFAULT, [BASE], level) == []


def test_backward_new_must_read_latest() -> None:
    assert compatibility_problems(WITH_REQUIRED, [BASE], "BACKWARD") == [
        f"version 1, backward (new schema reads version 1): /fields/qty: {MISSING}"
    ]
    assert compatibility_problems(BASE, [WITH_REQUIRED], "BACKWARD") == []


def test_forward_latest_must_read_new() -> None:
    assert compatibility_problems(BASE, [WITH_REQUIRED], "FORWARD") == [
        f"version 1, forward (version 1 reads new schema): /fields/qty: {MISSING}"
    ]
    assert compatibility_problems(WITH_REQUIRED, [BASE], "FORWARD") == []


def test_full_checks_both_directions() -> None:
    new = rec_text(fld("id", "string"), fld("qty", "long"))
    old = rec_text(fld("id", "string"), fld("qty", "int"), fld("unit", "string"))
    assert compatibility_problems(new, [old], "FULL") == [
        "version 1, forward (version 1 reads new schema): "
        "/fields/qty: writer type 'long' cannot be promoted to reader type 'int'",
        f"version 1, forward (version 1 reads new schema): /fields/unit: {MISSING}",
    ]
    assert compatibility_problems(old, [new], "FULL") == [
        "version 1, backward (new schema reads version 1): "
        "/fields/qty: writer type 'long' cannot be promoted to reader type 'int'",
        f"version 1, backward (new schema reads version 1): /fields/unit: {MISSING}",
    ]


def test_non_transitive_levels_only_check_the_latest() -> None:
    v1 = BASE
    v2 = WITH_DEFAULT
    assert compatibility_problems(WITH_REQUIRED, [v1, v2], "BACKWARD") == []
    assert compatibility_problems(WITH_REQUIRED, [v1, v2], "BACKWARD_TRANSITIVE") == [
        f"version 1, backward (new schema reads version 1): /fields/qty: {MISSING}"
    ]


def test_forward_transitive_checks_every_existing_reader() -> None:
    v1 = WITH_REQUIRED
    v2 = WITH_DEFAULT
    assert compatibility_problems(BASE, [v1, v2], "FORWARD") == []
    assert compatibility_problems(BASE, [v1, v2], "FORWARD_TRANSITIVE") == [
        f"version 1, forward (version 1 reads new schema): /fields/qty: {MISSING}"
    ]


def test_full_transitive_catches_a_break_two_versions_back() -> None:
    v1 = rec_text(fld("id", "string"), fld("note", "string"))
    v2 = rec_text(fld("id", "string"), fld("note", "string", default=""))
    v3 = BASE
    assert compatibility_problems(v2, [v1], "FULL_TRANSITIVE") == []
    assert compatibility_problems(v3, [v1, v2], "FULL") == []
    assert compatibility_problems(v3, [v1, v2], "FULL_TRANSITIVE") == [
        f"version 1, forward (version 1 reads new schema): /fields/note: {MISSING}"
    ]


def test_problem_names_the_failing_version_number() -> None:
    v1 = rec_text(fld("id", "string"), fld("qty", "int", default=0))
    v2 = rec_text(fld("id", "string"), fld("qty", "string", default=""))
    v3 = rec_text(fld("id", "string"), fld("qty", "int", default=0))
    problems = compatibility_problems(v3, [v1, v2, v3], "BACKWARD_TRANSITIVE")
    assert problems == [
        "version 2, backward (new schema reads version 2): "
        "/fields/qty: writer type 'string' cannot be promoted to reader type 'int'"
    ]
