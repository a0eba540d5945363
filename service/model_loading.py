"""The service's loaders: the served CoverageModel from the MLflow registry or from an exported
bundle, both through scoring.artifacts.load_model (download or copy to a private folder,
verify, read with skops' type allow-list).

`configured_loader` (the default `MODEL_LOADER`) picks one by `MODEL_SOURCE`:

- `registry_loader`: the version `models:/{MODEL_NAME}@{MODEL_ALIAS}` points to in the store at
  `TRACKING_URI`; every file of it is checked against the version's `model_manifest` tag (a version
  without one is refused), and the model file's sha256 is shown in the served info;
- `bundle_loader`: the bundle at `MODEL_BUNDLE_PATH` (a bundle folder, or a models folder whose
  `champion` link names one), verified against its SHA256SUMS.

Paths never come from a request. Both return a `ServedCoverageModel`, whose `source_changed()`
tells the poller when the alias or the `champion` link moved.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from features.contract import CLEAN_COLUMNS
from features.prior_authorization import load_authorization_table
from features.rules import load_rules
from scoring.artifacts import (LoadedModel, ModelIntegrityError, ModelSourceError, load_model, resolve_bundle,
                                      version_for_alias)
from scoring.coverage_model import SCORE_COLUMNS
from scoring.mlflow_store import mlflow_client

__all__ = ["ModelIntegrityError", "ModelSourceError", "ServedCoverageModel", "bundle_loader",
           "configured_loader", "registry_loader"]


class ServedCoverageModel:
    """A loaded CoverageModel as the service serves it (see service.model_extension)."""

    def __init__(self, loaded: LoadedModel, config, source_changed: Callable[[], bool] | None = None):
        self.coverage_model = loaded.model
        self.ref = {"name": str(loaded.name), "version": str(loaded.version), "alias": loaded.alias}
        # what the audit rows record of it (scoring.model_identity): its number and what it is
        self.identity = {"name": self.ref["name"], "version": self.ref["version"],
                         "run_id": loaded.details.get("run_id"), "manifest_sha256": loaded.details.get("manifest_sha256")}
        self.rules_version = load_rules().version  # the rules that fire at answer time
        self.prior_authorization_version = load_authorization_table().version
        self.likely_approved = float(config["LIKELY_APPROVED_THRESHOLD"])
        self.likely_denied = float(config["LIKELY_DENIED_THRESHOLD"])
        self._details = loaded.details
        self._source_changed = source_changed

    @property
    def training_profile(self) -> dict:
        return self.coverage_model.training_profile

    def answer(self, claims: list[dict], explain: bool = True) -> list[dict]:
        answers = self.coverage_model.answer_claims(claims, self.likely_approved, self.likely_denied, explain)
        return [{"claim_id": claim["claim_id"], **answer, "model": dict(self.ref), "rules_version": self.rules_version}
                for claim, answer in zip(claims, answers)]

    def score_frame(self, claims: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
        """CoverageModel.score_frame with this service's decision thresholds (a scored file and
        /invocations decide as /v1/predict does)."""
        scored = self.coverage_model.score_frame(claims, threads)
        decision = self.coverage_model.decide(scored["approval_probability"].to_numpy(), scored["excluded"].to_numpy(),
                                              self.likely_approved, self.likely_denied)
        scored["decision"] = [str(value) for value in np.asarray(decision)]
        return scored

    def score(self, claims: list[dict]) -> list[dict]:
        """The batch-scoring columns (as the logged pyfunc and `medspa-coverage predict` give them)."""
        scored = self.score_frame(pd.DataFrame.from_records(claims, columns=list(CLEAN_COLUMNS)))
        columns = {name: scored[name].tolist() for name in SCORE_COLUMNS}
        # NaN is not JSON: a model probability the classifier did not compute (excluded claim) is null
        columns["model_probability"] = [None if value != value else value for value in columns["model_probability"]]
        return [{name: columns[name][row] for name in SCORE_COLUMNS} for row in range(len(claims))]

    def info(self) -> dict:
        return {**self.ref, **self._details, "rules_version": self.rules_version,
                "prior_authorization_version": self.prior_authorization_version,
                "thresholds": {"likely_approved": self.likely_approved, "likely_denied": self.likely_denied},
                "rule_decisions": self.coverage_model.evidence().summary_rows()}

    def source_changed(self) -> bool:
        return bool(self._source_changed and self._source_changed())


def configured_loader(config) -> ServedCoverageModel:
    """The loader `MODEL_SOURCE` names: `registry` or `bundle`."""
    loaders = {"registry": registry_loader, "bundle": bundle_loader}
    return loaders[config["MODEL_SOURCE"]](config)


def registry_loader(config) -> ServedCoverageModel:
    """The CoverageModel of `models:/{MODEL_NAME}@{MODEL_ALIAS}` (see the module docstring)."""
    uri, name, alias = config["TRACKING_URI"], config["MODEL_NAME"], config["MODEL_ALIAS"]
    loaded = load_model(f"models:/{name}@{alias}", uri)
    client = mlflow_client(uri)

    def alias_moved() -> bool:
        return str(version_for_alias(client, name, alias).version) != loaded.version

    return ServedCoverageModel(loaded, config, source_changed=alias_moved)


def bundle_loader(config) -> ServedCoverageModel:
    """The verified bundle at `MODEL_BUNDLE_PATH` (see the module docstring)."""
    configured = Path(config["MODEL_BUNDLE_PATH"])
    loaded = load_model(configured)
    bundle = Path(loaded.details.pop("bundle_path"))

    def link_moved() -> bool:
        return resolve_bundle(configured)[0] != bundle

    return ServedCoverageModel(loaded, config, source_changed=link_moved)
