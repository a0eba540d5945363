"""Prediction requests (training.data.requests): the request checks of the contract on a raw chunk,
the clean claims of its valid rows, and the rejected lines: row number, field and reason, never a
value (requests are patient data)."""
import numpy as np
import pandas as pd

from features.contract import CLEAN_COLUMNS
from tests.training.data.claim_rows import request_row
from training.data.requests import REJECTED_COLUMNS, check_request_chunk, clean_request_frame

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
    assert rejected["reason"].iloc[0].startswith("billed_amount: a value is required")


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
