"""Which versions a review looks at, on the session's store (tests/stores.py): version 1 `base`
(first champion), 2 `worse` (kept out by the gate), 3 `better` (promoted)."""
from __future__ import annotations

import pytest

from tests.model_tampering import MARKER, copy_store, plant_code, register_tampered_copy, swap_denial_labels
from tests.stores import version
from scoring.artifacts import ModelIntegrityError
from scoring.mlflow_store import REGISTERED_MODEL
from training.review import versions as review
from training.review.versions import ReviewInputError

pytestmark = pytest.mark.slow  # the session's trained store


def test_a_version_is_found_by_number_or_alias_and_an_unknown_one_is_named(client, trained_store):
    better = version(trained_store, "better")
    assert str(review.resolve_version(client, REGISTERED_MODEL, better).version) == better
    assert str(review.resolve_version(client, REGISTERED_MODEL, "champion").version) == better
    with pytest.raises(ReviewInputError, match="'nightly'"):
        review.resolve_version(client, REGISTERED_MODEL, "nightly")


def test_a_challenger_the_gate_promoted_is_judged_against_the_champion_it_replaced(client, trained_store):
    better, base = version(trained_store, "better"), version(trained_store, "base")
    assert str(review.champion_for_review(client, REGISTERED_MODEL, better).version) == base
    worse = version(trained_store, "worse")
    assert str(review.champion_for_review(client, REGISTERED_MODEL, worse).version) == better
    assert review.champion_for_review(client, REGISTERED_MODEL, base, champion_alias=f"v{base}-alias") is None


def test_a_missing_sqlite_store_is_refused_not_created(tmp_path):
    with pytest.raises(ReviewInputError, match="no MLflow store"):
        review.open_client(f"sqlite:///{tmp_path / 'typo.db'}")
    assert not (tmp_path / "typo.db").exists()


def test_load_models_labels_challenger_and_champion(client, trained_store):
    models = review.load_models(client, REGISTERED_MODEL, version(trained_store, "worse"), version(trained_store, "better"))
    assert list(models) == [f"challenger v{version(trained_store, 'worse')}", f"champion v{version(trained_store, 'better')}"]
    assert all(model.feature_names and model._compiled()[0].roots.size for model in models.values())  # loaded, with its trees


def test_the_champions_training_profile_is_found_and_a_missing_store_gives_none(trained_store, tmp_path):
    label, profile = review.champion_training_profile(trained_store.uri)
    assert label == f"champion v{version(trained_store, 'better')}" and "plan_type" in profile
    assert review.champion_training_profile(f"sqlite:///{tmp_path / 'none.db'}") is None


@pytest.mark.parametrize("tamper", ["swapped metadata", "planted code"])
def test_a_substituted_version_is_refused_for_review_and_nothing_in_it_runs(trained_store, tmp_path, tamper):
    marker = tmp_path / MARKER
    uri = copy_store(trained_store.database, tmp_path / "store")
    tampered = register_tampered_copy(uri, REGISTERED_MODEL, version(trained_store, "better"), tmp_path / "files",
                                      swap_denial_labels if tamper == "swapped metadata" else plant_code(marker))
    with pytest.raises(ModelIntegrityError, match=f"version {tampered} refused"):
        review.load_models(review.open_client(uri), REGISTERED_MODEL, tampered, version(trained_store, "better"))
    assert not marker.exists()
