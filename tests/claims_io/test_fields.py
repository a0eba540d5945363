"""Every contract field of a raw claims row (claims_io.fields): what a good value
becomes in the clean frame, the defaults of absent and blank values, and the reason a bad value
quarantines its row (never quoting the value)."""
import datetime as dt
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features.contract import CLEAN_COLUMNS
from tests.claims_io.claim_rows import good_row, load_rows, request_row, write_csv
from claims_io.fields import HISTORY_COLUMNS, ClaimsChunk, Distinct, allowed, duplicate_claim_ids
from claims_io.loading import format_report, load_claims

TODAY = pd.Timestamp("2026-05-04")


def parse(rows, history=True):
    """One chunk of raw rows (dicts, or a frame) through ClaimsChunk: (clean frame, problems)."""
    raw = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    return ClaimsChunk(raw, history=history, today=TODAY).parse()


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


@pytest.mark.parametrize("field, raw, expected", [
    ("plan_type", "PPO", "ppo"), ("plan_type", " Medicare_Advantage ", "medicare_advantage"),
    ("facility_type", "Medical_Spa", "medical_spa"), ("benefit_scope", "OFFICE_ONLY", "office_only"),
])
def test_enumerations_are_read_in_any_case(tmp_path, field, raw, expected):
    result = load_rows(tmp_path, [good_row(**{field: raw})])
    assert result.claims[field].astype(str).tolist() == [expected]


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
    assert not reason.startswith(field)  # the field has its own column: the reason never repeats it
    report = result.report
    assert (report.rows_read, report.rows_kept, report.rows_quarantined) == (3, 2, 1)
    assert report.quarantined_by_reason == {key: 1}
    if value:  # the value is patient data: neither the reason nor the printed report quotes it
        assert value not in reason
        assert value not in format_report(report)


# A treatment with another treatment's code, or a shared code alone (17999: laser hair removal or
# tattoo removal), is contract-valid: kept with a warning (tests/training/data/test_shared_codes_in_files.py).
@pytest.mark.parametrize("treatment, code, field, key", [
    ("", "", "treatment", "treatment: missing value"),
])
def test_a_treatment_and_code_that_do_not_resolve_are_quarantined(tmp_path, treatment, code, field, key):
    result = load_rows(tmp_path, [good_row("C1"), good_row("C2", treatment=treatment, procedure_code=code)])
    assert result.claims["claim_id"].tolist() == ["C1"]
    assert result.quarantine[["row_number", "field"]].values.tolist() == [[2, field]]
    assert result.report.quarantined_by_reason == {key: 1}
    reason = result.quarantine["reason"].iloc[0]
    assert (code or "17999") not in reason and "tattoo" not in reason


def test_a_repeated_claim_id_keeps_the_first_row_and_quarantines_the_rest(tmp_path):
    rows = [good_row("C1"), good_row("C2"), good_row("C1", plan_type="hmo"), good_row("C1")]
    result = load_rows(tmp_path, rows)
    assert result.claims["claim_id"].tolist() == ["C1", "C2"]
    assert result.claims["plan_type"].tolist() == ["ppo", "ppo"]
    assert result.quarantine["row_number"].tolist() == [3, 4]
    assert result.report.quarantined_by_reason == {"claim_id: duplicate": 2}


# -- one chunk, checked once per distinct value ----------------------------------------------------

def test_blanks_and_nulls_share_the_no_value_slot_and_values_are_compared_stripped():
    column = Distinct.of(pd.Series([" ppo", "ppo", "", None, "hmo ", "  "], dtype=object), 6)
    assert column.missing.tolist() == [False, False, True, True, False, True]
    assert column.index[0] == column.index[1] != column.index[4]
    assert sorted(set(column.values[column.index[~column.missing]])) == ["hmo", "ppo"]


def test_an_absent_column_has_no_value_on_every_row():
    column = Distinct.of(None, 3)
    assert column.missing.tolist() == [True, True, True]


def test_one_bad_value_on_several_rows_is_one_problem_naming_each_row():
    rows = [good_row(f"C{number}", plan_type="gold" if number % 2 else "ppo") for number in range(6)]
    clean, problems = parse(rows)
    assert [(problem.key, problem.rows.tolist()) for problem in problems] == [("plan_type: unknown value", [1, 3, 5])]
    assert "gold" not in problems[0].reason
    assert len(clean) == 6  # every row parsed; the caller drops the quarantined ones


def test_history_rows_carry_the_outcome_and_approved_means_approved_or_partial():
    rows = [good_row("C1"), good_row("C2", outcome="partial"), good_row("C3", outcome="denied", paid_amount="0")]
    clean, problems = parse(rows)
    assert not problems and list(clean.columns) == list(HISTORY_COLUMNS)
    assert clean["approved"].tolist() == [True, True, False]


def test_an_undated_request_is_about_the_given_day_and_has_no_outcome():
    clean, problems = parse([request_row(service_date="")], history=False)
    assert not problems and list(clean.columns) == list(CLEAN_COLUMNS)
    assert clean["service_date"].tolist() == [TODAY]


@pytest.mark.parametrize("field, value, expected", [
    ("in_network", 1.0, True),
    ("in_network", np.bool_(False), False),
    ("patient_age", 44.0, 44),
    ("procedure_code", 64615, "64615"),  # a number where a code belongs: its digits
    ("service_date", dt.date(2024, 3, 5), pd.Timestamp("2024-03-05")),
    ("service_date", pd.Timestamp("2024-03-05 23:30", tz="America/New_York"), pd.Timestamp("2024-03-05")),
])
def test_typed_parquet_and_json_values_are_read_as_their_field(field, value, expected):
    raw = pd.DataFrame([good_row()])
    raw[field] = pd.Series([value], dtype=object)
    clean, problems = parse(raw)
    assert not problems
    assert clean[field].iloc[0] == expected


@pytest.mark.parametrize("field, value, key", [
    ("patient_age", True, "patient_age: not a number"),  # a boolean is not a number
    ("patient_age", float(2 ** 60), "patient_age: not an integer"),  # beyond what a float holds exactly
    ("in_network", 2, "in_network: not a boolean"),
    ("service_date", 20240305, "service_date: malformed date"),
])
def test_typed_values_of_the_wrong_kind_are_problems(field, value, key):
    raw = pd.DataFrame([good_row()])
    raw[field] = pd.Series([value], dtype=object)
    _, problems = parse(raw)
    assert [(problem.key, problem.rows.tolist()) for problem in problems] == [(key, [0])]


@pytest.mark.parametrize("field, words", [
    ("plan_type", "one of: ppo, hmo, epo, pos, hdhp, medicare, medicare_advantage, medicaid (any case)"),
    ("in_network", "true/false, 1/0 or yes/no (any case)"),
    ("patient_age", "an integer from 0 to 120"),
    ("visit_number", "an integer >= 1"),
    ("billed_amount", "a number >= 0"),
    ("service_date", "a date written YYYY-MM-DD"),
    ("claim_id", "an id, unique in the file"),
    ("place_of_service", "a two-digit CMS place-of-service code such as 11, 22 or 49"),
])
def test_allowed_says_in_words_what_a_field_takes(field, words):
    assert allowed(field) == words


def test_allowed_treatments_are_the_catalog_keys():
    assert allowed("treatment").startswith("one of the catalog keys: ")
    assert {"botulinum_toxin", "facial", "wig"} <= set(allowed("treatment").split(": ")[1].split(", "))


def test_repeated_claim_ids_are_found_in_the_chunk_and_among_earlier_ids_but_missing_ids_never_repeat():
    claim_ids = pd.Series(["A", "B", "A", None, None, "Z"], dtype=object)
    problem = duplicate_claim_ids(claim_ids, pa.array(["Z"], type=pa.string()))
    assert problem.key == "claim_id: duplicate" and problem.rows.tolist() == [2, 5]
    assert duplicate_claim_ids(pd.Series(["A", "B"], dtype=object)) is None
