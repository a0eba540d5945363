"""Fixtures for the service: the session's trained store (tests/stores.py) as the registry the
app serves from, the real app on temporary audit databases, its client, and keys.

The store's champion is the `better` model (exported as a bundle); the `worse` model is
registered beside it without promotion, so hot-swap tests have somewhere to go. Tests that move
aliases work on a copy (ModelStore.copy_to).
"""
from __future__ import annotations

import logging
import os

import pytest

from service.app import create_app
from service.background import stop_jobs
from service.logging import JsonFormatter
from tests.service.service_testing import API_KEY, OTHER_KEY, ModelStore


@pytest.fixture(scope="session")
def model_store(trained_store) -> ModelStore:
    runs = trained_store.runs
    assert runs["better"].promoted and not runs["worse"].promoted
    return ModelStore(trained_store.database.parent, trained_store.database, trained_store.models_dir,
                      trained_store.files["better"], runs["better"].model_version, runs["worse"].model_version)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """The developer's shell settings must not leak into the tests."""
    for name in list(os.environ):
        if name.startswith("MEDSPA_COVERAGE_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_url(request, tmp_path) -> str:
    """An empty audit database, once on SQLite (the default) and once on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'audit.db'}"
    return request.getfixturevalue("postgresql_server").create_database("audit")


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
                  "MODEL_POLL_SECONDS": 0, "MONITOR_INTERVAL_MINUTES": 0, "AUDIT_RETENTION_DAYS": 0,
                  "FILE_JOBS_DIR": str(tmp_path / "file-jobs")}
        config.update(overrides)
        app = create_app({name: value for name, value in config.items() if value is not None})
        apps.append(app)
        return app

    yield build
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
