"""The small trained models every suite shares, built the way `medspa-coverage train` builds them
(training.train.run_training: load, split, fit, evaluate, log, register, gate, export).

One temporary MLflow store, three real training runs, once per test session (tests/conftest.py):

1. `base`   4,000 claims (1% deliberately bad rows): the first model, so it becomes champion;
2. `worse`  the `better` file with the labels of its oldest 75% shuffled (the test claims keep
            theirs): registered but not promoted;
3. `better` 12,000 claims: promoted (and exported), and `previous` then points to the base model.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from training.demo.generator import generate_history
from scoring.params import ModelParams
from training.promotion_gate import GateParams
from training.train import TrainingParams, TrainingResult, run_training

BASE_ROWS, BETTER_ROWS = 4_000, 12_000
# The real fitting code with smaller budgets, so the session's runs stay quick. Two teachers,
# not eight: the taught path (teachers, then the student) runs in every test model, in a quarter
# of the teachers' time (issue 27: three until then).
QUICK_MODEL = {"max_iter": 120, "teachers": 2}
SHUFFLED_SHARE = 0.75
OUTCOME_COLUMNS = ["outcome", "paid_amount", "denial_reason"]


@dataclass
class TrainedStore:
    uri: str
    database: Path
    models_dir: Path
    data_dir: Path  # the runs' data files (the review notebooks rebuild test splits from them)
    files: dict[str, Path]
    runs: dict[str, TrainingResult]

    def copy_to(self, folder: Path) -> "TrainedStore":
        """The same registry in a new database file, for tests that write to it (tags, reviews,
        aliases); the artifacts it names stay where they are: they are only read."""
        folder.mkdir(parents=True, exist_ok=True)
        database = folder / "mlflow.db"
        shutil.copyfile(self.database, database)
        return TrainedStore(uri=f"sqlite:///{database}", database=database, models_dir=self.models_dir,
                            data_dir=self.data_dir, files=self.files, runs=self.runs)


def quick_params(model: dict | None = None, **changes) -> TrainingParams:
    """TrainingParams with the session's small budgets; `model` overrides ModelParams fields, and a
    name ModelParams does not have is an error, not silently dropped."""
    model = {**QUICK_MODEL, **(model or {})}
    unknown = set(model) - {field.name for field in fields(ModelParams)}
    if unknown:
        raise TypeError(f"ModelParams has no {sorted(unknown)}")
    return TrainingParams(model=ModelParams(**model), **changes)


def shuffle_old_labels(source: Path, target: Path, share: float, seed: int) -> Path:
    """Copy a history, shuffling the outcome fields among its oldest `share` of claims."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame = frame.sort_values("service_date", kind="stable").reset_index(drop=True)
    old = int(len(frame) * share)
    order = np.random.default_rng(seed).permutation(old)
    frame.loc[: old - 1, OUTCOME_COLUMNS] = frame.loc[: old - 1, OUTCOME_COLUMNS].to_numpy()[order]
    frame.to_csv(target, index=False)
    return target


def plant_problems(source: Path, target: Path, seed: int = 7) -> Path:
    """Copy a history with problems a file must not be trained on: 3% of rows repeat an earlier
    claim_id, 2% of approved claims were paid nothing, and half the newest fifth's approvals
    became denials (the label drifts at the end, where the time split tests)."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame = frame.sort_values("service_date", kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    repeated = rng.choice(len(frame) - 1, size=int(0.03 * len(frame)), replace=False) + 1
    frame.loc[repeated, "claim_id"] = frame.loc[repeated - 1, "claim_id"].to_numpy()
    approved = np.flatnonzero(frame["outcome"].eq("approved").to_numpy())
    unpaid = rng.choice(approved, size=int(0.02 * len(frame)), replace=False)
    frame.loc[unpaid, "paid_amount"] = "0"
    newest = approved[approved >= int(0.8 * len(frame))]
    denied = rng.choice(newest, size=len(newest) // 2, replace=False)
    frame.loc[denied, ["outcome", "paid_amount", "denial_reason"]] = ["denied", "0", "50"]
    frame.to_csv(target, index=False)
    return target


def quiet_run(path: Path, store: Path, **options) -> TrainingResult:
    options.setdefault("params", quick_params())
    return run_training(path, tracking_uri=f"sqlite:///{store / 'mlflow.db'}", models_dir=store / "models",
                        progress=False, echo=lambda line: None, **options)


def demo_histories(folder: Path) -> dict[str, Path]:
    base = folder / "base.csv"
    generate_history(BASE_ROWS, 11, base, progress=False, bad_rows_fraction=0.01)
    better = folder / "better.csv"
    generate_history(BETTER_ROWS, 12, better, progress=False)
    worse = shuffle_old_labels(better, folder / "worse.csv", SHUFFLED_SHARE, seed=5)
    return {"base": base, "better": better, "worse": worse}


def train_store(files: dict[str, Path], store: Path) -> TrainedStore:
    mlflow_variable = os.environ.get("MLFLOW_TRACKING_URI")
    runs = {
        "base": quiet_run(files["base"], store),
        "worse": quiet_run(files["worse"], store),
        # The better model wins on data, not luck: the margins only absorb test-set noise.
        "better": quiet_run(files["better"], store,
                            params=quick_params(gate=GateParams(max_auc_drop=0.02, max_ece_rise=0.02))),
    }
    # mlflow.set_tracking_uri (called by training) rewrites the variable; later tests must not inherit that
    if mlflow_variable is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = mlflow_variable
    return TrainedStore(uri=f"sqlite:///{store / 'mlflow.db'}", database=store / "mlflow.db",
                        models_dir=store / "models", data_dir=files["base"].parent, files=files, runs=runs)



def version(store: TrainedStore, run: str) -> str:
    """The registered version number the named run (`base`, `worse`, `better`) created."""
    return store.runs[run].model_version


def registry_of_empty_versions(folder: Path, versions: int = 3) -> str:
    """A sqlite store whose registered model has `versions` versions and no model files: enough for
    what the registry alone answers (which versions and aliases exist). Returns its URI."""
    from scoring.mlflow_store import REGISTERED_MODEL, tracking

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with tracking(uri) as client:
        client.create_registered_model(REGISTERED_MODEL)
        for _ in range(versions):
            client.create_model_version(REGISTERED_MODEL, source=str(folder))
    return uri
