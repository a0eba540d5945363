"""The request checks on Arrow batches (claims_io.arrow_checks), as Spark's mapInArrow calls
them: each row's rejected lines numbered by its row in its file, and each valid row's claim in the
model's signature form, null on a rejected row; the same verdicts as the local engine's checks."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from tests.claims_io.claim_rows import request_row
from claims_io.arrow_checks import PROBLEMS, SCORING_PREFIX, check_batches
from claims_io.files import typed_frame
from claims_io.requests import check_request_chunk, scoring_form

TODAY = pd.Timestamp("2026-05-04")
ROW = "__row"
TYPES = {"claim_id": pa.string(), "patient_age": pa.int64(), "in_network": pa.bool_(), "billed_amount": pa.float64(),
         "service_date": pa.string(), "plan_type": pa.string()}


@pytest.fixture
def table() -> pa.Table:
    rows = [{"claim_id": f"C-{number}", **request_row()} for number in range(7)]
    rows[2]["plan_type"], rows[5]["patient_age"] = "platinum", "-3"
    frame = pd.DataFrame(rows).astype(str)
    return pa.Table.from_pandas(frame, preserve_index=False).append_column(ROW, pa.array(range(100, 107), pa.int64()))


def checked(table: pa.Table, batch_rows: int) -> pd.DataFrame:
    columns = [name for name in table.column_names if name != ROW]
    batches = check_batches(table.to_batches(max_chunksize=batch_rows), columns, ROW, TYPES, TODAY)
    return pa.Table.from_batches(list(batches)).to_pandas()


def test_rejected_lines_are_numbered_by_the_rows_place_in_its_file(table):
    out = checked(table, batch_rows=3)  # three batches: numbering must not restart with each
    lines = [(line["row_number"], line["claim_id"], line["field"]) for lines in out[PROBLEMS] for line in lines]
    assert lines == [(103, "C-2", "plan_type"), (106, "C-5", "patient_age")]
    assert all("platinum" not in line["reason"] for lines in out[PROBLEMS] for line in lines)


def test_valid_rows_carry_their_scoring_form_and_rejected_rows_none(table):
    out = checked(table, batch_rows=4)
    raw = typed_frame(table.drop_columns([ROW]))
    clean, valid, _ = check_request_chunk(raw, 1, TODAY)
    expected = scoring_form(raw[valid], clean).reset_index(drop=True)
    kept = out[[len(lines) == 0 for lines in out[PROBLEMS]]].reset_index(drop=True)
    for name in TYPES:
        assert kept[SCORING_PREFIX + name].tolist() == expected[name].tolist(), name
    rejected = out[[len(lines) > 0 for lines in out[PROBLEMS]]]
    assert rejected[[SCORING_PREFIX + name for name in TYPES]].isna().all().all()
    assert list(out.columns[:len(table.column_names)]) == table.column_names  # the input passes through
