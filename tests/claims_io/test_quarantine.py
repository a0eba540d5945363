"""The quarantine (claims_io.quarantine): one line per (row, field) problem, in row and
contract-field order, with the row's original values in the quarantine file."""
import stat
from collections import Counter

import numpy as np
import pandas as pd

from tests.claims_io.claim_rows import good_row, load_rows
from claims_io.quarantine import QUARANTINE_COLUMNS, Problem, count_by_reason, quarantine_frame, quarantined_rows

# Rows 2 and 0 of a four-row chunk break patient_age; row 2 breaks plan_type as well.
PROBLEMS = [
    Problem("patient_age", "out of range", "patient_age: must be an integer from 0 to 120", np.array([2, 0])),
    Problem("plan_type", "unknown value", "plan_type: must be one of the plan types", np.array([2])),
]
RAW = pd.DataFrame({"plan_type": ["ppo", "hmo", "gold", "ppo"], "patient_age": ["200", "1", "300", "2"],
                    "reason": ["r0", "r1", "r2", "r3"]})


def test_a_row_with_several_problems_has_one_line_per_field_and_counts_once(tmp_path):
    rows = [good_row("C1", plan_type="gold", patient_age="200", in_network="maybe"), good_row("C2")]
    result = load_rows(tmp_path, rows)
    assert result.quarantine["row_number"].tolist() == [1, 1, 1]
    assert result.quarantine["field"].tolist() == ["plan_type", "in_network", "patient_age"]
    assert result.report.rows_quarantined == 1 and result.report.rows_kept == 1
    assert sum(result.report.quarantined_by_reason.values()) == 3


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


def test_a_row_with_two_problems_counts_under_both_reasons_and_is_quarantined_once():
    assert count_by_reason(PROBLEMS) == Counter({"patient_age: out of range": 2, "plan_type: unknown value": 1})
    assert quarantined_rows(PROBLEMS, len(RAW)).tolist() == [True, False, True, False]


def test_lines_are_in_row_then_field_order_numbered_from_the_chunk_start():
    frame = quarantine_frame(PROBLEMS, RAW, 101, ("plan_type", "patient_age"))
    assert frame[["row_number", "field"]].values.tolist() == [[101, "patient_age"], [103, "plan_type"],
                                                              [103, "patient_age"]]
    assert frame["patient_age"].tolist() == ["200", "300", "300"]  # the original values, as read


def test_a_file_column_named_like_a_quarantine_column_keeps_a_raw_prefix():
    frame = quarantine_frame(PROBLEMS, RAW, 1, ("plan_type", "patient_age"))
    assert list(frame.columns) == [*QUARANTINE_COLUMNS, "plan_type", "patient_age", "raw_reason"]
    assert frame["raw_reason"].tolist() == ["r0", "r2", "r2"]
    assert frame["reason"].str.startswith(("patient_age:", "plan_type:")).all()


def test_a_chunk_without_problems_has_an_empty_quarantine_with_the_same_columns():
    frame = quarantine_frame([], RAW, 1, ("plan_type", "patient_age"))
    assert frame.empty and list(frame.columns) == [*QUARANTINE_COLUMNS, "plan_type", "patient_age", "raw_reason"]


def test_the_quarantine_file_is_private_and_safe_to_open_in_a_spreadsheet(tmp_path):
    rows = [good_row("=HYPERLINK(\"http://x\",\"y\")", billed_amount="-4"), good_row("@SUM(A1)", plan_type="gold")]
    out = tmp_path / "new" / "quarantine.csv"
    load_rows(tmp_path, rows, quarantine_path=out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert written["claim_id"].tolist() == ["'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(A1)"]
    assert written["billed_amount"].tolist()[0] == "-4"  # a negative amount is a number, not a formula
