"""Outcome tables (CSV, Parquet): the contract's outcome fields with claim_id and
adjudication_date; a row that breaks them is quarantined by row number and field, never by value."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from service.outcomes.records import MAX_CLAIM_ID_LENGTH, OutcomeFileError, read_outcome_table
from tests.service.service_testing import SENTINEL

GOOD = {"claim_id": "C1", "outcome": "Approved", "paid_amount": "120.5", "denial_reason": "",
        "adjudication_date": "2026-03-30"}


# The API's words for the same faults (claims_io.fields.allowed), the field in a column of its own
@pytest.mark.parametrize("change, field, reason", [
    ({"outcome": SENTINEL}, "outcome", "must be one of: approved, partial, denied (any case)"),
    ({"outcome": "denyed"}, "outcome", "must be one of: approved, partial, denied (any case) (did you mean denied?)"),
    ({"paid_amount": SENTINEL}, "paid_amount", "must be a number >= 0 (USD paid by the plan)"),
    ({"paid_amount": "-3"}, "paid_amount", "must be a number >= 0 (USD paid by the plan)"),
    ({"outcome": "denied", "paid_amount": "0", "denial_reason": SENTINEL}, "denial_reason",
     "must be an X12 CARC code such as 50, 96 or 197"),
    ({"denial_reason": "50"}, "denial_reason", "must be empty when the outcome is approved"),
    ({"outcome": "denied", "denial_reason": "50"}, "paid_amount", "must be 0 when the outcome is denied"),
    ({"adjudication_date": SENTINEL}, "adjudication_date", "must be a date written YYYY-MM-DD"),
    ({"claim_id": ""}, "claim_id", "a value is required: the claim id the service was sent"),
    ({"claim_id": "C" * 201}, "claim_id", "must be at most 200 characters"),
    ({"outcome": "denied", "paid_amount": "0", "denial_reason": "96", "group_code": SENTINEL}, "group_code",
     "must be empty or an X12 group code: CO, PR, OA, PI"),
    ({"group_code": "PR"}, "group_code", "must be empty when there is no denial_reason"),
])
def test_a_bad_row_is_quarantined_with_its_row_number_and_a_reason_without_its_value(tmp_path, change, field,
                                                                                     reason):
    path = tmp_path / "outcomes.csv"
    pd.DataFrame([GOOD, {**GOOD, "claim_id": "C2", **change}]).to_csv(path, index=False)
    read = read_outcome_table(path)
    assert [outcome.claim_id for outcome in read.outcomes] == ["C1"]
    assert [(item.position, item.field, item.reason) for item in read.quarantined] == [("row 2", field, reason)]
    assert SENTINEL not in reason and not reason.startswith(field)


def test_an_outcome_claim_id_over_its_column_is_quarantined_by_position(tmp_path):
    """The outcomes table's own bound (the contract states no claim_id length): 200 characters."""
    path = tmp_path / "outcomes.csv"
    pd.DataFrame([GOOD, {**GOOD, "claim_id": "C" * (MAX_CLAIM_ID_LENGTH + 1)},
                  {**GOOD, "claim_id": "C" * MAX_CLAIM_ID_LENGTH}]).to_csv(path, index=False)
    read = read_outcome_table(path)
    assert [len(outcome.claim_id) for outcome in read.outcomes] == [2, MAX_CLAIM_ID_LENGTH]
    assert [(item.position, item.field) for item in read.quarantined] == [("row 2", "claim_id")]


def test_the_optional_group_code_column_is_read_in_any_case(tmp_path):
    path = tmp_path / "outcomes.csv"
    pd.DataFrame([GOOD, {**GOOD, "claim_id": "C2", "outcome": "denied", "paid_amount": "0", "denial_reason": "96",
                         "group_code": "pr"}]).to_csv(path, index=False)
    assert [outcome.group_code for outcome in read_outcome_table(path).outcomes] == ["", "PR"]


def test_csv_and_parquet_read_the_same_outcomes(tmp_path):
    frame = pd.DataFrame([GOOD, {**GOOD, "claim_id": "C2", "outcome": "partial", "paid_amount": "40",
                                 "denial_reason": "119"}])
    frame.to_csv(tmp_path / "o.csv", index=False)
    frame.assign(paid_amount=frame["paid_amount"].astype(float),
                 adjudication_date=pd.to_datetime(frame["adjudication_date"])).to_parquet(tmp_path / "o.parquet")
    from_csv, from_parquet = read_outcome_table(tmp_path / "o.csv"), read_outcome_table(tmp_path / "o.parquet")
    assert from_csv.outcomes == from_parquet.outcomes
    assert from_csv.outcomes[1].outcome == "partial" and from_csv.outcomes[1].adjudication_date == date(2026, 3, 30)


def test_a_file_without_the_outcome_columns_is_refused_naming_them(tmp_path):
    path = tmp_path / "outcomes.csv"
    pd.DataFrame([{"claim_id": "C1", "outcome": "approved"}]).to_csv(path, index=False)
    with pytest.raises(OutcomeFileError, match="missing column\\(s\\) paid_amount, adjudication_date"):
        read_outcome_table(path)


def test_a_missing_column_is_named_with_the_files_own_columns_that_look_like_it(tmp_path):
    path = tmp_path / "outcomes.csv"
    pd.DataFrame([{"claim_id": "C1", "outcome": "approved", "paid": "10", "adjudicated_date": "2026-03-30"}]).to_csv(
        path, index=False)
    with pytest.raises(OutcomeFileError) as refused:
        read_outcome_table(path)
    assert ("missing column(s) paid_amount (did you mean paid_amount? found: paid), adjudication_date (did you mean "
            "adjudication_date? found: adjudicated_date)") in str(refused.value)
