"""Loading claims files (claims_io.loading): the clean frame of a whole file, chunked reading,
the report, required columns, and `validate`. Field checks are in test_claim_fields, file formats in
test_claims_files, the quarantine file in test_quarantine."""
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from features.contract import CLEAN_COLUMNS
from service.cli import main
from tests.claims_io.claim_rows import good_row, load_rows, request_row, write_csv
from claims_io.loading import ClaimsFileError, format_report, load_claims


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


@pytest.mark.parametrize("renamed, expected", [
    ({"plan_type": "plan"}, "missing required column(s): plan_type (did you mean plan_type? found: plan)"),
    ({"patient_age": "Patient Age"},
     "missing required column(s): patient_age (did you mean patient_age? found: Patient Age)"),
    ({"treatment": "treatments", "procedure_code": "procedure"},
     "treatment or procedure_code (did you mean treatment or procedure_code? found: treatments, procedure)"),
    ({"plan_type": "zzz"}, "missing required column(s): plan_type. "),  # nothing close: no guess
])
def test_a_missing_column_names_the_files_columns_that_look_like_it(tmp_path, renamed, expected):
    row = good_row()
    header = [renamed.get(name, name) for name in row]
    path = write_csv(tmp_path / "claims.csv", [dict(zip(header, row.values()))], header)
    with pytest.raises(ClaimsFileError) as error:
        load_claims(path)
    assert expected in str(error.value)


def test_a_file_with_only_procedure_codes_loads(tmp_path):
    row = good_row()
    path = write_csv(tmp_path / "claims.csv", [row], [c for c in row if c != "treatment"])
    assert load_claims(path).claims["treatment"].tolist() == ["botulinum_toxin"]


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
    path = write_csv(tmp_path / "requests.csv", [request_row()])
    assert CliRunner().invoke(main, ["validate", str(path)]).exit_code == 2
    result = CliRunner().invoke(main, ["validate", "--requests", str(path)])
    assert result.exit_code == 0, result.output


def test_validate_exits_2_naming_a_missing_column(tmp_path):
    row = good_row()
    path = write_csv(tmp_path / "claims.csv", [row], [c for c in row if c != "billed_amount"])
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "billed_amount" in result.output and "Traceback" not in result.output
