"""MLflow: where runs are tracked, how a CoverageModel is logged and registered, and the
champion/challenger gate.

Tracking URI: the `--tracking-uri` option, else the MLFLOW_TRACKING_URI environment variable,
else DEFAULT_TRACKING_URI = `sqlite:///<project root>/var/mlflow.db`. For a sqlite store the
experiment's artifacts live beside the database, in `<database folder>/mlartifacts/<experiment>`
(so the default is `<project root>/var/mlartifacts/medspa-coverage`); other stores (a tracking
server) choose their own artifact location. The model registry uses the same URI.

Registered model REGISTERED_MODEL with aliases (stages are deprecated):
- `challenger`: the version this run registered (always the newest);
- `champion`: the version the service loads; moved only by the gate;
- `previous`: the champion the last promotion replaced (rollback target).
Gate: the challenger replaces the champion when, on the same new test split, its AUC is at
most `max_auc_drop` below the champion's and its ECE at most `max_ece_rise` above it (defaults
0.005 each), or when there is no champion, or when the champion can no longer be loaded by this
code (then nothing could serve it). The champion may have trained on some of these test claims,
which can only flatter it, so the gate errs on the side of keeping it.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np
import pandas as pd

from training.coverage_model import MODEL_FILE

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TRACKING_URI = f"sqlite:///{PROJECT_ROOT / 'var' / 'mlflow.db'}"
REGISTERED_MODEL = "medspa-coverage"
CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
MODEL_NAME_IN_RUN = "model"  # the logged model's name within its run
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
# Libraries whose versions are tagged on every run and pinned in the logged model's requirements.
LIBRARIES = ("scikit-learn", "numpy", "pandas", "pyarrow", "skops", "mlflow", "scipy")
SERVING_LIBRARIES = ("scikit-learn", "numpy", "pandas", "pyarrow", "skops", "mlflow")


# -- where ----------------------------------------------------------------------------------
def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """The option, else MLFLOW_TRACKING_URI, else the project's sqlite file."""
    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def sqlite_path(uri: str) -> Path | None:
    """`sqlite:////abs/mlflow.db` -> that path; None for other stores."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):])


def experiment_artifact_location(uri: str, experiment: str) -> str | None:
    database = sqlite_path(uri)
    if database is None:
        return None
    return (database.parent / "mlartifacts" / experiment).resolve().as_uri()


_ARTIFACT_PROGRESS = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


@contextmanager
def tracking(uri: str):
    """Point MLflow's fluent API (runs, log_model) at `uri` for the duration, then restore it.

    Yields a client for the same store. A sqlite store's folder is created on entry."""
    import mlflow

    database = sqlite_path(uri)
    if database is not None:  # sqlite creates the file, not its folder
        database.parent.mkdir(parents=True, exist_ok=True)
    before_tracking, before_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    before_bar = os.environ.get(_ARTIFACT_PROGRESS)
    # mlflow.set_tracking_uri also writes MLFLOW_TRACKING_URI into the environment: without
    # restoring it, code after this block (a gunicorn started by bootstrap) would see MLflow's
    # default store instead of what the user configured.
    before_environment = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    os.environ.setdefault(_ARTIFACT_PROGRESS, "false")  # our stages print their own progress
    try:
        yield mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    finally:
        mlflow.set_tracking_uri(before_tracking)
        mlflow.set_registry_uri(before_registry)
        for name, value in before_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if before_bar is None:
            os.environ.pop(_ARTIFACT_PROGRESS, None)


def ensure_experiment(client, name: str, uri: str) -> str:
    """The experiment's id, creating it (with the artifact location beside a sqlite store)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=experiment_artifact_location(uri, name))


# -- provenance -----------------------------------------------------------------------------
def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit() -> str:
    """HEAD of the project checkout, `+dirty` when tracked files differ; `unknown` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def library_versions(names=LIBRARIES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            continue
    return versions


def provenance_tags(data_path: str | Path, data_sha256: str, row_counts: dict[str, int]) -> dict[str, str]:
    """Run tags: data file, row counts, code, rules and ICD-10-CM versions, library versions."""
    from features.contract import CONTRACT_VERSION
    from features.diagnosis import ICD10CM_RELEASE
    from features.rules import load_rules

    tags = {
        "data_file": Path(data_path).name,
        "data_sha256": data_sha256,
        "git_commit": git_commit(),
        "rules_version": load_rules().version,
        "icd10cm_release": ICD10CM_RELEASE,
        "contract_version": CONTRACT_VERSION,
    }
    tags.update({f"rows_{name}": str(count) for name, count in row_counts.items()})
    tags.update({f"lib_{name}": version for name, version in library_versions().items()})
    return tags


# -- the logged model -----------------------------------------------------------------------
def synthetic_claim() -> dict:
    """A made-up claim (no row of any data file): the logged model's input example."""
    return {
        "claim_id": "example-0001", "service_date": "2026-01-15", "treatment": "botulinum_toxin",
        "procedure_code": "64615", "diagnosis_codes": "G43.709", "plan_type": "ppo",
        "benefit_scope": "comprehensive", "facility_type": "physician_office", "place_of_service": "11",
        "in_network": True, "referral": True, "medical_necessity_letter": True, "prior_authorization": True,
        "conservative_therapy_documented": True, "visit_number": 2, "weeks_since_last_treatment": 13.0,
        "patient_age": 44, "billed_amount": 1450.0, "benefit_limit": 5000.0, "benefit_used": 600.0,
    }


def model_signature():
    """Contract fields in (only the request's required ones required), scores out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema

    from features.contract import VISIT_FIELDS

    kinds = {"string": DataType.string, "date": DataType.string, "code": DataType.string,
             "codes": DataType.string, "enum": DataType.string, "bool": DataType.boolean,
             "int": DataType.long, "number": DataType.double}
    inputs = Schema([ColSpec(kinds[kind], name, required=required_in_request)
                     for name, (kind, _, required_in_request, _) in VISIT_FIELDS.items()])
    outputs = Schema([ColSpec(DataType.double, "approval_probability"), ColSpec(DataType.double, "model_probability"),
                      ColSpec(DataType.string, "decision"), ColSpec(DataType.boolean, "excluded"),
                      ColSpec(DataType.string, "rule_ids"), ColSpec(DataType.string, "top_denial_reason")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def serving_requirements() -> list[str]:
    return [f"{name}=={version}" for name, version in library_versions(SERVING_LIBRARIES).items()]



def log_coverage_model(model, registered_model: str = REGISTERED_MODEL):
    """Save `model` (skops) and log it in the active run as a models-from-code pyfunc, registered
    as a new version of `registered_model`. Returns MLflow's ModelInfo."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="coverage-model-") as scratch:
        saved = model.save(Path(scratch) / "coverage_model")
        # the service checks the downloaded file against this (tagged on the model version)
        model.metadata["model_sha256"] = hashlib.sha256((saved / MODEL_FILE).read_bytes()).hexdigest()
        return mlflow.pyfunc.log_model(
            name=MODEL_NAME_IN_RUN,
            python_model=str(PYFUNC_CODE),
            artifacts={"coverage_model": str(saved)},
            signature=model_signature(),
            input_example=pd.DataFrame([synthetic_claim()]),
            pip_requirements=serving_requirements(),
            registered_model_name=registered_model,
            await_registration_for=0,
        )


def load_coverage_model(model_uri: str):
    """The CoverageModel inside a logged pyfunc (`models:/medspa-coverage@champion`, `runs:/...`)."""
    import mlflow

    return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().coverage_model


def alias_uri(alias: str, registered_model: str = REGISTERED_MODEL) -> str:
    return f"models:/{registered_model}@{alias}"


def version_by_alias(client, alias: str, registered_model: str = REGISTERED_MODEL):
    """The model version an alias points to, or None (no such model or alias)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(registered_model, alias)
    except MlflowException:
        return None


# -- the gate -------------------------------------------------------------------------------
@dataclass
class GateParams:
    max_auc_drop: float = 0.005
    max_ece_rise: float = 0.005


@dataclass
class GateDecision:
    decision: str  # promoted | kept_champion | skipped
    reason: str
    champion_version: str | None = None  # the champion before this run
    champion_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return self.decision == "promoted"


def decide_promotion(challenger: dict[str, float], champion: dict[str, float] | None,
                     params: GateParams, champion_version: str | None = None) -> GateDecision:
    """Compare test AUC and ECE of challenger and champion on the same claims."""
    if champion is None:
        return GateDecision("promoted", "no champion yet")
    auc_drop = champion["auc"] - challenger["auc"]
    ece_rise = challenger["ece"] - champion["ece"]
    numbers = (f"AUC {challenger['auc']:.4f} vs champion v{champion_version} {champion['auc']:.4f}, "
               f"ECE {challenger['ece']:.4f} vs {champion['ece']:.4f}")
    failures = []
    if not auc_drop <= params.max_auc_drop:  # `not <=` also fails a NaN
        failures.append(f"AUC drops {auc_drop:.4f} > {params.max_auc_drop}")
    if not ece_rise <= params.max_ece_rise:
        failures.append(f"ECE rises {ece_rise:.4f} > {params.max_ece_rise}")
    if failures:
        return GateDecision("kept_champion", f"{'; '.join(failures)} ({numbers})", champion_version, champion)
    return GateDecision("promoted", f"within margins ({numbers})", champion_version, champion)


def score_champion(client, test: pd.DataFrame, registered_model: str = REGISTERED_MODEL):
    """(champion version, its test metrics) or (None, None) without a champion.

    A champion this code cannot load or score yields metrics None and the reason in `error`.
    """
    from training.evaluation import system_metrics

    version = version_by_alias(client, CHAMPION, registered_model)
    if version is None:
        return None, None, None
    try:
        champion = load_coverage_model(alias_uri(CHAMPION, registered_model))
        return str(version.version), system_metrics(champion, test), None
    except Exception as error:  # noqa: BLE001  (any failure means the champion cannot serve)
        return str(version.version), None, f"{type(error).__name__}: {error}"


def gate(client, version: str, challenger_metrics: dict[str, float], test: pd.DataFrame,
         params: GateParams, promote: bool = True, registered_model: str = REGISTERED_MODEL) -> GateDecision:
    """Decide and apply: move aliases, tag the model version. The caller logs it to the run."""
    if not promote:
        current = version_by_alias(client, CHAMPION, registered_model)
        decision = GateDecision("skipped", "--no-promote: the gate did not run",
                                str(current.version) if current else None)
    else:
        champion_version, champion_metrics, error = score_champion(client, test, registered_model)
        if champion_version is not None and champion_metrics is None:
            decision = GateDecision("promoted", f"champion v{champion_version} cannot be loaded or scored "
                                                f"by this code ({error})", champion_version)
        else:
            decision = decide_promotion(challenger_metrics, champion_metrics, params, champion_version)
    if decision.promoted:
        if decision.champion_version is not None and decision.champion_version != version:
            client.set_registered_model_alias(registered_model, PREVIOUS, decision.champion_version)
        client.set_registered_model_alias(registered_model, CHAMPION, version)
    for key, value in gate_tags(decision).items():
        client.set_model_version_tag(registered_model, version, key, value)
    return decision


def gate_tags(decision: GateDecision) -> dict[str, str]:
    tags = {"gate_decision": decision.decision, "gate_reason": decision.reason[:5000],
            "gate_champion_before": decision.champion_version or "none"}
    tags.update({f"gate_champion_test_{name}": f"{value:.6f}" for name, value in decision.champion_metrics.items()
                 if name in ("auc", "ece", "brier")})
    return tags


def gate_metrics(decision: GateDecision) -> dict[str, float]:
    metrics = {"gate_promoted": float(decision.promoted)}
    metrics.update({f"gate_champion_test_{name}": float(value) for name, value in decision.champion_metrics.items()
                    if not np.isnan(value)})
    return metrics


def write_json(payload, path: Path) -> Path:
    """Strict JSON (NaN and infinities become null; numpy scalars plain numbers)."""
    path.write_text(json.dumps(_plain(payload), indent=2, allow_nan=False))
    return path


def _plain(value):
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)
