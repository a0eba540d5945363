"""`medspa-coverage outcomes report`: realised accuracy of each served model version.

Joins the last answer served for each claim (service.outcomes.served, in the window of
`served_at` given) with the claim's current outcome (service.outcomes.store), and measures per
model version and per ISO week of service what scoring.realised defines. Each version's report
is a run of the `serving-outcomes` experiment, tagged and linked to the version as the serving
monitor's runs are, with the calibration plot, the calibration table, the weekly figures and the
per plan / per treatment figures (`slices.csv`, and flat `realised_<metric>__<slice>` metrics, the
twins of the training run's `test_<metric>__<slice>`) as artifacts. The version itself gets tags
with its latest realised figures (`realised_*`) and the alarm's verdict (`realised_alarm`: ok,
alarm or not called), compared with the test figures of the training run that registered it.

Beside the accuracy, each version's figures count the denial worklist of the same window
(service.outcomes.worklist, scored with the champion the command loaded): `worklist_claims`, its
denied claims that version answered, and `worklist_expected_recovery`, what the playbook expects
to recover of them (USD): what the realised denials are still worth to the billing office.
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from service.outcomes.served import last_served, served_window
from service.outcomes.store import OutcomeStore
from service.outcomes.worklist import build_worklist
from service.version_table import version_table
from scoring.artifacts import numbered_version
from scoring.mlflow_store import REGISTERED_MODEL, ensure_experiment, log_version_run, mlflow_client
from scoring.model_identity import UNRECORDED_NOTE, Identity, check_attribution, identity_tags
from features.contract import TARGET
from scoring.metrics import plot_calibration
from scoring.realised import (ALARM_MIN_CLAIMS, EXPERIMENT, JOINED_COLUMNS, Degradation, approved,
                              calibration_curve, degradation, realised_figures, slice_metric_key, slice_table,
                              weekly_figures)
from common.json_files import json_text, write_json

EXIT_OK, EXIT_ALARM = 0, 3  # 1: an error, 2: a usage error (click)
IDENTITY_COLUMNS = ("model_name", "model_run_id", "model_manifest_sha256")
PROMOTED_METRICS = ("auc", "brier", "log_loss", "ece")  # the training run's test_<name>
VERSION_TAG_FIGURES = ("claims", "auc", "brier", "log_loss", "ece", "denial_top1_accuracy",
                       "denial_top3_accuracy", "expected_to_actual_paid")
WORKLIST_FIGURES = ("worklist_claims", "worklist_expected_recovery")
TABLE_FIGURES = ("claims", "approval_rate", "auc", "brier", "log_loss", "ece", "likely_approved_but_denied",
                 "likely_denied_but_paid", "denial_top1_accuracy", "denial_top3_accuracy", "expected_paid",
                 "actual_paid", "expected_to_actual_paid", *WORKLIST_FIGURES)


@dataclass
class VersionReport:
    model_name: str | None
    model_version: str | None
    figures: dict[str, float]
    weeks: dict[str, dict[str, float]]
    calibration: pd.DataFrame
    slices: pd.DataFrame
    promoted: dict[str, float]
    degradation: Degradation
    run_id: str | None = None
    unrecorded_claims: int = 0  # served before the audit rows recorded run and manifest

    def to_dict(self) -> dict:
        return {"model_name": self.model_name, "model_version": self.model_version, **self.figures,
                "calibration": self.calibration.to_dict(orient="records"), "weeks": self.weeks,
                "slices": self.slices.to_dict(orient="records"),
                "promoted": {f"test_{name}": value for name, value in self.promoted.items()},
                "alarm": {"state": self.degradation.tag, "reason": self.degradation.reason}, "run_id": self.run_id,
                "claims_attributed_by_number_alone": self.unrecorded_claims}


@dataclass
class OutcomesReport:
    since: datetime
    until: datetime
    versions: list[VersionReport] = field(default_factory=list)

    @property
    def alarm(self) -> bool:
        return any(version.degradation.alarm for version in self.versions)

    @property
    def exit_code(self) -> int:
        return EXIT_ALARM if self.alarm else EXIT_OK

    def to_dict(self) -> dict:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "alarm": self.alarm,
                "versions": {str(version.model_version): version.to_dict() for version in self.versions}}


def joined_outcomes(audit_store, since: datetime | None = None, until: datetime | None = None,
                    model_version: str | None = None) -> pd.DataFrame:
    """One row per served claim with a current outcome (scoring.realised.JOINED_COLUMNS, plus
    model_name and the model's identity: model_run_id, model_manifest_sha256)."""
    outcomes = OutcomeStore(audit_store.engine).current()
    served = last_served(audit_store, set(outcomes), since, until)
    rows = []
    for claim_id, record in served.items():
        if model_version is not None and record.model_version != model_version:
            continue
        outcome, answer = outcomes[claim_id], record.answer
        rows.append({"claim_id": claim_id, "service_date": record.claim.get("service_date"),
                     "plan_type": record.claim.get("plan_type"), "treatment": record.claim.get("treatment"),
                     "model_name": record.model_name, "model_version": record.model_version,
                     "model_run_id": record.identity.run_id, "model_manifest_sha256": record.identity.manifest_sha256,
                     "decision": answer.get("decision"), "approval_probability": answer.get("approval_probability"),
                     "likely_denial_reasons": [reason.get("carc")
                                               for reason in answer.get("likely_denial_reasons") or []],
                     "expected_payment": (answer.get("expected_payment") or {}).get("amount", 0.0),
                     "outcome": outcome.outcome, "paid_amount": outcome.paid_amount,
                     "denial_reason": outcome.denial_reason})
    return pd.DataFrame(rows, columns=[*JOINED_COLUMNS, *IDENTITY_COLUMNS])


def run_report(audit_store, tracking_uri: str, since: datetime | None = None, until: datetime | None = None,
               model_version: str | None = None, min_claims: int = ALARM_MIN_CLAIMS,
               answer=None) -> OutcomesReport:
    """Measure each served version's realised accuracy, log a run per version and tag the versions;
    with `answer` (a served model's, service.denials.Answer), count the window's denial worklist per
    version too. Raises ModelSourceError (TrackingStoreError) when `model_version` is not in the store, and
    AttributionError, before anything is logged, when the store's version of that number is another
    model than the one the audit rows recorded (scoring.model_identity)."""
    start, end = served_window(since, until)
    if model_version is not None:  # a version the store lacks is a typo, not "no served claims"
        numbered_version(mlflow_client(tracking_uri, must_exist=True), REGISTERED_MODEL, model_version)
    joined = joined_outcomes(audit_store, start, end, model_version)
    report = OutcomesReport(start, end)
    if joined.empty:
        return report
    recovery = build_worklist(audit_store, answer, start, end).recovery_by_version() if answer else None
    client = mlflow_client(tracking_uri)
    by_version = joined.groupby(["model_name", "model_version"], dropna=False, sort=True)
    groups = [(None if pd.isna(name) else str(name), None if pd.isna(version) else str(version), part)
              for (name, version), part in by_version]
    for name, version, part in groups:  # every version checked before any is logged
        check_attribution(client, tracking_uri, name, version, recorded_identities(part))
    experiment_id = ensure_experiment(client, EXPERIMENT, tracking_uri)
    for name, version, part in groups:
        figures = realised_figures(part)
        if recovery is not None:
            figures.update(zip(WORKLIST_FIGURES, map(float, recovery.get(version, (0, 0.0)))))
        promoted = promoted_figures(client, name, version)
        found = VersionReport(name, version, figures, weekly_figures(part), calibration_curve(part),
                              slice_table(part), promoted, degradation(figures, promoted, min_claims),
                              unrecorded_claims=int(part["model_run_id"].isna().sum()))
        found.run_id = _log_run(client, experiment_id, found, part, start, end)
        if name is not None and version is not None:
            _tag_version(client, found, start, end)
        report.versions.append(found)
    return report


def recorded_identities(part: pd.DataFrame) -> set[Identity]:
    """The distinct model identities the audit rows of one version recorded."""
    pairs = part[["model_run_id", "model_manifest_sha256"]].drop_duplicates()
    return {Identity(*(None if pd.isna(value) else str(value) for value in pair))
            for pair in pairs.itertuples(index=False)}


def promoted_figures(client, name: str | None, version: str | None) -> dict[str, float]:
    """The test figures the version was registered and promoted with: its training run's test_* metrics."""
    from mlflow.exceptions import MlflowException

    if name is None or version is None:
        return {}
    try:
        run_id = client.get_model_version(name, version).run_id
        metrics = client.get_run(run_id).data.metrics if run_id else {}
    except MlflowException:
        return {}
    return {metric: float(metrics[f"test_{metric}"]) for metric in PROMOTED_METRICS if f"test_{metric}" in metrics}


def _run_metrics(found: VersionReport) -> dict[str, float]:
    metrics = {f"realised_{key}": value for key, value in found.figures.items()}
    for row in found.slices.itertuples(index=False):
        metrics[slice_metric_key("claims", row.column, row.value)] = float(row.claims)
        for metric in ("auc", "brier", "ece"):
            value = getattr(row, metric)
            if not math.isnan(value):
                metrics[slice_metric_key(metric, row.column, row.value)] = float(value)
    metrics.update({f"promoted_test_{key}": value for key, value in found.promoted.items()})
    metrics["realised_alarm"] = float(found.degradation.alarm)
    return {key: float(value) for key, value in metrics.items() if math.isfinite(value)}


def _log_run(client, experiment_id: str, found: VersionReport, joined: pd.DataFrame, since: datetime,
             until: datetime) -> str:
    tags = {"model_uri": f"models:/{found.model_name}/{found.model_version}", **identity_tags(recorded_identities(joined)),
            "window_start": since.isoformat(),
            "window_end": until.isoformat(), "alarm": found.degradation.tag, "alarm_reason": found.degradation.reason}
    with tempfile.TemporaryDirectory(prefix="medspa-outcomes-") as scratch:
        folder = Path(scratch)
        scores = pd.DataFrame({TARGET: approved(joined["outcome"]),
                               "system": joined["approval_probability"].to_numpy(dtype=float)})
        plot_calibration(scores, folder / "calibration.png", claims="adjudicated served claims")
        found.calibration.to_csv(folder / "calibration.csv", index=False)
        pd.DataFrame([{"week": week, **figures} for week, figures in found.weeks.items()]).to_csv(
            folder / "weekly.csv", index=False)
        found.slices.to_csv(folder / "slices.csv", index=False)
        write_json(found.to_dict(), folder / "realised.json")
        return log_version_run(
            client, experiment_id, f"outcomes-{found.model_name}-v{found.model_version}-{until:%Y%m%dT%H%M%SZ}",
            found.model_name, found.model_version, tags=tags, metrics=_run_metrics(found),
            params={"since": since.isoformat(), "until": until.isoformat(), "alarm_min_claims": str(ALARM_MIN_CLAIMS)},
            timestamp_ms=int(until.timestamp() * 1000),
            artifacts=[(folder / name, None) for name in ("calibration.png", "calibration.csv", "weekly.csv",
                                                          "slices.csv", "realised.json")])


def _tag_version(client, found: VersionReport, since: datetime, until: datetime) -> None:
    from mlflow.exceptions import MlflowException

    tags = {f"realised_{key}": _tag_value(found.figures[key]) for key in VERSION_TAG_FIGURES if key in found.figures}
    tags.update(realised_window=f"{since.isoformat()} .. {until.isoformat()}", realised_run_id=str(found.run_id),
                realised_alarm=found.degradation.tag, realised_alarm_reason=found.degradation.reason[:5000])
    try:
        for key, value in tags.items():
            client.set_model_version_tag(found.model_name, found.model_version, key, value)
    except MlflowException:
        pass  # a version this registry does not hold (served from a bundle of another store): the run says it all


def _tag_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1 else f"{value:.6f}"


def format_report(report: OutcomesReport) -> str:
    """Figures as rows, one column per served model version, then each version's alarm and run."""
    if not report.versions:
        return (f"no served claims with outcomes between {report.since:%Y-%m-%d %H:%M} and "
                f"{report.until:%Y-%m-%d %H:%M} UTC (ingest outcomes with `medspa-coverage outcomes ingest`)")
    lines = [f"realised accuracy, claims served {report.since:%Y-%m-%d %H:%M} .. {report.until:%Y-%m-%d %H:%M} UTC "
             f"(alarm from {ALARM_MIN_CLAIMS:,} claims per version on)"]
    lines += version_table("figure", TABLE_FIGURES, [version.figures for version in report.versions],
                           [f"v{version.model_version}" for version in report.versions],
                           counts={"claims", "likely_approved_but_denied", "likely_denied_but_paid", "worklist_claims"},
                           large_decimals=2)
    for version in report.versions:
        lines.append("")
        lines.append(f"v{version.model_version}, last weeks of service (all: --json, weekly.csv): " + ", ".join(
            f"{week} {int(figures['claims'])} claims Brier {figures.get('brier', math.nan):.3f}"
            for week, figures in list(version.weeks.items())[-8:]))
        lines.append(f"v{version.model_version} alarm: {version.degradation.tag}: {version.degradation.reason}")
        lines.append(f"v{version.model_version}: run {version.run_id}")
        if version.unrecorded_claims:
            lines.append(f"v{version.model_version}: {version.unrecorded_claims:,} claims {UNRECORDED_NOTE}")
    return "\n".join(lines)


def format_json(report: OutcomesReport) -> str:
    """One strict JSON object (NaN as null): the figures per model version under its version number."""
    return json_text(report.to_dict())
