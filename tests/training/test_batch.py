"""Batch scoring: every input format to every output format, bad rows reported, chunked."""
from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from training.batch import RATE_MIN_ROWS, BatchReport, predict_file, rejected_path_for
from service.cli import main
from training.model.artifacts import load_model
from training.model.coverage_model import SCORE_COLUMNS
from training.data.loading import load_claims

pytestmark = pytest.mark.slow  # needs the session's trained store

FORMATS = ("csv", "parquet", "jsonl")
REQUEST_ROWS = 900
BAD_ROWS = {5: ("plan_type", "platinum"), 77: ("patient_age", "-3")}  # 1-based data row -> field, value


def write_requests(frame: pd.DataFrame, path):
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    return path


@pytest.fixture(scope="module")
def requests_frame(trained_store) -> pd.DataFrame:
    """History rows as requests (outcome fields dropped), as text, with two bad rows."""
    frame = pd.read_csv(trained_store.files["better"], dtype=str, keep_default_na=False, nrows=REQUEST_ROWS)
    frame = frame.drop(columns=["outcome", "paid_amount", "denial_reason"])
    for row_number, (field, value) in BAD_ROWS.items():
        frame.loc[row_number - 1, field] = value
    return frame


@pytest.fixture(scope="module")
def bundle_model(trained_store):
    return load_model(trained_store.models_dir / "champion").model


@pytest.fixture(scope="module")
def expected_scores(requests_frame, bundle_model, tmp_path_factory) -> pd.DataFrame:
    path = write_requests(requests_frame, tmp_path_factory.mktemp("expected") / "requests.csv")
    claims = load_claims(path, history=False).claims
    return bundle_model.score_frame(claims).reset_index(drop=True)


def read_output(path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"claim_id": str, "rule_ids": str, "top_denial_reason": str},
                           keep_default_na=False)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, lines=True, dtype={"claim_id": str, "rule_ids": str, "top_denial_reason": str})


@pytest.mark.parametrize("input_format", FORMATS)
@pytest.mark.parametrize("output_format", FORMATS)
def test_batch_scoring_round_trips_every_format(requests_frame, bundle_model, expected_scores, tmp_path,
                                                input_format, output_format):
    source = write_requests(requests_frame, tmp_path / f"requests.{input_format}")
    target = tmp_path / f"scored.{output_format}"
    report = predict_file(source, target, bundle_model, chunk_rows=250, progress=False)  # four chunks
    assert (report.rows_read, report.rows_scored, report.rows_rejected) == (REQUEST_ROWS, REQUEST_ROWS - 2, 2)
    scored = read_output(target)
    kept = ~requests_frame.index.isin([row - 1 for row in BAD_ROWS])
    assert list(scored["claim_id"].astype(str)) == list(requests_frame.loc[kept, "claim_id"])
    assert set(requests_frame.columns) | set(SCORE_COLUMNS) == set(scored.columns)
    assert scored["approval_probability"].to_numpy() == pytest.approx(
        expected_scores["approval_probability"].to_numpy(), abs=1e-12)
    assert list(scored["decision"]) == list(expected_scores["decision"])
    assert list(scored["excluded"].astype(str).str.lower()) == list(expected_scores["excluded"].astype(str).str.lower())
    rejected = pd.read_csv(rejected_path_for(target))
    assert list(rejected.columns) == ["row_number", "claim_id", "field", "reason"]
    assert {(row, field) for row, field in zip(rejected["row_number"], rejected["field"])} == \
        {(row, field) for row, (field, _) in BAD_ROWS.items()}
    assert not any("platinum" in reason for reason in rejected["reason"])  # values are never echoed
    assert not target.with_name(target.name + ".partial").exists()


def test_predict_command_scores_with_the_registry_champion(requests_frame, trained_store, expected_scores, tmp_path):
    source = write_requests(requests_frame, tmp_path / "requests.csv")
    target = tmp_path / "scored.parquet"
    result = CliRunner().invoke(main, ["predict", "--input", str(source), "--output", str(target),
                                       "--tracking-uri", trained_store.uri, "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"{REQUEST_ROWS - 2} claims scored" in result.output
    assert pd.read_parquet(target)["approval_probability"].to_numpy() == pytest.approx(
        expected_scores["approval_probability"].to_numpy(), abs=1e-12)


def test_predict_command_rejects_a_file_without_required_columns(requests_frame, trained_store, tmp_path):
    source = write_requests(requests_frame.drop(columns=["billed_amount"]), tmp_path / "requests.csv")
    result = CliRunner().invoke(main, ["predict", "--input", str(source), "--output", str(tmp_path / "o.csv"),
                                       "--model", str(trained_store.models_dir / "champion"), "--quiet"])
    assert result.exit_code == 2 and "billed_amount" in result.output


def test_a_rate_is_printed_only_for_enough_claims_to_mean_one(tmp_path):
    small = BatchReport(5, 5, 0, tmp_path / "out.csv", tmp_path / "out.csv.rejected.csv", seconds=1.25)
    assert small.claims_per_second is None and small.timing() == "took 1.2 s"
    large = BatchReport(RATE_MIN_ROWS, RATE_MIN_ROWS, 0, tmp_path / "out.csv", tmp_path / "r.csv", seconds=2.0)
    assert large.timing() == f"{RATE_MIN_ROWS / 2:,.0f} claims/s"
