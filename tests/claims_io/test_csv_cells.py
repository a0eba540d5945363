"""Cells a spreadsheet would run are made inert in CSV outputs (claims_io.csv_cells, OWASP's
CSV-injection guidance); numbers, negative ones included, and ordinary text are left alone."""
import pandas as pd
import pyarrow as pa
import pytest

from claims_io.csv_cells import inert_cell, inert_frame, inert_table

RUNNABLE = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", "-", "=1"]
LEFT_ALONE = ["-12.5", "-4", "+3", "1e-3", "-1E5", ".5", "0", "C-17", "ab=c", "", " =1", "botulinum_toxin"]


@pytest.mark.parametrize("cell", RUNNABLE)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(cell):
    assert inert_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", LEFT_ALONE)
def test_numbers_and_ordinary_text_are_left_as_they_are(cell):
    assert inert_cell(cell) == cell


def test_a_frame_changes_only_its_runnable_text_cells_and_names():
    frame = pd.DataFrame({"claim_id": RUNNABLE[:3] + LEFT_ALONE[:3], "billed_amount": [-5.0, 1, 2, 3, 4, 5],
                          "=notes": ["a"] * 6})
    inert = inert_frame(frame)
    assert list(inert.columns) == ["claim_id", "billed_amount", "'=notes"]
    assert inert["claim_id"].tolist() == ["'" + cell for cell in RUNNABLE[:3]] + LEFT_ALONE[:3]
    assert inert["billed_amount"].tolist() == [-5.0, 1, 2, 3, 4, 5]  # numbers stay numbers
    assert frame["claim_id"].tolist()[0] == RUNNABLE[0]  # the caller's frame is not changed


def test_an_arrow_table_of_text_the_same():
    table = pa.table({"claim_id": RUNNABLE + LEFT_ALONE + [None], "=x": ["1"] * (len(RUNNABLE) + len(LEFT_ALONE) + 1)})
    inert = inert_table(table)
    assert inert.column_names == ["claim_id", "'=x"]
    assert inert["claim_id"].to_pylist() == ["'" + cell for cell in RUNNABLE] + LEFT_ALONE + [None]
