"""Prediction requests (claims_io.requests): the request checks of the contract on a raw chunk,
the clean claims of its valid rows, and the rejected lines: row number, field and reason, never a
value (requests are patient data)."""
import numpy as np
import pandas as pd
import pytest

from features.contract import CLEAN_COLUMNS
from tests.claims_io.claim_rows import request_row
from claims_io.requests import REJECTED_COLUMNS, check_request_chunk, clean_request_frame, scoring_form

TODAY = pd.Timestamp("2026-05-04")
SECRETS = ("platinum", "-3", "perhaps")


def test_bad_rows_are_rejected_with_their_file_row_numbers_and_the_valid_rows_cleaned():
    # rows 201 to 203 of a file, in a chunk whose index does not start at 0
    raw = pd.DataFrame([request_row(), request_row(plan_type="platinum"),
                        request_row(patient_age="-3", in_network="perhaps")], index=[50, 51, 52])
    clean, valid, rejected = check_request_chunk(raw, first_row_number=201, today=TODAY)
    assert valid.tolist() == [True, False, False]
    assert len(clean) == 1 and list(clean.columns) == list(CLEAN_COLUMNS)
    assert list(rejected.columns) == list(REJECTED_COLUMNS)
    assert rejected[["row_number", "field"]].values.tolist() == [[202, "plan_type"], [203, "in_network"],
                                                                 [203, "patient_age"]]
    reasons = " ".join(rejected["reason"])
    assert not [secret for secret in SECRETS if secret in reasons]


def test_a_request_needs_no_claim_id_outcome_or_date_and_is_dated_the_given_day():
    raw = pd.DataFrame([request_row()]).drop(columns=["service_date"])
    clean, valid, rejected = check_request_chunk(raw, today=TODAY)
    assert valid.tolist() == [True] and rejected.empty
    assert clean["service_date"].tolist() == [TODAY] and pd.isna(clean["claim_id"].iloc[0])


def test_a_request_without_a_required_value_is_rejected_naming_the_field():
    clean, rejected = clean_request_frame(pd.DataFrame([request_row(), request_row(billed_amount="")]))
    assert len(clean) == 1
    assert rejected[["row_number", "field"]].values.tolist() == [[2, "billed_amount"]]
    assert rejected["reason"].iloc[0].startswith("a value is required")


def test_all_valid_requests_give_an_empty_rejected_table_with_typed_columns():
    clean, rejected = clean_request_frame(pd.DataFrame([request_row(), request_row(plan_type="hmo")]))
    assert clean["plan_type"].tolist() == ["ppo", "hmo"]
    assert rejected.empty and list(rejected.columns) == list(REJECTED_COLUMNS)
    assert rejected["row_number"].dtype == np.int64


def test_every_rejected_line_carries_its_claim_id_when_the_row_has_one_and_no_other_value():
    raw = pd.DataFrame([{"claim_id": " R-7 ", **request_row(plan_type="platinum", patient_age="-3")},
                        {"claim_id": "", **request_row(plan_type="platinum")}])
    _, rejected = clean_request_frame(raw)
    assert rejected[["row_number", "claim_id", "field"]].values.tolist() == [
        [1, "R-7", "plan_type"], [1, "R-7", "patient_age"], [2, "", "plan_type"]]
    written = rejected.to_csv(index=False)
    assert not [secret for secret in SECRETS if secret in written]


def test_rejected_lines_of_a_file_without_claim_ids_have_an_empty_claim_id():
    _, rejected = clean_request_frame(pd.DataFrame([request_row(plan_type="platinum")]))  # requests need no id
    assert rejected["claim_id"].tolist() == [""]


@pytest.fixture(scope="module", params=["typed", "text"])
def generated_requests(request, tmp_path_factory) -> pd.DataFrame:
    """Demo claims as a file holds them: typed Parquet columns, or every column text with bad rows."""
    from claims_io.files import open_claims_file
    from training.demo.generator import generate_history

    path = tmp_path_factory.mktemp(f"requests-{request.param}") / "history.parquet"
    generate_history(1_500, 41, path, progress=False, bad_rows_fraction=0.04 if request.param == "text" else 0.0)
    return pd.concat(list(open_claims_file(path).chunks), ignore_index=True).drop(
        columns=["outcome", "paid_amount", "denial_reason"])


def test_the_scoring_form_is_read_back_as_the_same_claims(generated_requests):
    """What `predict --engine spark` hands the MLflow model is checked there again: it must be read
    exactly as the local engine read the file."""
    clean, valid, _ = check_request_chunk(generated_requests, 1, TODAY)
    form = scoring_form(generated_requests[valid], clean)
    again, valid_again, rejected_again = check_request_chunk(form.reset_index(drop=True), 1, TODAY)
    assert rejected_again.empty and valid_again.all()
    # the same values; a category list is ordered by first appearance, so rows left out reorder it
    pd.testing.assert_frame_equal(again.reset_index(drop=True), clean.reset_index(drop=True),
                                  check_categorical=False)


def test_the_scoring_form_has_the_types_of_the_models_signature(generated_requests):
    from scoring.logged_model import model_signature

    clean, valid, _ = check_request_chunk(generated_requests, 1, TODAY)
    form = scoring_form(generated_requests[valid], clean)
    kinds = {spec.name: spec.type.name for spec in model_signature().inputs.inputs}
    assert list(form.columns) == list(kinds)
    for name, kind in kinds.items():
        python_type = {"boolean": (bool, np.bool_), "long": (int, np.integer), "double": (float, np.floating),
                       "string": (str, type(None))}[kind]  # absent text is None, never NaN
        assert all(isinstance(value, python_type) for value in form[name].tolist()), name
