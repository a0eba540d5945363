"""`load_model(source)`, the one loader, on every kind of source in the session's store (tests/stores.py:
`better` is version 3 and champion, `worse` version 2), and what it refuses: a missing alias or
store, a file the registry or the bundle manifest does not vouch for (tests/model_tampering.py), a
source that is no model; and that nothing stored with a model is ever run."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.model_tampering import (MARKER, SAVED_MODEL, copy_store, flip_a_byte, flip_a_byte_of, manifest_files,
                                   plant_code, register_tampered_copy, swap_denial_labels)
from tests.stores import version
from scoring.artifacts import (MANIFEST_FILE, MODEL_MANIFEST_TAG, MODEL_SHA256_TAG, RUN_TAG_LIMIT, ModelIntegrityError,
                                      ModelSourceError, download_verified_version, file_sha256, load_model,
                                      resolve_bundle, run_manifest, run_manifest_tags, verify_bundle,
                                      version_for_alias, write_manifest)
from scoring.coverage_model import MODEL_FILE
from scoring.mlflow_store import CHAMPION, REGISTERED_MODEL, alias_uri, mlflow_client


def registry_sha256(client, number: str) -> str:
    return client.get_model_version(REGISTERED_MODEL, number).tags[MODEL_SHA256_TAG]


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
    assert details["integrity"] == "verified against the model_manifest tag"
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
    assert loaded.details["integrity"] == "verified against the run's model_manifest tag"
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
    with pytest.raises(ModelSourceError, match="no registered model 'no-such-model' in "):
        version_for_alias(client, "no-such-model", CHAMPION)
    with pytest.raises(ModelSourceError, match=r"\(aliases: .*champion -> "):
        load_model(alias_uri("gold"), trained_store.uri)


def test_a_missing_version_number_names_the_versions_the_store_holds(trained_store):
    with pytest.raises(ModelSourceError, match=rf"^no version 99 of {REGISTERED_MODEL} in .*\(versions: 1-"):
        load_model(f"models:/{REGISTERED_MODEL}/99", trained_store.uri)


def test_the_manifest_tag_covers_every_file_of_the_logged_model(trained_store, client):
    better = trained_store.runs["better"]
    files = manifest_files(trained_store.uri, REGISTERED_MODEL, better.model_version)
    assert {"MLmodel", "python_model.pkl", f"{SAVED_MODEL}/{MODEL_FILE}", f"{SAVED_MODEL}/metadata.json"} <= set(files)
    run_tags = client.get_run(better.run_id).data.tags  # the same record for runs:/ URIs, in parts
    assert run_manifest(run_tags) == client.get_model_version(REGISTERED_MODEL, better.model_version).tags[
        MODEL_MANIFEST_TAG]
    assert all(len(value) <= RUN_TAG_LIMIT for key, value in run_tags.items() if key.startswith(MODEL_MANIFEST_TAG))


def test_a_manifest_longer_than_a_run_tag_is_kept_in_parts_of_whole_lines():
    manifest = "".join(f"{index:064x}  code/scoring/module_{index}.py\n" for index in range(300))
    tags = run_manifest_tags(manifest)
    assert len(tags) > 1 and all(len(part) <= RUN_TAG_LIMIT and part.endswith("\n") for part in tags.values())
    assert run_manifest(tags) == manifest
    assert run_manifest_tags("short\n") == {MODEL_MANIFEST_TAG: "short\n"} and run_manifest({}) is None


@pytest.fixture
def store_copy(trained_store, tmp_path) -> str:
    return copy_store(trained_store.database, tmp_path / "store")


# Of the code the model carries (`code/`, scoring.model_environment: some seventy files, in the
# manifest like every other file), one of each kind: the wrapper, the model, the checks, the rules.
CARRIED_CODE = ("code/scoring/pyfunc_model.py", "code/scoring/coverage_model.py",
                "code/claims_io/requests.py", "code/features/rules.py", "code/features/data/exclusion_rules.csv")


def files_to_tamper(files: list[str]) -> list[str]:
    return [name for name in files if not name.startswith("code/")] + list(CARRIED_CODE)


def test_a_flipped_byte_in_any_file_of_a_registered_model_is_refused_naming_the_file(trained_store, store_copy,
                                                                                     tmp_path):
    champion = version(trained_store, "better")
    files = manifest_files(store_copy, REGISTERED_MODEL, champion)
    assert set(CARRIED_CODE) <= set(files)
    for number, name in enumerate(files_to_tamper(files)):
        tampered = register_tampered_copy(store_copy, REGISTERED_MODEL, champion, tmp_path / f"files-{number}",
                                          flip_a_byte_of(name))
        with pytest.raises(ModelIntegrityError, match=f"version {tampered} refused") as refused:
            load_model(f"models:/{REGISTERED_MODEL}/{tampered}", store_copy)
        assert f"sha256 differs: {name}" in str(refused.value)
    intact = register_tampered_copy(store_copy, REGISTERED_MODEL, champion, tmp_path / "intact", lambda model: None)
    assert load_model(f"models:/{REGISTERED_MODEL}/{intact}", store_copy).details["integrity"].startswith("verified")


def test_swapped_denial_reason_labels_in_metadata_json_are_refused(trained_store, store_copy, tmp_path):
    tampered = register_tampered_copy(store_copy, REGISTERED_MODEL, version(trained_store, "better"), tmp_path,
                                      swap_denial_labels)
    with pytest.raises(ModelIntegrityError, match=f"sha256 differs: {SAVED_MODEL}/metadata.json"):
        load_model(f"models:/{REGISTERED_MODEL}/{tampered}", store_copy)


def test_planted_code_is_refused_and_never_run(trained_store, store_copy, tmp_path):
    marker = tmp_path / MARKER
    tampered = register_tampered_copy(store_copy, REGISTERED_MODEL, version(trained_store, "better"), tmp_path,
                                      plant_code(marker))
    with pytest.raises(ModelIntegrityError) as refused:
        load_model(f"models:/{REGISTERED_MODEL}/{tampered}", store_copy)
    assert "sha256 differs: python_model.pkl" in str(refused.value)
    assert "sha256 differs: code/scoring/pyfunc_model.py" in str(refused.value)
    assert not marker.exists()


def test_planted_code_in_a_local_mlflow_folder_is_never_run(trained_store, client, tmp_path):
    """A local folder has no record to check it against; it loads, and still nothing in it runs."""
    folder = mlflow_model_folder(trained_store, client, tmp_path)
    marker = tmp_path / MARKER
    plant_code(marker)(folder)
    assert load_model(folder).details["integrity"] == "recorded"
    assert not marker.exists()


def test_mlflows_own_note_beside_a_stored_model_is_not_a_change(trained_store, store_copy, tmp_path):
    """`mlflow.pyfunc.load_model("models:/...")` on a local store writes registered_model_meta into the
    store's folder; our loaders drop it from their copy (nothing of ours reads it)."""
    def note(model: Path) -> None:
        (model / "registered_model_meta").write_text("model_name: medspa-coverage\nmodel_version: '3'\n")

    noted = register_tampered_copy(store_copy, REGISTERED_MODEL, version(trained_store, "better"), tmp_path, note)
    assert load_model(f"models:/{REGISTERED_MODEL}/{noted}", store_copy).details["integrity"].startswith("verified")


def test_caches_written_beside_the_carried_code_are_dropped_not_a_change(trained_store, store_copy, tmp_path):
    """MLflow's consumers (`mlflow models serve`, spark_udf) import the model's code/ in place on a
    local store, and numba (`cache=True`) and Python write their caches beside it: our copy drops
    every __pycache__ folder, so the model still verifies and no cache is handed on."""
    def caches(model: Path) -> None:
        folder = model / "code" / "scoring" / "__pycache__"
        folder.mkdir(parents=True, exist_ok=True)  # an MLflow consumer may have written some already
        (folder / "tree_scoring._walk-21.py311.nbi").write_bytes(b"numba index")
        (folder / "coverage_model.cpython-311.pyc").write_bytes(b"planted bytecode")

    cached = register_tampered_copy(store_copy, REGISTERED_MODEL, version(trained_store, "better"), tmp_path, caches)
    client = mlflow_client(store_copy)
    local = download_verified_version(client, store_copy, REGISTERED_MODEL, cached, tmp_path / "copy")
    assert not list(local.rglob("__pycache__"))
    assert load_model(f"models:/{REGISTERED_MODEL}/{cached}", store_copy).details["integrity"].startswith("verified")


def test_a_version_without_a_manifest_tag_is_refused(trained_store, store_copy):
    champion = version(trained_store, "better")
    mlflow_client(store_copy).delete_model_version_tag(REGISTERED_MODEL, champion, MODEL_MANIFEST_TAG)
    with pytest.raises(ModelSourceError, match=f"version {champion} has no model_manifest tag"):
        load_model(alias_uri(CHAMPION), store_copy)


def test_a_run_uri_is_checked_against_the_runs_manifest_tag(trained_store, store_copy):
    worse = trained_store.runs["worse"]
    copy = mlflow_client(store_copy)
    manifest = copy.get_run(worse.run_id).data.tags[MODEL_MANIFEST_TAG]
    copy.set_tag(worse.run_id, MODEL_MANIFEST_TAG, manifest.replace(manifest[:8], "00000000", 1))
    with pytest.raises(ModelIntegrityError, match="its files differ from its model_manifest tag"):
        load_model(f"runs:/{worse.run_id}/model", store_copy)


def test_a_damaged_model_file_is_one_source_error_not_a_traceback(champion_model, tmp_path):
    saved = champion_model.save(tmp_path / "saved")
    (saved / MODEL_FILE).write_bytes((saved / MODEL_FILE).read_bytes()[:1000])
    with pytest.raises(ModelSourceError, match=r"cannot be read \(BadZipFile\)"):
        load_model(saved)
    (saved / MODEL_FILE).unlink()
    champion_model.save(saved)
    (saved / "metadata.json").write_text("{not json")
    with pytest.raises(ModelSourceError, match=r"cannot be read \(JSONDecodeError\)"):
        load_model(saved)


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
