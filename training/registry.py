"""MLflow: how a CoverageModel is logged and registered, the run's provenance, and the
champion/challenger gate. Where the store is (the tracking URI and its default) is
training.model.mlflow_store; how a registered model is loaded is training.model.artifacts.

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

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import CONTRACT_VERSION, EXAMPLE_CLAIM, VISIT_FIELDS
from features.diagnosis import ICD10CM_RELEASE
from features.rules import load_rules
from training.evaluation import system_metrics
from training.model.artifacts import (ARTIFACT_KEY, MODEL_MANIFEST_TAG, MODEL_SHA256_TAG, ModelIntegrityError,
                                      download_artifacts, file_sha256, load_model, manifest_text, version_for_alias)
from training.model.coverage_model import MODEL_FILE, SCORE_COLUMNS
from training.model.mlflow_store import CHAMPION, PREVIOUS, PROJECT_ROOT, REGISTERED_MODEL, alias_uri
from training.model_environment import serving_requirements, stage_code
from training.pyfunc_model import CoverageModelPyfunc

MODEL_NAME_IN_RUN = "model"  # the logged model's name within its run
# Libraries whose versions are tagged on every run and pinned in the logged model's requirements.
LIBRARIES = ("scikit-learn", "numpy", "pandas", "pyarrow", "skops", "mlflow", "scipy")


# -- provenance -----------------------------------------------------------------------------
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
def input_example() -> pd.DataFrame:
    """The contract's example claim in a file's form (codes `;`-joined): the logged model's input example."""
    return pd.DataFrame([{**EXAMPLE_CLAIM, "diagnosis_codes": ";".join(EXAMPLE_CLAIM["diagnosis_codes"])}])


def model_signature():
    """Contract fields in (only the request's required ones required), scores out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema

    kinds = {"string": DataType.string, "date": DataType.string, "code": DataType.string,
             "codes": DataType.string, "enum": DataType.string, "bool": DataType.boolean,
             "int": DataType.long, "number": DataType.double}
    inputs = Schema([ColSpec(kinds[kind], name, required=required_in_request)
                     for name, (kind, _, required_in_request, _) in VISIT_FIELDS.items()])
    output_kinds = {"approval_probability": DataType.double, "model_probability": DataType.double,
                    "decision": DataType.string, "excluded": DataType.boolean, "rule_ids": DataType.string,
                    "top_denial_reason": DataType.string}
    outputs = Schema([ColSpec(output_kinds[name], name) for name in SCORE_COLUMNS])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pyfunc_arguments(saved_model: Path, scratch: Path) -> dict:
    """What `mlflow.pyfunc.log_model` and `save_model` are given for a saved CoverageModel folder:
    the wrapper, the folder as its artifact, the signature and example, our code (`code_paths`,
    staged under `scratch`) and the pinned requirements (training.model_environment)."""
    return {
        "python_model": CoverageModelPyfunc(),
        "artifacts": {ARTIFACT_KEY: str(saved_model)},
        "signature": model_signature(),
        "input_example": input_example(),
        "code_paths": stage_code(scratch / "code"),
        "pip_requirements": serving_requirements(),
    }


def log_coverage_model(model, registered_model: str = REGISTERED_MODEL):
    """Save `model` (skops) and log it in the active run as a pyfunc whose artifact is that folder,
    registered as a new version of `registered_model`. Returns MLflow's ModelInfo.

    The pyfunc wrapper is logged as an instance of training.pyfunc_model.CoverageModelPyfunc; it
    holds no fitted state (the model travels as the skops artifact), so MLflow's pickle of it
    names only the class, which travels in the model's `code/` folder with everything it imports."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="coverage-model-") as scratch:
        saved = model.save(Path(scratch) / "coverage_model")
        # loaders check the downloaded file against this (tagged on the model version)
        model.metadata[MODEL_SHA256_TAG] = file_sha256(saved / MODEL_FILE)
        return mlflow.pyfunc.log_model(
            name=MODEL_NAME_IN_RUN,
            registered_model_name=registered_model,
            await_registration_for=0,
            **pyfunc_arguments(saved, Path(scratch)),
        )


def record_model_manifest(client, tracking_uri: str, registered_model: str, version: str) -> str:
    """Tag a just registered version, and the run that logged it, with the manifest of every file
    of the model as the artifact store holds it: what every loader checks before it reads a byte
    (training.model.artifacts). Returns the manifest."""
    run_id = client.get_model_version(registered_model, version).run_id
    with tempfile.TemporaryDirectory(prefix="coverage-model-") as scratch:
        stored = download_artifacts(client.get_model_version_download_uri(registered_model, version),
                                    Path(scratch), tracking_uri)
        manifest = manifest_text(stored)
    client.set_model_version_tag(registered_model, version, MODEL_MANIFEST_TAG, manifest)
    if run_id:
        client.set_tag(run_id, MODEL_MANIFEST_TAG, manifest)
    return manifest


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


@dataclass(frozen=True)
class GateRule:
    """One rule of the gate: how much worse than the champion the challenger may be on a metric."""

    metric: str  # a training.evaluation.binary_metrics key
    label: str
    higher_is_better: bool
    margin: float

    def loss(self, challenger, champion):
        """How much worse the challenger is (positive: worse); works on arrays too."""
        return champion - challenger if self.higher_is_better else challenger - champion

    def allows(self, loss: float) -> bool:
        return bool(loss <= self.margin)  # a NaN fails

    @property
    def statement(self) -> str:
        return f"{self.label} may {'drop' if self.higher_is_better else 'rise'} at most {self.margin}"


def gate_rules(params: GateParams) -> tuple[GateRule, ...]:
    """The gate's rules, in the order it reports them (the review notebook applies the same)."""
    return (GateRule("auc", "AUC", True, params.max_auc_drop), GateRule("ece", "ECE", False, params.max_ece_rise))


def decide_promotion(challenger: dict[str, float], champion: dict[str, float] | None,
                     params: GateParams, champion_version: str | None = None) -> GateDecision:
    """Compare test AUC and ECE of challenger and champion on the same claims (`gate_rules`)."""
    if champion is None:
        return GateDecision("promoted", "no champion yet")
    numbers = (f"AUC {challenger['auc']:.4f} vs champion v{champion_version} {champion['auc']:.4f}, "
               f"ECE {challenger['ece']:.4f} vs {champion['ece']:.4f}")
    failures = []
    for rule in gate_rules(params):
        loss = rule.loss(challenger[rule.metric], champion[rule.metric])
        if not rule.allows(loss):
            failures.append(f"{rule.label} {'drops' if rule.higher_is_better else 'rises'} {loss:.4f} > {rule.margin}")
    if failures:
        return GateDecision("kept_champion", f"{'; '.join(failures)} ({numbers})", champion_version, champion)
    return GateDecision("promoted", f"within margins ({numbers})", champion_version, champion)


def score_champion(client, test: pd.DataFrame, registered_model: str = REGISTERED_MODEL):
    """(champion version, its test metrics) or (None, None) without a champion.

    A champion this code cannot load or score yields metrics None and the reason in `error`. A
    champion whose files differ from its manifest raises ModelIntegrityError: someone changed the
    artifact store, and promoting over it would let a worse challenger past the gate unmeasured.
    """
    version = version_for_alias(client, registered_model, CHAMPION, missing_ok=True)
    if version is None:
        return None, None, None
    try:
        champion = load_model(alias_uri(CHAMPION, registered_model), client.tracking_uri).model
        return str(version.version), system_metrics(champion, test), None
    except ModelIntegrityError:
        raise
    except Exception as error:  # noqa: BLE001  (any other failure means the champion cannot serve)
        return str(version.version), None, f"{type(error).__name__}: {error}"


def gate(client, version: str, challenger_metrics: dict[str, float], test: pd.DataFrame,
         params: GateParams, promote: bool = True, registered_model: str = REGISTERED_MODEL) -> GateDecision:
    """Decide and apply: move aliases, tag the model version. The caller logs it to the run."""
    if not promote:
        current = version_for_alias(client, registered_model, CHAMPION, missing_ok=True)
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
    path.write_text(json_text(payload))
    return path


def json_text(payload) -> str:
    """`payload` as strict JSON text, as write_json writes it."""
    return json.dumps(_plain(payload), indent=2, allow_nan=False)


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
