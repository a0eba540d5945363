"""The outcomes loop end to end on real parts: the session's champion served by gunicorn answers
claims drawn from the demo world; their outcomes come back as a CSV file and an X12 835; the
report's figures equal the metrics computed straight from the answers and the two files; a second
ingest doubles nothing; a payer that changed its ways raises the alarm, the unchanged one does not;
the served claims go back into training.

One gunicorn, one set of answers for the module (serving is the slow part); each test works on
its own copy of the audit database and of the registry.
"""
from __future__ import annotations

import http.client
import json
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from service.audit import AuditStore
from service.claims import claim_from_frame_row, claim_to_json
from service.cli import main
from service.outcomes.ingest import ingest_outcomes
from service.outcomes.report import EXIT_ALARM, EXIT_OK
from service.outcomes.store import OutcomeStore
from tests.service.outcomes.remittances import write_835
from tests.service.service_testing import API_KEY, MODEL_NAME, SENTINEL, start_gunicorn
from tests.stores import quick_params
from claims_io.loading import load_claims
from training.demo.generator import generate_history
from scoring.artifacts import file_sha256
from scoring.realised import ALARM_MIN_CLAIMS, EXPERIMENT
from training.train import run_training

SERVED_CLAIMS = 640  # above ALARM_MIN_CLAIMS, so the alarm is called on one version
BATCH = 320
SHIFTED_SHARE = 0.5  # the changed payer denies half of what the old one paid


@dataclass(frozen=True)
class Served:
    folder: Path
    audit_db: Path
    registry_db: Path
    outcomes: pd.DataFrame  # claim_id, outcome, paid_amount, denial_reason, adjudication_date
    answers: dict  # claim_id -> the answer gunicorn sent
    billed: dict  # claim_id -> billed amount
    version: str


@pytest.fixture(scope="module")
def served(model_store, tmp_path_factory) -> Served:
    folder = tmp_path_factory.mktemp("outcomes-loop")
    store = model_store.copy_to(folder / "registry")
    history = folder / "world.csv"
    generate_history(SERVED_CLAIMS, 31, history, progress=False)
    claims = load_claims(history).claims
    requests = []
    for row in claims.to_dict(orient="records"):
        claim = claim_from_frame_row(claim_to_json(row))  # as the service would get it from a file
        claim["claim_id"] = f"SRV-{claim['claim_id']}"  # the clinic's own ids, apart from the training files'
        requests.append(claim)
    audit_db = folder / "audit.db"
    server = start_gunicorn(folder, {"API_KEYS": API_KEY, "TRACKING_URI": store.uri,
                                     "AUDIT_DATABASE_URL": f"sqlite:///{audit_db}", "MODEL_POLL_SECONDS": 0,
                                     "RATE_LIMIT_PER_MINUTE": 0, "RATE_LIMIT_CLAIMS_PER_MINUTE": 0}, workers=1)
    try:
        server.wait_ready()
        answers = {}
        for start in range(0, len(requests), BATCH):
            batch = requests[start:start + BATCH]
            body = _post(server.port, {"claims": batch})
            assert body["answered"] == len(batch), body.get("results", [])[:3]
            answers.update({claim["claim_id"]: result["answer"] for claim, result in zip(batch, body["results"])})
    finally:
        server.stop()
    outcomes = claims.loc[:, ["claim_id", "outcome", "paid_amount", "denial_reason", "service_date"]].copy()
    outcomes["claim_id"] = "SRV-" + outcomes["claim_id"].astype(str)
    outcomes["outcome"] = outcomes["outcome"].astype(str)
    outcomes["denial_reason"] = outcomes["denial_reason"].astype(str)
    outcomes["adjudication_date"] = (pd.to_datetime(outcomes.pop("service_date")) + pd.Timedelta(days=30)) \
        .dt.strftime("%Y-%m-%d")
    billed = dict(zip("SRV-" + claims["claim_id"].astype(str), claims["billed_amount"].astype(float)))
    return Served(folder, audit_db, store.database, outcomes.reset_index(drop=True), answers, billed,
                  model_store.champion_version)


def _post(port: int, payload: dict) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/v1/predict", body=json.dumps(payload),
                           headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        connection.close()


@dataclass(frozen=True)
class Workspace:
    audit_url: str
    tracking_uri: str
    folder: Path

    def audit(self) -> AuditStore:
        return AuditStore(self.audit_url)

    def cli(self, *args: str):
        return CliRunner().invoke(main, ["outcomes", *args, "--audit-url", self.audit_url]
                                  + (["--tracking-uri", self.tracking_uri] if args[0] in ("report", "worklist") else []))


@pytest.fixture
def workspace(served, tmp_path) -> Workspace:
    """This test's own copies of the served audit database and the registry."""
    with closing(sqlite3.connect(served.audit_db)) as source, closing(sqlite3.connect(tmp_path / "audit.db")) as copy:
        source.backup(copy)  # the WAL's rows too, which copying the file would leave behind
    shutil.copyfile(served.registry_db, tmp_path / "mlflow.db")
    return Workspace(f"sqlite:///{tmp_path / 'audit.db'}", f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path)


def _outcome_files(served: Served, folder: Path, outcomes: pd.DataFrame | None = None) -> tuple[Path, Path]:
    """The first half of the outcomes as a CSV file, the second half as an 835 remittance."""
    outcomes = served.outcomes if outcomes is None else outcomes
    half = len(outcomes) // 2
    csv_path = folder / "outcomes.csv"
    outcomes.iloc[:half].to_csv(csv_path, index=False)
    remittance = write_835(outcomes.iloc[half:], served.billed, folder / "remittance.835", date(2026, 2, 1))
    return csv_path, remittance


def _expected(served: Served, outcomes: pd.DataFrame) -> dict[str, float]:
    """The report's main figures computed straight from the answers and the outcome rows."""
    p = np.array([served.answers[claim_id]["approval_probability"] for claim_id in outcomes["claim_id"]])
    y = outcomes["outcome"].isin(["approved", "partial"]).to_numpy()
    bins = np.minimum((p * 15).astype(int), 14)
    ece = sum(abs(y[bins == b].mean() - p[bins == b].mean()) * (bins == b).mean() for b in set(bins))
    decisions = np.array([served.answers[claim_id]["decision"] for claim_id in outcomes["claim_id"]])
    denied = ~y & (outcomes["denial_reason"].to_numpy() != "")
    top = [[reason["carc"] for reason in served.answers[claim_id]["likely_denial_reasons"]][:3]
           for claim_id in outcomes["claim_id"][denied]]
    truth = outcomes["denial_reason"].to_numpy()[denied]
    return {"claims": len(outcomes), "auc": roc_auc_score(y, p), "brier": brier_score_loss(y, p),
            "log_loss": log_loss(y, p), "ece": ece,
            "likely_approved_but_denied": float(((decisions == "likely_approved") & ~y).sum()),
            "likely_denied_but_paid": float(((decisions == "likely_denied") & y).sum()),
            "denial_top1_accuracy": np.mean([bool(codes) and codes[0] == carc for codes, carc in zip(top, truth)]),
            "denial_top3_accuracy": np.mean([carc in codes for codes, carc in zip(top, truth)]),
            "expected_paid": sum(served.answers[claim_id]["expected_payment"]["amount"]
                                 for claim_id in outcomes["claim_id"]),
            "actual_paid": outcomes["paid_amount"].astype(float).sum()}


def _version_tags(workspace: Workspace, version: str) -> dict[str, str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=workspace.tracking_uri, registry_uri=workspace.tracking_uri)
    return client.get_model_version(MODEL_NAME, version).tags


def test_the_report_equals_the_metrics_of_the_answers_and_the_two_outcome_files(served, workspace):
    csv_path, remittance = _outcome_files(served, workspace.folder)
    first, second = (workspace.cli("ingest", str(path)) for path in (csv_path, remittance))
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    half = len(served.outcomes) // 2
    assert f"recorded            {half:>8,}" in first.output
    assert f"recorded            {len(served.outcomes) - half:>8,}" in second.output and "(x12-835)" in second.output

    result = workspace.cli("report", "--json")
    assert result.exit_code == EXIT_OK, result.output
    report = json.loads(result.output)
    figures = report["versions"][served.version]
    for name, value in _expected(served, served.outcomes).items():
        assert figures[name] == pytest.approx(value, rel=1e-9, abs=1e-9), name
    assert sum(week["claims"] for week in figures["weeks"].values()) == len(served.outcomes)
    assert sum(row["count"] for row in figures["calibration"]) == len(served.outcomes)
    assert figures["alarm"]["state"] == "ok", figures["alarm"]["reason"]
    # beside the accuracy: the worklist's denied claims and expected recovery, as `outcomes worklist` writes them
    worklist = workspace.cli("worklist", "--out", str(workspace.folder / "worklist.csv"))
    assert worklist.exit_code == 0, worklist.output
    rows = pd.read_csv(workspace.folder / "worklist.csv")
    assert figures["worklist_claims"] == len(rows) > 0
    assert figures["worklist_expected_recovery"] == pytest.approx(rows["expected_recovery"].sum(), abs=0.01)
    other = workspace.cli("report", "--json", "--model-version", "999")
    assert other.exit_code == 2 and "no version 999 of medspa-coverage" in other.output  # names what exists

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=workspace.tracking_uri)
    run = client.get_run(figures["run_id"])
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT
    assert (run.data.tags["model_name"], run.data.tags["model_version"]) == (MODEL_NAME, served.version)
    assert run.data.metrics["realised_brier"] == pytest.approx(figures["brier"])
    assert {artifact.path for artifact in client.list_artifacts(run.info.run_id)} >= {
        "calibration.png", "calibration.csv", "weekly.csv", "slices.csv", "realised.json"}
    tags = _version_tags(workspace, served.version)
    assert tags["realised_run_id"] == run.info.run_id and tags["realised_alarm"] == "ok"
    assert float(tags["realised_brier"]) == pytest.approx(figures["brier"], abs=1e-6)
    assert "worklist_expected_recovery" in workspace.cli("report").output
    assert "worklist_claims" not in json.loads(workspace.cli("report", "--json", "--no-worklist").output)[
        "versions"][served.version]
    assert int(tags["realised_claims"]) == len(served.outcomes)


def test_ingesting_twice_doubles_nothing_and_unmatched_and_bad_rows_are_counted_apart(served, workspace):
    outcomes = served.outcomes.iloc[:50]
    extra = pd.DataFrame([{"claim_id": "NEVER-SERVED-1", "outcome": "approved", "paid_amount": 10.0,
                           "denial_reason": "", "adjudication_date": "2026-01-05"},
                          {"claim_id": outcomes["claim_id"].iloc[0], "outcome": "denied", "paid_amount": SENTINEL,
                           "denial_reason": "50", "adjudication_date": "2026-01-05"}])
    path = workspace.folder / "outcomes.csv"
    pd.concat([outcomes, extra], ignore_index=True).to_csv(path, index=False)
    first = ingest_outcomes(path, workspace.audit())
    assert (first.added, first.already_recorded, first.unmatched, len(first.quarantined)) == (50, 0, 1, 1)
    assert (first.quarantined[0].position, first.quarantined[0].field) == ("row 52", "paid_amount")
    again = workspace.cli("ingest", str(path), "--quarantine", str(workspace.folder / "q.csv"))
    assert again.exit_code == 0
    assert f"recorded            {0:>8,}" in again.output and f"already recorded    {50:>8,}" in again.output
    assert SENTINEL not in again.output and SENTINEL not in (workspace.folder / "q.csv").read_text()
    assert "row 52,paid_amount," in (workspace.folder / "q.csv").read_text()
    assert OutcomeStore(workspace.audit().engine).count() == 50


def test_a_payer_that_changed_raises_the_alarm_and_its_later_outcomes_supersede_the_first(served, workspace):
    assert len(served.outcomes) >= ALARM_MIN_CLAIMS
    csv_path, remittance = _outcome_files(served, workspace.folder)
    for path in (csv_path, remittance):
        ingest_outcomes(path, workspace.audit())
    # the payer reprocesses: half of what it paid is now denied as not medically necessary, a month later
    shifted = served.outcomes.copy()
    paid = np.flatnonzero(shifted["outcome"].isin(["approved", "partial"]).to_numpy())
    flipped = np.random.default_rng(3).choice(paid, size=int(SHIFTED_SHARE * len(paid)), replace=False)
    shifted.loc[flipped, ["outcome", "paid_amount", "denial_reason"]] = ["denied", 0.0, "50"]
    shifted.loc[flipped, "adjudication_date"] = "2026-03-01"
    later = workspace.folder / "reprocessed.csv"
    shifted.iloc[flipped].to_csv(later, index=False)
    assert ingest_outcomes(later, workspace.audit()).added == len(flipped)
    assert OutcomeStore(workspace.audit().engine).count() == len(served.outcomes) + len(flipped)  # both kept

    result = workspace.cli("report", "--json")
    assert result.exit_code == EXIT_ALARM, result.output
    figures = json.loads(result.output)["versions"][served.version]
    assert figures["alarm"]["state"] == "alarm" and "rose" in figures["alarm"]["reason"]
    assert figures["brier"] == pytest.approx(_expected(served, shifted)["brier"])  # the current outcomes count
    assert _version_tags(workspace, served.version)["realised_alarm"] == "alarm"
    table = workspace.cli("report")
    assert table.exit_code == EXIT_ALARM and f"v{served.version} alarm: alarm: " in table.output


def test_the_served_claims_go_back_into_training(served, workspace, trained_store, tmp_path):
    csv_path, remittance = _outcome_files(served, workspace.folder)
    for path in (csv_path, remittance):
        ingest_outcomes(path, workspace.audit())
    exported = tmp_path / "served-history.csv"
    result = workspace.cli("export-history", "--out", str(exported))
    assert result.exit_code == 0 and f"{len(served.outcomes):,} served claims" in result.output
    assert exported.stat().st_mode & 0o777 == 0o600
    loaded = load_claims(exported)
    assert loaded.report.rows_kept == len(served.outcomes) and loaded.report.rows_quarantined == 0
    back = loaded.claims.set_index("claim_id")
    first = served.outcomes.iloc[0]
    assert back.loc[first["claim_id"], "outcome"] == first["outcome"]

    history = trained_store.files["base"]
    training = run_training([history, exported], tracking_uri=workspace.tracking_uri, promote=False, export=False,
                            params=quick_params(), progress=False, echo=lambda line: None)
    from mlflow import MlflowClient

    tags = MlflowClient(tracking_uri=workspace.tracking_uri).get_run(training.run_id).data.tags
    assert tags["data_file"] == f"{history.name}+{exported.name}"
    assert (tags["data_input_1_sha256"], tags["data_input_2_sha256"]) == (file_sha256(history), file_sha256(exported))
    assert tags["data_input_2_rows_read"] == str(len(served.outcomes))
    assert training.rows_loaded == int(tags["data_input_1_rows_loaded"]) + len(served.outcomes)
