"""Fixtures every suite shares: the session's trained store (tests/stores.py)."""
from __future__ import annotations

import pytest

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
