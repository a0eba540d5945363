"""Build a costly fixture once per test run, shared by every pytest-xdist worker.

`make test` runs the suite on two workers (`pytest -n 2`); a session fixture runs once per worker.
The session's trained store takes real trainings, so the first worker to ask builds it under a
file lock in the run's shared temporary folder and pickles it there; the other worker waits on
the lock and reads the pickle. Without xdist it is simply built.
"""
from __future__ import annotations

import fcntl
import os
import pickle
from pathlib import Path
from typing import Callable, TypeVar

import pytest

Value = TypeVar("Value")


def build_once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Value]) -> Value:
    """`build(folder)`'s result; under xdist, built by one worker and read by the others."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build(tmp_path_factory.mktemp(name))
    run_folder = tmp_path_factory.getbasetemp().parent  # one per run, shared by its workers
    folder, result = run_folder / name, run_folder / f"{name}.pickle"
    with open(run_folder / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if build raises
        if result.is_file():
            return pickle.loads(result.read_bytes())
        folder.mkdir(exist_ok=True)
        value = build(folder)
        result.write_bytes(pickle.dumps(value))
        return value
