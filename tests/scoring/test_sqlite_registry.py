"""scoring.sqlite_registry: a `models:/` URI resolved from a sqlite store's tables gives what
MLflow's client gives, follows an alias the moment it moves, and answers None (MLflow decides)
for everything it does not know for certain; predict then loads without importing mlflow."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from scoring.artifacts import MODEL_MANIFEST_TAG, load_model
from scoring.mlflow_store import CHALLENGER, CHAMPION, REGISTERED_MODEL, alias_uri, mlflow_client
from scoring.sqlite_registry import resolve_locally
from common.paths import PROJECT_ROOT


@pytest.mark.parametrize("alias", [CHAMPION, CHALLENGER])
def test_an_alias_resolves_to_the_version_files_and_tags_mlflow_gives(trained_store, client, alias):
    local = resolve_locally(alias_uri(alias), trained_store.uri)
    expected = client.get_model_version_by_alias(REGISTERED_MODEL, alias)
    assert (local.name, local.version, local.run_id) == (REGISTERED_MODEL, str(expected.version), expected.run_id)
    assert local.tags == expected.tags
    assert local.folder.as_uri() == client.get_model_version_download_uri(REGISTERED_MODEL, expected.version)
    assert local.run_metrics == client.get_run(expected.run_id).data.metrics


def test_a_version_number_resolves_to_that_version(trained_store, client):
    local = resolve_locally(f"models:/{REGISTERED_MODEL}/1", trained_store.uri)
    assert local.version == "1" and local.tags[MODEL_MANIFEST_TAG] == client.get_model_version(
        REGISTERED_MODEL, "1").tags[MODEL_MANIFEST_TAG]


def test_a_moved_alias_is_followed_at_once_nothing_is_cached(trained_store, tmp_path):
    store = trained_store.copy_to(tmp_path / "store")
    writer = mlflow_client(store.uri)
    before = resolve_locally(alias_uri(CHAMPION), store.uri).version
    writer.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, "1")
    assert before != "1" and resolve_locally(alias_uri(CHAMPION), store.uri).version == "1"
    assert load_model(alias_uri(CHAMPION), store.uri).version == "1"


@pytest.mark.parametrize("uri", ["models:/medspa-coverage@no-such-alias", "models:/no-such-model@champion",
                                 "models:/medspa-coverage/99", "models:/medspa-coverage@latest",
                                 "models:/medspa-coverage/x", "runs:/abc/model"])
def test_what_it_cannot_answer_for_certain_is_left_to_mlflow(trained_store, uri):
    assert resolve_locally(uri, trained_store.uri) is None


def test_a_registry_with_another_workspace_is_left_to_mlflow(trained_store, tmp_path):
    store = trained_store.copy_to(tmp_path / "store")
    with sqlite3.connect(store.database) as connection:
        connection.execute("UPDATE model_versions SET workspace = 'team-b' WHERE version = 1")
    assert resolve_locally(alias_uri(CHAMPION), store.uri) is None


def test_other_stores_and_missing_databases_are_left_to_mlflow(tmp_path):
    assert resolve_locally(alias_uri(CHAMPION), "http://127.0.0.1:5000") is None
    assert resolve_locally(alias_uri(CHAMPION), f"sqlite:///{tmp_path / 'absent.db'}") is None
    assert not (tmp_path / "absent.db").exists()  # read-only: nothing is created


def test_predict_on_a_sqlite_store_never_imports_mlflow(trained_store, tmp_path):
    claims = trained_store.files["better"]
    script = ("import sys\nfrom scoring.batch import predict_file\n"
              f"predict_file({str(claims)!r}, {str(tmp_path / 'scored.csv')!r}, tracking_uri={trained_store.uri!r}, "
              "progress=False)\n"
              "print(sorted(name for name in sys.modules if name == 'mlflow' or name.startswith('mlflow.')))")
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
