"""Export the registry's champion to `models/` as a self-contained bundle, so the service can
run from files where no registry is reachable.

Layout (one folder per registered version, and a `champion` symlink to the current one):

    models/champion -> medspa-coverage-v7
    models/medspa-coverage-v7/
        model/            the directory CoverageModel.save() wrote (model.skops + metadata.json)
        bundle.json       registered name, version, run, metrics, rules version, ICD-10-CM
                          release, feature list, trained_at, exported_at
        SHA256SUMS        sha256 of every other file (`sha256sum -c SHA256SUMS` format)

A bundle is written into a hidden temporary folder inside `models/` and renamed into place, and
the `champion` link is swapped with an atomic rename, so a reader sees the old bundle or the new
one, never half of one. `verify_bundle` refuses a bundle whose files differ from the manifest
(changed, missing or extra); the manifest guards against corruption and accidental edits, it is
not a signature.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from training.registry import CHAMPION, PROJECT_ROOT, REGISTERED_MODEL, tracking, version_by_alias

DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
CHAMPION_LINK = "champion"
MODEL_DIR = "model"
METADATA_FILE = "bundle.json"
MANIFEST_FILE = "SHA256SUMS"
_TEMP_PREFIX = ".export-"
KEPT_BUNDLES = 2  # the champion's bundle and the one it replaced; older ones are removed


class BundleIntegrityError(ValueError):
    """The bundle's files do not match its manifest."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def write_manifest(bundle: Path) -> Path:
    lines = [f"{_sha256(bundle / name)}  {name}" for name in _files(bundle) if name != MANIFEST_FILE]
    manifest = bundle / MANIFEST_FILE
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def verify_bundle(path: str | Path) -> dict:
    """Check every file against SHA256SUMS; return the bundle metadata. Raises BundleIntegrityError."""
    bundle = Path(path).resolve()
    manifest = bundle / MANIFEST_FILE
    if not manifest.is_file():
        raise BundleIntegrityError(f"{bundle}: no {MANIFEST_FILE}; not a model bundle")
    expected = {}
    for line in manifest.read_text().splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            expected[name] = digest
    present = set(_files(bundle)) - {MANIFEST_FILE}
    problems = [f"missing: {name}" for name in sorted(set(expected) - present)]
    problems += [f"not in the manifest: {name}" for name in sorted(present - set(expected))]
    problems += [f"sha256 differs: {name}" for name in sorted(present & set(expected))
                 if _sha256(bundle / name) != expected[name]]
    if problems:
        raise BundleIntegrityError(f"{bundle}: refused, {'; '.join(problems)}")
    return json.loads((bundle / METADATA_FILE).read_text())


def load_bundle(path: str | Path):
    """Verify, then load the bundle's CoverageModel."""
    from training.coverage_model import CoverageModel

    verify_bundle(path)
    return CoverageModel.load(Path(path).resolve() / MODEL_DIR)


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
        (scratch / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str))
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


def bundle_name(version: str, registered_model: str = REGISTERED_MODEL) -> str:
    return f"{registered_model}-v{version}"


def export_champion(tracking_uri: str, models_dir: str | Path = DEFAULT_MODELS_DIR,
                    registered_model: str = REGISTERED_MODEL) -> Path:
    """Write the registry's current champion as a bundle and point `models_dir/champion` at it."""
    import mlflow
    from mlflow.models import Model

    from features.diagnosis import ICD10CM_RELEASE
    from training.pyfunc_model import ARTIFACT_KEY

    models_dir = Path(models_dir)
    with tracking(tracking_uri) as client:
        version = version_by_alias(client, CHAMPION, registered_model)
        if version is None:
            raise LookupError(f"registered model {registered_model} has no {CHAMPION} to export")
        number = str(version.version)
        name = bundle_name(number, registered_model)
        existing = models_dir / name
        if existing.is_dir():
            try:
                verify_bundle(existing)
                point_champion_link(models_dir, name)
                return existing
            except BundleIntegrityError:
                pass  # rewrite it below
        run = client.get_run(version.run_id)
        with tempfile.TemporaryDirectory(prefix="champion-") as scratch:
            local = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{registered_model}/{number}", dst_path=scratch))
            pyfunc_conf = Model.load(local).flavors["python_function"]
            model_dir = local / pyfunc_conf["artifacts"][ARTIFACT_KEY]["path"]
            model_metadata = json.loads((model_dir / "metadata.json").read_text())
            metadata = {
                "registered_model": registered_model,
                "version": number,
                "run_id": version.run_id,
                "source_uri": f"models:/{registered_model}/{number}",
                "rules_version": model_metadata.get("rules_version"),
                "icd10cm_release": run.data.tags.get("icd10cm_release", ICD10CM_RELEASE),
                "data_sha256": run.data.tags.get("data_sha256"),
                "feature_names": model_metadata.get("feature_names"),
                "trained_at": model_metadata.get("trained_at"),
                "exported_at": _now(),
                "metrics": {key: value for key, value in sorted(run.data.metrics.items()) if "__" not in key},
            }
            target = write_bundle(model_dir, metadata, models_dir, name)
    previous = (models_dir / CHAMPION_LINK).resolve().name if (models_dir / CHAMPION_LINK).is_symlink() else None
    point_champion_link(models_dir, name)
    _prune(models_dir, keep={name, previous} - {None})
    return target


def _now() -> str:
    import pandas as pd

    return pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
