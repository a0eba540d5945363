"""`medspa-coverage train`: from a claims file to an evaluated, registered (and maybe promoted)
model. `run_training` runs the stages, each a plain function of its own (`load_stage` ...
`export_stage`), in order and prints each with its timing:

    load -> split -> fit to train -> fit -> evaluate -> log (one MLflow run) -> register -> gate -> export

The file is loaded and checked before MLflow is touched, so a file that cannot train (missing
column, unreadable, nothing left after quarantine, one outcome only) fails with
TrainingInputError and leaves no run behind; so does a file training.data.fitness calls `not fit`
(judged against the champion's training profile, when there is a champion), unless `allow_unfit`:
the verdict and its reasons are printed and travel with the run (tags `fit_to_train`,
`fit_to_train_reasons`, artifact `fit_to_train.json`); rows that break the contract are quarantined and
the quarantine report (counts by reason, and row number / field / reason per problem, never the
rows' values) travels with the run. See scoring.mlflow_store for the tracking store,
training.registry for logging and registering, training.promotion_gate for the gate,
training.evaluation for the metrics, training.export for the bundle.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import mlflow
import pandas as pd

from claims_io.files import ClaimsFileError
from common.json_files import write_json
from features.contract import TARGET
from scoring.artifacts import ModelSourceError, version_for_alias
from scoring.coverage_model import CoverageModel
from scoring.mlflow_store import (CHALLENGER, CHAMPION, REGISTERED_MODEL, TrackingStoreError, ensure_experiment,
                                  mlflow_client, resolve_tracking_uri, tracking)
from scoring.params import ModelParams
from scoring.rule_evidence import format_table, rule_metrics
from scoring.saved_profiles import version_training_profile
from training.data.fitness import NOT_FIT, FitThresholds, FitVerdict, fit_to_train
from training.data.histories import Histories, load_histories
from training.data.split import DEFAULT_TEST_FRACTION, DEFAULT_VALIDATION_FRACTION, split_by_date
from training.evaluation import Evaluation, EvaluationParams, default_truth_path, evaluate, read_truth
from training.export import BundleConflictError, export_champion
from training.model_fitting import fit_coverage_model
from training.plots import write_plots
from training.promotion_gate import GateDecision, GateParams, gate, gate_metrics, gate_tags
from training.provenance import provenance_tags
from training.registry import log_coverage_model, record_model_manifest
from training.stage_clock import StageClock
from training.teacher_pool import start_teachers_for

DEFAULT_EXPERIMENT = "medspa-coverage"
EXIT_OK, EXIT_BAD_INPUT = 0, 2
# Facts the fitting code records in model.metadata, printed after the fit when present.
FIT_FACTS = ("train_rows", "classifier_rows", "calibration_rows", "classifier_iterations")
# Below this, the metrics of a test split are noise and a model is not worth registering.
MIN_TEST_ROWS_PER_OUTCOME = 20
TAG_TEXT_LIMIT = 5000  # characters of the fit verdict's reasons kept in a run tag (the artifact has them all)


class TrainingInputError(ValueError):
    """The claims file cannot train a model; the message says why. No MLflow run was created."""


@dataclass
class TrainingParams:
    """Everything a run can be told (each field is logged as an MLflow param)."""

    model: ModelParams | None = None  # None -> its defaults
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    test_fraction: float = DEFAULT_TEST_FRACTION
    gate: GateParams = field(default_factory=GateParams)
    evaluation: EvaluationParams = field(default_factory=EvaluationParams)

    def flat(self) -> dict[str, object]:
        flat = {f"model_{key}": value for key, value in asdict(self.model).items()}
        flat.update(validation_fraction=self.validation_fraction, test_fraction=self.test_fraction)
        flat.update({f"gate_{key}": value for key, value in asdict(self.gate).items()})
        flat.update({f"evaluation_{key}": value for key, value in asdict(self.evaluation).items()})
        return flat


@dataclass
class TrainingResult:
    run_id: str
    experiment_id: str
    tracking_uri: str
    model_version: str
    decision: str  # promoted | kept_champion | skipped
    reason: str
    promoted: bool
    metrics: dict[str, float]
    split: dict
    rows_loaded: int
    rows_quarantined: int
    bundle_path: Path | None
    seconds: dict[str, float]


def _check_trainable(split) -> None:
    for name in ("train", "test"):
        outcomes = getattr(split, name)[TARGET].value_counts()
        if len(outcomes) < 2 or outcomes.min() < (MIN_TEST_ROWS_PER_OUTCOME if name == "test" else 1):
            raise TrainingInputError(
                f"the {name} split needs both outcomes (approved and denied), at least "
                f"{MIN_TEST_ROWS_PER_OUTCOME} of each in test; it has {outcomes.to_dict()}")


def run_training(data_path, tracking_uri: str | None = None, experiment: str = DEFAULT_EXPERIMENT,
                 promote: bool = True, truth_path=None, params: TrainingParams | None = None,
                 progress: bool = True, models_dir=None, export: bool = True, allow_unfit: bool = False,
                 echo: Callable[[str], None] = print, force_export: bool = False) -> TrainingResult:
    """Load, split, judge, fit, evaluate, log, register, gate and export; see the module docstring.

    `data_path` is one history file or several (training.data.histories: one claim id once, the
    newer outcome winning). `models_dir` is where the champion bundle goes (default: the store's
    own, training.export.default_models_dir); `export` False skips that stage, `force_export` lets
    it replace another store's bundle. Raises TrainingInputError for a file that cannot train, and
    for claims the fit-to-train verdict calls `not fit` unless `allow_unfit`.
    """
    params = params or TrainingParams()
    params.model = params.model or ModelParams()
    data_paths = [Path(path) for path in ([data_path] if isinstance(data_path, (str, Path)) else data_path)]
    stages = StageClock(9, echo)
    uri = resolve_tracking_uri(tracking_uri)

    with tempfile.TemporaryDirectory(prefix="medspa-train-") as scratch:
        scratch = Path(scratch)
        with stages.stage("load"):
            histories, truth, truth_file = load_stage(data_paths, truth_path, echo)
        loaded = histories.loaded
        with stages.stage("split"):
            split = split_stage(data_paths[0], loaded, params, echo)
        with stages.stage("fit to train"):
            fitness = judge_stage(data_paths, histories, uri, params, allow_unfit, echo)
        workers = start_teachers_for(params.model, len(split.train) + len(split.validation))  # docs/model.md

        row_counts = {"read": loaded.report.rows_read, "loaded": len(loaded.claims),
                      "quarantined": loaded.report.rows_quarantined, "train": len(split.train),
                      "validation": len(split.validation), "test": len(split.test)}
        with tracking(uri) as client:
            experiment_id = ensure_experiment(client, experiment, uri)
            with mlflow.start_run(experiment_id=experiment_id,
                                  run_name=f"train-{'+'.join(path.stem for path in data_paths)}-"
                                           f"{time.strftime('%Y%m%d-%H%M%S')}") as run:
                log_inputs(histories, truth_file if truth is not None else None, params, fitness, row_counts, scratch)
                with stages.stage("fit"):
                    model = fit_stage(split, params, progress, echo, workers)
                with stages.stage("evaluate"):
                    evaluation, figures = evaluate_stage(model, split, truth, params, loaded.report.to_dict(),
                                                         scratch, echo)
                with stages.stage("log"):
                    metrics = log_stage(model, evaluation, figures, row_counts, stages.seconds, scratch)
                with stages.stage("register"):
                    version = register_stage(client, uri, model, run.info.run_id, histories, row_counts,
                                             evaluation, metrics, echo)
                with stages.stage("gate"):
                    decision = gate_stage(client, version, metrics, split.test, params.gate, promote, echo)
                with stages.stage("export"):
                    bundle_path = export_stage(client, uri, models_dir, export, echo, force_export)
                mlflow.log_metric("seconds_total", round(sum(stages.seconds.values()), 2))

    return TrainingResult(
        run_id=run.info.run_id, experiment_id=experiment_id, tracking_uri=uri, model_version=version,
        decision=decision.decision, reason=decision.reason, promoted=decision.promoted, metrics=metrics,
        split=split.summary(), rows_loaded=len(loaded.claims), rows_quarantined=loaded.report.rows_quarantined,
        bundle_path=bundle_path, seconds=dict(stages.seconds))


# -- the stages, in run_training's order ---------------------------------------------------------
def load_stage(data_paths: list[Path], truth_path, echo) -> tuple[Histories, pd.DataFrame | None, Path | None]:
    """The histories as one, and the truth file (each claim's true probability) when there is one."""
    try:
        histories = load_histories(data_paths)
    except ClaimsFileError as error:
        raise TrainingInputError(str(error)) from error
    report = histories.loaded.report
    if len(data_paths) > 1:
        for item in histories.inputs:
            echo(f"      {item.file}: {item.rows_read} rows read, {item.rows_loaded} loaded, "
                 f"{item.rows_quarantined} quarantined, {item.rows_superseded} replaced by a newer outcome")
    echo(f"      {report.rows_read} rows read, {len(histories.loaded.claims)} loaded, {report.rows_quarantined} "
         "quarantined")
    # served claims have no true probabilities: a default truth file goes with one history only
    truth_file = Path(truth_path) if truth_path else (
        default_truth_path(data_paths[0]) if len(data_paths) == 1 else None)
    truth = read_truth(truth_file) if truth_file is not None and truth_file.is_file() else None
    if truth_path and truth is None:
        raise TrainingInputError(f"{truth_file}: no such truth file")
    if truth is not None:
        echo(f"      truth: {truth_file.name} ({len(truth)} claims)")
    return histories, truth, truth_file


def split_stage(data_path: Path, loaded, params: TrainingParams, echo):
    """Train, validation and test by service date, each able to train or measure a model."""
    report = loaded.report
    if not report.rows_read:
        raise TrainingInputError(f"{data_path}: no data rows, only the column names; a history needs claims")
    if loaded.claims.empty:
        raise TrainingInputError(f"none of the {report.rows_read:,} rows is a valid claim; "
                                 f"{_quarantine_problems(report)}")
    try:
        split = split_by_date(loaded.claims, params.validation_fraction, params.test_fraction)
        _check_trainable(split)
    except ValueError as error:  # TrainingInputError too: say where the missing rows went
        why = (f"; {report.rows_quarantined:,} of {report.rows_read:,} rows were quarantined, "
               f"{_quarantine_problems(report)}") if report.rows_quarantined else ""
        raise TrainingInputError(f"{error}{why}") from error
    for name, part in split.summary().items():
        echo(f"      {name:<10} {part['rows']:>9} rows  {part['first_date']} .. {part['last_date']}")
    echo(f"      the classifier fits train and validation together, holding out a random "
         f"{params.model.holdout_fraction:.0%} of them for early stopping and calibration; test is only evaluated")
    return split


def judge_stage(data_paths: list[Path], histories: Histories, uri: str, params: TrainingParams, allow_unfit: bool,
                echo) -> FitVerdict:
    """The fit-to-train verdict; claims judged not fit are refused unless `allow_unfit`."""
    fitness = _judge_file(data_paths[0], histories.loaded, uri, params, echo)
    if fitness.verdict == NOT_FIT and not allow_unfit:
        named = data_paths[0].name if len(data_paths) == 1 else histories.files
        raise TrainingInputError(f"{named} is not fit to train on:\n{fitness.summary()}\n"
                                 "fix the file, or train on it anyway with --allow-unfit")
    return fitness


def log_inputs(histories: Histories, truth_file: Path | None, params: TrainingParams, fitness: FitVerdict,
               row_counts: dict, scratch: Path) -> None:
    """What the run was given: params, provenance, the fit-to-train verdict and the quarantine."""
    loaded = histories.loaded
    mlflow.log_params({"data_file": histories.files, "truth_file": truth_file.name if truth_file is not None else "",
                       **params.flat()})
    mlflow.set_tags(provenance_tags(histories.files, histories.sha256, row_counts))
    mlflow.set_tags(histories.run_tags())  # each input's file, sha256 and row counts
    mlflow.set_tags({"fit_to_train": fitness.verdict,
                     "fit_to_train_reasons": "; ".join(fitness.reasons())[:TAG_TEXT_LIMIT],
                     "fit_to_train_overridden": str(fitness.verdict == NOT_FIT).lower()})
    write_json({"verdict": fitness.verdict, "reasons": fitness.reasons(),
                "checks": fitness.checks.to_dict("records"), "drift": fitness.drift.to_dict("records")},
               scratch / "fit_to_train.json")
    mlflow.log_artifact(str(scratch / "fit_to_train.json"))
    # The report and which row failed which check; never the rows' values (patient data:
    # `medspa-coverage validate --quarantine` writes those where the data team works).
    quarantine_dir = scratch / "quarantine"
    quarantine_dir.mkdir()
    write_json(loaded.report.to_dict(), quarantine_dir / "quarantine_report.json")
    loaded.quarantine.loc[:, [name for name in ("file", "row_number", "field", "reason")
                              if name in loaded.quarantine.columns]].to_csv(
        quarantine_dir / "quarantined_rows.csv", index=False)
    write_json([item.to_dict() for item in histories.inputs], quarantine_dir / "data_inputs.json")
    mlflow.log_artifacts(str(quarantine_dir), artifact_path="quarantine")


def fit_stage(split, params: TrainingParams, progress: bool, echo, workers=None) -> CoverageModel:
    model = fit_coverage_model(split.train, split.validation, params.model, progress=progress, workers=workers)
    facts = [f"{key.replace('_', ' ')} {model.metadata[key]}" for key in FIT_FACTS if key in model.metadata]
    echo(f"      {len(model.feature_names)} features; {', '.join(facts)}")
    echo("      exclusion rules against this history (hard: excludes; learned: the classifier decides):")
    for line in format_table(model.evidence()).splitlines():
        echo(f"        {line}")
    return model


def evaluate_stage(model: CoverageModel, split, truth, params: TrainingParams, quarantine_report: dict,
                   scratch: Path, echo) -> tuple[Evaluation, list[Path]]:
    """The test split's metrics against the baselines (and the truth), and the plots."""
    evaluation = evaluate(model, split.train, split.test, truth, params.evaluation)
    for line in evaluation.table().splitlines():
        echo(f"      {line}")
    figures = write_plots(model, evaluation, split.test, scratch / "plots")
    evaluation.report["split"] = split.summary()
    evaluation.report["quarantine"] = quarantine_report
    return evaluation, figures


def log_stage(model: CoverageModel, evaluation: Evaluation, figures: list[Path], row_counts: dict,
              seconds: dict[str, float], scratch: Path) -> dict[str, float]:
    """The run's metrics (evaluation, row counts, stage timings, rule evidence) and artifacts; returns the metrics."""
    metrics = dict(evaluation.metrics)
    metrics.update({f"rows_{name}": float(count) for name, count in row_counts.items()})
    metrics.update({f"seconds_{name}": value for name, value in seconds.items()})
    fit_stages = model.metadata.get("stage_seconds", {})
    metrics.update({f"seconds_fit__{name.replace(' ', '_')}": float(value)
                    for name, value in fit_stages.items() if isinstance(value, (int, float))})
    metrics.update(rule_metrics(model.evidence()))
    mlflow.log_metrics(metrics)
    evidence_file = scratch / "rule_evidence.csv"
    pd.DataFrame(model.evidence().to_rows()).to_csv(evidence_file, index=False)
    mlflow.log_artifact(str(evidence_file))
    write_json(evaluation.report, scratch / "evaluation.json")
    mlflow.log_artifact(str(scratch / "evaluation.json"))
    for figure in figures:
        mlflow.log_artifact(str(figure), artifact_path="plots")
    return metrics


def register_stage(client, uri: str, model: CoverageModel, run_id: str, histories: Histories, row_counts: dict,
                   evaluation: Evaluation, metrics: dict[str, float], echo) -> str:
    """Log the model, register it as `challenger` with its manifest and tags; returns its version."""
    model.metadata.update(
        registered_model=REGISTERED_MODEL, run_id=run_id, data_file=histories.files,
        data_sha256=histories.sha256, rows=row_counts,
        metrics={key: value for key, value in evaluation.metrics.items() if "__" not in key})
    info = log_coverage_model(model)
    version = str(info.registered_model_version)
    record_model_manifest(client, uri, REGISTERED_MODEL, version)
    client.set_registered_model_alias(REGISTERED_MODEL, CHALLENGER, version)
    for key, value in {"data_sha256": histories.sha256, "run_id": run_id,
                       "test_auc": f"{metrics['test_auc']:.6f}",
                       "test_ece": f"{metrics['test_ece']:.6f}",
                       "model_sha256": model.metadata["model_sha256"]}.items():
        client.set_model_version_tag(REGISTERED_MODEL, version, key, value)
    echo(f"      registered {REGISTERED_MODEL} version {version} (alias {CHALLENGER})")
    return version


def gate_stage(client, version: str, metrics: dict[str, float], test: pd.DataFrame, gate_params: GateParams,
               promote: bool, echo) -> GateDecision:
    """Promote the challenger to champion unless it is worse (training.promotion_gate)."""
    challenger = {"auc": metrics["test_auc"], "ece": metrics["test_ece"]}
    decision = gate(client, version, challenger, test, gate_params, promote=promote)
    mlflow.set_tags({**gate_tags(decision), "registered_version": version})
    mlflow.log_metrics(gate_metrics(decision))
    verdict = {"promoted": f"version {version} is now champion",
               "kept_champion": f"version {decision.champion_version} stays champion",
               "skipped": "gate skipped"}[decision.decision]
    echo(f"      {verdict}: {decision.reason}")
    return decision


def export_stage(client, uri: str, models_dir, export: bool, echo, force: bool = False) -> Path | None:
    """The champion's bundle in models_dir (default: the store's own, training.export), unless it
    holds that very model already or `export` is off; says which it did."""
    if not export:
        echo("      export skipped")
        return None
    if version_for_alias(client, REGISTERED_MODEL, CHAMPION, missing_ok=True) is None:
        echo("      no champion to export")
        return None
    try:
        done = export_champion(uri, models_dir, force=force)
    except BundleConflictError as error:  # the model is registered; only its copy on disk is refused
        echo(f"      export refused: {error}")
        return None
    echo(f"      {done.message}")
    if done.exported:
        mlflow.set_tag("exported_bundle", str(done.path))
    return done.path if done.exported else None


# -- helpers of the stages -----------------------------------------------------------------------
def _judge_file(data_path: Path, loaded, uri: str, params: TrainingParams, echo) -> FitVerdict:
    """training.data.fitness's verdict on the file, against the champion's training profile when
    the store has a champion whose files verify (the gate names any other problem with it later)."""
    profile, against = _champion_profile(uri)
    fitness = fit_to_train(data_path, profile, FitThresholds(test_fraction=params.test_fraction), loaded=loaded)
    echo(f"      {fitness.summary().splitlines()[0]} ({against})")
    for line in fitness.reasons():
        echo(f"        {line}")
    return fitness


def _champion_profile(uri: str) -> tuple[dict | None, str]:
    """(the champion's training profile, which it is), read from its verified metadata.json
    without loading the model; (None, why) when there is none to read. Opens no new store."""
    try:
        client = mlflow_client(uri, must_exist=True)
        champion = version_for_alias(client, REGISTERED_MODEL, CHAMPION, missing_ok=True)
        if champion is None:
            return None, "no champion to compare with"
        return (version_training_profile(client, uri, REGISTERED_MODEL, champion.version),
                f"against champion v{champion.version}")
    except TrackingStoreError:
        return None, "no store yet: no champion to compare with"
    except ModelSourceError as error:
        return None, f"the champion's profile could not be read ({error})"


def _quarantine_problems(report, shown: int = 3) -> str:
    """The most common quarantine reasons with their counts; a reason names a field and a check, never a value."""
    common = ", ".join(f"{reason} ({count:,})" for reason, count in list(report.quarantined_by_reason.items())[:shown])
    return (f"most common problems: {common} (`medspa-coverage validate {report.path} --quarantine OUT.csv` "
            "lists each row and field)")


