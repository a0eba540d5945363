"""The training suites' views of the session's trained store (tests/stores.py)."""
from __future__ import annotations

import pytest

from training.data.loading import load_claims
from training.data.split import split_by_date
from training.model.artifacts import load_model
from training.model.mlflow_store import CHAMPION, alias_uri, mlflow_client


@pytest.fixture(scope="session")
def client(trained_store):
    return mlflow_client(trained_store.uri)


@pytest.fixture(scope="session")
def champion_model(trained_store):
    return load_model(alias_uri(CHAMPION), trained_store.uri).model


@pytest.fixture(scope="session")
def better_split(demo_files):
    return split_by_date(load_claims(demo_files["better"]).claims)
