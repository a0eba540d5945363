"""The export stage (training.export): a bundle is written whole or not at all, the `champion` link
is swapped in one rename, the registry's champion is exported from the session's store (which
export only reads), and old bundles are pruned to KEPT_BUNDLES."""
from __future__ import annotations

import os
import stat
import time

import pytest

from common.paths import PROJECT_ROOT
from training.export import KEPT_BUNDLES, export_champion, point_champion_link, write_bundle
from scoring.artifacts import (BUNDLE_METADATA_FILE, CHAMPION_LINK, MANIFEST_FILE, MODEL_DIR,
                                      ModelIntegrityError, bundle_name, file_sha256, verify_bundle)
from scoring.mlflow_store import REGISTERED_MODEL

pytestmark = pytest.mark.slow  # the session's trained store


@pytest.fixture(scope="module")
def saved_model(trained_store):
    """A folder CoverageModel.save() wrote: the one inside the session's exported bundle."""
    return trained_store.models_dir / CHAMPION_LINK / MODEL_DIR


def bundles(models_dir) -> list[str]:
    return sorted(path.name for path in models_dir.iterdir() if path.is_dir() and not path.is_symlink())


# -- writing a bundle ---------------------------------------------------------------------------------

def test_a_bundle_holds_the_model_its_metadata_and_a_manifest_and_no_scratch_is_left(saved_model, tmp_path):
    (tmp_path / ".export-interrupted").mkdir()  # left by an export that was killed
    target = write_bundle(saved_model, {"version": "9"}, tmp_path, "bundle-9")
    assert target == tmp_path / "bundle-9"
    assert sorted(path.name for path in target.iterdir()) == sorted([BUNDLE_METADATA_FILE, MANIFEST_FILE, MODEL_DIR])
    assert verify_bundle(target) == {"version": "9"}
    assert [path.name for path in tmp_path.iterdir()] == ["bundle-9"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o755  # readable by a service running as another user


def test_writing_a_bundle_again_replaces_it_whole(saved_model, tmp_path):
    write_bundle(saved_model, {"version": "9", "export": 1}, tmp_path, "bundle-9")
    (tmp_path / "bundle-9" / "notes.txt").write_text("added by hand\n")
    write_bundle(saved_model, {"version": "9", "export": 2}, tmp_path, "bundle-9")
    assert verify_bundle(tmp_path / "bundle-9") == {"version": "9", "export": 2}
    assert not (tmp_path / "bundle-9" / "notes.txt").exists()
    assert [path.name for path in tmp_path.iterdir()] == ["bundle-9"]


def test_a_failed_write_leaves_the_existing_bundle_as_it_was(saved_model, tmp_path):
    write_bundle(saved_model, {"version": "9"}, tmp_path, "bundle-9")
    with pytest.raises(FileNotFoundError):
        write_bundle(tmp_path / "no-such-model", {"version": "10"}, tmp_path, "bundle-9")
    assert verify_bundle(tmp_path / "bundle-9") == {"version": "9"}
    assert [path.name for path in tmp_path.iterdir()] == ["bundle-9"]


def test_the_champion_link_is_swapped_to_the_named_bundle_and_stays_relative(tmp_path):
    for name in ("bundle-1", "bundle-2"):
        (tmp_path / name).mkdir()
    (tmp_path / ".export-link").symlink_to("bundle-1")  # a staging link an interrupted swap left
    link = point_champion_link(tmp_path, "bundle-1")
    assert point_champion_link(tmp_path, "bundle-2") == link == tmp_path / CHAMPION_LINK
    assert os.readlink(link) == "bundle-2"  # relative: the models folder can move or be mounted elsewhere
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bundle-1", "bundle-2", CHAMPION_LINK]


# -- exporting the registry's champion ------------------------------------------------------------

def test_the_champion_is_exported_with_its_version_run_data_and_overall_metrics(trained_store, tmp_path):
    better = trained_store.runs["better"]
    bundle = export_champion(trained_store.uri, tmp_path).path
    assert bundle == tmp_path / bundle_name("3") and os.readlink(tmp_path / CHAMPION_LINK) == bundle.name
    metadata = verify_bundle(tmp_path / CHAMPION_LINK)
    assert (metadata["registered_model"], metadata["version"], metadata["run_id"], metadata["source_uri"]) == (
        REGISTERED_MODEL, "3", better.run_id, f"models:/{REGISTERED_MODEL}/3")
    assert metadata["data_sha256"] == file_sha256(trained_store.files["better"])
    assert metadata["metrics"]["test_auc"] == pytest.approx(better.metrics["test_auc"])
    assert [key for key in metadata["metrics"] if "__" in key] == []  # no per-slice metrics
    assert metadata["exported_at"] and metadata["trained_at"] and metadata["rules_version"]


def test_exporting_again_keeps_a_sound_bundle_and_rewrites_a_damaged_one(trained_store, tmp_path):
    bundle = export_champion(trained_store.uri, tmp_path).path
    written = (bundle / BUNDLE_METADATA_FILE).stat().st_ino
    assert export_champion(trained_store.uri, tmp_path).path == bundle
    assert (bundle / BUNDLE_METADATA_FILE).stat().st_ino == written  # not written again
    (bundle / MODEL_DIR / "metadata.json").write_text("{}")
    with pytest.raises(ModelIntegrityError):
        verify_bundle(bundle)
    export_champion(trained_store.uri, tmp_path)
    assert verify_bundle(bundle)["version"] == "3"


def test_a_bundle_is_known_by_store_run_and_manifest_never_by_its_version_number(trained_store, client, tmp_path):
    from scoring.artifacts import MODEL_MANIFEST_TAG, manifest_digest
    from training.export import BundleConflictError, default_models_dir

    models, run_id = tmp_path / "models", trained_store.runs["better"].run_id
    first = export_champion(trained_store.uri, models)
    assert first.exported and first.message == f"exported run {run_id} from store {trained_store.uri} to {first.path}"
    metadata = verify_bundle(models / CHAMPION_LINK)
    assert (metadata["tracking_store"], metadata["run_id"], metadata["manifest_sha256"]) == (
        trained_store.uri, run_id, manifest_digest(client.get_model_version(REGISTERED_MODEL, "3").tags[
            MODEL_MANIFEST_TAG]))
    again = export_champion(trained_store.uri, models)
    assert not again.exported and again.message == f"{models} holds run {run_id} from store {trained_store.uri} already"

    other = trained_store.copy_to(tmp_path / "other")  # the same version numbers, in another store
    with pytest.raises(BundleConflictError, match=rf"holds run {run_id} from store {trained_store.uri}, not this "):
        export_champion(other.uri, models)
    assert verify_bundle(models / CHAMPION_LINK)["tracking_store"] == trained_store.uri  # untouched
    forced = export_champion(other.uri, models, force=True)
    assert forced.exported and f"from store {other.uri} to " in forced.message
    assert verify_bundle(models / CHAMPION_LINK)["tracking_store"] == other.uri
    assert default_models_dir(other.uri) == (tmp_path / "other").resolve() / "models"
    assert default_models_dir(f"sqlite:///{PROJECT_ROOT / 'var' / 'mlflow.db'}") == PROJECT_ROOT / "models"


def test_a_registry_without_a_champion_has_nothing_to_export(trained_store, tmp_path):
    with pytest.raises(LookupError, match="no champion to export"):
        export_champion(trained_store.uri, tmp_path, registered_model="no-such-model")
    assert list(tmp_path.iterdir()) == []


def make_old_bundles(models_dir, ages: dict[str, int]) -> None:
    """Empty bundle folders of the given versions, each last changed `age` seconds ago."""
    now = time.time()
    for version, age in ages.items():
        folder = models_dir / bundle_name(version)
        folder.mkdir()
        os.utime(folder, (now - age, now - age))


def test_only_the_newest_bundles_are_kept(trained_store, tmp_path):
    make_old_bundles(tmp_path, {"1": 300, "2": 200})
    export_champion(trained_store.uri, tmp_path)
    assert len(bundles(tmp_path)) == KEPT_BUNDLES
    assert bundles(tmp_path) == [bundle_name("2"), bundle_name("3")]


def test_the_bundle_the_champion_replaced_is_kept_however_old(trained_store, tmp_path):
    make_old_bundles(tmp_path, {"0": 400, "1": 300, "2": 200})
    point_champion_link(tmp_path, bundle_name("0"))
    export_champion(trained_store.uri, tmp_path)
    assert bundles(tmp_path) == [bundle_name("0"), bundle_name("2"), bundle_name("3")]
    assert os.readlink(tmp_path / CHAMPION_LINK) == bundle_name("3")
