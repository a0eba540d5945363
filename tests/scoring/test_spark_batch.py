"""`predict --engine spark` (scoring.spark_batch) against the local engine (scoring.batch): the
same claims give the same scores, decisions, rule ids and rejected lines; a folder of parts works;
bad rows never fail the job; the model is verified as our loaders verify it. One SparkSession for
the whole session (the `spark` fixture, tests/conftest.py)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from service.cli import main
from tests.model_tampering import copy_store, register_tampered_copy, swap_denial_labels
from scoring.batch import predict_file
from claims_io.requests import REJECTED_COLUMNS
from training.demo.generator import generate_history
from scoring.artifacts import ModelIntegrityError
from scoring.coverage_model import SCORE_COLUMNS
from scoring.mlflow_store import CHAMPION, PROJECT_ROOT, REGISTERED_MODEL, alias_uri
from scoring.spark_batch import predict_with_spark, rejected_output_for

pytestmark = pytest.mark.slow  # the session's trained store and SparkSession

CLAIMS = 20_000
# Bad values a typed Parquet file can hold: 0-based row -> (field, value)
PLANTED = {3: ("plan_type", "platinum"), 10_007: ("patient_age", -3), 10_008: ("billed_amount", -1.0),
           19_999: ("diagnosis_codes", "NOT-A-CODE"), 15_000: ("facility_type", None)}
TEXT_CLAIMS, PARTS = 3_000, 3
OUTCOME_COLUMNS = ["outcome", "paid_amount", "denial_reason"]


def requests_of(history: pd.DataFrame) -> pd.DataFrame:
    return history.drop(columns=OUTCOME_COLUMNS)


@pytest.fixture(scope="module")
def typed_claims(tmp_path_factory):
    """20,000 claims as a typed Parquet file (dates, booleans, numbers), five of them bad."""
    folder = tmp_path_factory.mktemp("spark-typed")
    history = folder / "history.parquet"
    generate_history(CLAIMS, 21, history, progress=False)
    table = pq.read_table(history)
    frame = requests_of(table.to_pandas())
    for row, (field, value) in PLANTED.items():
        frame.loc[row, field] = value
    path = folder / "claims.parquet"
    schema = pa.schema([table.schema.field(name) for name in frame.columns])
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path, row_group_size=6_000)
    return path


@pytest.fixture(scope="module")
def text_claims(tmp_path_factory):
    """3,000 claims with every column text and 2% deliberately bad rows: one file, and the same rows
    as a folder of three parts."""
    folder = tmp_path_factory.mktemp("spark-text")
    history = folder / "history.parquet"
    generate_history(TEXT_CLAIMS, 22, history, progress=False, bad_rows_fraction=0.02)
    table = pq.read_table(history).drop_columns(OUTCOME_COLUMNS)
    single = folder / "claims.parquet"
    pq.write_table(table, single)
    parts = folder / "parts"
    parts.mkdir()
    size = TEXT_CLAIMS // PARTS
    for number in range(PARTS):
        pq.write_table(table.slice(number * size, size), parts / f"part-{number}.parquet")
    return single, parts


def local_engine(source, folder, trained_store):
    target = folder / "scored.parquet"
    report = predict_file(source, target, alias_uri(CHAMPION), tracking_uri=trained_store.uri, progress=False)
    rejected = pd.read_csv(report.rejected_path, dtype=str, keep_default_na=False)
    return report, pd.read_parquet(target), rejected.assign(row_number=rejected["row_number"].astype("int64"))


def spark_engine(source, folder, trained_store, spark, model=None):
    target = folder / "scored"
    report = predict_with_spark(source, target, model or alias_uri(CHAMPION), tracking_uri=trained_store.uri,
                                spark=spark)
    rejected = pd.read_parquet(rejected_output_for(target))
    return report, pd.read_parquet(target), rejected


@pytest.fixture(scope="module")
def typed_answers(typed_claims, trained_store, spark, tmp_path_factory):
    return (local_engine(typed_claims, tmp_path_factory.mktemp("local-typed"), trained_store),
            spark_engine(typed_claims, tmp_path_factory.mktemp("spark-typed-out"), trained_store, spark))


def by_claim(frame: pd.DataFrame) -> pd.DataFrame:
    assert frame["claim_id"].is_unique  # the comparison below pairs claims by their id
    return frame.sort_values("claim_id").reset_index(drop=True)


def assert_same_scores(local: pd.DataFrame, spark: pd.DataFrame) -> None:
    local, spark = by_claim(local), by_claim(spark)
    assert list(spark.columns) == list(local.columns)
    assert len(spark) == len(local)
    for name in ("approval_probability", "model_probability"):
        np.testing.assert_allclose(spark[name].to_numpy(), local[name].to_numpy(), rtol=0, atol=1e-9)
    for name in ("decision", "excluded", "rule_ids", "top_denial_reason", "claim_id"):
        assert spark[name].tolist() == local[name].tolist(), name


def sorted_lines(frame: pd.DataFrame) -> list[tuple]:
    return sorted(frame.loc[:, list(REJECTED_COLUMNS)].itertuples(index=False, name=None))


def test_both_engines_give_the_same_scores_decisions_and_rule_ids(typed_answers):
    (local_report, local, _), (spark_report, spark, _) = typed_answers
    assert_same_scores(local, spark)
    assert (spark_report.rows_read, spark_report.rows_scored, spark_report.rows_rejected) == (
        local_report.rows_read, local_report.rows_scored, local_report.rows_rejected) == (
        CLAIMS, CLAIMS - len(PLANTED), len(PLANTED))
    assert local["rule_ids"].astype(bool).any() and local["decision"].eq("excluded").any()  # rules did fire


def test_bad_rows_go_to_the_same_rejected_lines_without_failing_the_job(typed_answers, typed_claims):
    (_, _, local_rejected), (_, _, spark_rejected) = typed_answers
    assert sorted_lines(spark_rejected) == sorted_lines(local_rejected)
    assert {row + 1 for row in PLANTED} == set(spark_rejected["row_number"])  # numbered as in the file
    assert set(spark_rejected["file"]) == {typed_claims.name}
    assert "platinum" not in spark_rejected.to_string()  # reasons never quote a value


def test_a_folder_of_parquet_parts_is_scored_like_the_one_file(text_claims, trained_store, spark, tmp_path):
    single, parts = text_claims
    _, local, local_rejected = local_engine(single, tmp_path / "local", trained_store)
    report, scored, rejected = spark_engine(parts, tmp_path / "spark", trained_store, spark)
    assert_same_scores(local, scored)
    assert report.rows_read == TEXT_CLAIMS and report.rows_rejected == local_rejected["row_number"].nunique() > 0
    # rows are numbered within their part: the part's offset gives the single file's number back
    offsets = {f"part-{number}.parquet": number * (TEXT_CLAIMS // PARTS) for number in range(PARTS)}
    assert set(rejected["file"]) <= set(offsets)
    in_one_file = rejected.assign(row_number=rejected["row_number"] + rejected["file"].map(offsets))
    assert sorted_lines(in_one_file) == sorted_lines(local_rejected)


def test_both_outputs_are_owner_only(typed_answers):
    _, (spark_report, _, _) = typed_answers
    from pathlib import Path

    for folder in (Path(spark_report.output_path), Path(spark_report.rejected_path)):
        assert folder.stat().st_mode & 0o077 == 0
        for path in folder.rglob("*"):
            assert path.stat().st_mode & 0o077 == 0, path.name


def test_the_exported_bundle_scores_like_the_registered_champion(typed_claims, typed_answers, trained_store, spark,
                                                                 tmp_path):
    small = tmp_path / "small.parquet"
    pq.write_table(pq.read_table(typed_claims).slice(0, 400), small)
    _, scored, rejected = spark_engine(small, tmp_path, trained_store, spark, model=trained_store.models_dir)
    (_, local, _), _ = typed_answers
    assert_same_scores(local[local["claim_id"].isin(scored["claim_id"])], scored)
    assert list(rejected["row_number"]) == [4]


def test_a_tampered_registered_model_is_refused_before_any_claim_is_read(trained_store, spark, tmp_path):
    store = copy_store(trained_store.database, tmp_path / "store")
    tampered = register_tampered_copy(store, REGISTERED_MODEL, trained_store.runs["better"].model_version,
                                      tmp_path / "tampered", swap_denial_labels)
    with pytest.raises(ModelIntegrityError, match=f"version {tampered} refused"):
        predict_with_spark(tmp_path / "never-read.parquet", tmp_path / "out", f"models:/{REGISTERED_MODEL}/{tampered}",
                           tracking_uri=store, spark=spark)
    assert not (tmp_path / "out").exists()


def test_the_command_scores_a_folder_with_the_spark_engine(text_claims, trained_store, spark, tmp_path):
    _, parts = text_claims
    target = tmp_path / "scored"
    result = CliRunner().invoke(main, ["predict", "--engine", "spark", "--input", str(parts), "--output", str(target),
                                       "--tracking-uri", trained_store.uri])
    assert result.exit_code == 0, result.output
    assert f"claims scored to {target}" in result.output
    assert len(pd.read_parquet(target)) + pd.read_parquet(rejected_output_for(target))["row_number"].count() >= TEXT_CLAIMS
    assert spark.sparkContext._jsc is not None  # the caller's session is left running


def test_the_local_engine_refuses_a_folder_and_spark_only_options(text_claims, tmp_path):
    _, parts = text_claims
    result = CliRunner().invoke(main, ["predict", "--input", str(parts), "--output", str(tmp_path / "x.parquet")])
    assert result.exit_code == 2 and "needs --engine spark" in result.output
    result = CliRunner().invoke(main, ["predict", "--input", str(parts / "part-0.parquet"), "--output",
                                       str(tmp_path / "x.parquet"), "--master", "local[1]"])
    assert result.exit_code == 2 and "options of --engine spark" in result.output


LOCAL_ENGINE_IMPORTS = """
import json, sys
import service.cli, training.cli, scoring.batch
from service.app import create_app
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in ("pyspark", "py4j"))))
"""


def test_the_local_engine_and_the_service_never_import_pyspark(tmp_path):
    done = subprocess.run([sys.executable, "-c", LOCAL_ENGINE_IMPORTS], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_a_model_logged_without_its_code_gets_a_clear_refusal(tmp_path):
    from scoring.artifacts import ModelSourceError
    from scoring.spark_batch import code_archive

    (tmp_path / "model").mkdir()  # a version registered before models carried code/
    with pytest.raises(ModelSourceError, match="logged without its code/ folder.*train and register it again"):
        code_archive(tmp_path / "model", tmp_path)
