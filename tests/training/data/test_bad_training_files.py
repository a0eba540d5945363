"""Bad training files through `medspa-coverage train`: each stops with exit code 2 and a message that
names the problem (never a value from the file), before MLflow is touched (no run, no store) and
before anything is written to the models folder.

A file with some duplicated claim_ids is not here: the repeats are quarantined (the first row of
each id is kept, test_loading covers it) and the model trains on the rest, as with any bad row.
"""
from __future__ import annotations

import gzip
from io import BytesIO
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from features.contract import OUTCOME_FIELDS, VISIT_FIELDS
from service.cli import main
from training.demo.generator import generate_history
from training.train import EXIT_BAD_INPUT

SECRET_ID = "SECRET-ID-4411"  # a claim_id in every file: a message must never quote the file's values
SECRET_TEXT = "forty-two"


@pytest.fixture(scope="module")
def good_csv(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("good") / "claims.csv"
    generate_history(600, 3, path, progress=False)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "claim_id"] = SECRET_ID
    frame.to_csv(path, index=False)
    return path.read_bytes()


def _frame(good: bytes) -> pd.DataFrame:
    return pd.read_csv(BytesIO(good), dtype=str, keep_default_na=False)


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _latin1_in_last_row(good: bytes) -> bytes:
    """A Latin-1 "é" in the last claim_id, past the first block the header reader decodes."""
    lines = good.splitlines(keepends=True)
    return b"".join(lines[:-1]) + b"\xe9" + lines[-1]


def _damaged_parquet(good: bytes, folder: Path) -> bytes:
    path = folder / "whole.parquet"
    _frame(good).to_parquet(path)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 200] = b"\xab" * 200  # the footer stays sound: the data pages are damaged
    return bytes(data)


def _typed_parquet(good: bytes, folder: Path, column: str, values) -> bytes:
    frame = _frame(good)
    frame[column] = values
    path = folder / "typed.parquet"
    frame.to_parquet(path)
    return path.read_bytes()


def _no_rows_parquet(good: bytes, folder: Path) -> bytes:
    path = folder / "empty.parquet"
    _frame(good).iloc[:0].to_parquet(path)
    return path.read_bytes()


# label, file name, bytes from (good CSV bytes, scratch folder), what the message must say
CASES = [
    ("truncated mid-row", "claims.csv", lambda good, _: good[: len(good) * 2 // 5],
     f"do not have the header's {len(VISIT_FIELDS) + len(OUTCOME_FIELDS)} fields"),
    ("truncated inside the header", "claims.csv", lambda good, _: good[:60], "missing required column(s): plan_type"),
    ("truncated gzip", "claims.csv.gz", lambda good, _: gzip.compress(good)[: len(gzip.compress(good)) // 2],
     "the compressed file ends early or is damaged"),
    ("gzip cut inside its header", "claims.csv.gz", lambda good, _: gzip.compress(good)[:20],
     "the compressed file ends early or is damaged"),
    ("UTF-16", "claims.csv", lambda good, _: good.decode().encode("utf-16"), "not UTF-8 text"),
    ("Latin-1 bytes deep in the file", "claims.csv", lambda good, _: _latin1_in_last_row(good), "not UTF-8 text"),
    ("UTF-16 JSON lines", "claims.jsonl",
     lambda good, _: _frame(good).to_json(orient="records", lines=True).encode("utf-16"), "not UTF-8 text"),
    ("empty CSV (0 bytes)", "claims.csv", lambda good, _: b"", "empty file"),
    ("empty Parquet (0 bytes)", "claims.parquet", lambda good, _: b"", "not readable as Parquet"),
    ("header only", "claims.csv", lambda good, _: good.splitlines(keepends=True)[0], "no data rows"),
    ("Parquet with no rows", "claims.parquet", _no_rows_parquet, "no data rows"),
    ("damaged Parquet data", "claims.parquet", _damaged_parquet, "not readable as Parquet (its data is damaged)"),
    ("all rows bad", "claims.csv", lambda good, _: _csv(_frame(good).assign(plan_type="platinum")),
     "none of the 600 rows is a valid claim; most common problems: plan_type: unknown value (600)"),
    ("every claim_id the same", "claims.csv", lambda good, _: _csv(_frame(good).assign(claim_id=SECRET_ID)),
     "599 of 600 rows were quarantined, most common problems: claim_id: duplicate (599)"),
    ("text in a number column", "claims.csv", lambda good, _: _csv(_frame(good).assign(patient_age=SECRET_TEXT)),
     "patient_age: not a number (600)"),
    ("dates in an amount column", "claims.csv",
     lambda good, _: _csv(_frame(good).assign(billed_amount="2024-01-31")), "billed_amount: not a number (600)"),
    ("a Parquet column of fractions where whole ages belong", "claims.parquet",
     lambda good, folder: _typed_parquet(good, folder, "patient_age", 41.5), "patient_age: not an integer (600)"),
    ("a Parquet column of numbers where booleans belong", "claims.parquet",
     lambda good, folder: _typed_parquet(good, folder, "in_network", 3.5), "in_network: not a boolean (600)"),
]


@pytest.mark.parametrize("label, name, make, message", CASES, ids=[case[0] for case in CASES])
def test_a_bad_training_file_stops_with_a_clear_message_and_leaves_nothing_behind(
        good_csv, tmp_path, label, name, make, message):
    data = tmp_path / "data"
    data.mkdir()
    path = data / name
    path.write_bytes(make(good_csv, data))
    store, models = tmp_path / "store", tmp_path / "models"
    models.mkdir()
    (models / "README.md").write_text("the models folder before the run\n")

    result = CliRunner().invoke(main, ["train", "--data", str(path), "--tracking-uri",
                                       f"sqlite:///{store / 'mlflow.db'}", "--models-dir", str(models), "--quiet"])

    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not a traceback
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert SECRET_ID not in result.output and SECRET_TEXT not in result.output
    assert not store.exists()  # MLflow was never opened: no run, no registered version
    assert [entry.name for entry in models.iterdir()] == ["README.md"]
