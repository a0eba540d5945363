"""Where the model comes from: the registry alias (every file checked against the version's
manifest tag; damaged, substituted or code-planted versions refused, tests/model_tampering.py), the exported bundle (verified, a tampered one refused), and the hot swap when the alias or
the bundle link moves: in the background, atomically, and never at the cost of the served model;
without a tracking store the default loader says what is missing."""
from __future__ import annotations

import shutil
import time

import pytest

from service.model_loading import ModelIntegrityError, bundle_loader, registry_loader
from tests.model_tampering import (MARKER, damage_model_file, flip_a_byte_of, plant_code, register_tampered_copy,
                                   swap_denial_labels)
from tests.service.service_testing import MODEL_NAME, body_of, example_claim
from scoring.artifacts import MODEL_MANIFEST_TAG


def _version(client, auth) -> str:
    return body_of(client.get("/v1/model", headers=auth))["version"]


def test_the_registry_loader_serves_the_alias_verified_against_the_manifest_training_tagged(make_served_app,
                                                                                          model_store):
    from scoring.coverage_model import MODEL_FILE
    from scoring.artifacts import file_sha256

    served = make_served_app().extensions["coverage_model"].model
    info = served.info()
    assert (info["version"], info["alias"]) == (model_store.champion_version, "champion")
    assert info["integrity"] == "verified against the model_manifest tag"  # train tags every version
    bundle_file = model_store.models_dir / "champion" / "model" / MODEL_FILE  # the same file, exported
    assert info["model_sha256"] == file_sha256(bundle_file)


def test_the_registry_loader_checks_the_versions_manifest_tag(make_served_app, model_store, tmp_path, auth):
    store = model_store.copy_to(tmp_path / "store")
    registry = store.client()
    app = make_served_app(TRACKING_URI=store.uri)
    assert app.extensions["coverage_model"].info()["integrity"].startswith("verified")

    manifest = registry.get_model_version(MODEL_NAME, store.champion_version).tags[MODEL_MANIFEST_TAG]
    registry.set_model_version_tag(MODEL_NAME, store.champion_version, MODEL_MANIFEST_TAG,
                                   manifest.replace(manifest[:8], "00000000", 1))
    with pytest.raises(ModelIntegrityError, match="sha256 differs: MLmodel"):
        registry_loader(app.config)
    refused = make_served_app(TRACKING_URI=store.uri)
    assert not refused.extensions["coverage_model"].ready
    assert "ModelIntegrityError" in refused.extensions["coverage_model"].info()["last_load_error"]


@pytest.mark.parametrize("tamper, problem", [
    (flip_a_byte_of("artifacts/coverage_model/model.skops"), "sha256 differs: artifacts/coverage_model/model.skops"),
    (damage_model_file, "sha256 differs: artifacts/coverage_model/model.skops"),
    (swap_denial_labels, "sha256 differs: artifacts/coverage_model/metadata.json"),
    ("plant code", "sha256 differs: python_model.pkl"),
], ids=["flipped byte", "damaged file", "swapped metadata", "planted code"])
def test_a_substituted_champion_is_never_served(make_served_app, model_store, tmp_path, auth, log_lines, tamper,
                                                 problem):
    marker = tmp_path / MARKER
    store = model_store.copy_to(tmp_path / "store")
    tampered = register_tampered_copy(store.uri, MODEL_NAME, store.champion_version, tmp_path / "files",
                                      plant_code(marker) if tamper == "plant code" else tamper)
    store.move_champion(tampered)
    app = make_served_app(TRACKING_URI=store.uri)
    client = app.test_client()
    assert client.get("/healthz/ready").status_code == 503
    assert client.post("/v1/predict", json=example_claim(), headers=auth).status_code == 503
    assert problem in app.extensions["coverage_model"].info()["last_load_error"]
    assert [line for line in log_lines() if "model load failed" in line and problem in line]
    assert not marker.exists()


@pytest.mark.parametrize("alias, message", [("no-such-alias", "no version with alias"), ("champion", None)])
def test_a_missing_alias_is_a_clear_load_error(make_served_app, alias, message):
    extension = make_served_app(MODEL_ALIAS=alias).extensions["coverage_model"]
    assert extension.ready is (message is None)
    if message:
        assert message in extension.info()["last_load_error"]


def test_the_bundle_source_serves_the_verified_champion_bundle(make_app, model_store, auth):
    app = make_app(MODEL_SOURCE="bundle", MODEL_BUNDLE_PATH=str(model_store.models_dir))
    client = app.test_client()
    assert client.get("/healthz/ready").status_code == 200
    info = body_of(client.get("/v1/model", headers=auth))
    assert (info["source"], info["version"], info["alias"]) == ("bundle", model_store.champion_version, "champion")
    assert info["integrity"] == "verified against SHA256SUMS" and info["metrics"]["test_auc"] > 0.5
    answer = body_of(client.post("/v1/predict", json=example_claim(), headers=auth))
    assert answer["model"]["version"] == model_store.champion_version


def _flip_a_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("tamper, problem", [
    (lambda bundle: _flip_a_byte(bundle / "model" / "model.skops"), "sha256 differs: model/model.skops"),
    (lambda bundle: (bundle / "model" / "metadata.json").unlink(), "missing: model/metadata.json"),
    (lambda bundle: (bundle / "model" / "extra.py").write_text("print('hi')"), "not in the manifest: model/extra.py"),
], ids=["changed file", "missing file", "extra file"])
def test_a_tampered_bundle_is_refused(make_app, model_store, tmp_path, tamper, problem):
    bundle = tmp_path / "bundle"
    shutil.copytree(model_store.models_dir / "champion", bundle)
    config = {"MODEL_SOURCE": "bundle", "MODEL_BUNDLE_PATH": str(bundle)}
    assert make_app(**config).extensions["coverage_model"].ready  # intact: served
    tamper(bundle)
    with pytest.raises(ModelIntegrityError, match="refused") as refused:
        bundle_loader({**config, "LIKELY_APPROVED_THRESHOLD": 0.7, "LIKELY_DENIED_THRESHOLD": 0.3})
    assert problem in str(refused.value)
    extension = make_app(**config).extensions["coverage_model"]
    assert not extension.ready and problem in extension.info()["last_load_error"]


def test_moving_the_alias_swaps_in_the_new_version_at_the_next_poll(make_served_app, model_store, tmp_path, auth):
    store = model_store.copy_to(tmp_path / "store")
    app = make_served_app(TRACKING_URI=store.uri)
    client, extension = app.test_client(), app.extensions["coverage_model"]
    old = extension.model
    assert extension.poll_once() is False  # nothing moved
    store.move_champion(store.other_version)
    assert _version(client, auth) == store.champion_version  # until the poll
    assert extension.poll_once() is True
    assert _version(client, auth) == store.other_version and extension.model is not old
    answer = body_of(client.post("/v1/predict", json=example_claim(), headers=auth))
    assert answer["model"] == {"name": MODEL_NAME, "version": store.other_version, "alias": "champion"}
    # a request that still holds the old object finishes with it
    assert old.answer([_canonical()])[0]["model"]["version"] == store.champion_version


def _canonical() -> dict:
    from service.claims import normalise_request_claim

    return normalise_request_claim(example_claim())


def test_a_failing_new_version_keeps_the_old_one_serving_and_says_so(make_served_app, model_store, tmp_path, auth,
                                                                      log_lines):
    store = model_store.copy_to(tmp_path / "store")
    registry = store.client()
    app = make_served_app(TRACKING_URI=store.uri)
    client, extension = app.test_client(), app.extensions["coverage_model"]
    registry.set_model_version_tag(MODEL_NAME, store.other_version, MODEL_MANIFEST_TAG, "0" * 64 + "  MLmodel\n")
    store.move_champion(store.other_version)
    assert extension.poll_once() is False
    info = body_of(client.get("/v1/model", headers=auth))
    assert info["version"] == store.champion_version and "ModelIntegrityError" in info["last_load_error"]
    assert client.post("/v1/predict", json=example_claim(), headers=auth).status_code == 200
    assert any('"model load failed; the old model keeps serving"' in line and "ModelIntegrityError" in line
               for line in log_lines())

    store.move_champion(store.champion_version)  # rolled back: the failure is history
    assert extension.poll_once() is False
    assert "last_load_error" not in body_of(client.get("/v1/model", headers=auth))


def test_a_registry_that_cannot_be_reached_keeps_the_model_and_says_so(make_served_app, model_store, tmp_path, auth):
    store = model_store.copy_to(tmp_path / "store")
    app = make_served_app(TRACKING_URI=store.uri)
    store.client().delete_registered_model_alias(MODEL_NAME, "champion")
    assert app.extensions["coverage_model"].poll_once() is False
    info = body_of(app.test_client().get("/v1/model", headers=auth))
    assert info["version"] == store.champion_version and "no version with alias" in info["last_poll_error"]


def test_the_poller_thread_swaps_the_model_and_stops_cleanly(make_served_app, model_store, tmp_path, auth):
    from service.background import EXTENSION, stop_jobs

    store = model_store.copy_to(tmp_path / "store")
    app = make_served_app(TRACKING_URI=store.uri, MODEL_POLL_SECONDS=1)
    [poller] = [job for job in app.extensions[EXTENSION] if job.name != "file-jobs"]  # the file runner always runs
    assert poller.alive and poller.name == "model-poller"
    store.move_champion(store.other_version)
    client, deadline = app.test_client(), time.monotonic() + 15
    while _version(client, auth) != store.other_version:
        assert client.post("/v1/predict", json=example_claim(), headers=auth).status_code == 200
        assert time.monotonic() < deadline, "the poller did not swap the model in"
        time.sleep(0.05)
    started = time.monotonic()
    stop_jobs(app)
    assert not poller.alive and time.monotonic() - started < 5


def test_no_poller_without_a_poll_interval(served_app):
    from service.background import EXTENSION

    assert [job.name for job in served_app.extensions.get(EXTENSION, [])] == ["file-jobs"]  # no poller


def test_the_bundle_source_follows_the_champion_link(make_app, model_store, tmp_path, auth):
    from training.export import point_champion_link

    models = tmp_path / "models"
    current = model_store.models_dir / "champion"
    shutil.copytree(current.resolve(), models / current.resolve().name)
    shutil.copytree(current.resolve(), models / "medspa-coverage-v99")
    point_champion_link(models, current.resolve().name)
    app = make_app(MODEL_SOURCE="bundle", MODEL_BUNDLE_PATH=str(models))
    extension = app.extensions["coverage_model"]
    assert extension.poll_once() is False
    point_champion_link(models, "medspa-coverage-v99")
    assert extension.poll_once() is True
    assert extension.info()["bundle"] == "medspa-coverage-v99"


def test_without_a_tracking_store_the_default_loader_says_what_is_missing(app, tmp_path):
    info = app.extensions["coverage_model"].info()
    assert info["ready"] is False and "no MLflow tracking database" in info["last_load_error"]
    assert not (tmp_path / "mlflow.db").exists()  # looking for a model does not create a store
