"""The serving monitor: what was served in a time window, summarised into an MLflow run.

`run_monitor` reads the audit store between two times, a chunk at a time (memory flat in the
number of rows but for 8 bytes a claim kept for exact quantiles), and, per served model version, logs one
run of the `serving-monitor` experiment, tagged with the model's name, version and URI and the run
and manifest its audit rows recorded (and linked to its logged model), with flat metrics; a
version number the tracking store gives to another model than the rows recorded is refused
(scoring.model_identity):

- volume: `claims`, `requests`;
- decision mix: `decision_share__<decision>`;
- probability distribution: `approval_probability_mean`, `approval_probability_p05` ... `_p95`;
- latency per request (a batch counts once): `latency_ms_p50`, `_p95`, `_p99`;
- input drift against the training-data profile stored with the model (scoring.profile): PSI
  per field, `psi__<field>`, plus `psi_max` and `drifted_fields` (PSI above PSI_SIGNIFICANT, the
  usual threshold of a significant shift). Few claims make PSI noisy: read it with `claims`.

`medspa-coverage monitor` runs it from the command line; the service runs it on a schedule
(`MONITOR_INTERVAL_MINUTES`) for each finished window, once per window whatever the number of
workers and hosts (the audit store's lock, on PostgreSQL shared by every host, and a look for the
window's run before logging it). Only aggregates leave
the audit store: no claim, answer or key reaches the tracking store.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import numpy as np
from flask import Flask

from service.background import start_job
from service.settings import ENV_PREFIX, default_settings
from service.version_table import version_table
from scoring.artifacts import ModelIntegrityError
from scoring.decisions import DECISION_BANDS
from scoring.mlflow_store import ensure_experiment, log_version_run, mlflow_client
from scoring.model_identity import UNRECORDED_NOTE, Identity, check_attribution, identity_tags
from scoring.saved_profiles import version_training_profile
from scoring.profile import (PSI_MIN_CLAIMS, PSI_SIGNIFICANT, input_fields, profile_counts,
                                    stability_from_counts, too_few_for_drift)

EXPERIMENT = "serving-monitor"
PROBABILITY_QUANTILES = (5, 25, 50, 75, 95)
LATENCY_PERCENTILES = (50, 95, 99)
# Audit rows read at a time: a row's claim and full answer are ~10 kB as Python objects, so this
# bounds the monitor's working memory (the rest is 8 bytes a claim)
CHUNK_ROWS = 2_000

log = logging.getLogger(__name__)

ProfileLookup = Callable[[str, str], dict | None]


@dataclass
class MonitorSummary:
    model_name: str | None
    model_version: str | None
    since: datetime
    until: datetime
    metrics: dict[str, float]
    drift_note: str = ""
    run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    unrecorded_claims: int = 0  # served before the audit rows recorded run and manifest


class VersionWindow:
    """What the monitor keeps for one served model version while it reads the window a chunk at a
    time: counts, the profile's bins, and one number per claim (its probability) and per request
    (its latency) for exact quantiles: memory of 8 bytes a claim, never the claims themselves."""

    def __init__(self, profile: dict | None):
        self.profile = profile
        self.claims = self.requests = 0
        self.decisions: Counter = Counter()
        self.probabilities: list[np.ndarray] = []
        self.latencies: list[float] = []
        self.drift_counts: dict[str, np.ndarray] = {}
        self.identities: set[Identity] = set()  # the models the rows say answered (scoring.model_identity)
        self.unrecorded = 0
        self._last_request: str | None = None

    def add(self, records: list) -> None:
        """A chunk of this version's audit records, in insertion order (a request's rows are consecutive)."""
        if not records:
            return
        self.claims += len(records)
        for record in records:
            identity = Identity(record.model_run_id, record.model_manifest_sha256)
            self.identities.add(identity)
            self.unrecorded += not identity.recorded
        self.decisions.update(record.answer.get("decision") for record in records)
        self.probabilities.append(np.array([record.answer.get("approval_probability", np.nan) for record in records],
                                           dtype=float))
        for record in records:
            if record.request_id != self._last_request:
                self.requests += 1
                self.latencies.append(record.latency_ms)
                self._last_request = record.request_id
        if self.profile:
            counts = profile_counts(self.profile, {name: np.array([record.claim.get(name) for record in records])
                                                   for name in input_fields(self.profile)})
            for name, bins in counts.items():
                self.drift_counts[name] = self.drift_counts[name] + bins if name in self.drift_counts else bins

    def metrics(self, min_claims: int = PSI_MIN_CLAIMS) -> dict[str, float]:
        """The monitor's metrics (see the module docstring). The PSI of each field is logged
        whatever the sample; drift is called (`psi_max`, `drifted_fields`) only from `min_claims`
        claims on."""
        metrics: dict[str, float] = {"claims": float(self.claims), "requests": float(self.requests)}
        if not self.claims:
            return metrics
        for decision in DECISION_BANDS:
            metrics[f"decision_share__{decision}"] = self.decisions[decision] / self.claims
        probabilities = np.concatenate(self.probabilities)
        probabilities = probabilities[np.isfinite(probabilities)]
        if len(probabilities):
            metrics["approval_probability_mean"] = float(probabilities.mean())
            for q, value in zip(PROBABILITY_QUANTILES, np.percentile(probabilities, PROBABILITY_QUANTILES)):
                metrics[f"approval_probability_p{q:02d}"] = float(value)
        for q, value in zip(LATENCY_PERCENTILES, np.percentile(np.array(self.latencies, dtype=float),
                                                               LATENCY_PERCENTILES)):
            metrics[f"latency_ms_p{q}"] = float(value)
        if self.profile:
            psi = stability_from_counts(self.profile, self.drift_counts)
            metrics.update({f"psi__{name}": value for name, value in psi.items()})
            if psi and not too_few_for_drift(self.claims, min_claims):
                metrics["psi_max"] = max(psi.values())
                metrics["drifted_fields"] = float(sum(value > PSI_SIGNIFICANT for value in psi.values()))
        return metrics


def registry_profile_lookup(client, tracking_uri: str) -> ProfileLookup:
    """Profiles of registered versions, read without loading the model once every file of the
    version is verified against its manifest (scoring.saved_profiles)."""
    return lambda name, version: version_training_profile(client, tracking_uri, name, version)


def run_monitor(audit_store, tracking_uri: str, since: datetime, until: datetime | None = None,
                profile_for: ProfileLookup | None = None, source: str = "cli",
                min_claims: int = PSI_MIN_CLAIMS) -> list[MonitorSummary]:
    """Summarise what was served in [since, until) and log one run per model version; return them.
    AttributionError, before any run is logged, when the store's version of a served number is
    another model than the one the audit rows recorded (scoring.model_identity)."""
    until = until or datetime.now(timezone.utc)
    since, until = _utc(since), _utc(until)
    client = registry_lookup = None
    windows: dict[tuple, tuple[VersionWindow, str]] = {}
    for chunk in audit_store.read_chunks(since, until, rows=CHUNK_ROWS):
        groups: dict[tuple, list] = defaultdict(list)
        for record in chunk:
            groups[(record.model_name, record.model_version)].append(record)
        for (name, version), records in groups.items():
            if (name, version) not in windows:
                if registry_lookup is None:
                    client = mlflow_client(tracking_uri)
                    registry_lookup = registry_profile_lookup(client, tracking_uri)
                profile, note = _profile(name, version, profile_for, registry_lookup)
                windows[(name, version)] = (VersionWindow(profile), note)
            windows[(name, version)][0].add(records)
    if not windows:
        return []
    for (name, version), (window, _) in windows.items():
        check_attribution(client, tracking_uri, name, version, window.identities)
    experiment_id = ensure_experiment(client, EXPERIMENT, tracking_uri)
    summaries = []
    for (name, version), (window, note) in sorted(windows.items(), key=lambda item: str(item[0])):
        if window.profile and not note:
            note = too_few_for_drift(window.claims, min_claims)
        summary = MonitorSummary(name, version, since, until, window.metrics(min_claims), note,
                                 unrecorded_claims=window.unrecorded)
        summary.tags = {"model_name": str(name), "model_version": str(version),
                        "model_uri": f"models:/{name}/{version}", **identity_tags(window.identities),
                        "window_start": since.isoformat(),
                        "window_end": until.isoformat(), "monitor_source": source,
                        "drift": note or "psi against the model's training profile"}
        summary.run_id = _log_run(client, experiment_id, summary)
        summaries.append(summary)
    return summaries


def _profile(name, version, profile_for, registry_lookup) -> tuple[dict | None, str]:
    if name is None or version is None:
        return None, "unavailable: the audit rows name no model version"
    for lookup in (profile_for, registry_lookup):
        if lookup is None:
            continue
        try:
            profile = lookup(str(name), str(version))
        except ModelIntegrityError:
            raise  # a changed model in the artifact store is news, not a missing drift figure
        except Exception as error:  # noqa: BLE001  (drift is one part of the summary; the rest still counts)
            log.warning("training profile lookup failed", extra={"detail": type(error).__name__})
            continue
        if profile:
            return profile, ""
    return None, "unavailable: no training profile found for this model version"


def _log_run(client, experiment_id: str, summary: MonitorSummary) -> str:
    return log_version_run(
        client, experiment_id, f"monitor-{summary.model_name}-v{summary.model_version}-{summary.until:%Y%m%dT%H%M%SZ}",
        summary.model_name, summary.model_version, tags=summary.tags, metrics=summary.metrics,
        params={"since": summary.since.isoformat(), "until": summary.until.isoformat()},
        timestamp_ms=int(summary.until.timestamp() * 1000))


def format_table(summaries: list[MonitorSummary]) -> str:
    """Metrics as rows, one column per served model version."""
    if not summaries:
        return "no served claims in this window"
    keys = list(dict.fromkeys(key for summary in summaries for key in summary.metrics))
    sample = sum(int(summary.metrics.get("claims", 0)) for summary in summaries)
    lines = [f"{summaries[0].model_name}: served {summaries[0].since:%Y-%m-%d %H:%M} .. "
             f"{summaries[0].until:%Y-%m-%d %H:%M} UTC, {sample:,} claims (drift is called from "
             f"{PSI_MIN_CLAIMS:,} claims per version on)"]
    lines += version_table("metric", keys, [summary.metrics for summary in summaries],
                           [f"v{summary.model_version}" for summary in summaries],
                           counts={"claims", "requests", "drifted_fields"})
    lines += [f"v{summary.model_version}: run {summary.run_id}" + (f" (drift {summary.drift_note})"
                                                                  if summary.drift_note else "")
              for summary in summaries]
    lines += [f"v{summary.model_version}: {summary.unrecorded_claims:,} claims {UNRECORDED_NOTE}"
              for summary in summaries if summary.unrecorded_claims]
    return "\n".join(lines)


def parse_time(value: str | None) -> datetime:
    """An ISO 8601 time (UTC unless it carries an offset); None means now. ValueError otherwise."""
    if value is None:
        return datetime.now(timezone.utc)
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError("not an ISO 8601 time such as 2026-03-02T08:00 or 2026-03-02T08:00+01:00") from None


def check_window(since: datetime | None, until: datetime | None, now: datetime | None = None) -> None:
    """ValueError when a window cannot hold a served claim: it starts in the future, or at or
    after its end. Silence ("no served claims in this window") would hide the typo."""
    now = now or datetime.now(timezone.utc)
    if since is not None and since > now:
        raise ValueError("--since is in the future: no claim has been served after it yet")
    if since is not None and until is not None and since >= until:
        raise ValueError("--since must be before --until")


def default_audit_url() -> str:
    """The service's audit store: MEDSPA_COVERAGE_AUDIT_DATABASE_URL, else its default."""
    return os.environ.get(f"{ENV_PREFIX}_AUDIT_DATABASE_URL") or default_settings()["AUDIT_DATABASE_URL"]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


# -- in the service -----------------------------------------------------------------------------
def finished_window(now: datetime, minutes: int) -> tuple[datetime, datetime]:
    """The last whole window of `minutes` before `now`, aligned on the epoch (the same for every worker)."""
    epoch, interval = datetime(1970, 1, 1, tzinfo=timezone.utc), timedelta(minutes=minutes)
    end = epoch + ((_utc(now) - epoch) // interval) * interval
    return end - interval, end


def monitor_lock_name(tracking_uri: str) -> str:
    """The audit store's lock (AuditStore.exclusive) one worker holds while it monitors a window for
    this tracking store: on PostgreSQL one for every host."""
    return "monitor-" + hashlib.sha256(tracking_uri.encode()).hexdigest()[:16]


def monitor_finished_window(app: Flask, now: datetime | None = None) -> list[MonitorSummary]:
    """The scheduled run: log the last finished window unless a worker already did."""
    config = app.config
    since, until = finished_window(now or datetime.now(timezone.utc), config["MONITOR_INTERVAL_MINUTES"])
    uri = config["TRACKING_URI"]
    with app.extensions["audit_store"].exclusive(monitor_lock_name(uri)) as held:
        if not held:
            return []
        client = mlflow_client(uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        if experiment is not None and client.search_runs(
                [experiment.experiment_id], max_results=1,
                filter_string=f"tags.window_end = '{until.isoformat()}' and tags.monitor_source = 'service'"):
            return []
        summaries = run_monitor(app.extensions["audit_store"], uri, since, until,
                                profile_for=_served_profile(app), source="service")
    for summary in summaries:
        log.info("serving monitor run logged", extra={"model_version": str(summary.model_version),
                                                      "claims": int(summary.metrics["claims"])})
    return summaries


def _served_profile(app: Flask) -> ProfileLookup:
    def lookup(name: str, version: str) -> dict | None:
        model = app.extensions["coverage_model"].model
        ref = getattr(model, "ref", None) or {}
        if (ref.get("name"), ref.get("version")) == (name, version):
            return getattr(model, "training_profile", None)
        return None

    return lookup


def init_app(app: Flask) -> None:
    minutes = app.config["MONITOR_INTERVAL_MINUTES"]
    if minutes > 0:
        start_job(app, "serving-monitor", minutes * 60, lambda: monitor_finished_window(app))
