"""Fixtures for the service: the real app on a temporary audit database, its client, and keys."""
from __future__ import annotations

import logging

import pytest

from service import create_app
from service.logging import JsonFormatter
from service_testing import API_KEY, OTHER_KEY, fixed_answer_loader


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """The developer's shell settings must not leak into the tests."""
    import os

    for name in list(os.environ):
        if name.startswith("MEDSPA_COVERAGE_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def make_app(tmp_path):
    """Build an app with test settings; keyword overrides win (None: leave the setting out)."""
    counter = iter(range(1000))

    def build(**overrides):
        config = {"TESTING": True, "API_KEYS": [API_KEY, OTHER_KEY],
                  "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / f'audit-{next(counter)}.db'}",
                  "TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
        config.update(overrides)
        return create_app({name: value for name, value in config.items() if value is not None})

    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def served_app(make_app):
    """An app whose model extension is ready, with the stand-in model behind the loader."""
    return make_app(MODEL_LOADER=fixed_answer_loader)


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
