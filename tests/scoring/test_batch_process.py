"""The batch job's own process is settled for it once its model is loaded; a caller that passes its
model in (a service worker) is left as it was. Each case runs in a fresh interpreter, since the
settings are the process's."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # needs the session's trained store

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REPORT = """
import gc, json, sys
import pyarrow as pa
from scoring.artifacts import load_model
from scoring.batch import predict_file
source, target, model_dir, how = sys.argv[1:5]
model = model_dir if how == "command" else load_model(model_dir).model
predict_file(source, target, model, progress=False, own_process=how == "command")
print(json.dumps({"pool": pa.default_memory_pool().backend_name, "frozen": gc.get_freeze_count()}))
"""


def settings_after(how: str, trained_store, tmp_path) -> dict:
    source = tmp_path / "requests.csv"
    history = pd.read_csv(trained_store.files["better"], dtype=str, keep_default_na=False, nrows=300)
    history.drop(columns=["outcome", "paid_amount", "denial_reason"]).to_csv(source, index=False)
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(REPORT), str(source), str(tmp_path / f"{how}.csv"),
         str(trained_store.models_dir / "champion"), how],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_predict_command_keeps_freed_memory_and_freezes_what_it_loaded(trained_store, tmp_path):
    settings = settings_after("command", trained_store, tmp_path)
    assert settings["pool"] == "system" and settings["frozen"] > 10_000


def test_a_model_passed_in_leaves_the_process_as_it_was(trained_store, tmp_path):
    settings = settings_after("service", trained_store, tmp_path)
    assert settings["pool"] != "system" and settings["frozen"] == 0
