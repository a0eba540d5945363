"""Loading claims files: the clean frame, the quarantine of bad rows, the report, `validate`."""
import csv
import gzip
import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from features.contract import CLEAN_COLUMNS
from service.cli import main
from training.data.loading import ClaimsFileError, format_report, load_claims


def good_row(claim_id="C1", **changes) -> dict:
    """A history row as a CSV holds it: every value a string."""
    row = {
        "claim_id": claim_id, "service_date": "2024-03-05", "treatment": "botulinum_toxin",
        "procedure_code": "64615", "diagnosis_codes": "G43.709;Z68.35", "plan_type": "ppo",
        "benefit_scope": "comprehensive", "facility_type": "medical_spa", "place_of_service": "11",
        "in_network": "true", "referral": "false", "medical_necessity_letter": "yes",
        "prior_authorization": "1", "conservative_therapy_documented": "no", "visit_number": "2",
        "weeks_since_last_treatment": "13", "patient_age": "44", "billed_amount": "650.00",
        "benefit_limit": "", "benefit_used": "0", "outcome": "approved", "paid_amount": "600",
        "denial_reason": "",
    }
    row.update(changes)
    return row


def write_csv(path, rows, columns=None):
    columns = columns or list(rows[0])
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def load_rows(tmp_path, rows, **kwargs):
    return load_claims(write_csv(tmp_path / "claims.csv", rows), **kwargs)


# -- the clean frame -----------------------------------------------------------------------------

def test_good_rows_load_into_the_clean_frame_of_the_contract(tmp_path):
    result = load_rows(tmp_path, [good_row("C1"), good_row("C2", outcome="denied", paid_amount="0",
                                                            denial_reason="96")])
    claims = result.claims
    assert list(claims.columns) == list(CLEAN_COLUMNS) + ["outcome", "paid_amount", "denial_reason", "approved"]
    assert len(claims) == 2 and result.quarantine.empty
    assert claims["service_date"].dtype.kind == "M"
    for name in ("treatment", "procedure_code", "diagnosis_codes", "plan_type", "benefit_scope",
                 "facility_type", "place_of_service", "outcome", "denial_reason"):
        assert isinstance(claims[name].dtype, pd.CategoricalDtype), name
    assert claims["patient_age"].dtype == np.int64 and claims["visit_number"].dtype == np.int64
    assert claims["billed_amount"].dtype == np.float64 and claims["in_network"].dtype == bool
    first = claims.iloc[0]
    assert (first.in_network, first.referral, first.medical_necessity_letter, first.prior_authorization,
            first.conservative_therapy_documented) == (True, False, True, True, False)
    assert math.isnan(first.benefit_limit)
    assert claims["approved"].tolist() == [True, False]
    assert claims["denial_reason"].tolist() == ["", "96"]


@pytest.mark.parametrize("raw, expected", [
    ("G43.709;Z68.35", "G43709;Z6835"),
    ("g43.709 ; z6835", "G43709;Z6835"),
    ("G43709", "G43709"),
    ("G43.7", "G437"),  # a valid non-billable header code is kept: payers deny it, the model learns it
    ("", ""),
])
def test_diagnosis_codes_are_normalised_dotless_upper_case(tmp_path, raw, expected):
    result = load_rows(tmp_path, [good_row(diagnosis_codes=raw)])
    assert result.quarantine.empty
    assert result.claims["diagnosis_codes"].tolist() == [expected]


@pytest.mark.parametrize("raw, expected", [
    ("true", True), ("TRUE", True), ("Yes", True), ("1", True),
    ("false", False), ("False", False), ("NO", False), ("0", False),
])
def test_booleans_accept_the_contract_spellings_in_any_case(tmp_path, raw, expected):
    result = load_rows(tmp_path, [good_row(in_network=raw)])
    assert result.claims["in_network"].tolist() == [expected]


@pytest.mark.parametrize("treatment, code, expected_key, expected_code", [
    ("", "J0585", "botulinum_toxin", "J0585"),
    ("facial", "", "facial", ""),
    ("", "99213", "unlisted", "99213"),  # a valid code no catalog row names
    ("tattoo_removal", "17999", "tattoo_removal", "17999"),  # a shared code with its treatment
])
def test_treatment_is_resolved_from_the_catalog(tmp_path, treatment, code, expected_key, expected_code):
    result = load_rows(tmp_path, [good_row(treatment=treatment, procedure_code=code)])
    assert result.quarantine.empty
    assert result.claims[["treatment", "procedure_code"]].values.tolist() == [[expected_key, expected_code]]


def test_absent_optional_columns_take_the_contract_defaults(tmp_path):
    optional = {"place_of_service", "conservative_therapy_documented", "visit_number",
                "weeks_since_last_treatment", "benefit_limit", "benefit_used", "diagnosis_codes"}
    row = good_row(facility_type="hospital_outpatient")
    result = load_claims(write_csv(tmp_path / "claims.csv", [row], [c for c in row if c not in optional]))
    first = result.claims.iloc[0]
    assert first.place_of_service == "22"  # follows the facility
    assert first.conservative_therapy_documented == False  # noqa: E712 (numpy bool)
    assert first.visit_number == 1 and first.benefit_used == 0.0
    assert math.isnan(first.benefit_limit) and math.isnan(first.weeks_since_last_treatment)
    assert first.diagnosis_codes == ""


def test_blank_optional_values_take_the_contract_defaults(tmp_path):
    row = good_row(place_of_service="", conservative_therapy_documented="", visit_number="",
                   weeks_since_last_treatment="", benefit_used="", facility_type="ambulatory_surgery_center")
    first = load_rows(tmp_path, [row]).claims.iloc[0]
    assert (first.place_of_service, first.visit_number, first.benefit_used) == ("24", 1, 0.0)


def test_requests_need_no_claim_id_service_date_or_outcome(tmp_path):
    row = {k: v for k, v in good_row().items()
           if k not in ("claim_id", "service_date", "outcome", "paid_amount", "denial_reason")}
    result = load_claims(write_csv(tmp_path / "requests.csv", [row]), history=False)
    assert list(result.claims.columns) == list(CLEAN_COLUMNS)
    assert result.claims["service_date"].iloc[0] == pd.Timestamp.today().normalize()
    assert pd.isna(result.claims["claim_id"].iloc[0])
    assert result.report.rows_kept == 1


def test_outcome_columns_in_a_requests_file_are_extra_and_unused(tmp_path):
    result = load_rows(tmp_path, [good_row()], history=False)
    assert set(result.report.extra_columns) == {"outcome", "paid_amount", "denial_reason"}
    assert "outcome" not in result.claims.columns


# -- bad rows go to the quarantine ---------------------------------------------------------------

BAD_ROWS = [
    # field, bad value, report key
    ("plan_type", "platinum", "plan_type: unknown value"),
    ("plan_type", "", "plan_type: missing value"),
    ("benefit_scope", "spa_only", "benefit_scope: unknown value"),
    ("facility_type", "nail_salon", "facility_type: unknown value"),
    ("in_network", "maybe", "in_network: not a boolean"),
    ("referral", "", "referral: missing value"),
    ("conservative_therapy_documented", "sometimes", "conservative_therapy_documented: not a boolean"),
    ("billed_amount", "-12.5", "billed_amount: out of range"),
    ("billed_amount", "12,5", "billed_amount: not a number"),
    ("billed_amount", "inf", "billed_amount: not a number"),
    ("benefit_used", "-3", "benefit_used: out of range"),
    ("benefit_limit", "lots", "benefit_limit: not a number"),
    ("weeks_since_last_treatment", "-1", "weeks_since_last_treatment: out of range"),
    ("service_date", "2024/03/05", "service_date: malformed date"),
    ("service_date", "2024-3-5", "service_date: malformed date"),
    ("service_date", "2024-02-30", "service_date: malformed date"),
    ("service_date", "", "service_date: missing value"),
    ("patient_age", "121", "patient_age: out of range"),
    ("patient_age", "-1", "patient_age: out of range"),
    ("patient_age", "44.5", "patient_age: not an integer"),
    ("patient_age", "forty", "patient_age: not a number"),
    ("patient_age", "", "patient_age: missing value"),
    ("visit_number", "0", "visit_number: out of range"),
    ("diagnosis_codes", "G43.709;QQ", "diagnosis_codes: malformed code"),
    ("diagnosis_codes", "Z41.0", "diagnosis_codes: unknown code"),  # shaped right, not in ICD-10-CM
    ("treatment", "botox_deluxe", "treatment: unknown value"),
    ("procedure_code", "6461", "procedure_code: malformed code"),
    ("place_of_service", "1A", "place_of_service: malformed code"),
    ("claim_id", "", "claim_id: missing value"),
    ("outcome", "pending", "outcome: unknown value"),
    ("outcome", "", "outcome: missing value"),
    ("paid_amount", "-1", "paid_amount: out of range"),
]


@pytest.mark.parametrize("field, value, key", BAD_ROWS)
def test_a_bad_value_quarantines_its_row_and_the_others_load(tmp_path, field, value, key):
    rows = [good_row("C1"), good_row("C2") | {field: value}, good_row("C3")]
    result = load_rows(tmp_path, rows)
    assert result.claims["claim_id"].tolist() == ["C1", "C3"]
    quarantine = result.quarantine
    assert quarantine[["row_number", "field"]].values.tolist() == [[2, key.split(":")[0]]]
    reason = quarantine["reason"].iloc[0]
    assert reason.startswith(field)
    report = result.report
    assert (report.rows_read, report.rows_kept, report.rows_quarantined) == (3, 2, 1)
    assert report.quarantined_by_reason == {key: 1}
    if value:  # the value is patient data: neither the reason nor the printed report quotes it
        assert value not in reason
        assert value not in format_report(report)


@pytest.mark.parametrize("treatment, code, field, key", [
    ("facial", "64615", "procedure_code", "procedure_code: disagrees with treatment"),
    ("", "17999", "treatment", "treatment: ambiguous procedure code"),  # laser hair removal or tattoo removal
    ("", "", "treatment", "treatment: missing value"),
])
def test_a_treatment_and_code_that_do_not_resolve_are_quarantined(tmp_path, treatment, code, field, key):
    result = load_rows(tmp_path, [good_row("C1"), good_row("C2", treatment=treatment, procedure_code=code)])
    assert result.claims["claim_id"].tolist() == ["C1"]
    assert result.quarantine[["row_number", "field"]].values.tolist() == [[2, field]]
    assert result.report.quarantined_by_reason == {key: 1}
    reason = result.quarantine["reason"].iloc[0]
    assert (code or "17999") not in reason and "tattoo" not in reason


def test_a_row_with_several_problems_has_one_line_per_field_and_counts_once(tmp_path):
    rows = [good_row("C1", plan_type="gold", patient_age="200", in_network="maybe"), good_row("C2")]
    result = load_rows(tmp_path, rows)
    assert result.quarantine["row_number"].tolist() == [1, 1, 1]
    assert result.quarantine["field"].tolist() == ["plan_type", "in_network", "patient_age"]
    assert result.report.rows_quarantined == 1 and result.report.rows_kept == 1
    assert sum(result.report.quarantined_by_reason.values()) == 3


def test_a_repeated_claim_id_keeps_the_first_row_and_quarantines_the_rest(tmp_path):
    rows = [good_row("C1"), good_row("C2"), good_row("C1", plan_type="hmo"), good_row("C1")]
    result = load_rows(tmp_path, rows)
    assert result.claims["claim_id"].tolist() == ["C1", "C2"]
    assert result.claims["plan_type"].tolist() == ["ppo", "ppo"]
    assert result.quarantine["row_number"].tolist() == [3, 4]
    assert result.report.quarantined_by_reason == {"claim_id: duplicate": 2}


def test_a_repeated_claim_id_across_chunks_is_caught(tmp_path):
    rows = [good_row(f"C{number}") for number in range(5)] + [good_row("C1")]
    result = load_rows(tmp_path, rows, chunk=2)
    assert result.quarantine["row_number"].tolist() == [6]
    assert result.report.rows_kept == 5


def test_chunked_loading_gives_the_same_frame_and_row_numbers(tmp_path):
    rows = [good_row(f"C{number}", plan_type="gold" if number % 3 == 0 else "ppo",
                     diagnosis_codes=["G43.709", "L57.0", "M54.50"][number % 3]) for number in range(10)]
    path = write_csv(tmp_path / "claims.csv", rows)
    whole, chunked = load_claims(path), load_claims(path, chunk=3)
    pd.testing.assert_frame_equal(whole.claims, chunked.claims, check_categorical=False)
    assert chunked.quarantine["row_number"].tolist() == whole.quarantine["row_number"].tolist() == [1, 4, 7, 10]
    assert chunked.report == whole.report


# -- the quarantine file, the report -------------------------------------------------------------

def test_the_quarantine_file_keeps_the_original_values(tmp_path):
    rows = [good_row("C1"), good_row("C2", plan_type="platinum", billed_amount="-4")]
    out = tmp_path / "out" / "quarantine.csv"
    load_rows(tmp_path, rows, quarantine_path=out)
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(written.columns[:3]) == ["row_number", "field", "reason"]
    assert list(written.columns[3:]) == list(rows[0])
    assert written["field"].tolist() == ["plan_type", "billed_amount"]
    assert written["plan_type"].tolist() == ["platinum", "platinum"]
    assert written["claim_id"].tolist() == ["C2", "C2"]


def test_a_clean_file_still_writes_an_empty_quarantine(tmp_path):
    out = tmp_path / "quarantine.csv"
    load_rows(tmp_path, [good_row()], quarantine_path=out)
    assert out.read_text().startswith("row_number,field,reason,claim_id")
    assert len(pd.read_csv(out)) == 0


def test_the_report_lists_counts_and_extra_columns(tmp_path):
    rows = [good_row("C1", notes="called twice", plan_type="gold"), good_row("C2", notes="")]
    report = load_rows(tmp_path, rows).report
    assert report.extra_columns == ("notes",)
    assert report.to_dict() == json.loads(json.dumps(report.to_dict()))
    assert report.to_dict()["quarantined_by_reason"] == {"plan_type: unknown value": 1}
    printed = format_report(report)
    for text in ("rows read", "rows kept", "rows quarantined", "plan_type: unknown value", "notes"):
        assert text in printed
    assert "called twice" not in printed and "gold" not in printed


def test_extra_columns_are_never_in_the_clean_frame(tmp_path):
    result = load_rows(tmp_path, [good_row(notes="x", approved="false")])
    assert "notes" not in result.claims.columns
    assert result.claims["approved"].tolist() == [True]  # derived from outcome, not read
    assert set(result.report.extra_columns) == {"notes", "approved"}


# -- the file as a whole -------------------------------------------------------------------------

@pytest.mark.parametrize("history, dropped", [
    (True, ["plan_type"]),
    (True, ["outcome", "claim_id"]),
    (False, ["patient_age"]),
])
def test_a_missing_required_column_fails_the_load_naming_it(tmp_path, history, dropped):
    rows = [good_row(plan_type="gold")]  # a bad value too: the column check comes first
    path = write_csv(tmp_path / "claims.csv", rows, [c for c in rows[0] if c not in dropped])
    with pytest.raises(ClaimsFileError) as error:
        load_claims(path, history=history)
    message = str(error.value)
    assert all(name in message for name in dropped)
    assert "needs the columns" in message and "gold" not in message


def test_a_file_with_neither_treatment_nor_procedure_code_fails(tmp_path):
    row = good_row()
    path = write_csv(tmp_path / "claims.csv", [row], [c for c in row if c not in ("treatment", "procedure_code")])
    with pytest.raises(ClaimsFileError, match="treatment or procedure_code"):
        load_claims(path)


def test_a_file_with_only_procedure_codes_loads(tmp_path):
    row = good_row()
    path = write_csv(tmp_path / "claims.csv", [row], [c for c in row if c != "treatment"])
    assert load_claims(path).claims["treatment"].tolist() == ["botulinum_toxin"]


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
    monkeypatch.setattr("training.data.claims_files._PANDAS_JSON_ROWS", 2)  # pandas' pieces, small
    rows = [good_row("C1", patient_age=44), good_row("C2"), good_row("C3"), good_row("C1", patient_age="44")]
    result = load_claims(write_jsonl(tmp_path / "claims.jsonl", rows))
    assert result.claims["claim_id"].tolist() == ["C1", "C2", "C3"]
    assert result.quarantine[["row_number", "field"]].values.tolist() == [[4, "claim_id"]]


# -- the CLI -------------------------------------------------------------------------------------

def test_validate_prints_the_report_and_exits_0_with_quarantined_rows(tmp_path):
    path = write_csv(tmp_path / "claims.csv", [good_row("C1"), good_row("C2", plan_type="gold")])
    out = tmp_path / "quarantine.csv"
    result = CliRunner().invoke(main, ["validate", str(path), "--quarantine", str(out)])
    assert result.exit_code == 0, result.output
    assert "rows quarantined" in result.output and "plan_type: unknown value" in result.output
    assert "gold" not in result.output
    assert len(pd.read_csv(out)) == 1


def test_validate_requests_checks_the_request_columns(tmp_path):
    row = {k: v for k, v in good_row().items() if k not in ("claim_id", "outcome", "paid_amount", "denial_reason")}
    path = write_csv(tmp_path / "requests.csv", [row])
    assert CliRunner().invoke(main, ["validate", str(path)]).exit_code == 2
    result = CliRunner().invoke(main, ["validate", "--requests", str(path)])
    assert result.exit_code == 0, result.output


def test_validate_exits_2_naming_a_missing_column(tmp_path):
    row = good_row()
    path = write_csv(tmp_path / "claims.csv", [row], [c for c in row if c != "billed_amount"])
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "billed_amount" in result.output and "Traceback" not in result.output
