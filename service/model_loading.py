"""The real loaders: the served CoverageModel from the MLflow registry or from an exported bundle.

`configured_loader` (the default `MODEL_LOADER`) picks one by `MODEL_SOURCE`:

- `registry_loader`: the version `models:/{MODEL_NAME}@{MODEL_ALIAS}` points to in the store at
  `TRACKING_URI`. Its artifacts are downloaded to a private temporary folder; the sha256 of the
  model file is checked against the version's `model_sha256` tag when the registry has one, and
  recorded in the served info either way; then the CoverageModel is loaded from that copy (skops,
  with its type allow-list) and the folder removed.
- `bundle_loader`: the bundle at `MODEL_BUNDLE_PATH` (a bundle folder, or a models folder whose
  `champion` link names one; see training.export). The bundle is copied to a private folder,
  verified against its SHA256SUMS there (a changed, missing or extra file refuses it), and loaded
  from the copy, so what was verified is what is loaded.

Paths never come from a request. Both return a `ServedCoverageModel`, whose `source_changed()`
tells the poller when the alias or the `champion` link moved.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

MODEL_SHA256_TAG = "model_sha256"  # an optional model-version tag: the expected sha256 of model.skops
BATCH_COLUMNS = ("approval_probability", "model_probability", "decision", "excluded", "rule_ids",
                 "top_denial_reason")


class ModelSourceError(RuntimeError):
    """The configured source holds no loadable model; the message says what is missing."""


class ModelIntegrityError(ModelSourceError):
    """The model's files are not the ones the registry or the bundle manifest vouches for."""


class ServedCoverageModel:
    """A loaded CoverageModel as the service serves it (see service.model_extension)."""

    def __init__(self, coverage_model, ref: dict, details: dict, config,
                 source_changed: Callable[[], bool] | None = None):
        from features.rules import load_rules

        self.coverage_model = coverage_model
        self.ref = {"name": str(ref["name"]), "version": str(ref["version"]), "alias": ref.get("alias")}
        self.rules_version = load_rules().version  # the rules that fire at answer time
        self.likely_approved = float(config["LIKELY_APPROVED_THRESHOLD"])
        self.likely_denied = float(config["LIKELY_DENIED_THRESHOLD"])
        self._details = details
        self._source_changed = source_changed

    @property
    def training_profile(self) -> dict:
        return self.coverage_model.training_profile

    def answer(self, claims: list[dict]) -> list[dict]:
        answers = self.coverage_model.answer_claims(claims, self.likely_approved, self.likely_denied)
        return [{"claim_id": claim["claim_id"], **answer, "model": dict(self.ref), "rules_version": self.rules_version}
                for claim, answer in zip(claims, answers)]

    def score(self, claims: list[dict]) -> list[dict]:
        """The batch-scoring columns (as the logged pyfunc and `medspa-coverage predict` give them)."""
        import pandas as pd

        from features.contract import CLEAN_COLUMNS

        scored = self.coverage_model.score_frame(pd.DataFrame.from_records(claims, columns=list(CLEAN_COLUMNS)))
        decision = self.coverage_model.decide(scored["approval_probability"].to_numpy(), scored["excluded"].to_numpy(),
                                              self.likely_approved, self.likely_denied)
        columns = {name: scored[name].tolist() for name in BATCH_COLUMNS if name != "decision"}
        columns["decision"] = [str(value) for value in np.asarray(decision)]
        # NaN is not JSON: a model probability the classifier did not compute (excluded claim) is null
        columns["model_probability"] = [None if value != value else value for value in columns["model_probability"]]
        return [{name: columns[name][row] for name in BATCH_COLUMNS} for row in range(len(claims))]

    def info(self) -> dict:
        return {**self.ref, **self._details, "rules_version": self.rules_version,
                "thresholds": {"likely_approved": self.likely_approved, "likely_denied": self.likely_denied}}

    def source_changed(self) -> bool:
        return bool(self._source_changed and self._source_changed())


def configured_loader(config) -> ServedCoverageModel:
    """The loader `MODEL_SOURCE` names: `registry` or `bundle`."""
    loaders = {"registry": registry_loader, "bundle": bundle_loader}
    return loaders[config["MODEL_SOURCE"]](config)


# -- registry -----------------------------------------------------------------------------------
def registry_client(tracking_uri: str):
    """An MlflowClient on `tracking_uri` (also the registry); refuses a sqlite file that does not
    exist rather than creating an empty store as a side effect."""
    from mlflow import MlflowClient

    from training.registry import sqlite_path

    database = sqlite_path(tracking_uri)
    if database is not None and not database.is_file():
        raise ModelSourceError(f"no MLflow tracking database at {database}: train a model first "
                               "(`medspa-coverage train`, or `make serve` for the demo)")
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def version_for_alias(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        raise ModelSourceError(f"registered model {name!r} has no version with alias {alias!r}") from error


def download_coverage_model(client, tracking_uri: str, name: str, version: str, into: Path) -> Path:
    """Download a model version's artifacts into `into`; return the CoverageModel folder inside."""
    import mlflow
    from mlflow.models import Model

    from training.pyfunc_model import ARTIFACT_KEY

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # the log is JSON lines, not bars
    download_uri = client.get_model_version_download_uri(name, version)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=download_uri, dst_path=str(into),
                                                     tracking_uri=tracking_uri))
    artifacts = Model.load(str(local)).flavors.get("python_function", {}).get("artifacts", {})
    if ARTIFACT_KEY not in artifacts:
        raise ModelSourceError(f"{name} version {version} is not a medspa-coverage model (no {ARTIFACT_KEY} artifact)")
    return local / artifacts[ARTIFACT_KEY]["path"]


def registry_loader(config) -> ServedCoverageModel:
    """The CoverageModel of `models:/{MODEL_NAME}@{MODEL_ALIAS}` (see the module docstring)."""
    from training.coverage_model import MODEL_FILE, CoverageModel
    from training.registry import file_sha256

    uri, name, alias = config["TRACKING_URI"], config["MODEL_NAME"], config["MODEL_ALIAS"]
    client = registry_client(uri)
    version = version_for_alias(client, name, alias)
    number = str(version.version)
    with tempfile.TemporaryDirectory(prefix="medspa-serve-") as scratch:
        model_dir = download_coverage_model(client, uri, name, number, Path(scratch))
        digest = file_sha256(model_dir / MODEL_FILE)
        expected = (version.tags or {}).get(MODEL_SHA256_TAG)
        if expected is not None and expected.lower() != digest:
            raise ModelIntegrityError(f"{name} version {number}: the model file's sha256 differs from the "
                                      f"version's {MODEL_SHA256_TAG} tag; refused")
        model = CoverageModel.load(model_dir)

    metrics = _run_test_metrics(client, version.run_id) or _test_metrics(model.metadata.get("metrics", {}))
    details = {
        "run_id": version.run_id,
        "trained_at": model.metadata.get("trained_at"),
        "metrics": metrics,
        "trained_with_rules_version": model.metadata.get("rules_version"),
        "source": "registry",
        "model_uri": f"models:/{name}/{number}",
        "model_sha256": digest,
        "integrity": f"verified against the {MODEL_SHA256_TAG} tag" if expected is not None else "recorded",
        "loaded_at": _now(),
    }

    def alias_moved() -> bool:
        return str(version_for_alias(client, name, alias).version) != number

    return ServedCoverageModel(model, {"name": name, "version": number, "alias": alias}, details, config,
                               source_changed=alias_moved)


def _run_test_metrics(client, run_id: str | None) -> dict[str, float]:
    from mlflow.exceptions import MlflowException

    if not run_id:
        return {}
    try:
        return _test_metrics(client.get_run(run_id).data.metrics)
    except MlflowException:
        return {}


def _test_metrics(metrics: dict) -> dict[str, float]:
    """The overall test metrics (`test_auc`, ...), not the per-slice ones (`test_auc__plan_hmo`)."""
    return {key: float(value) for key, value in sorted(metrics.items())
            if key.startswith("test_") and "__" not in key and value is not None and np.isfinite(value)}


# -- bundle -------------------------------------------------------------------------------------
def resolve_bundle(path: str | Path) -> tuple[Path, str | None]:
    """(the bundle folder, the alias it was reached by): `path` itself when it is a bundle, else
    the bundle its `champion` link names, resolved now so a later swap of the link cannot mix two."""
    from training.export import CHAMPION_LINK, MANIFEST_FILE

    path = Path(path)
    if (path / MANIFEST_FILE).is_file():
        return path.resolve(), None
    link = path / CHAMPION_LINK
    if link.exists():
        return link.resolve(), CHAMPION_LINK
    raise ModelSourceError(f"no model bundle at {path}: neither a bundle (with SHA256SUMS) nor a folder with a "
                           f"{CHAMPION_LINK!r} link (`medspa-coverage train` exports one)")


def bundle_loader(config) -> ServedCoverageModel:
    """The verified bundle at `MODEL_BUNDLE_PATH` (see the module docstring)."""
    from training.coverage_model import MODEL_FILE, CoverageModel
    from training.export import MODEL_DIR, BundleIntegrityError, verify_bundle
    from training.registry import file_sha256

    configured = Path(config["MODEL_BUNDLE_PATH"])
    bundle, alias = resolve_bundle(configured)
    with tempfile.TemporaryDirectory(prefix="medspa-serve-") as scratch:
        copy = Path(scratch) / bundle.name
        shutil.copytree(bundle, copy, symlinks=True)
        try:
            metadata = verify_bundle(copy)
        except BundleIntegrityError as error:
            raise ModelIntegrityError(f"bundle {bundle.name} refused: {str(error).split(': refused, ', 1)[-1]}") \
                from None
        digest = file_sha256(copy / MODEL_DIR / MODEL_FILE)
        model = CoverageModel.load(copy / MODEL_DIR)

    name = metadata.get("registered_model") or model.metadata.get("registered_model") or "medspa-coverage"
    version = str(metadata.get("version", "unknown"))
    details = {
        "run_id": metadata.get("run_id"),
        "trained_at": metadata.get("trained_at") or model.metadata.get("trained_at"),
        "metrics": _test_metrics(metadata.get("metrics") or model.metadata.get("metrics", {})),
        "trained_with_rules_version": metadata.get("rules_version") or model.metadata.get("rules_version"),
        "source": "bundle",
        "bundle": bundle.name,
        "exported_at": metadata.get("exported_at"),
        "model_sha256": digest,
        "integrity": "verified against SHA256SUMS",
        "loaded_at": _now(),
    }

    def link_moved() -> bool:
        return resolve_bundle(configured)[0] != bundle

    return ServedCoverageModel(model, {"name": name, "version": version, "alias": alias}, details, config,
                               source_changed=link_moved)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
