"""A temporary MLflow store with two freshly trained small models (a champion and a challenger)
for the notebooks to review, built once per session from the real generator and training code."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from training.coverage_model import ModelParams
from training.evaluation import EvaluationParams
from training.generator import generate_history
from training.train import TrainingParams, TrainingResult, run_training

HISTORY_ROWS = 5_000
# The real fitting code, small: enough trees to learn the paperwork effects, no raw-GBM yardstick.
SMALL_MODEL = {"max_iter": 60, "teachers": 3}


@dataclass
class ReviewStore:
    uri: str
    data_dir: Path  # where the runs' data files are (the notebooks rebuild test splits from them)
    files: dict[str, Path]
    runs: dict[str, TrainingResult]


def small_params() -> TrainingParams:
    return TrainingParams(model=ModelParams(**SMALL_MODEL), evaluation=EvaluationParams(raw_gbm_baseline=False))


@pytest.fixture(scope="session")
def review_store(tmp_path_factory) -> ReviewStore:
    data_dir = tmp_path_factory.mktemp("review-histories")
    files = {"first": data_dir / "first.csv", "second": data_dir / "second.csv"}
    # The first file carries deliberately bad rows, so the profile notebook has a quarantine to show.
    generate_history(HISTORY_ROWS, 21, files["first"], progress=False, bad_rows_fraction=0.01)
    generate_history(HISTORY_ROWS, 22, files["second"], progress=False)
    store = tmp_path_factory.mktemp("review-mlflow")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    runs = {name: run_training(path, tracking_uri=uri, params=small_params(), progress=False, export=False,
                               echo=lambda line: None)
            for name, path in files.items()}
    return ReviewStore(uri=uri, data_dir=data_dir, files=files, runs=runs)
