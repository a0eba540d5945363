"""The serving monitor: after real predictions, a `serving-monitor` run with the expected metrics,
from the command line and on the service's schedule (once per window)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from service.monitoring import EXPERIMENT, finished_window, format_table, monitor_finished_window, run_monitor
from tests.model_tampering import register_tampered_copy, swap_denial_labels
from scoring.profile import PSI_MIN_CLAIMS
from tests.service.service_testing import MODEL_NAME, example_claim
from scoring.artifacts import ModelIntegrityError

CLAIMS = [example_claim(claim_id=f"c{n}", patient_age=30 + n) for n in range(6)] + [
    example_claim(claim_id="facial", treatment="facial", procedure_code=None, diagnosis_codes=[]),
    example_claim(claim_id="no-pa", prior_authorization=False),
]


def _serve(app, auth) -> None:
    client = app.test_client()
    claims = [{key: value for key, value in claim.items() if value is not None} for claim in CLAIMS]
    for claim in claims[:4]:
        assert client.post("/v1/predict", json=claim, headers=auth).status_code == 200
    assert client.post("/v1/predict", json={"claims": claims[4:]}, headers=auth).status_code == 200


def _runs(store):
    client = store.client()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


def test_monitor_logs_a_run_with_the_expected_metrics(make_served_app, model_store, tmp_path, auth):
    store = model_store.copy_to(tmp_path / "store")
    app = make_served_app(TRACKING_URI=store.uri)
    _serve(app, auth)
    audited = app.extensions["audit_store"].read_since()
    assert len(audited) == len(CLAIMS)

    # eight claims are far too few to call drift in earnest; the bar is lowered to test the sums
    [summary] = run_monitor(app.extensions["audit_store"], store.uri, datetime.now(timezone.utc) - timedelta(hours=1),
                            min_claims=len(CLAIMS))
    [run] = _runs(store)
    assert run.info.run_id == summary.run_id and run.info.status == "FINISHED"
    tags, metrics = run.data.tags, run.data.metrics
    assert (tags["model_name"], tags["model_version"]) == (MODEL_NAME, store.champion_version)
    assert tags["model_uri"] == f"models:/{MODEL_NAME}/{store.champion_version}"
    assert (metrics["claims"], metrics["requests"]) == (8, 5)
    decisions = [row.answer["decision"] for row in audited]
    assert "excluded" in decisions
    assert metrics["decision_share__excluded"] == pytest.approx(decisions.count("excluded") / 8)
    assert sum(metrics[f"decision_share__{d}"] for d in ("excluded", "likely_approved", "uncertain",
                                                         "likely_denied")) == pytest.approx(1.0)
    probabilities = sorted(row.answer["approval_probability"] for row in audited)
    assert metrics["approval_probability_p50"] == pytest.approx((probabilities[3] + probabilities[4]) / 2)
    assert metrics["approval_probability_p05"] <= metrics["approval_probability_p95"]
    assert 0 < metrics["latency_ms_p50"] <= metrics["latency_ms_p95"] <= metrics["latency_ms_p99"]
    # every claim is in network with a referral: far from the demo history's mix
    psi_fields = {key[len("psi__"):] for key in metrics if key.startswith("psi__")}
    assert {"treatment", "plan_type", "in_network", "referral", "patient_age", "billed_amount"} <= psi_fields
    assert metrics["psi__referral"] > 0.2 and metrics["drifted_fields"] >= 1
    assert metrics["psi_max"] == max(metrics[f"psi__{name}"] for name in psi_fields)
    table = format_table([summary])
    assert "psi__treatment" in table and f"v{store.champion_version}" in table


def test_drift_is_not_called_on_a_small_sample_and_the_report_says_so(make_served_app, model_store, tmp_path,
                                                                     auth):
    store = model_store.copy_to(tmp_path / "store")
    app = make_served_app(TRACKING_URI=store.uri)
    _serve(app, auth)
    [summary] = run_monitor(app.extensions["audit_store"], store.uri, datetime.now(timezone.utc) - timedelta(hours=1))
    assert summary.metrics["claims"] == 8 and "psi__referral" in summary.metrics
    assert "drifted_fields" not in summary.metrics and "psi_max" not in summary.metrics
    assert summary.drift_note == f"not called: 8 claims, fewer than the {PSI_MIN_CLAIMS:,} PSI needs to tell drift from noise"
    table = format_table([summary])
    assert "8 claims" in table and summary.drift_note in table


def test_monitor_splits_the_window_by_served_model_version(make_served_app, model_store, tmp_path, auth):
    store = model_store.copy_to(tmp_path / "store")
    app = make_served_app(TRACKING_URI=store.uri)
    _serve(app, auth)
    store.move_champion(store.other_version)
    assert app.extensions["coverage_model"].poll_once()
    assert app.test_client().post("/v1/predict", json=example_claim(), headers=auth).status_code == 200
    summaries = run_monitor(app.extensions["audit_store"], store.uri, datetime.now(timezone.utc) - timedelta(hours=1))
    assert {(s.model_version, s.metrics["claims"]) for s in summaries} == {(store.champion_version, 8),
                                                                          (store.other_version, 1)}
    assert len(_runs(store)) == 2


def test_monitor_command_prints_the_table_and_logs_the_run(make_served_app, model_store, tmp_path, auth):
    from service import cli

    store = model_store.copy_to(tmp_path / "store")
    app = make_served_app(TRACKING_URI=store.uri)
    _serve(app, auth)
    since = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    result = CliRunner().invoke(cli.main, ["monitor", "--since", since, "--tracking-uri", store.uri,
                                           "--audit-url", app.config["AUDIT_DATABASE_URL"]])
    assert result.exit_code == 0, result.output
    assert "claims" in result.output and "latency_ms_p99" in result.output and "run " in result.output
    assert len(_runs(store)) == 1
    bad = CliRunner().invoke(cli.main, ["monitor", "--since", "last tuesday", "--tracking-uri", store.uri])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_monitor_with_nothing_served_logs_nothing(app, model_store, tmp_path):
    store = model_store.copy_to(tmp_path / "store")
    assert run_monitor(app.extensions["audit_store"], store.uri, datetime.now(timezone.utc) - timedelta(hours=1)) == []
    assert _runs(store) == []


def test_finished_windows_are_aligned_for_every_worker():
    now = datetime(2026, 3, 2, 10, 37, 12, tzinfo=timezone.utc)
    assert finished_window(now, 15) == (datetime(2026, 3, 2, 10, 15, tzinfo=timezone.utc),
                                        datetime(2026, 3, 2, 10, 30, tzinfo=timezone.utc))


def test_the_scheduled_monitor_logs_each_window_once(make_served_app, model_store, tmp_path, auth):
    from service.background import EXTENSION

    store = model_store.copy_to(tmp_path / "store")
    app = make_served_app(TRACKING_URI=store.uri, MONITOR_INTERVAL_MINUTES=60)
    [job] = [job for job in app.extensions[EXTENSION] if job.name != "file-jobs"]  # the file runner always runs
    assert job.name == "serving-monitor" and job.alive
    _serve(app, auth)
    later = datetime.now(timezone.utc) + timedelta(minutes=60)  # the window that holds these claims is over
    [summary] = monitor_finished_window(app, now=later)
    assert summary.metrics["claims"] == 8 and summary.metrics["psi__treatment"] >= 0
    assert summary.drift_note.startswith("not called: 8 claims")  # the served model's own profile, a small sample
    assert monitor_finished_window(app, now=later) == []  # another worker, the same window: nothing new
    [run] = _runs(store)
    assert run.data.tags["monitor_source"] == "service"


def test_a_worker_skips_the_window_while_another_holds_the_monitor_lock(make_served_app, model_store, tmp_path, auth):
    from service.audit import AuditStore
    from service.monitoring import monitor_lock_name

    store = model_store.copy_to(tmp_path / "store")
    app = make_served_app(TRACKING_URI=store.uri, MONITOR_INTERVAL_MINUTES=60)
    _serve(app, auth)
    later = datetime.now(timezone.utc) + timedelta(minutes=60)
    other_worker = AuditStore(app.config["AUDIT_DATABASE_URL"])
    with other_worker.exclusive(monitor_lock_name(store.uri)) as held:
        assert held and monitor_finished_window(app, now=later) == []
    assert len(monitor_finished_window(app, now=later)) == 1


def test_monitor_refuses_a_substituted_model_version_in_one_line(make_served_app, model_store, tmp_path, auth):
    """Claims a version answered whose files were since changed in the artifact store: its training profile
    (metadata.json) is not read unverified, and the command says so in one line."""
    from dataclasses import replace

    from service import cli
    from service.audit import AuditStore

    store = model_store.copy_to(tmp_path / "store")
    app = make_served_app(TRACKING_URI=store.uri)
    _serve(app, auth)
    tampered = register_tampered_copy(store.uri, MODEL_NAME, store.champion_version, tmp_path / "files",
                                      swap_denial_labels)
    audit = AuditStore(f"sqlite:///{tmp_path / 'audit-of-tampered.db'}")
    audit.record_many([replace(record, model_version=tampered) for record in app.extensions["audit_store"].read_since()])
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    with pytest.raises(ModelIntegrityError, match=f"version {tampered} refused"):
        run_monitor(audit, store.uri, since)
    result = CliRunner().invoke(cli.main, ["monitor", "--since", since.isoformat(), "--tracking-uri", store.uri,
                                           "--audit-url", audit.url])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: ") and "metadata.json" in line
    assert _runs(store) == []


def test_metrics_read_a_chunk_at_a_time_equal_metrics_read_at_once(make_served_app, model_store, tmp_path, auth):
    from service.monitoring import VersionWindow

    app = make_served_app(TRACKING_URI=model_store.copy_to(tmp_path / "store").uri)
    _serve(app, auth)
    store = app.extensions["audit_store"]
    records = store.read_since()
    profile = app.extensions["coverage_model"].model.training_profile
    window = VersionWindow(profile)
    chunks = list(store.read_chunks(datetime.now(timezone.utc) - timedelta(hours=1), datetime.now(timezone.utc), rows=3))
    assert [len(chunk) for chunk in chunks] == [3, 3, 2]  # the batch of four is split between chunks
    for chunk in chunks:
        window.add(chunk)
    at_once = VersionWindow(profile)
    at_once.add(records)
    assert window.metrics() == pytest.approx(at_once.metrics())
    assert window.metrics()["requests"] == 5
