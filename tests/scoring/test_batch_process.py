"""The batch job's own process is settled for it once its model is loaded; a caller that passes its
model in (a service worker) is left as it was. Each case runs in a fresh interpreter, since the
settings are the process's."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from scoring.batch_process import BATCH_PROCESS_ENV

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
    environment = {name: value for name, value in os.environ.items()
                   if name not in {variable for variable, _ in BATCH_PROCESS_ENV.values()}}
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(REPORT), str(source), str(tmp_path / f"{how}.csv"),
         str(trained_store.models_dir / "champion"), how],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_predict_command_keeps_freed_memory_and_freezes_what_it_loaded(trained_store, tmp_path):
    settings = settings_after("command", trained_store, tmp_path)
    assert settings["pool"] == "system" and settings["frozen"] > 10_000


def test_a_model_passed_in_leaves_the_process_as_it_was(trained_store, tmp_path):
    settings = settings_after("service", trained_store, tmp_path)
    assert settings["pool"] != "system" and settings["frozen"] == 0


def test_the_predict_command_sets_the_native_libraries_environment_before_they_load(tmp_path):
    """In a fresh `predict` process, numpy's OpenBLAS starts one thread and Arrow allocates from the
    C library (both read their variable once, when they load)."""
    script = textwrap.dedent("""
        import sys
        from scoring.batch_process import prepare_batch_process
        prepare_batch_process()
        import pyarrow as pa
        from threadpoolctl import threadpool_info
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["internal_api"] == "openblas"]
        print(pa.default_memory_pool().backend_name, max(blas))
    """)
    environment = {name: value for name, value in os.environ.items()
                   if name not in {variable for variable, _ in BATCH_PROCESS_ENV.values()}}
    completed = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=environment,
                               capture_output=True, text=True, timeout=120, check=True)
    assert completed.stdout.split() == ["system", "1"]
