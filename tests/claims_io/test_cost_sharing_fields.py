"""Contract v1.1's optional cost-sharing fields in claims files (CSV and Parquet, histories and
requests): read as numbers, null or blank = unknown, a value out of the contract's range
quarantined naming the field and its range; a v1 file without them stays valid."""
import math

import pandas as pd
import pytest

from features.contract import COST_SHARING_FIELDS
from tests.claims_io.claim_rows import good_row, load_rows, write_csv
from claims_io.loading import load_claims

V11 = {"allowed_amount": "480.5", "deductible_remaining": "250", "coinsurance_rate": "0.2", "copay": ""}


def test_a_v1_file_without_the_cost_sharing_columns_loads_them_as_unknown(tmp_path):
    result = load_rows(tmp_path, [good_row()])
    assert result.report.rows_kept == 1 and result.report.extra_columns == ()
    assert all(math.isnan(result.claims[name].iloc[0]) for name in COST_SHARING_FIELDS)


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_the_cost_sharing_columns_are_read_as_numbers_and_blank_is_unknown(tmp_path, file_format):
    rows = [good_row("C1", **V11), good_row("C2", allowed_amount="", coinsurance_rate="1", copay="35")]
    path = write_csv(tmp_path / "claims.csv", rows)
    if file_format == "parquet":  # typed columns, nulls where the CSV is blank
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for name in COST_SHARING_FIELDS:
            frame[name] = pd.to_numeric(frame[name].replace("", None))
        path = tmp_path / "claims.parquet"
        frame.to_parquet(path)
    result = load_claims(path)
    assert result.report.rows_kept == 2 and result.report.extra_columns == ()
    claims = result.claims.set_index("claim_id")
    assert claims.loc["C1", "allowed_amount"] == 480.5 and claims.loc["C1", "deductible_remaining"] == 250.0
    assert claims.loc["C1", "coinsurance_rate"] == 0.2 and math.isnan(claims.loc["C1", "copay"])
    assert math.isnan(claims.loc["C2", "allowed_amount"]) and claims.loc["C2", "coinsurance_rate"] == 1.0
    assert claims.loc["C2", "copay"] == 35.0


@pytest.mark.parametrize("history", [True, False])
@pytest.mark.parametrize("field, value, allowed", [
    ("coinsurance_rate", "1.25", "a number from 0 to 1"), ("coinsurance_rate", "-0.5", "a number from 0 to 1"),
    ("allowed_amount", "-10", "a number >= 0"), ("deductible_remaining", "-1", "a number >= 0"),
    ("copay", "-2", "a number >= 0"), ("copay", "forty", "a number >= 0"),
])
def test_a_cost_sharing_value_out_of_range_is_quarantined_naming_the_field_and_its_range(
        tmp_path, history, field, value, allowed):
    row = good_row("C1", **{field: value})
    if not history:
        row = {key: cell for key, cell in row.items() if key not in ("outcome", "paid_amount", "denial_reason")}
    result = load_rows(tmp_path, [row, good_row("C2") if history else {**row, field: ""}], history=history)
    assert result.report.rows_kept == 1
    lines = result.quarantine
    assert lines["field"].tolist() == [field] and lines["row_number"].tolist() == [1]
    assert allowed in lines["reason"].iloc[0] and value not in lines["reason"].iloc[0]
