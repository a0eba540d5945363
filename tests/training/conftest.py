"""The real thing, small: demo histories from the real generator, and one temporary MLflow store
in which three real training runs happen once per test session:

1. `base`   4,000 claims (1% deliberately bad rows): the first model, so it becomes champion;
2. `worse`  the `better` file with the labels of its oldest 75% shuffled (the test claims keep
            theirs): it must be registered but not promoted;
3. `better` 12,000 claims: promoted, and `previous` then points to the base model.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.coverage_model import ModelParams
from training.generator import generate_history
from training.registry import GateParams
from training.train import TrainingParams, TrainingResult, run_training

BASE_ROWS, BETTER_ROWS = 4_000, 12_000
# The real fitting code with smaller iteration budgets, so the session's runs stay quick
# (budgets ModelParams no longer has are skipped: the fitting code owns its parameters).
# Three teachers, not eight: the taught path runs in every test model, in a third of the time.
QUICK_MODEL = {"max_iter": 120, "denial_max_iter": 25, "teachers": 3}
SHUFFLED_SHARE = 0.75
OUTCOME_COLUMNS = ["outcome", "paid_amount", "denial_reason"]


@dataclass
class TrainedStore:
    uri: str
    models_dir: Path
    files: dict[str, Path]
    runs: dict[str, TrainingResult]


def shuffle_old_labels(source: Path, target: Path, share: float, seed: int) -> Path:
    """Copy a history, shuffling the outcome fields among its oldest `share` of claims."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame = frame.sort_values("service_date", kind="stable").reset_index(drop=True)
    old = int(len(frame) * share)
    order = np.random.default_rng(seed).permutation(old)
    frame.loc[: old - 1, OUTCOME_COLUMNS] = frame.loc[: old - 1, OUTCOME_COLUMNS].to_numpy()[order]
    frame.to_csv(target, index=False)
    return target


def quick_params(**changes) -> TrainingParams:
    known = {field.name for field in fields(ModelParams)}
    return TrainingParams(model=ModelParams(**{k: v for k, v in QUICK_MODEL.items() if k in known}), **changes)


def quiet_run(path: Path, store: Path, **options) -> TrainingResult:
    options.setdefault("params", quick_params())
    return run_training(path, tracking_uri=f"sqlite:///{store / 'mlflow.db'}", models_dir=store / "models",
                        progress=False, echo=lambda line: None, **options)


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("histories")
    base = folder / "base.csv"
    generate_history(BASE_ROWS, 11, base, progress=False, bad_rows_fraction=0.01)
    better = folder / "better.csv"
    generate_history(BETTER_ROWS, 12, better, progress=False)
    worse = shuffle_old_labels(better, folder / "worse.csv", SHUFFLED_SHARE, seed=5)
    return {"base": base, "better": better, "worse": worse}


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory, demo_files) -> TrainedStore:
    store = tmp_path_factory.mktemp("mlflow")
    runs = {
        "base": quiet_run(demo_files["base"], store),
        "worse": quiet_run(demo_files["worse"], store),
        # The better model wins on data, not luck: the margins only absorb test-set noise.
        "better": quiet_run(demo_files["better"], store,
                            params=quick_params(gate=GateParams(max_auc_drop=0.02, max_ece_rise=0.02))),
    }
    return TrainedStore(uri=f"sqlite:///{store / 'mlflow.db'}", models_dir=store / "models", files=demo_files,
                        runs=runs)


@pytest.fixture(scope="session")
def quick_training_params():
    """TrainingParams with the session's small iteration budgets (a factory: pass changes)."""
    return quick_params


@pytest.fixture(scope="session")
def client(trained_store):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=trained_store.uri, registry_uri=trained_store.uri)


@pytest.fixture(scope="session")
def champion_model(trained_store):
    from training.registry import CHAMPION, alias_uri, load_coverage_model, tracking

    with tracking(trained_store.uri):
        return load_coverage_model(alias_uri(CHAMPION))


@pytest.fixture(scope="session")
def better_split(demo_files):
    from training.loading import load_claims
    from training.split import split_by_date

    return split_by_date(load_claims(demo_files["better"]).claims)
