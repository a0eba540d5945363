"""Fixtures for the service: a real tiny model trained and registered once per session, the real
app on temporary audit databases, its client, and keys.

The model store is built the way `medspa-coverage train` builds one (training.train.run_training:
load, split, fit, evaluate, log, register, gate, export) from a small demo history, with small
iteration budgets: version 1 becomes champion (and is exported as a bundle), version 2 is trained
with other parameters and registered without promotion, so hot-swap tests have somewhere to go.
"""
from __future__ import annotations

import logging
import os
from dataclasses import fields

import pytest

from service import create_app
from service.logging import JsonFormatter
from service_testing import API_KEY, OTHER_KEY, ModelStore

HISTORY_ROWS = 6_000
QUICK_MODELS = ({"max_iter": 40, "teachers": 3}, {"max_iter": 25, "learning_rate": 0.2, "random_state": 1, "teachers": 3})


def _quick_params(**model):
    from training.coverage_model import ModelParams
    from training.train import TrainingParams

    known = {field.name for field in fields(ModelParams)}
    return TrainingParams(model=ModelParams(**{k: v for k, v in model.items() if k in known}))


@pytest.fixture(scope="session")
def model_store(tmp_path_factory) -> ModelStore:
    from training.generator import generate_history
    from training.train import run_training

    folder = tmp_path_factory.mktemp("model-store")
    history = folder / "history.parquet"
    generate_history(HISTORY_ROWS, 41, history, progress=False)
    database, models_dir = folder / "mlflow.db", folder / "models"
    mlflow_variable = os.environ.get("MLFLOW_TRACKING_URI")
    runs = [run_training(history, tracking_uri=f"sqlite:///{database}", models_dir=models_dir, progress=False,
                         echo=lambda line: None, params=_quick_params(**model), promote=number == 0,
                         export=number == 0)
            for number, model in enumerate(QUICK_MODELS)]
    # mlflow.set_tracking_uri (called by training) rewrites the variable; later tests must not inherit that
    if mlflow_variable is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = mlflow_variable
    assert runs[0].promoted and not runs[1].promoted
    return ModelStore(folder, database, models_dir, history, runs[0].model_version, runs[1].model_version)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """The developer's shell settings must not leak into the tests."""
    for name in list(os.environ):
        if name.startswith("MEDSPA_COVERAGE_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def make_app(tmp_path):
    """Build an app with test settings; keyword overrides win (None: leave the setting out).

    By default the tracking store is an empty temporary path (no model: the loader fails fast)
    and nothing runs in the background.
    """
    counter = iter(range(1000))
    apps = []

    def build(**overrides):
        config = {"TESTING": True, "API_KEYS": [API_KEY, OTHER_KEY],
                  "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / f'audit-{next(counter)}.db'}",
                  "TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
                  "MODEL_POLL_SECONDS": 0, "MONITOR_INTERVAL_MINUTES": 0}
        config.update(overrides)
        app = create_app({name: value for name, value in config.items() if value is not None})
        apps.append(app)
        return app

    yield build
    from service.background import stop_jobs

    for app in apps:
        stop_jobs(app, timeout=10)


@pytest.fixture
def app(make_app):
    """The app with no model to serve."""
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_served_app(make_app, model_store):
    """Build an app serving the session's champion from the registry (overrides as for make_app)."""

    def build(**overrides):
        return make_app(**{"TRACKING_URI": model_store.uri, **overrides})

    return build


@pytest.fixture
def served_app(make_served_app):
    return make_served_app()


@pytest.fixture
def served_client(served_app):
    return served_app.test_client()


@pytest.fixture
def auth():
    return {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def log_lines(caplog):
    """The service's log lines as written (JSON), captured from the 'service' logger tree."""
    caplog.set_level(logging.INFO, logger="service")
    caplog.handler.setFormatter(JsonFormatter())

    def lines() -> list[str]:
        return [caplog.handler.format(record) for record in caplog.records]

    return lines
