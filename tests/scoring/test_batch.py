"""Batch scoring: every input format to every output format, bad rows reported, chunked."""
from __future__ import annotations

import shutil
import stat

import pandas as pd
import pytest
from click.testing import CliRunner

from service.cli import main
from tests.model_tampering import (MARKER, copy_store, damage_model_file, plant_code, register_tampered_copy,
                                   swap_denial_labels)
from scoring.batch import RATE_MIN_ROWS, SIDE_BY_SIDE_THREADS, BatchReport, predict_file, rejected_path_for
from scoring.artifacts import load_model
from scoring.coverage_model import SCORE_COLUMNS
from claims_io.loading import load_claims
from scoring.mlflow_store import CHAMPION, REGISTERED_MODEL, mlflow_client

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


# -- a model the registry does not vouch for --------------------------------------------------------
@pytest.mark.parametrize("tamper", ["damaged model file", "swapped metadata", "planted code"])
def test_predict_refuses_a_substituted_champion_in_one_line(requests_frame, trained_store, tmp_path, tamper):
    marker = tmp_path / MARKER
    changes = {"damaged model file": damage_model_file, "swapped metadata": swap_denial_labels,
               "planted code": plant_code(marker)}
    uri = copy_store(trained_store.database, tmp_path / "store")
    tampered = register_tampered_copy(uri, REGISTERED_MODEL, trained_store.runs["better"].model_version,
                                      tmp_path / "files", changes[tamper])
    mlflow_client(uri).set_registered_model_alias(REGISTERED_MODEL, CHAMPION, tampered)
    source = write_requests(requests_frame, tmp_path / "requests.csv")
    target = tmp_path / "scored.csv"
    for model in ([], ["--model", f"models:/{REGISTERED_MODEL}@{CHAMPION}"], ["--model", f"models:/{REGISTERED_MODEL}/{tampered}"]):
        result = CliRunner().invoke(main, ["predict", "--input", str(source), "--output", str(target),
                                           "--tracking-uri", uri, "--quiet", *model])
        assert result.exit_code == 1, result.output
        [line] = result.output.strip().splitlines()  # one line, no traceback
        assert line.startswith("Error: cannot load the model:") and f"version {tampered} refused" in line
        assert not target.exists() and not marker.exists()


def test_predict_refuses_a_damaged_model_folder_in_one_line(requests_frame, trained_store, tmp_path):
    saved = tmp_path / "saved"
    shutil.copytree((trained_store.models_dir / "champion").resolve() / "model", saved)
    model_file = saved / "model.skops"
    model_file.write_bytes(model_file.read_bytes()[:1000])
    source = write_requests(requests_frame, tmp_path / "requests.csv")
    result = CliRunner().invoke(main, ["predict", "--input", str(source), "--output", str(tmp_path / "o.csv"),
                                       "--model", str(saved), "--quiet"])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line == "Error: cannot load the model: the model in saved cannot be read (BadZipFile)"


# -- what the outputs hold ---------------------------------------------------------------------------
FORMULA_IDS = ['=HYPERLINK("http://attacker.example","click")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]


def test_scored_and_rejected_csv_files_are_safe_to_open_in_a_spreadsheet(requests_frame, bundle_model, tmp_path):
    frame = requests_frame.iloc[10:20].reset_index(drop=True).copy()
    frame.loc[:3, "claim_id"] = FORMULA_IDS
    frame.loc[4, "billed_amount"] = "-5"  # rejected: a negative amount, which must stay a number
    frame.loc[5, "claim_id"] = "=1+1"
    frame.loc[5, "plan_type"] = "=platinum"  # rejected
    source = write_requests(frame, tmp_path / "requests.csv")
    target = tmp_path / "scored.csv"
    predict_file(source, target, bundle_model, progress=False)
    scored = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert scored["claim_id"].tolist()[:4] == ["'" + claim_id for claim_id in FORMULA_IDS]
    assert scored["claim_id"].tolist()[4:] == frame["claim_id"].tolist()[6:]
    assert not any(cell and cell[0] in "=+-@\t\r" and not _is_number(cell) for column in scored for cell in scored[column])
    rejected = pd.read_csv(rejected_path_for(target), dtype=str, keep_default_na=False)
    assert set(rejected["field"]) == {"billed_amount", "plan_type"}  # reasons and fields, never the values


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_extra_input_columns_are_left_out_unless_asked_for(requests_frame, champion_model, tmp_path):
    frame = requests_frame.iloc[:5].copy()
    frame["=notes"] = "=cmd|' /C calc'!A0"
    frame["member_ssn"] = "123-45-6789"
    source = write_requests(frame, tmp_path / "requests.csv")
    predict_file(source, tmp_path / "scored.csv", champion_model, progress=False)
    scored = pd.read_csv(tmp_path / "scored.csv", dtype=str, keep_default_na=False)
    assert list(scored.columns) == list(requests_frame.columns) + list(SCORE_COLUMNS)

    result = CliRunner().invoke(main, ["predict", "--input", str(source), "--output", str(tmp_path / "kept.csv"),
                                       "--model", str(trained_model_folder(champion_model, tmp_path)), "--quiet",
                                       "--keep-columns"])
    assert result.exit_code == 0, result.output
    kept = pd.read_csv(tmp_path / "kept.csv", dtype=str, keep_default_na=False)
    assert "'=notes" in kept.columns and "member_ssn" in kept.columns
    assert set(kept["'=notes"]) == {"'=cmd|' /C calc'!A0"}


def trained_model_folder(model, tmp_path):
    """A folder saved from `model`, which must hold its estimators (champion_model, not a served-form load)."""
    return model.save(tmp_path / "saved-model")


@pytest.mark.parametrize("output_format", FORMATS)
def test_outputs_holding_claims_are_owner_only(requests_frame, bundle_model, tmp_path, output_format):
    source = write_requests(requests_frame.iloc[:10], tmp_path / "requests.csv")
    target = tmp_path / "new" / "deeper" / f"scored.{output_format}"
    predict_file(source, target, bundle_model, progress=False)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(rejected_path_for(target).stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(target.parent.parent.stat().st_mode) == 0o700


def test_a_rate_is_printed_only_for_enough_claims_to_mean_one(tmp_path):
    small = BatchReport(5, 5, 0, tmp_path / "out.csv", tmp_path / "out.csv.rejected.csv", seconds=1.25)
    assert small.claims_per_second is None and small.timing() == "took 1.2 s"
    large = BatchReport(RATE_MIN_ROWS, RATE_MIN_ROWS, 0, tmp_path / "out.csv", tmp_path / "r.csv", seconds=2.0)
    assert large.timing() == f"{RATE_MIN_ROWS / 2:,.0f} claims/s"


def test_each_chunk_is_shown_to_on_chunk_before_it_is_written(requests_frame, bundle_model, tmp_path):
    """The service's hook (POST /v1/files audits and counts each chunk through it): every row seen
    once, scores as written; an exception from it stops the run with no output."""
    source = write_requests(requests_frame, tmp_path / "requests.csv")
    seen = []
    report = predict_file(source, tmp_path / "scored.csv", bundle_model, chunk_rows=400, progress=False, threads=None,
                          on_chunk=seen.append)
    assert [chunk.rows_read for chunk in seen] == [400, 800, REQUEST_ROWS]
    assert sum(len(chunk.claims) for chunk in seen) == report.rows_scored == REQUEST_ROWS - len(BAD_ROWS)
    assert sorted(field for chunk in seen for field in chunk.rejected["field"]) == sorted(
        field for field, _ in BAD_ROWS.values())
    scores = pd.concat([chunk.scores for chunk in seen], ignore_index=True)
    assert list(scores["decision"]) == list(read_output(tmp_path / "scored.csv")["decision"])

    def refuse(chunk):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        predict_file(source, tmp_path / "stopped.csv", bundle_model, chunk_rows=400, progress=False, on_chunk=refuse)
    assert not (tmp_path / "stopped.csv").exists() and not (tmp_path / "stopped.csv.partial").exists()


def test_chunks_scored_side_by_side_are_written_as_scored_in_turn(requests_frame, bundle_model, tmp_path):
    """Two scoring threads over nine chunks (threads=2) finish out of order at times; the output, the
    rejected lines and what on_chunk sees are those of chunk-by-chunk scoring, in file order, as are
    those of a walk spread over more cores (threads=4)."""
    source = write_requests(requests_frame, tmp_path / "requests.parquet")
    runs = {}
    for threads in (None, SIDE_BY_SIDE_THREADS, 4):
        seen = []
        target = tmp_path / f"scored-{threads}.parquet"
        predict_file(source, target, bundle_model, chunk_rows=100, progress=False, threads=threads,
                     on_chunk=seen.append)
        runs[threads] = (pd.read_parquet(target), pd.read_csv(rejected_path_for(target)),
                         [chunk.rows_read for chunk in seen])
    in_turn, rejected_in_turn, read_in_turn = runs.pop(None)
    assert read_in_turn == list(range(100, REQUEST_ROWS + 1, 100))
    for scored, rejected, read in runs.values():
        pd.testing.assert_frame_equal(scored, in_turn)
        pd.testing.assert_frame_equal(rejected, rejected_in_turn)
        assert read == read_in_turn
