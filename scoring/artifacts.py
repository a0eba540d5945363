"""The one owner of model storage: where a served model's files live, how they are checked, and
`load_model(source)`, the loader every caller uses (the service, `predict`, the promotion gate,
the review notebooks, the export).

Sources `load_model` takes:
- a registry URI, `models:/medspa-coverage@champion` (the default) or `models:/medspa-coverage/3`:
  the version's artifacts are downloaded to a private temporary folder and every downloaded file
  is checked against the version's `model_manifest` tag (on a sqlite store with local files the
  version is found and copied without importing mlflow, scoring.sqlite_registry) (the sha256 of every file of the logged
  model, MLmodel, metadata.json, the pickled pyfunc wrapper and the code it carries included,
  recorded by `train` at registration, `record_model_manifest`); a version without the tag is
  refused;
- `runs:/<run id>/model`: the same check against the run's `model_manifest` tag;
- an exported bundle folder (see below), or a models folder whose `champion` link names one:
  copied to a private folder and verified against its SHA256SUMS there, so what was verified is
  what is loaded;
- a local MLflow model folder (with an `MLmodel` file) or a folder written by `CoverageModel.save()`:
  the operator's own files, with no record to check them against (their digest is recorded).

Every path ends in `read_model`: the model's served form (scoring.served_form: arrays read with
`np.load(allow_pickle=False)` and JSON, with neither skops nor scikit-learn imported) when it was
taken from the very model.skops whose digest was just computed (and, for the registry and
bundles, verified with the rest of the files), else `CoverageModel.load`, which reads the skops
file with its type allow-list; both read metadata.json as JSON. Nothing here goes through `mlflow.pyfunc.load_model`, nor unpickles or
imports anything stored with the artifact (the logged `python_model.pkl` and the code the model
carries for MLflow's consumers, `code/`, scoring.model_environment, are only hashed). A file
that cannot be read (a damaged zip, broken JSON) is a ModelSourceError naming the file, never a
traceback.

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

# Over 400 lines on purpose: the one owner of model storage, every source load_model takes
# verified the same way.

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from common.digests import file_sha256
from scoring.coverage_model import METADATA_FILE as SAVED_METADATA_FILE, MODEL_FILE, CoverageModel
from scoring.mlflow_store import (CHAMPION, REGISTERED_MODEL, TrackingStoreError, alias_uri, mlflow_client,
                                  no_such_alias, no_such_version, quiet_artifact_downloads, resolve_tracking_uri,
                                  tracking)
from scoring.served_form import SERVED_ARRAYS_FILE, SERVED_FORM_FILE
from scoring.sqlite_registry import RegisteredFiles, resolve_locally
from scoring.trusted_types import UntrustedTypesError

ARTIFACT_KEY = "coverage_model"  # the logged pyfunc's artifact that holds the saved CoverageModel
MODEL_SHA256_TAG = "model_sha256"  # model-version tag: the sha256 of model.skops (shown in /v1/model)
# model-version and run tag: SHA256SUMS lines of every file of the logged model, as stored
MODEL_MANIFEST_TAG = "model_manifest"
RUN_TAG_LIMIT = 8000  # characters MLflow keeps of a run tag's value (mlflow.utils.validation.MAX_TAG_VAL_LENGTH)
REGISTERED_MODEL_NOTE = "registered_model_meta"  # mlflow.store.artifact.models_artifact_repo's file name
CODE_CACHE_DIR = "__pycache__"  # where Python and numba cache what they compiled of a module
DEFAULT_MODEL_URI = alias_uri(CHAMPION)
CHAMPION_LINK = "champion"
MODEL_DIR = "model"
BUNDLE_METADATA_FILE = "bundle.json"
MANIFEST_FILE = "SHA256SUMS"
# details["loaded_from"] of a model read from its served form (scoring.served_form)
SERVED_FORM = f"the served form ({SERVED_FORM_FILE}, {SERVED_ARRAYS_FILE}) of that model.skops"


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


def manifest_digest(manifest: str | None) -> str | None:
    """The sha256 of a version's `model_manifest` tag: with the registered name, the tracking store
    and the run id, what identifies a model version (a version number alone repeats across stores)."""
    return hashlib.sha256(manifest.encode("utf-8")).hexdigest() if manifest else None


# -- bundles ------------------------------------------------------------------------------------
def _files(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def manifest_text(root: Path, leave_out: str | None = None) -> str:
    """`sha256sum` lines (`<digest>  <relative path>`) of every file under `root`."""
    lines = [f"{file_sha256(root / name)}  {name}" for name in _files(root) if name != leave_out]
    return "\n".join(lines) + "\n"


def manifest_problems(root: Path, manifest: str, leave_out: str | None = None) -> list[str]:
    """What differs between the files under `root` and `manifest`: missing, extra and changed files."""
    expected = {}
    for line in manifest.splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            expected[name] = digest
    present = set(_files(root)) - {leave_out}
    problems = [f"missing: {name}" for name in sorted(set(expected) - present)]
    problems += [f"not in the manifest: {name}" for name in sorted(present - set(expected))]
    problems += [f"sha256 differs: {name}" for name in sorted(present & set(expected))
                 if file_sha256(root / name) != expected[name]]
    return problems


def write_manifest(bundle: Path) -> Path:
    manifest = bundle / MANIFEST_FILE
    manifest.write_text(manifest_text(bundle, leave_out=MANIFEST_FILE))
    return manifest


def verify_bundle(path: str | Path) -> dict:
    """Check every file against SHA256SUMS; return the bundle metadata. Raises ModelIntegrityError."""
    bundle = Path(path).resolve()
    manifest = bundle / MANIFEST_FILE
    if not manifest.is_file():
        raise ModelIntegrityError(f"bundle {bundle.name} refused: no {MANIFEST_FILE}; not a model bundle")
    problems = manifest_problems(bundle, manifest.read_text(), leave_out=MANIFEST_FILE)
    if problems:
        raise ModelIntegrityError(f"bundle {bundle.name} refused: {'; '.join(problems)}")
    try:
        return json.loads((bundle / BUNDLE_METADATA_FILE).read_text())
    except (OSError, ValueError) as error:  # only a re-written manifest lets a broken one through
        raise ModelSourceError(f"bundle {bundle.name}: {BUNDLE_METADATA_FILE} cannot be read "
                               f"({type(error).__name__})") from None


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
        raise ModelSourceError(no_such_alias(client, name, alias)) from error


def numbered_version(client, name: str, number: str):
    """Version `number` of `name`; ModelSourceError naming the versions the store holds when it has none."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, number)
    except MlflowException:
        raise ModelSourceError(no_such_version(client, name, number)) from None


def saved_model_folder(mlflow_model: Path) -> Path:
    """The CoverageModel folder inside a downloaded MLflow model (its pyfunc's artifact). Reads
    the MLmodel file (YAML, as mlflow.models.Model.load reads it) only, without importing mlflow."""
    import yaml

    try:
        with open(mlflow_model / "MLmodel", encoding="utf-8") as handle:
            flavors = yaml.safe_load(handle).get("flavors", {})
        artifacts = flavors.get("python_function", {}).get("artifacts", {})
        folder = (mlflow_model / artifacts[ARTIFACT_KEY]["path"]).resolve()
    except (KeyError, TypeError, ValueError, OSError, AttributeError):
        raise ModelSourceError(f"{mlflow_model.name} is not a medspa-coverage model (its MLmodel names no "
                               f"{ARTIFACT_KEY} artifact)") from None
    if not folder.is_relative_to(mlflow_model.resolve()):
        raise ModelSourceError(f"{mlflow_model.name}: its {ARTIFACT_KEY} artifact lies outside the model folder")
    return folder


def download_artifacts(artifact_uri: str, into: Path, tracking_uri: str) -> Path:
    """The files at `artifact_uri`, downloaded into `into` (nothing is read)."""
    import mlflow

    quiet_artifact_downloads()
    if artifact_uri.startswith("runs:/"):
        with tracking(tracking_uri):  # MLflow 3 resolves runs:/ through its global tracking URI
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=str(into),
                                                             tracking_uri=tracking_uri))
    else:  # a storage URI: no global state touched (service threads)
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=str(into),
                                                         tracking_uri=tracking_uri))
    drop_mlflow_bookkeeping(local)
    return local


def drop_mlflow_bookkeeping(local: Path) -> None:
    """Remove what MLflow and Python leave beside a stored model, which is no part of it."""
    # MLflow writes a note of the model's name and version beside a model it fetches through
    # models:/ (runs:/ resolves to that), on a local store into the store's own folder (MLflow's own
    # consumers, `mlflow.pyfunc.load_model`, do). It is MLflow's bookkeeping, read by nothing of
    # ours: dropped from our copy, so it is neither recorded in a manifest nor read unverified.
    (local / REGISTERED_MODEL_NOTE).unlink(missing_ok=True)
    # MLflow's consumers import the model's code/ in place on a local store, and Python and numba
    # (`cache=True`) then write their caches beside it, in __pycache__ folders. Derived files, read
    # by nothing of ours: dropped from our copy too, so a cache (or one planted there) is neither
    # recorded nor handed on with a verified model (to Spark's executors, scoring.spark_batch).
    for cache in sorted(local.rglob(CODE_CACHE_DIR), reverse=True):
        if cache.is_dir():
            shutil.rmtree(cache)


def verify_logged_model(mlflow_model: Path, manifest: str | None, what: str) -> None:
    """Every file of a downloaded MLflow model must be the one `manifest` (a tag) names.
    No manifest: ModelSourceError; a missing, extra or changed file: ModelIntegrityError."""
    if not manifest:
        raise ModelSourceError(f"{what} has no {MODEL_MANIFEST_TAG} tag, so its files cannot be verified; refused "
                               "(`medspa-coverage train` records it when it registers a model: train again)")
    problems = manifest_problems(mlflow_model, manifest)
    if problems:
        raise ModelIntegrityError(f"{what} refused: its files differ from its {MODEL_MANIFEST_TAG} tag "
                                  f"({'; '.join(problems)})")


def download_verified_version(client, tracking_uri: str, name: str, version: str, into: Path) -> Path:
    """Download a model version's artifacts into `into`, verify every file against the version's
    `model_manifest` tag, and return the MLflow model folder (for MLflow's own consumers, such as
    `spark_udf`, which then read only verified files)."""
    tags = client.get_model_version(name, version).tags or {}
    local = download_artifacts(client.get_model_version_download_uri(name, version), into, tracking_uri)
    verify_logged_model(local, tags.get(MODEL_MANIFEST_TAG), f"{name} version {version}")
    return local


def download_model_version(client, tracking_uri: str, name: str, version: str, into: Path) -> Path:
    """`download_verified_version`, then the CoverageModel folder inside."""
    return saved_model_folder(download_verified_version(client, tracking_uri, name, version, into))


def read_saved_metadata(model_dir: Path) -> dict:
    """metadata.json of a saved CoverageModel folder (verified by the caller)."""
    try:
        return json.loads((model_dir / SAVED_METADATA_FILE).read_text())
    except (OSError, ValueError):
        raise ModelSourceError(f"{SAVED_METADATA_FILE} of the model cannot be read") from None


def read_model(model_dir: Path, model_sha256: str, estimators: bool = False) -> CoverageModel:
    """The model in `model_dir`, whose model.skops has the (verified) digest `model_sha256`: from
    its served form when it has one taken from that model.skops (scoring.served_form; no skops nor
    scikit-learn imported), else, or with `estimators`, `CoverageModel.load` of model.skops. Every
    way a file can be unreadable (a damaged zip, broken JSON, a type outside the allow-list) is
    one ModelSourceError line."""
    try:
        served = None if estimators else CoverageModel.load_served(model_dir, model_sha256)
        return served if served is not None else CoverageModel.load(model_dir)
    except UntrustedTypesError as error:
        raise ModelSourceError(f"the model in {model_dir.name} is refused: {error}") from None
    except Exception as error:  # noqa: BLE001  (skops and zipfile raise many kinds; the caller needs one)
        raise ModelSourceError(f"the model in {model_dir.name} cannot be read ({type(error).__name__})") from None


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


def registered_version(uri: str, tracking_uri: str):
    """(client, registered name, the model version, the alias or "") a `models:/` URI names."""
    name, _, alias = uri[len("models:/"):].partition("@")
    name, _, number = name.partition("/")
    try:
        client = mlflow_client(tracking_uri, must_exist=True)
    except TrackingStoreError as error:
        raise ModelSourceError(str(error)) from None
    version = numbered_version(client, name, number) if number else version_for_alias(client, name, alias)
    return client, name, version, alias


def _load_registered(uri: str, tracking_uri: str, estimators: bool) -> LoadedModel:
    local = resolve_locally(uri, tracking_uri)  # a sqlite store read without importing mlflow
    if local is not None:
        return _load_local_version(local, uri, estimators)
    client, name, version, alias = registered_version(uri, tracking_uri)
    number = str(version.version)
    with tempfile.TemporaryDirectory(prefix="medspa-model-") as scratch:
        model_dir = download_model_version(client, tracking_uri, name, number, Path(scratch))
        digest = file_sha256(model_dir / MODEL_FILE)
        model = read_model(model_dir, digest, estimators)
    metrics = _run_overall_test_metrics(client, version.run_id)
    return _registered_model(model, name, number, alias, version.run_id, version.tags or {}, metrics, digest)


def _load_local_version(local: RegisteredFiles, uri: str, estimators: bool) -> LoadedModel:
    """`_load_registered` for a version scoring.sqlite_registry resolved: its files copied from
    their folder and verified against its manifest tag, as after MLflow's download."""
    with tempfile.TemporaryDirectory(prefix="medspa-model-") as scratch:
        copy = Path(shutil.copytree(local.folder, Path(scratch) / "artifacts", symlinks=True))
        drop_mlflow_bookkeeping(copy)
        verify_logged_model(copy, local.tags.get(MODEL_MANIFEST_TAG), f"{local.name} version {local.version}")
        model_dir = saved_model_folder(copy)
        digest = file_sha256(model_dir / MODEL_FILE)
        model = read_model(model_dir, digest, estimators)
    alias = uri.partition("@")[2]
    return _registered_model(model, local.name, local.version, alias, local.run_id, local.tags,
                             overall_test_metrics(local.run_metrics), digest)


def _registered_model(model: CoverageModel, name: str, number: str, alias: str, run_id: str | None, tags: dict,
                      run_metrics: dict, digest: str) -> LoadedModel:
    details = {
        "run_id": run_id,
        "manifest_sha256": manifest_digest(tags.get(MODEL_MANIFEST_TAG)),
        "trained_at": model.metadata.get("trained_at"),
        "metrics": run_metrics or overall_test_metrics(model.metadata.get("metrics", {})),
        "trained_with_rules_version": model.metadata.get("rules_version"),
        "source": "registry",
        "model_uri": f"models:/{name}/{number}",
        "model_sha256": digest,
        "integrity": f"verified against the {MODEL_MANIFEST_TAG} tag",
        "loaded_at": now_utc(),
    }
    return LoadedModel(model, name, number, alias or None, details)


def run_manifest_tags(manifest: str) -> dict[str, str]:
    """The run tags that hold `manifest`: `model_manifest`, then `model_manifest.2`, ... each of whole
    lines within RUN_TAG_LIMIT. MLflow cuts a longer run tag (a model version's tag may be longer),
    and a model's manifest, a line per file of it and of the code it carries, outgrew one."""
    parts, part = [], ""
    for line in manifest.splitlines(keepends=True):
        if part and len(part) + len(line) > RUN_TAG_LIMIT:
            parts.append(part)
            part = ""
        part += line
    parts.append(part)
    return {MODEL_MANIFEST_TAG if at == 0 else f"{MODEL_MANIFEST_TAG}.{at + 1}": text for at, text in enumerate(parts)}


def run_manifest(tags: dict) -> str | None:
    """The manifest a run's tags hold (run_manifest_tags), its parts joined; None without one."""
    if MODEL_MANIFEST_TAG not in tags:
        return None
    parts, number = [tags[MODEL_MANIFEST_TAG]], 2
    while f"{MODEL_MANIFEST_TAG}.{number}" in tags:
        parts.append(tags[f"{MODEL_MANIFEST_TAG}.{number}"])
        number += 1
    return "".join(parts)


def _run_manifest(uri: str, tracking_uri: str) -> str | None:
    """The `model_manifest` tag of the run a `runs:/<run id>/model` URI names."""
    from mlflow.exceptions import MlflowException

    run_id = uri[len("runs:/"):].partition("/")[0]
    try:
        client = mlflow_client(tracking_uri, must_exist=True)
        return run_manifest(client.get_run(run_id).data.tags)
    except (TrackingStoreError, MlflowException):
        raise ModelSourceError(f"no run {run_id!r} in the tracking store") from None


def _load_logged(uri: str, tracking_uri: str | None, estimators: bool) -> LoadedModel:
    """A model logged in a run (`runs:/<run id>/model`, verified against the run's manifest tag) or,
    with tracking_uri None, a local MLflow model folder, which needs no tracking store."""
    with tempfile.TemporaryDirectory(prefix="medspa-model-") as scratch:
        if tracking_uri is None:
            local = Path(shutil.copytree(uri, Path(scratch) / "model"))
            integrity = "recorded"
        else:
            manifest = _run_manifest(uri, tracking_uri)
            local = download_artifacts(uri, Path(scratch), tracking_uri)
            verify_logged_model(local, manifest, f"run model {uri}")
            integrity = f"verified against the run's {MODEL_MANIFEST_TAG} tag"
        model_dir = saved_model_folder(local)
        digest = file_sha256(model_dir / MODEL_FILE)
        model = read_model(model_dir, digest, estimators)
    details = {"source": "mlflow", "model_uri": uri, "model_sha256": digest, "integrity": integrity,
               "trained_at": model.metadata.get("trained_at"), "loaded_at": now_utc()}
    return LoadedModel(model, str(model.metadata.get("registered_model") or REGISTERED_MODEL), "unregistered",
                       None, details)


def _load_bundle(path: Path, estimators: bool) -> LoadedModel:
    bundle, alias = resolve_bundle(path)
    with tempfile.TemporaryDirectory(prefix="medspa-model-") as scratch:
        copy = Path(scratch) / bundle.name
        shutil.copytree(bundle, copy, symlinks=True)
        metadata = verify_bundle(copy)
        digest = file_sha256(copy / MODEL_DIR / MODEL_FILE)
        model = read_model(copy / MODEL_DIR, digest, estimators)
    details = {
        "run_id": metadata.get("run_id"),
        "manifest_sha256": metadata.get("manifest_sha256"),  # the registry's, as export recorded it
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


def _load_folder(path: Path, estimators: bool) -> LoadedModel:
    if (path / MODEL_FILE).is_file() and (path / SAVED_METADATA_FILE).is_file():
        digest = file_sha256(path / MODEL_FILE)
        model = read_model(path, digest, estimators)
        details = {"source": "folder", "model_sha256": digest, "integrity": "recorded",
                   "trained_at": model.metadata.get("trained_at"), "loaded_at": now_utc()}
        return LoadedModel(model, REGISTERED_MODEL, "unregistered", None, details)
    if (path / "MLmodel").is_file():
        return _load_logged(str(path.resolve()), None, estimators)
    raise ModelSourceError(f"{path}: neither a model bundle, a models folder with a {CHAMPION_LINK!r} link, "
                           "a saved model nor an MLflow model folder")


def load_model(source: str | Path | None = None, tracking_uri: str | None = None,
               estimators: bool = False) -> LoadedModel:
    """The model at `source` (see the module docstring; default: the registry's champion), from its
    served form when it has one (`details["loaded_from"]` says), or with `estimators`, its
    scikit-learn estimators too (what only training, reviews and tests that compare with
    scikit-learn read), from model.skops."""
    loaded = _load_source(str(source or DEFAULT_MODEL_URI), tracking_uri, estimators)
    loaded.details["loaded_from"] = "model.skops" if loaded.model.classifier is not None else SERVED_FORM
    return loaded


def _load_source(source: str, tracking_uri: str | None, estimators: bool) -> LoadedModel:
    path = Path(source)
    if path.is_dir():
        if (path / MANIFEST_FILE).is_file() or (path / CHAMPION_LINK).exists():
            return _load_bundle(path, estimators)
        return _load_folder(path, estimators)
    uri = resolve_tracking_uri(tracking_uri)
    if source.startswith("models:/"):
        return _load_registered(source, uri, estimators)
    if source.startswith("runs:/"):
        return _load_logged(source, uri, estimators)
    raise ModelSourceError(f"{source}: not a folder, nor an MLflow model URI the tracking store vouches for "
                           "(models:/name@alias, models:/name/3, runs:/<run id>/model)")
