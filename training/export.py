"""Export the registry's champion to `models/` as a self-contained bundle, so the service can
run from files where no registry is reachable. The bundle format (layout, manifest, verification)
is scoring.artifacts'.

A bundle is written into a hidden temporary folder inside `models/` and renamed into place, and
the `champion` link is swapped with an atomic rename, so a reader sees the old bundle or the new
one, never half of one.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from features.diagnosis import ICD10CM_RELEASE
from scoring.artifacts import (BUNDLE_METADATA_FILE, CHAMPION_LINK, MODEL_DIR, MODEL_MANIFEST_TAG,
                               ModelIntegrityError, bundle_name, download_model_version, manifest_digest, now_utc,
                               read_saved_metadata, verify_bundle, version_for_alias, write_manifest)
from common.paths import PROJECT_ROOT
from scoring.mlflow_store import CHAMPION, DEFAULT_TRACKING_URI, REGISTERED_MODEL, sqlite_path, store_label, tracking

DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
IDENTITY_FIELDS = ("registered_model", "tracking_store", "run_id", "manifest_sha256")
_TEMP_PREFIX = ".export-"
KEPT_BUNDLES = 2  # the champion's bundle and the one it replaced; older ones are removed


class BundleConflictError(RuntimeError):
    """The models folder holds another store's (or an older, unidentified) bundle; the message says how to proceed."""


@dataclass(frozen=True)
class Export:
    path: Path
    exported: bool  # False: the folder held this very model already
    message: str  # "exported run R from store S to PATH" or "PATH holds run R from store S already"


def default_models_dir(tracking_uri: str) -> Path:
    """The bundle folder that belongs to the store: the project's models/ for the project's store,
    `models/` beside any other sqlite store's database; other stores share the project's folder,
    where export refuses to replace another store's bundle without `force`."""
    database = sqlite_path(tracking_uri)
    if database is None or database.resolve() == sqlite_path(DEFAULT_TRACKING_URI).resolve():
        return DEFAULT_MODELS_DIR
    return database.resolve().parent / "models"


def bundle_identity(metadata: dict) -> tuple:
    """(registered name, tracking store, run id, manifest digest) a bundle's metadata records."""
    return tuple(metadata.get(name) for name in IDENTITY_FIELDS)


def describe_identity(identity: tuple) -> str:
    name, store, run_id, _ = identity
    return f"run {run_id} from store {store}" if store else f"run {run_id} (of {name}, from an unrecorded store)"


def held_identity(models_dir: Path) -> tuple | None:
    """The identity of the bundle `models_dir/champion` points to; None when there is none."""
    try:
        return bundle_identity(json.loads((models_dir / CHAMPION_LINK / BUNDLE_METADATA_FILE).read_text()))
    except (OSError, ValueError):
        return None


def _of_this_store(client, held: tuple, identity: tuple) -> bool:
    """Was the held bundle exported from this store? A bundle from before stores were recorded is
    this store's when the store knows its run."""
    from mlflow.exceptions import MlflowException

    if held[1] is not None:
        return held[1] == identity[1]
    try:
        return held[2] is not None and client.get_run(held[2]) is not None
    except MlflowException:
        return False


def write_bundle(model_dir: Path, metadata: dict, models_dir: Path, name: str) -> Path:
    """Copy a saved model and its metadata into `models_dir/name` atomically; return that path."""
    models_dir.mkdir(parents=True, exist_ok=True)
    for stale in models_dir.glob(f"{_TEMP_PREFIX}*"):  # left by an interrupted export
        shutil.rmtree(stale, ignore_errors=True)
    target = models_dir / name
    scratch = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=models_dir))
    scratch.chmod(0o755)  # mkdtemp makes it owner-only; the service may run as another user
    try:
        shutil.copytree(model_dir, scratch / MODEL_DIR)
        (scratch / BUNDLE_METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str))
        write_manifest(scratch)
        if target.exists():  # a re-export of the same version: move the old one aside first
            retired = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=models_dir))
            os.replace(target, retired / name)
        os.replace(scratch, target)
    finally:
        for leftover in models_dir.glob(f"{_TEMP_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
    return target


def point_champion_link(models_dir: Path, bundle_name: str) -> Path:
    """Swap `models_dir/champion` to `bundle_name` with one atomic rename."""
    link = models_dir / CHAMPION_LINK
    staging = models_dir / f"{_TEMP_PREFIX}link"
    if staging.is_symlink() or staging.exists():
        staging.unlink()
    staging.symlink_to(bundle_name, target_is_directory=True)
    os.replace(staging, link)
    return link


def _prune(models_dir: Path, keep: set[str]) -> None:
    bundles = sorted((path for path in models_dir.glob(f"{REGISTERED_MODEL}-v*") if path.is_dir()),
                     key=lambda path: path.stat().st_mtime, reverse=True)
    for path in bundles[KEPT_BUNDLES:]:
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def export_champion(tracking_uri: str, models_dir: str | Path | None = None,
                    registered_model: str = REGISTERED_MODEL, *, force: bool = False) -> Export:
    """Write the registry's current champion as a bundle and point `models_dir/champion` at it,
    unless that link holds this very model (same name, store, run and manifest) and verifies.
    Raises BundleConflictError when the link holds another store's model, unless `force`."""
    models_dir = Path(models_dir) if models_dir else default_models_dir(tracking_uri)
    with tracking(tracking_uri) as client:
        version = version_for_alias(client, registered_model, CHAMPION, missing_ok=True)
        if version is None:
            raise LookupError(f"registered model {registered_model} has no {CHAMPION} to export")
        number = str(version.version)
        identity = (registered_model, store_label(tracking_uri), version.run_id,
                    manifest_digest((version.tags or {}).get(MODEL_MANIFEST_TAG)))
        held = held_identity(models_dir)
        if held == identity:
            try:
                verify_bundle(models_dir / CHAMPION_LINK)
                return Export((models_dir / CHAMPION_LINK).resolve(), False,
                              f"{models_dir} holds {describe_identity(identity)} already")
            except ModelIntegrityError:
                pass  # rewrite it below
        elif held is not None and not _of_this_store(client, held, identity) and not force:
            raise BundleConflictError(
                f"{models_dir} holds {describe_identity(held)}, not this store's ({identity[1]}): export it "
                "with --models-dir to a folder of this store's, or --force to replace it")
        name = bundle_name(number, registered_model)
        run = client.get_run(version.run_id)
        with tempfile.TemporaryDirectory(prefix="champion-") as scratch:
            # verified against the version's manifest: a bundle's own manifest must vouch only for that
            model_dir = download_model_version(client, tracking_uri, registered_model, number, Path(scratch))
            model_metadata = read_saved_metadata(model_dir)
            metadata = {
                **dict(zip(IDENTITY_FIELDS, identity)),
                "version": number,
                "source_uri": f"models:/{registered_model}/{number}",
                "rules_version": model_metadata.get("rules_version"),
                "icd10cm_release": run.data.tags.get("icd10cm_release", ICD10CM_RELEASE),
                "data_sha256": run.data.tags.get("data_sha256"),
                "feature_names": model_metadata.get("feature_names"),
                "trained_at": model_metadata.get("trained_at"),
                "exported_at": now_utc(),
                "metrics": {key: value for key, value in sorted(run.data.metrics.items()) if "__" not in key},
            }
            target = write_bundle(model_dir, metadata, models_dir, name)
    previous = (models_dir / CHAMPION_LINK).resolve().name if (models_dir / CHAMPION_LINK).is_symlink() else None
    point_champion_link(models_dir, name)
    _prune(models_dir, keep={name, previous} - {None})
    return Export(target, True, f"exported {describe_identity(identity)} to {target}")
