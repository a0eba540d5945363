"""Constants and helpers shared by the service tests (fixtures live in conftest.py)."""
from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from service.schemas import EXAMPLE_CLAIM

API_KEY = "test-key-0123456789"
OTHER_KEY = "other-key-9876543210"
SENTINEL = "SENTINEL-7f3a"
MODEL_NAME = "medspa-coverage"


@dataclass(frozen=True)
class ModelStore:
    """A temporary MLflow store with two real registered versions of a tiny trained model:
    `champion` -> `champion_version`, and `other_version` registered beside it (challenger)."""

    folder: Path
    database: Path
    models_dir: Path
    history: Path
    champion_version: str
    other_version: str

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.database}"

    def copy_to(self, folder: Path) -> "ModelStore":
        """The same registry in a new database file, for tests that move aliases (the artifacts it
        names stay where they are: they are only read)."""
        folder.mkdir(parents=True, exist_ok=True)
        database = folder / "mlflow.db"
        shutil.copyfile(self.database, database)
        return ModelStore(folder, database, self.models_dir, self.history, self.champion_version, self.other_version)

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def move_champion(self, version: str) -> None:
        self.client().set_registered_model_alias(MODEL_NAME, "champion", version)


DROP = object()  # example_claim(field=DROP) leaves the field out


def example_claim(**changes) -> dict:
    claim = copy.deepcopy(EXAMPLE_CLAIM)
    for name, value in changes.items():
        if value is DROP:
            claim.pop(name, None)
        else:
            claim[name] = value
    return claim


def body_of(response) -> dict:
    assert response.mimetype == "application/json", response.data[:200]
    return json.loads(response.data)
