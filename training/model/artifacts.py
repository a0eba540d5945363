"""The one owner of model storage: where a served model's files live, how they are checked, and
`load_model(source)`, the loader every caller uses (the service, `predict`, the promotion gate,
the review notebooks, the export).

Sources `load_model` takes:
- a registry URI, `models:/medspa-coverage@champion` (the default) or `models:/medspa-coverage/3`:
  the version's artifacts are downloaded to a private temporary folder and the model file's sha256
  is checked against the version's `model_sha256` tag (recorded either way);
- another MLflow artifact URI (`runs:/<run id>/model`) or a local MLflow model folder (with an
  `MLmodel` file);
- an exported bundle folder (see below), or a models folder whose `champion` link names one:
  copied to a private folder and verified against its SHA256SUMS there, so what was verified is
  what is loaded;
- a folder written by `CoverageModel.save()`.

Every path ends in `CoverageModel.load`, which reads the skops file with its type allow-list.
Nothing here goes through `mlflow.pyfunc.load_model`, which would import the Python code stored
with the artifact.

Bundle layout (one folder per registered version, and a `champion` link to the current one):

    models/champion -> medspa-coverage-v7
    models/medspa-coverage-v7/
        model/            the directory CoverageModel.save() wrote (model.skops + metadata.json)
        bundle.json       registered name, version, run, metrics, rules version, ICD-10-CM
                          release, feature list, trained_at, exported_at
        SHA256SUMS        sha256 of every other file (`sha256sum -c SHA256SUMS` format)

The manifest guards against corruption and accidental edits; it is not a signature.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from training.model.coverage_model import METADATA_FILE as SAVED_METADATA_FILE, MODEL_FILE, CoverageModel
from training.model.mlflow_store import (CHAMPION, REGISTERED_MODEL, TrackingStoreError, alias_uri, mlflow_client,
                                         quiet_artifact_downloads, resolve_tracking_uri, tracking)

ARTIFACT_KEY = "coverage_model"  # the logged pyfunc's artifact that holds the saved CoverageModel
MODEL_SHA256_TAG = "model_sha256"  # model-version tag: the expected sha256 of model.skops
DEFAULT_MODEL_URI = alias_uri(CHAMPION)
CHAMPION_LINK = "champion"
MODEL_DIR = "model"
BUNDLE_METADATA_FILE = "bundle.json"
MANIFEST_FILE = "SHA256SUMS"


class ModelSourceError(RuntimeError):
    """The source holds no loadable model; the message says what is missing."""


class ModelIntegrityError(ModelSourceError):
    """The model's files are not the ones the registry or the bundle manifest vouches for."""


@dataclass
class LoadedModel:
    """A CoverageModel and where it came from: registered name, version, the alias it was reached
    by, and details for `/v1/model` (run, metrics, sha256, how it was verified, when loaded)."""

    model: CoverageModel
    name: str
    version: str
    alias: str | None
    details: dict = field(default_factory=dict)


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- bundles ------------------------------------------------------------------------------------
def _files(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def write_manifest(bundle: Path) -> Path:
    lines = [f"{file_sha256(bundle / name)}  {name}" for name in _files(bundle) if name != MANIFEST_FILE]
    manifest = bundle / MANIFEST_FILE
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def verify_bundle(path: str | Path) -> dict:
    """Check every file against SHA256SUMS; return the bundle metadata. Raises ModelIntegrityError."""
    bundle = Path(path).resolve()
    manifest = bundle / MANIFEST_FILE
    if not manifest.is_file():
        raise ModelIntegrityError(f"bundle {bundle.name} refused: no {MANIFEST_FILE}; not a model bundle")
    expected = {}
    for line in manifest.read_text().splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            expected[name] = digest
    present = set(_files(bundle)) - {MANIFEST_FILE}
    problems = [f"missing: {name}" for name in sorted(set(expected) - present)]
    problems += [f"not in the manifest: {name}" for name in sorted(present - set(expected))]
    problems += [f"sha256 differs: {name}" for name in sorted(present & set(expected))
                 if file_sha256(bundle / name) != expected[name]]
    if problems:
        raise ModelIntegrityError(f"bundle {bundle.name} refused: {'; '.join(problems)}")
    return json.loads((bundle / BUNDLE_METADATA_FILE).read_text())


def bundle_name(version: str, registered_model: str = REGISTERED_MODEL) -> str:
    return f"{registered_model}-v{version}"


def resolve_bundle(path: str | Path) -> tuple[Path, str | None]:
    """(the bundle folder, the alias it was reached by): `path` itself when it is a bundle, else
    the bundle its `champion` link names, resolved now so a later swap of the link cannot mix two."""
    path = Path(path)
    if (path / MANIFEST_FILE).is_file():
        return path.resolve(), None
    link = path / CHAMPION_LINK
    if link.exists():
        return link.resolve(), CHAMPION_LINK
    raise ModelSourceError(f"no model bundle at {path}: neither a bundle (with {MANIFEST_FILE}) nor a folder with a "
                           f"{CHAMPION_LINK!r} link (`medspa-coverage train` exports one)")


# -- the registry -------------------------------------------------------------------------------
def version_for_alias(client, name: str, alias: str, *, missing_ok: bool = False):
    """The model version `alias` points to. A missing model or alias raises ModelSourceError, or
    gives None with `missing_ok`."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if missing_ok:
            return None
        raise ModelSourceError(f"registered model {name!r} has no version with alias {alias!r}") from error


def saved_model_folder(mlflow_model: Path) -> Path:
    """The CoverageModel folder inside a downloaded MLflow model (its pyfunc's artifact)."""
    from mlflow.models import Model

    artifacts = Model.load(str(mlflow_model)).flavors.get("python_function", {}).get("artifacts", {})
    if ARTIFACT_KEY not in artifacts:
        raise ModelSourceError(f"{mlflow_model.name} is not a medspa-coverage model (no {ARTIFACT_KEY} artifact)")
    return mlflow_model / artifacts[ARTIFACT_KEY]["path"]


def download_model_version(client, tracking_uri: str, name: str, version: str, into: Path) -> Path:
    """Download a model version's artifacts into `into`; return the CoverageModel folder inside."""
    import mlflow

    download_uri = client.get_model_version_download_uri(name, version)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=download_uri, dst_path=str(into),
                                                     tracking_uri=tracking_uri))
    return saved_model_folder(local)


def overall_test_metrics(metrics: dict) -> dict[str, float]:
    """The overall test metrics (`test_auc`, ...), not the per-slice ones (`test_auc__plan_hmo`)."""
    return {key: float(value) for key, value in sorted(metrics.items())
            if key.startswith("test_") and "__" not in key and value is not None and np.isfinite(value)}


def _run_overall_test_metrics(client, run_id: str | None) -> dict[str, float]:
    from mlflow.exceptions import MlflowException

    if not run_id:
        return {}
    try:
        return overall_test_metrics(client.get_run(run_id).data.metrics)
    except MlflowException:
        return {}


def _load_registered(uri: str, tracking_uri: str) -> LoadedModel:
    name, _, alias = uri[len("models:/"):].partition("@")
    name, _, number = name.partition("/")
    try:
        client = mlflow_client(tracking_uri, must_exist=True)
    except TrackingStoreError as error:
        raise ModelSourceError(str(error)) from None
    version = client.get_model_version(name, number) if number else version_for_alias(client, name, alias)
    number = str(version.version)
    with tempfile.TemporaryDirectory(prefix="medspa-model-") as scratch:
        model_dir = download_model_version(client, tracking_uri, name, number, Path(scratch))
        digest = file_sha256(model_dir / MODEL_FILE)
        expected = (version.tags or {}).get(MODEL_SHA256_TAG)
        if expected is not None and expected.lower() != digest:
            raise ModelIntegrityError(f"{name} version {number}: the model file's sha256 differs from the "
                                      f"version's {MODEL_SHA256_TAG} tag; refused")
        model = CoverageModel.load(model_dir)
    details = {
        "run_id": version.run_id,
        "trained_at": model.metadata.get("trained_at"),
        "metrics": _run_overall_test_metrics(client, version.run_id) or overall_test_metrics(model.metadata.get("metrics", {})),
        "trained_with_rules_version": model.metadata.get("rules_version"),
        "source": "registry",
        "model_uri": f"models:/{name}/{number}",
        "model_sha256": digest,
        "integrity": f"verified against the {MODEL_SHA256_TAG} tag" if expected is not None else "recorded",
        "loaded_at": now_utc(),
    }
    return LoadedModel(model, name, number, alias or None, details)


def _load_logged(uri: str, tracking_uri: str | None) -> LoadedModel:
    """A model logged in a run (`runs:/...`), any other MLflow artifact URI, or (tracking_uri None)
    a local MLflow model folder, which needs no tracking store."""
    import mlflow

    quiet_artifact_downloads()
    with tempfile.TemporaryDirectory(prefix="medspa-model-") as scratch:
        if tracking_uri is None:
            local = Path(shutil.copytree(uri, Path(scratch) / "model"))
        else:
            with tracking(tracking_uri):  # MLflow 3 resolves runs:/ through its global tracking URI
                local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=scratch,
                                                                 tracking_uri=tracking_uri))
        model_dir = saved_model_folder(local)
        digest = file_sha256(model_dir / MODEL_FILE)
        model = CoverageModel.load(model_dir)
    details = {"source": "mlflow", "model_uri": uri, "model_sha256": digest, "integrity": "recorded",
               "trained_at": model.metadata.get("trained_at"), "loaded_at": now_utc()}
    return LoadedModel(model, str(model.metadata.get("registered_model") or REGISTERED_MODEL), "unregistered",
                       None, details)


def _load_bundle(path: Path) -> LoadedModel:
    bundle, alias = resolve_bundle(path)
    with tempfile.TemporaryDirectory(prefix="medspa-model-") as scratch:
        copy = Path(scratch) / bundle.name
        shutil.copytree(bundle, copy, symlinks=True)
        metadata = verify_bundle(copy)
        digest = file_sha256(copy / MODEL_DIR / MODEL_FILE)
        model = CoverageModel.load(copy / MODEL_DIR)
    details = {
        "run_id": metadata.get("run_id"),
        "trained_at": metadata.get("trained_at") or model.metadata.get("trained_at"),
        "metrics": overall_test_metrics(metadata.get("metrics") or model.metadata.get("metrics", {})),
        "trained_with_rules_version": metadata.get("rules_version") or model.metadata.get("rules_version"),
        "source": "bundle",
        "bundle": bundle.name,
        "bundle_path": str(bundle),
        "exported_at": metadata.get("exported_at"),
        "model_sha256": digest,
        "integrity": f"verified against {MANIFEST_FILE}",
        "loaded_at": now_utc(),
    }
    name = metadata.get("registered_model") or model.metadata.get("registered_model") or REGISTERED_MODEL
    return LoadedModel(model, name, str(metadata.get("version", "unknown")), alias, details)


def _load_folder(path: Path) -> LoadedModel:
    if (path / MODEL_FILE).is_file() and (path / SAVED_METADATA_FILE).is_file():
        model = CoverageModel.load(path)
        details = {"source": "folder", "model_sha256": file_sha256(path / MODEL_FILE), "integrity": "recorded",
                   "trained_at": model.metadata.get("trained_at"), "loaded_at": now_utc()}
        return LoadedModel(model, REGISTERED_MODEL, "unregistered", None, details)
    if (path / "MLmodel").is_file():
        return _load_logged(str(path.resolve()), None)
    raise ModelSourceError(f"{path}: neither a model bundle, a models folder with a {CHAMPION_LINK!r} link, "
                           "a saved model nor an MLflow model folder")


def load_model(source: str | Path | None = None, tracking_uri: str | None = None) -> LoadedModel:
    """The model at `source` (see the module docstring; default: the registry's champion)."""
    source = str(source or DEFAULT_MODEL_URI)
    path = Path(source)
    if path.is_dir():
        if (path / MANIFEST_FILE).is_file() or (path / CHAMPION_LINK).exists():
            return _load_bundle(path)
        return _load_folder(path)
    uri = resolve_tracking_uri(tracking_uri)
    if source.startswith("models:/"):
        return _load_registered(source, uri)
    if ":/" in source:
        return _load_logged(source, uri)
    raise ModelSourceError(f"{source}: not a folder, nor an MLflow model URI (models:/name@alias, models:/name/3, "
                           "runs:/<run id>/model)")
