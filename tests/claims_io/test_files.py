"""Claims files on disk (claims_io.files): which formats load, how CSV, gzip, Parquet
and JSON lines are read into raw values, and the errors of a file that cannot be read at all."""
from pathlib import Path

import pandas as pd
import pytest

from tests.claims_io.claim_rows import good_row, load_rows, write_csv, write_jsonl
from claims_io.files import claims_file_format, open_claims_file
from claims_io.loading import ClaimsFileError, load_claims


@pytest.mark.parametrize("name, content, match", [
    ("claims.txt", "a,b\n", "unsupported file type"),
    ("claims.csv", "", "empty file"),
    ("claims.jsonl", "{not json\n", "not readable as JSON lines"),
    ("claims.parquet", "not parquet", "not readable as Parquet"),
    ("claims.csv", "plan_type,plan_type\nppo,hmo\n", "more than once: plan_type"),
])
def test_unreadable_files_fail_with_a_clear_message(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ClaimsFileError, match=match):
        load_claims(path)


def test_a_row_with_the_wrong_number_of_fields_fails_naming_its_row(tmp_path):
    path = write_csv(tmp_path / "claims.csv", [good_row("C1"), good_row("C2")])
    path.write_text(path.read_text() + "C3,secret-value\n")
    with pytest.raises(ClaimsFileError, match="data rows 3") as error:
        load_claims(path)
    assert "secret-value" not in str(error.value)


def test_a_header_only_file_loads_no_rows(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text(",".join(good_row()) + "\n")
    result = load_claims(path)
    assert result.report.rows_read == 0 and result.claims.empty and result.quarantine.empty


# -- other formats -------------------------------------------------------------------------------

def test_gzipped_csv_loads(tmp_path):
    result = load_claims(write_csv(tmp_path / "claims.csv.gz", [good_row()]))
    assert result.claims["diagnosis_codes"].tolist() == ["G43709;Z6835"]


def test_parquet_with_typed_columns_and_code_lists_loads_like_csv(tmp_path):
    csv_result = load_rows(tmp_path, [good_row("C1"), good_row("C2", diagnosis_codes="")])
    typed = pd.DataFrame([good_row("C1"), good_row("C2")]).astype({"patient_age": "int64", "billed_amount": "float64",
                                                                  "visit_number": "int64", "benefit_used": "float64"})
    typed["service_date"] = pd.to_datetime(typed["service_date"])
    typed["in_network"] = True
    typed["referral"] = False
    typed["medical_necessity_letter"] = True
    typed["prior_authorization"] = True
    typed["conservative_therapy_documented"] = False
    typed["diagnosis_codes"] = pd.Series([["G43.709", "z68.35"], []], dtype=object)
    typed.to_parquet(tmp_path / "claims.parquet")
    result = load_claims(tmp_path / "claims.parquet")
    assert result.quarantine.empty
    pd.testing.assert_frame_equal(result.claims, csv_result.claims, check_categorical=False)


def test_json_lines_with_json_types_and_code_lists_load_like_csv(tmp_path):
    csv_result = load_rows(tmp_path, [good_row("C1"), good_row("C2", diagnosis_codes="")])
    typed = dict(in_network=True, referral=False, medical_necessity_letter=True, prior_authorization=True,
                 conservative_therapy_documented=False, visit_number=2, weeks_since_last_treatment=13,
                 patient_age=44, billed_amount=650.0, benefit_limit=None, benefit_used=0, paid_amount=600)
    rows = [good_row("C1", diagnosis_codes=["G43.709", "Z68.35"], **typed), good_row("C2", diagnosis_codes=[], **typed)]
    path = write_jsonl(tmp_path / "claims.jsonl", rows)
    for chunk in (None, 1):
        result = load_claims(path, chunk=chunk)
        assert result.quarantine.empty
        pd.testing.assert_frame_equal(result.claims, csv_result.claims, check_categorical=False)


def test_json_lines_mixing_lists_strings_and_json_types_load(tmp_path):
    rows = [
        good_row("C1", diagnosis_codes=["G43.709", "Z68.35"], in_network=True, patient_age=44, billed_amount=650),
        good_row("C2", diagnosis_codes="G43.709;Z68.35", patient_age="44"),
        good_row("C3", in_network="sometimes"),
    ]
    result = load_claims(write_jsonl(tmp_path / "claims.jsonl", rows))
    assert result.claims["claim_id"].tolist() == ["C1", "C2"]
    assert result.claims["diagnosis_codes"].tolist() == ["G43709;Z6835"] * 2
    assert result.claims["in_network"].tolist() == [True, True]
    assert result.quarantine[["row_number", "field"]].values.tolist() == [[3, "in_network"]]


def test_mixed_type_json_lines_read_in_pieces_still_catch_repeated_claim_ids(tmp_path, monkeypatch):
    monkeypatch.setattr("claims_io.files._PANDAS_JSON_ROWS", 2)  # pandas' pieces, small
    rows = [good_row("C1", patient_age=44), good_row("C2"), good_row("C3"), good_row("C1", patient_age="44")]
    result = load_claims(write_jsonl(tmp_path / "claims.jsonl", rows))
    assert result.claims["claim_id"].tolist() == ["C1", "C2", "C3"]
    assert result.quarantine[["row_number", "field"]].values.tolist() == [[4, "claim_id"]]


# -- opening a file: its columns, then chunks of raw values ----------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("claims.csv", "csv"), ("claims.CSV.GZ", "csv"), ("claims.parquet", "parquet"),
    ("claims.jsonl", "jsonl"), ("claims.ndjson.gz", "jsonl"),
])
def test_the_format_comes_from_the_name_ending_in_any_case(name, expected):
    assert claims_file_format(Path(name)) == expected


def test_a_missing_file_and_a_chunk_below_one_row_are_refused(tmp_path):
    with pytest.raises(ClaimsFileError, match="no such file"):
        open_claims_file(tmp_path / "absent.csv")
    with pytest.raises(ValueError, match="chunk"):
        open_claims_file(write_csv(tmp_path / "claims.csv", [good_row()]), chunk=0)


def test_csv_values_are_the_text_the_file_holds_in_chunks_of_the_asked_size(tmp_path):
    rows = [good_row(f"C{number}", patient_age=" 044") for number in range(5)]
    raw = open_claims_file(write_csv(tmp_path / "claims.csv", rows), chunk=2)
    assert raw.columns == tuple(rows[0])
    chunks = list(raw.chunks)
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert all(chunk.index.equals(pd.RangeIndex(len(chunk))) for chunk in chunks)
    assert [value for chunk in chunks for value in chunk["claim_id"]] == [f"C{number}" for number in range(5)]
    assert chunks[0]["patient_age"].iloc[0] == " 044" and chunks[0]["benefit_limit"].iloc[0] == ""


def test_a_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path):
    path = write_csv(tmp_path / "claims.csv", [good_row()])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    raw = open_claims_file(path)
    assert raw.columns[0] == "claim_id"
    assert next(raw.chunks)["claim_id"].tolist() == ["C1"]


def test_a_parquet_code_list_with_a_null_entry_keeps_its_other_codes(tmp_path):
    frame = pd.DataFrame([good_row("C1"), good_row("C2")])
    frame["diagnosis_codes"] = pd.Series([["G43.709", None], ["L57.0"]], dtype=object)
    frame.to_parquet(tmp_path / "claims.parquet")
    chunk = next(open_claims_file(tmp_path / "claims.parquet").chunks)
    assert chunk["diagnosis_codes"].tolist() == ["G43.709;", "L57.0"]
