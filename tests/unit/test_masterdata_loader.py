"""ops.commands.masterdata: encodings, formats, every row check with its line, the CLI's exit codes, the samples."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ops.commands import masterdata as command
from ops.commands.masterdata_rows import COLUMNS, Parsed, Row, RowError, decode, infer_kind, read_files
from schemas.identifiers.uscc import validate_uscc
from streams.settings import OPS_DIR

SAMPLES = OPS_DIR / "masterdata"
ON = date(2026, 11, 20)
FARMER = "92330109MA2B00043H"
SLAUGHTERHOUSE = "91350200776049653A"
BUSINESS_HEADER = "uscc,name,natural_person,credit_grade,region_code,licences\n"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def problems(parsed: Parsed) -> list[tuple[int, str]]:
    return [(p.line, p.reason) for p in parsed.problems]


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_a_business_file_reads_the_same_in_every_supported_encoding(tmp_path: Path, encoding: str) -> None:
    path = write(
        tmp_path, "businesses.csv", BUSINESS_HEADER + f"{FARMER},王某某（个体蔬菜种植户）,是,,330109,\n", encoding
    )
    parsed = read_files([path], None, on=ON)
    assert parsed.problems == []
    assert parsed.rows == [
        Row(
            "business",
            FARMER,
            {
                "name": "王某某（个体蔬菜种植户）",
                "natural_person": True,
                "credit_grade": None,
                "region_code": "330109",
                "licences": [],
            },
            str(path),
            2,
        )
    ]
    expected = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gbk": "gbk", "gb18030": "gbk", "utf-16": "utf-16"}
    assert parsed.files == [(str(path), "business", expected[encoding])]


def test_gb18030_is_used_when_a_character_is_outside_gbk() -> None:
    text = "名称\n𠮷野家\n"  # U+20BB7 has a four-byte GB18030 form, which is invalid GBK
    assert decode(text.encode("gb18030")) == ("gb18030", text)


def test_bytes_of_no_supported_encoding_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_bytes(b"code,name\n06901234123456,ok\n\x80\xff\xfe\x80\n")
    parsed = read_files([path], None, on=ON)
    assert parsed.rows == []
    assert problems(parsed) == [(3, "the file is neither UTF-8 nor GBK/GB18030 text")]
    with pytest.raises(RowError):
        decode(b"\xff\x80\x80")


def test_chinese_headers_in_a_gbk_export(tmp_path: Path) -> None:
    text = "目录编码,名称,是否追溯,主管部门,起始日期\n0101,猪肉,是,mofcom,2010-10-01\n"
    parsed = read_files([write(tmp_path, "追溯目录.csv", text, "gbk")], None, on=ON)
    assert parsed.problems == []
    assert [(r.kind, r.key, r.value) for r in parsed.rows] == [
        ("catalogue", "0101", {"name": "猪肉", "traced": True, "department": "MOFCOM", "since": "2010-10-01"})
    ]


# ---------------------------------------------------------------- kinds and formats


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("businesses.csv", "business"),
        ("2026-企业主体.jsonl", "business"),
        ("products.json", "product"),
        ("商品.csv", "product"),
        ("catalogue.csv", "catalogue"),
        ("Catalog-2026.CSV", "catalogue"),
        ("data.csv", None),
        ("product-catalogue.csv", None),
    ],
)
def test_the_kind_is_inferred_from_the_file_name(name: str, kind: str | None) -> None:
    assert infer_kind(Path(name)) == kind


def test_a_file_whose_kind_cannot_be_inferred_needs_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", "code,name\n06901234123456,x\n")
    with pytest.raises(ValueError, match="--kind"):
        read_files([path], None, on=ON)
    assert [r.key for r in read_files([path], "product", on=ON).rows] == ["06901234123456"]


def test_json_array_rows_carry_the_line_each_object_starts_on(tmp_path: Path) -> None:
    text = (
        "[\n"
        '  {"code": "6901234123456", "name": "白条猪肉", "category": "0101"},\n'
        "  {\n"
        '    "code": "06901234123457",\n'
        '    "name": "bad check digit"\n'
        "  },\n"
        '  {"code": "8100000", "name": "头孢克肟分散片", "spec": "0.1g×6片/盒"}\n'
        "]\n"
    )
    parsed = read_files([write(tmp_path, "products.json", text)], None, on=ON)
    assert [(r.key, r.line) for r in parsed.rows] == [("06901234123456", 2), ("8100000", 7)]
    assert problems(parsed) == [
        (3, "code 06901234123457: gtin: check-digit at position 14: expected check digit 6, found 7 in 06901234123457")
    ]


def test_json_syntax_errors_stop_the_file_at_their_line(tmp_path: Path) -> None:
    text = '[\n  {"code": "8100000", "name": "a"},\n  {"code": \n]\n'
    parsed = read_files([write(tmp_path, "products.json", text)], None, on=ON)
    assert [r.key for r in parsed.rows] == ["8100000"]
    assert [line for line, _ in problems(parsed)] == [4]
    not_array = read_files([write(tmp_path, "catalogue.json", '\n{"category": "01"}')], None, on=ON)
    assert problems(not_array) == [(2, "a JSON master-data file is an array of objects")]


def test_jsonl_reports_each_bad_line_and_keeps_the_good_ones(tmp_path: Path) -> None:
    text = (
        '{"uscc": "91350200776049653A", "name": "杭州萧山某肉类加工有限公司", "licences": ["A330109001"]}\n'
        "\n"
        "{not json}\n"
        '["a list"]\n'
        '{"uscc": "91330206MA2B000781", "name": "宁波某进出口贸易有限公司", "credit_grade": "D", "deleted": false}\n'
    )
    parsed = read_files([write(tmp_path, "businesses.jsonl", text)], None, on=ON)
    assert [(r.key, r.line) for r in parsed.rows] == [(SLAUGHTERHOUSE, 1), ("91330206MA2B000781", 5)]
    assert parsed.rows[0].value is not None
    assert parsed.rows[0].value["licences"] == ["A330109001"]
    assert [line for line, _ in problems(parsed)] == [3, 4]
    assert problems(parsed)[1][1] == "a row must be an object, found list"


# ---------------------------------------------------------------- row checks


BAD_BUSINESSES = [
    ("91350200776049653B,名称,,,,", "uscc 91350200776049653B: uscc: check-character at position 18"),
    ("9135020077604965,名称,,,,", "uscc 9135020077604965: uscc: length"),
    (",名称,,,,", "uscc is missing"),
    (f"{SLAUGHTERHOUSE},,,,,", "name is missing"),
    (f"{SLAUGHTERHOUSE},名称,maybe,,,", "natural_person 'maybe' is not a boolean"),
    (f"{SLAUGHTERHOUSE},名称,,,330104,", "region_code 330104: region: unknown-region"),
    (f"{SLAUGHTERHOUSE},名称,,,33010,", "region_code 33010: region: length"),
    (f"{SLAUGHTERHOUSE},名称,,,,,extra", "7 cells, but the header has 6 columns"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_BUSINESSES)
def test_each_bad_business_row_is_reported_with_its_line(tmp_path: Path, line: str, reason: str) -> None:
    text = BUSINESS_HEADER + f"{FARMER},王某某,true,,330109,\n" + line + "\n"
    parsed = read_files([write(tmp_path, "businesses.csv", text)], None, on=ON)
    assert [r.key for r in parsed.rows] == [FARMER]
    [(number, found)] = problems(parsed)
    assert number == 3
    assert found.startswith(reason)


def test_a_region_is_checked_against_the_snapshot_in_force_on_the_date_given(tmp_path: Path) -> None:
    path = write(tmp_path, "businesses.csv", BUSINESS_HEADER + f"{FARMER},某,,,653228,\n")  # 和康县, set up end 2024
    assert problems(read_files([path], None, on=date(2024, 12, 31))) == []
    assert problems(read_files([path], None, on=date(2024, 12, 30)))[0][1].startswith("region_code 653228")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("6901234123457,x,,", "code 6901234123457: gtin: check-digit"),
        ("0690123412345,x,,", "code 0690123412345: gtin: check-digit"),
        ("白条猪,x,,", "code '白条猪' is neither a GTIN nor a product code"),
        ("8100000,x,00 01,", "category '00 01' is not a catalogue code"),
    ],
)
def test_bad_product_rows(tmp_path: Path, row: str, reason: str) -> None:
    parsed = read_files([write(tmp_path, "products.csv", "code,name,category,spec\n" + row + "\n")], None, on=ON)
    assert parsed.rows == []
    assert problems(parsed)[0][0] == 2
    assert problems(parsed)[0][1].startswith(reason)


def test_gtins_are_stored_as_14_digits_and_other_codes_as_given(tmp_path: Path) -> None:
    text = "code,name\n96385074,gtin-8\n614141000036,gtin-12\n6901234123456,gtin-13\nZY-ZBM.01,own code\n"
    parsed = read_files([write(tmp_path, "products.csv", text)], None, on=ON)
    assert parsed.problems == []
    assert [r.key for r in parsed.rows] == ["00000096385074", "00614141000036", "06901234123456", "ZY-ZBM.01"]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("0101,猪肉,,MOFCOM,", "traced is missing"),
        ("0101,猪肉,true,商务部,", "department '商务部' is not one of"),
        ("0101,猪肉,true,MOFCOM,2010/10/01", "since '2010/10/01' is not a date YYYY-MM-DD"),
        ("0101,猪肉,true,MOFCOM,2010-02-30", "since '2010-02-30' is not a date YYYY-MM-DD"),
        ("01 01,猪肉,true,,", "category '01 01' is not a catalogue code"),
    ],
)
def test_bad_catalogue_rows(tmp_path: Path, row: str, reason: str) -> None:
    header = "category,name,traced,department,since\n"
    parsed = read_files([write(tmp_path, "catalogue.csv", header + row + "\n")], None, on=ON)
    assert parsed.rows == []
    assert problems(parsed)[0][1].startswith(reason)


def test_an_unknown_header_column_refuses_the_file_once(tmp_path: Path) -> None:
    text = "uscc,name,crdit_grade\n" + f"{FARMER},某,A\n" * 3
    parsed = read_files([write(tmp_path, "businesses.csv", text)], None, on=ON)
    assert parsed.rows == []
    assert problems(parsed) == [
        (1, "header has unknown columns ['crdit_grade']; known: " + ", ".join(COLUMNS["business"]))
    ]


def test_an_unknown_json_field_is_a_bad_row(tmp_path: Path) -> None:
    parsed = read_files(
        [write(tmp_path, "products.jsonl", '{"code": "8100000", "name": "x", "colour": "red"}\n')], None, on=ON
    )
    assert problems(parsed) == [(1, "unknown column 'colour' for product (known: code, name, category, spec, deleted)")]


def test_multi_line_csv_records_report_their_first_line(tmp_path: Path) -> None:
    text = 'code,name,category,spec\n8100000,"头孢克肟\n分散片",0501,\n\n06901234123457,bad,0101,\n'
    parsed = read_files([write(tmp_path, "products.csv", text)], None, on=ON)
    assert [(r.key, r.line) for r in parsed.rows] == [("8100000", 2)]
    assert [line for line, _ in problems(parsed)] == [5]


def test_a_key_given_twice_is_reported_at_its_second_occurrence(tmp_path: Path) -> None:
    first = write(tmp_path, "products.csv", "code,name\n6901234123456,a\n06901234123456,b\n")
    second = write(tmp_path, "products-2.csv", "code,name\n06901234123456,c\n")
    parsed = read_files([first, second], None, on=ON)
    assert [(r.file, r.line) for r in parsed.rows] == [(str(first), 2)]
    assert [str(p) for p in parsed.problems] == [
        f"{first}:3: duplicate code 06901234123456 (first at line 2)",
        f"{second}:2: duplicate code 06901234123456 (first at {first}:2)",
    ]


def test_a_deleted_row_is_a_tombstone_and_needs_only_a_valid_key(tmp_path: Path) -> None:
    text = "uscc,name,deleted\n" + f"{FARMER},,是\n" + "91350200776049653B,,true\n"
    parsed = read_files([write(tmp_path, "businesses.csv", text)], None, on=ON)
    assert [(r.key, r.value) for r in parsed.rows] == [(FARMER, None)]
    assert [line for line, _ in problems(parsed)] == [3]


def test_lowercase_usccs_are_stored_upper_case_and_licences_split(tmp_path: Path) -> None:
    text = BUSINESS_HEADER + f"{SLAUGHTERHOUSE.lower()},某,no,A,330109,A330109001；SC10433010900123; \n"
    [row] = read_files([write(tmp_path, "businesses.csv", text)], None, on=ON).rows
    assert row.key == SLAUGHTERHOUSE
    assert row.value is not None
    assert row.value["licences"] == ["A330109001", "SC10433010900123"]


# ---------------------------------------------------------------- the shipped sample master data


def sample_parsed() -> Parsed:
    return read_files(sorted(SAMPLES.glob("*.csv")), None, on=ON)


def test_the_sample_master_data_is_valid_and_coherent() -> None:
    parsed = sample_parsed()
    assert parsed.problems == []
    by_kind: dict[str, dict[str, dict[str, Any] | None]] = {}
    for row in parsed.rows:
        by_kind.setdefault(row.kind, {})[row.key] = row.value
    businesses, products, catalogue = by_kind["business"], by_kind["product"], by_kind["catalogue"]
    assert all(validate_uscc(uscc) == uscc for uscc in businesses)
    naturals = [uscc for uscc, value in businesses.items() if value and value["natural_person"]]
    assert FARMER in naturals
    assert all(uscc[:2] == "92" for uscc in naturals), "natural persons here are individual businesses (个体工商户)"
    assert any(value and value["credit_grade"] == "D" for value in businesses.values())
    assert all(value and value["category"] in catalogue for value in products.values())
    names = {value["name"] for value in catalogue.values() if value}
    assert {"猪肉", "蔬菜", "中药材", "婴幼儿配方乳粉", "药品", "进口食品"} <= names


# ---------------------------------------------------------------- the command


def run(args: list[str], monkeypatch: pytest.MonkeyPatch, *, bootstrap: str | None = "127.0.0.1:1") -> Any:
    for variable in ("KAFKA_BOOTSTRAP_SERVERS", "TRACEBUS_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(variable, raising=False)
    if bootstrap is not None:
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    return CliRunner().invoke(command.masterdata, ["load", *args])


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[Row]:
    sent: list[Row] = []

    async def fake_publish(settings: Any, rows: list[Row]) -> Any:
        sent.extend(rows)
        return Counter(row.kind for row in rows)

    monkeypatch.setattr(command, "publish_rows", fake_publish)
    return sent


def test_any_bad_row_means_exit_1_and_nothing_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, published: list[Row]
) -> None:
    path = write(tmp_path, "products.csv", "code,name\n8100000,good\n06901234123457,bad\n")
    result = run([str(path)], monkeypatch)
    assert result.exit_code == 1
    assert f"{path}:3: code 06901234123457: gtin: check-digit" in result.stderr
    assert "nothing published" in result.stderr
    assert published == []


def test_skip_invalid_publishes_the_good_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, published: list[Row]
) -> None:
    path = write(tmp_path, "products.csv", "code,name\n8100000,good\n06901234123457,bad\n")
    result = run([str(path), "--skip-invalid"], monkeypatch)
    assert result.exit_code == 0, result.output
    assert [row.key for row in published] == ["8100000"]
    assert "published 1 product record(s) to tracebus.reference.products" in result.stdout
    assert "skipped 1 bad row(s)" in result.stderr


def test_the_samples_load_and_dry_run_needs_no_kafka(monkeypatch: pytest.MonkeyPatch, published: list[Row]) -> None:
    paths = [str(p) for p in sorted(SAMPLES.glob("*.csv"))]
    dry = run([*paths, "--dry-run"], monkeypatch, bootstrap=None)
    assert dry.exit_code == 0, dry.output
    assert "8 good row(s)" in dry.stdout
    assert published == []
    result = run(paths, monkeypatch)
    assert result.exit_code == 0, result.output
    assert len(published) == len(sample_parsed().rows)


def test_publishing_needs_kafka_bootstrap_servers(monkeypatch: pytest.MonkeyPatch, published: list[Row]) -> None:
    result = run([str(SAMPLES / "catalogue.csv")], monkeypatch, bootstrap=None)
    assert result.exit_code == 1
    assert "KAFKA_BOOTSTRAP_SERVERS" in result.stderr


def test_an_unknown_kind_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run([str(write(tmp_path, "data.csv", "code,name\n"))], monkeypatch)
    assert result.exit_code == 2
    assert "--kind" in result.stderr
