"""Where MLflow keeps models: the tracking URI's order of precedence, the sqlite store's paths, the one
client constructor (which refuses to create a store by accident) and `tracking()`, which leaves
MLflow and the environment as it found them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from scoring.mlflow_store import (
    DEFAULT_TRACKING_URI,
    PROJECT_ROOT,
    REGISTERED_MODEL,
    TrackingStoreError,
    alias_uri,
    ensure_experiment,
    experiment_artifact_location,
    log_version_run,
    mlflow_client,
    no_such_alias,
    no_such_version,
    number_ranges,
    resolve_tracking_uri,
    store_label,
    sqlite_path,
    tracking,
)

OPTION, ENVIRONMENT = "sqlite:////tmp/option/mlflow.db", "http://tracking.example:5000"


@pytest.mark.parametrize("option, environment, expected", [
    (OPTION, ENVIRONMENT, OPTION),
    (None, ENVIRONMENT, ENVIRONMENT),
    (None, None, DEFAULT_TRACKING_URI),
    ("", "", DEFAULT_TRACKING_URI),  # empty is unset, not a store
])
def test_the_tracking_uri_is_the_option_else_the_environment_else_the_default(monkeypatch, option, environment,
                                                                              expected):
    if environment is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", environment)
    assert resolve_tracking_uri(option) == expected


def test_the_default_store_is_the_projects_var_sqlite_file():
    assert sqlite_path(DEFAULT_TRACKING_URI) == PROJECT_ROOT / "var" / "mlflow.db"


@pytest.mark.parametrize("uri, path", [
    ("sqlite:////srv/mlflow/mlflow.db", Path("/srv/mlflow/mlflow.db")),
    ("sqlite:///relative/mlflow.db", Path("relative/mlflow.db")),
    ("http://tracking.example:5000", None),
    ("file:///srv/mlruns", None),
])
def test_sqlite_path(uri, path):
    assert sqlite_path(uri) == path


def test_a_sqlite_stores_artifacts_live_beside_its_database(tmp_path):
    location = experiment_artifact_location(f"sqlite:///{tmp_path / 'mlflow.db'}", "medspa-coverage")
    assert location == (tmp_path / "mlartifacts" / "medspa-coverage").as_uri()


def test_other_stores_choose_their_own_artifact_location():
    assert experiment_artifact_location("http://tracking.example:5000", "medspa-coverage") is None


def test_a_tracking_database_puts_artifacts_under_the_configured_root_and_refuses_to_guess(monkeypatch, tmp_path):
    uri = "postgresql+psycopg://medspa@db.example/mlflow"
    monkeypatch.delenv("MEDSPA_COVERAGE_ARTIFACT_ROOT", raising=False)
    with pytest.raises(TrackingStoreError, match="MEDSPA_COVERAGE_ARTIFACT_ROOT"):
        experiment_artifact_location(uri, "medspa-coverage")
    monkeypatch.setenv("MEDSPA_COVERAGE_ARTIFACT_ROOT", str(tmp_path / "shared"))
    assert experiment_artifact_location(uri, "medspa-coverage") == (tmp_path / "shared" / "medspa-coverage").as_uri()
    monkeypatch.setenv("MEDSPA_COVERAGE_ARTIFACT_ROOT", "s3://bucket/mlflow/")
    assert experiment_artifact_location(uri, "medspa-coverage") == "s3://bucket/mlflow/medspa-coverage"


def test_the_client_refuses_a_sqlite_store_that_is_not_there_and_does_not_create_it(tmp_path):
    database = tmp_path / "typo" / "mlflow.db"
    with pytest.raises(TrackingStoreError, match="no MLflow tracking database at .*typo"):
        mlflow_client(f"sqlite:///{database}", must_exist=True)
    assert not database.exists() and not database.parent.exists()


def test_the_client_opens_an_existing_store_and_its_registry(trained_store):
    client = mlflow_client(trained_store.uri, must_exist=True)
    assert client.tracking_uri == trained_store.uri
    assert client.get_registered_model(REGISTERED_MODEL).name == REGISTERED_MODEL


@pytest.mark.parametrize("environment", [None, "sqlite:////tmp/configured/mlflow.db"])
def test_tracking_points_mlflow_at_the_store_then_restores_its_uris_and_the_environment(tmp_path, monkeypatch,
                                                                                      environment):
    import mlflow

    if environment is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", environment)
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    with pytest.raises(RuntimeError, match="inside"):
        with tracking(uri) as client:
            assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (uri, uri)
            assert client.tracking_uri == uri
            assert (tmp_path / "new").is_dir()  # sqlite creates the file, tracking() its folder
            raise RuntimeError("inside")  # the restore happens however the block ends
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == before
    assert os.environ.get("MLFLOW_TRACKING_URI") == environment


def test_tracking_leaves_mlflows_tracking_uri_unset_when_it_was(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    before = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(None)
    try:
        with tracking(f"sqlite:///{tmp_path / 'mlflow.db'}"):
            pass
        assert not mlflow.is_tracking_uri_set()
    finally:
        mlflow.set_tracking_uri(before)


def test_ensure_experiment_creates_once_with_the_artifacts_beside_the_store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow_client(uri)
    first = ensure_experiment(client, "medspa-coverage", uri)
    assert ensure_experiment(client, "medspa-coverage", uri) == first
    assert [experiment.experiment_id for experiment in client.search_experiments()
            if experiment.name == "medspa-coverage"] == [first]
    assert client.get_experiment(first).artifact_location == experiment_artifact_location(uri, "medspa-coverage")


def test_a_version_run_is_tagged_filled_and_finished(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow_client(uri)
    experiment = ensure_experiment(client, "serving-monitor", uri)
    note = tmp_path / "note.txt"
    note.write_text("figures")
    run_id = log_version_run(client, experiment, "monitor-v3", "medspa-coverage", 3, tags={"window_end": "w"},
                             metrics={"claims": 12}, params={"since": "s"}, timestamp_ms=1_000,
                             artifacts=[(note, "kept")])
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "monitor-v3"
    assert {key: run.data.tags[key] for key in ("model_name", "model_version", "window_end")} == {
        "model_name": "medspa-coverage", "model_version": "3", "window_end": "w"}
    assert run.data.metrics == {"claims": 12.0} and run.data.params == {"since": "s"}
    assert [item.path for item in client.list_artifacts(run_id, "kept")] == ["kept/note.txt"]


def test_a_version_run_that_fails_on_the_way_is_marked_failed_and_raises(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow_client(uri)
    experiment = ensure_experiment(client, "serving-outcomes", uri)
    with pytest.raises(FileNotFoundError):
        log_version_run(client, experiment, "outcomes-v3", "medspa-coverage", "3", tags={}, metrics={},
                        params={}, timestamp_ms=1_000, artifacts=[(tmp_path / "never-written.csv", None)])
    [run] = client.search_runs([experiment])
    assert run.info.status == "FAILED"


@pytest.mark.parametrize("arguments, uri", [
    (("champion",), "models:/medspa-coverage@champion"),
    (("previous", "other-model"), "models:/other-model@previous"),
])
def test_alias_uri(arguments, uri):
    assert alias_uri(*arguments) == uri


@pytest.mark.parametrize("numbers, words", [([1, 2, 3], "1-3"), ([3, 1, 5, 6, 7, 9], "1, 3, 5-7, 9"), ([], "none")])
def test_number_ranges(numbers, words):
    assert number_ranges(numbers) == words


@pytest.mark.parametrize("uri, label", [
    ("postgresql+psycopg://mlflow:s3cret@db.example:5432/mlflow", "postgresql+psycopg://mlflow:***@db.example:5432/mlflow"),
    ("sqlite:////srv/var/mlflow.db", "sqlite:////srv/var/mlflow.db"),
    ("http://tracking.example:5000", "http://tracking.example:5000"),
])
def test_a_store_is_named_without_its_password(uri, label):
    assert store_label(uri) == label


def test_a_missing_version_or_alias_names_what_the_store_holds(tmp_path):
    from tests.stores import registry_of_empty_versions

    uri = registry_of_empty_versions(tmp_path)
    with tracking(uri) as client:
        client.set_registered_model_alias(REGISTERED_MODEL, "champion", "2")
        assert no_such_version(client, REGISTERED_MODEL, "9") == \
            f"no version 9 of {REGISTERED_MODEL} in {uri} (versions: 1-3)"
        assert no_such_alias(client, REGISTERED_MODEL, "gold") == \
            f"registered model {REGISTERED_MODEL!r} in {uri} has no version with alias 'gold' (aliases: champion -> 2)"
        assert no_such_alias(client, "other", "gold").startswith(f"no registered model 'other' in {uri}")
