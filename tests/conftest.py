"""Fixtures every suite shares: the session's trained store (tests/stores.py) and the session's
PostgreSQL server (tests/postgresql_server.py, started by the first test that asks for it)."""
from __future__ import annotations

import pytest

from tests.postgresql_server import PostgresServer, start_server
from tests.stores import TrainedStore, demo_histories, quick_params, train_store


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory):
    return demo_histories(tmp_path_factory.mktemp("histories"))


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory, demo_files) -> TrainedStore:
    return train_store(demo_files, tmp_path_factory.mktemp("mlflow"))


@pytest.fixture(scope="session")
def quick_training_params():
    """TrainingParams with the session's small budgets (a factory: pass changes)."""
    return quick_params


@pytest.fixture(scope="session")
def postgresql_server() -> PostgresServer:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def postgresql_url(postgresql_server) -> str:
    """A new empty database on the session's PostgreSQL server."""
    return postgresql_server.create_database()
