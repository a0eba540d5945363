"""`load_model(source)`, the one loader, on every kind of source in the session's store (tests/stores.py:
`better` is version 3 and champion, `worse` version 2), and what it refuses: a missing alias or
store, a file the registry or the bundle manifest does not vouch for, a source that is no model."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.stores import version
from training.model.artifacts import (MANIFEST_FILE, MODEL_SHA256_TAG, ModelIntegrityError, ModelSourceError,
                                      download_model_version, file_sha256, load_model, resolve_bundle, verify_bundle,
                                      version_for_alias, write_manifest)
from training.model.coverage_model import MODEL_FILE
from training.model.mlflow_store import CHAMPION, REGISTERED_MODEL, alias_uri, mlflow_client


def registry_sha256(client, number: str) -> str:
    return client.get_model_version(REGISTERED_MODEL, number).tags[MODEL_SHA256_TAG]


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def bundle_copy(trained_store, tmp_path) -> Path:
    """A copy of the exported champion bundle, to tamper with."""
    copy = tmp_path / "medspa-coverage-v3"
    shutil.copytree((trained_store.models_dir / "champion").resolve(), copy)
    return copy


def mlflow_model_folder(trained_store, client, tmp_path) -> Path:
    """Version 3's MLflow model (MLmodel and its artifacts), downloaded to a local folder."""
    import mlflow

    download_uri = client.get_model_version_download_uri(REGISTERED_MODEL, version(trained_store, "better"))
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=download_uri, dst_path=str(tmp_path / "download"),
                                                    tracking_uri=trained_store.uri))


# -- every source -------------------------------------------------------------------------------
def test_the_champion_alias_loads_the_champion_verified_against_its_tag(trained_store, client):
    better = trained_store.runs["better"]
    loaded = load_model(alias_uri(CHAMPION), trained_store.uri)
    assert (loaded.name, loaded.version, loaded.alias) == (REGISTERED_MODEL, better.model_version, CHAMPION)
    details = loaded.details
    assert (details["source"], details["run_id"]) == ("registry", better.run_id)
    assert details["model_uri"] == f"models:/{REGISTERED_MODEL}/{better.model_version}"
    assert details["integrity"] == "verified against the model_sha256 tag"
    assert details["model_sha256"] == registry_sha256(client, better.model_version)
    assert details["metrics"]["test_auc"] == pytest.approx(better.metrics["test_auc"])
    assert not [key for key in details["metrics"] if "__" in key]  # the overall metrics, not the slices
    assert details["trained_at"] and details["trained_with_rules_version"] and details["loaded_at"]


def test_a_version_number_loads_that_version_with_no_alias(trained_store, client):
    worse = trained_store.runs["worse"]
    loaded = load_model(f"models:/{REGISTERED_MODEL}/{worse.model_version}", trained_store.uri)
    assert (loaded.name, loaded.version, loaded.alias) == (REGISTERED_MODEL, worse.model_version, None)
    assert loaded.details["run_id"] == worse.run_id
    assert loaded.details["model_sha256"] == registry_sha256(client, worse.model_version)


def test_the_default_source_is_the_champion_of_the_environments_store(trained_store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_store.uri)
    loaded = load_model()
    assert (loaded.version, loaded.alias) == (version(trained_store, "better"), CHAMPION)


@pytest.fixture
def global_store_elsewhere(tmp_path, monkeypatch) -> Path:
    """MLflow's own (global) tracking URI pointed at another, absent store for the test, then restored."""
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    before = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    elsewhere = tmp_path / "elsewhere" / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{elsewhere}")
    yield elsewhere
    mlflow.set_tracking_uri(before)


def test_a_run_uri_loads_the_model_logged_in_that_run(trained_store, client, global_store_elsewhere):
    worse = trained_store.runs["worse"]
    uri = f"runs:/{worse.run_id}/model"
    loaded = load_model(uri, trained_store.uri)
    assert (loaded.name, loaded.version, loaded.alias) == (REGISTERED_MODEL, "unregistered", None)
    assert (loaded.details["source"], loaded.details["model_uri"]) == ("mlflow", uri)
    assert loaded.details["integrity"] == "recorded"
    assert loaded.details["model_sha256"] == registry_sha256(client, worse.model_version)
    assert not global_store_elsewhere.exists()


def test_a_bundle_folder_loads_verified_with_no_alias(trained_store, client):
    bundle = (trained_store.models_dir / "champion").resolve()
    loaded = load_model(bundle)
    assert (loaded.name, loaded.version, loaded.alias) == (REGISTERED_MODEL, version(trained_store, "better"), None)
    details = loaded.details
    assert (details["source"], details["bundle"], details["bundle_path"]) == ("bundle", bundle.name, str(bundle))
    assert details["integrity"] == "verified against SHA256SUMS" and details["exported_at"]
    assert details["run_id"] == trained_store.runs["better"].run_id
    assert details["model_sha256"] == registry_sha256(client, loaded.version)


def test_a_models_folder_loads_the_bundle_its_champion_link_names(trained_store):
    loaded = load_model(trained_store.models_dir)
    assert (loaded.version, loaded.alias) == (version(trained_store, "better"), "champion")
    assert loaded.details["bundle_path"] == str((trained_store.models_dir / "champion").resolve())


def test_a_saved_model_folder_loads_unregistered(champion_model, tmp_path):
    saved = champion_model.save(tmp_path / "saved")
    loaded = load_model(saved)
    assert (loaded.name, loaded.version, loaded.alias) == (REGISTERED_MODEL, "unregistered", None)
    assert (loaded.details["source"], loaded.details["integrity"]) == ("folder", "recorded")
    assert loaded.details["model_sha256"] == file_sha256(saved / MODEL_FILE)
    assert loaded.details["trained_at"] == champion_model.metadata["trained_at"]


def test_an_mlflow_model_folder_loads_unregistered(trained_store, client, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_store.uri)
    folder = mlflow_model_folder(trained_store, client, tmp_path)
    loaded = load_model(folder)
    assert (loaded.name, loaded.version, loaded.alias) == (REGISTERED_MODEL, "unregistered", None)
    assert (loaded.details["source"], loaded.details["model_uri"]) == ("mlflow", str(folder.resolve()))
    assert loaded.details["model_sha256"] == registry_sha256(client, version(trained_store, "better"))


def test_loading_an_mlflow_model_folder_creates_no_tracking_store(trained_store, client, tmp_path, monkeypatch):
    folder = mlflow_model_folder(trained_store, client, tmp_path)
    absent = tmp_path / "absent" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{absent}")
    load_model(folder)
    assert not absent.exists()


# -- refusals -----------------------------------------------------------------------------------
def test_a_missing_alias_is_a_source_error_naming_it(trained_store, client):
    with pytest.raises(ModelSourceError, match="no version with alias 'no-such-alias'"):
        load_model(alias_uri("no-such-alias"), trained_store.uri)
    assert version_for_alias(client, REGISTERED_MODEL, "no-such-alias", missing_ok=True) is None
    assert version_for_alias(client, "no-such-model", CHAMPION, missing_ok=True) is None
    with pytest.raises(ModelSourceError, match="'no-such-model' has no version with alias 'champion'"):
        version_for_alias(client, "no-such-model", CHAMPION)


def test_a_registry_file_that_differs_from_its_sha256_tag_is_refused(trained_store, client, tmp_path):
    """A copy of the store with one more version: version 3's files and tags, then one byte flipped."""
    champion = client.get_model_version(REGISTERED_MODEL, version(trained_store, "better"))
    database = tmp_path / "store" / "mlflow.db"
    database.parent.mkdir()
    shutil.copyfile(trained_store.database, database)
    uri = f"sqlite:///{database}"
    copy = mlflow_client(uri)
    saved = download_model_version(copy, uri, REGISTERED_MODEL, champion.version, tmp_path / "files")
    source = saved.parent.parent  # the MLflow model folder that holds the saved CoverageModel
    number = copy.create_model_version(REGISTERED_MODEL, source=str(source), run_id=champion.run_id,
                                       tags={MODEL_SHA256_TAG: champion.tags[MODEL_SHA256_TAG]}).version
    registered = f"models:/{REGISTERED_MODEL}/{number}"
    assert load_model(registered, uri).details["integrity"] == "verified against the model_sha256 tag"
    flip_a_byte(saved / MODEL_FILE)
    with pytest.raises(ModelIntegrityError, match=f"version {number}: the model file's sha256 differs"):
        load_model(registered, uri)


def test_a_sqlite_store_that_is_not_there_is_refused_not_created(tmp_path):
    database = tmp_path / "absent" / "mlflow.db"
    with pytest.raises(ModelSourceError, match="no MLflow tracking database"):
        load_model(alias_uri(CHAMPION), f"sqlite:///{database}")
    assert not database.parent.exists()


@pytest.mark.parametrize("source, message", [
    ("no/such/folder", "not a folder, nor an MLflow model URI"),
    ("medspa-coverage@champion", "not a folder, nor an MLflow model URI"),
    (".", "neither a model bundle"),  # a folder with no model in it
])
def test_a_source_that_holds_no_model_is_a_source_error(tmp_path, monkeypatch, source, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelSourceError, match=message):
        load_model(source)


# -- bundles ------------------------------------------------------------------------------------
def test_an_intact_bundle_verifies_and_gives_its_metadata(bundle_copy, trained_store):
    metadata = verify_bundle(bundle_copy)
    assert (metadata["registered_model"], metadata["version"]) == (REGISTERED_MODEL, version(trained_store, "better"))
    assert metadata["run_id"] == trained_store.runs["better"].run_id


TAMPERING = {
    "changed file": (lambda bundle: flip_a_byte(bundle / "model" / MODEL_FILE), "sha256 differs: model/model.skops"),
    "missing file": (lambda bundle: (bundle / "bundle.json").unlink(), "missing: bundle.json"),
    "extra file": (lambda bundle: (bundle / "notes.txt").write_text("hello\n"), "not in the manifest: notes.txt"),
    "no manifest": (lambda bundle: (bundle / MANIFEST_FILE).unlink(), "no SHA256SUMS; not a model bundle"),
}


@pytest.mark.parametrize("change", TAMPERING)
def test_verify_bundle_names_what_was_tampered_with(bundle_copy, change):
    tamper, problem = TAMPERING[change]
    tamper(bundle_copy)
    with pytest.raises(ModelIntegrityError, match=f"bundle {bundle_copy.name} refused") as refused:
        verify_bundle(bundle_copy)
    assert problem in str(refused.value)


def test_a_manifest_written_again_vouches_for_the_change_it_is_no_signature(bundle_copy):
    (bundle_copy / "notes.txt").write_text("hello\n")
    write_manifest(bundle_copy)
    assert verify_bundle(bundle_copy)["version"]


def test_resolve_bundle_takes_a_bundle_or_a_models_folders_champion_link(trained_store, bundle_copy, tmp_path):
    assert resolve_bundle(bundle_copy) == (bundle_copy.resolve(), None)
    champion = (trained_store.models_dir / "champion").resolve()
    assert resolve_bundle(trained_store.models_dir) == (champion, "champion")
    with pytest.raises(ModelSourceError, match="no model bundle at"):
        resolve_bundle(tmp_path / "empty")
