"""A model is known by what it is, not by its number (issue 28): two tracking stores whose first
versions collide (store A, a copy of the session's trained store, and store B, trained here
once), claims served from A's version 1, and every command run across both: export, the
monitor, the outcomes report, the review and the service's model swap each work against the store
that served the claims and refuse, in one line, to attribute them to B's version 1."""
from __future__ import annotations

import csv
import os
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from scoring.artifacts import MODEL_MANIFEST_TAG, manifest_digest
from scoring.mlflow_store import REGISTERED_MODEL, mlflow_client, store_label
from scoring.model_identity import SERVED_MANIFEST_TAG, SERVED_RUN_TAG, UNRECORDED_NOTE
from scoring.realised import EXPERIMENT as OUTCOMES_EXPERIMENT
from service import cli
from service.audit import AuditRecord, AuditStore
from service.monitoring import EXPERIMENT as MONITOR_EXPERIMENT
from tests.service.service_testing import API_KEY, example_claim
from tests.stores import quiet_run
from training.export import BundleConflictError, export_champion
from training.review.realised import realised_beside_test

CLAIM_IDS = [f"lineage-{number}" for number in range(6)]
ANOTHER_MODEL = "another model with the same number"


@pytest.fixture(scope="module")
def two_stores(trained_store, demo_files, tmp_path_factory):
    """(store A, store B): A's version 1 is the session's `base` model (alias `previous`), B's
    version 1 the same claims trained again in a store of its own: another run, another manifest."""
    store_a = trained_store.copy_to(tmp_path_factory.mktemp("store-a"))
    folder_b = tmp_path_factory.mktemp("store-b")
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        result = quiet_run(demo_files["base"], folder_b)  # exports B's champion to B's own models/
    finally:  # training sets the variable for MLflow; later tests must not inherit it
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    assert str(result.model_version) == "1" and result.promoted
    return store_a, f"sqlite:///{folder_b / 'mlflow.db'}", folder_b


def identity(uri: str, version: str) -> tuple[str, str]:
    found = mlflow_client(uri).get_model_version(REGISTERED_MODEL, version)
    return found.run_id, manifest_digest(found.tags[MODEL_MANIFEST_TAG])


def serve_from_store_a(make_app, store_a, audit_url: str):
    """An app serving store A's version 1, which answers CLAIM_IDS into the audit store."""
    app = make_app(TRACKING_URI=store_a.uri, MODEL_ALIAS="previous", AUDIT_DATABASE_URL=audit_url)
    answered = app.test_client().post("/v1/predict", headers={"X-API-Key": API_KEY},
                                      json={"claims": [example_claim(claim_id=claim_id) for claim_id in CLAIM_IDS]})
    assert answered.status_code == 200
    assert {result["answer"]["model"]["version"] for result in answered.get_json()["results"]} == {"1"}
    return app


def run(*arguments: str):
    return CliRunner().invoke(cli.main, list(arguments))


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_the_two_stores_version_1_are_two_models(two_stores):
    store_a, store_b, _ = two_stores
    assert str(mlflow_client(store_a.uri).get_model_version_by_alias(REGISTERED_MODEL, "previous").version) == "1"
    run_a, digest_a = identity(store_a.uri, "1")
    run_b, digest_b = identity(store_b, "1")
    assert run_a != run_b and digest_a != digest_b


def test_audit_rows_record_the_run_and_manifest_and_the_swap_refuses_another_stores_version_1(
        two_stores, make_app, tmp_path, caplog):
    store_a, store_b, _ = two_stores
    audit_url = f"sqlite:///{tmp_path / 'audit.db'}"
    app = serve_from_store_a(make_app, store_a, audit_url)
    rows = app.extensions["audit_store"].read_since()
    assert {(row.model_version, row.model_run_id, row.model_manifest_sha256) for row in rows} == {
        ("1", *identity(store_a.uri, "1"))}
    served = app.test_client().get("/v1/model", headers={"X-API-Key": API_KEY}).get_json()
    assert (served["run_id"], served["manifest_sha256"]) == identity(store_a.uri, "1")

    extension = app.extensions["coverage_model"]
    app.config.update(TRACKING_URI=store_b, MODEL_ALIAS="champion")  # the operator points it at the other store
    assert not extension.load()
    info = app.test_client().get("/v1/model", headers={"X-API-Key": API_KEY}).get_json()
    assert info["run_id"] == identity(store_a.uri, "1")[0]  # the old model keeps serving
    assert ANOTHER_MODEL in info["last_load_error"] and identity(store_b, "1")[0] in info["last_load_error"]
    assert "model load failed; the old model keeps serving" in caplog.text

    fresh = make_app(TRACKING_URI=store_b, AUDIT_DATABASE_URL=audit_url)  # a restart on B: nothing to serve
    assert not fresh.extensions["coverage_model"].ready
    assert ANOTHER_MODEL in fresh.extensions["coverage_model"].last_load_error

    app.config.update(TRACKING_URI=store_a.uri, MODEL_ALIAS="champion")  # within A, another version swaps in
    assert extension.load() and extension.info()["version"] == store_a.runs["better"].model_version


def test_every_command_works_on_the_store_that_served_and_refuses_the_other(two_stores, make_app, tmp_path):
    store_a, store_b, folder_b = two_stores
    audit_url = f"sqlite:///{tmp_path / 'audit.db'}"
    serve_from_store_a(make_app, store_a, audit_url)
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    run_a, digest_a = identity(store_a.uri, "1")
    run_b, _ = identity(store_b, "1")

    outcomes = tmp_path / "outcomes.csv"
    with open(outcomes, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("claim_id", "outcome", "paid_amount", "denial_reason", "adjudication_date"))
        writer.writerows((claim_id, "approved", "900", "", "2026-04-01") for claim_id in CLAIM_IDS)
    ingested = run("outcomes", "ingest", str(outcomes), "--audit-url", audit_url)
    assert ingested.exit_code == 0 and f"recorded            {len(CLAIM_IDS):>8,}" in ingested.output

    for command in (["monitor", "--since", since], ["outcomes", "report"]):
        refused = run(*command, "--tracking-uri", store_b, "--audit-url", audit_url)
        assert refused.exit_code == 2, refused.output
        line = one_error_line(refused)
        assert (f"the audit rows of {REGISTERED_MODEL} version 1 were served by run {run_a}" in line
                and f"in store {store_label(store_b)} is run {run_b}" in line and ANOTHER_MODEL in line)
        worked = run(*command, "--tracking-uri", store_a.uri, "--audit-url", audit_url)
        assert worked.exit_code == 0, worked.output
    for experiment in (MONITOR_EXPERIMENT, OUTCOMES_EXPERIMENT):  # nothing logged in B, one run each in A
        assert mlflow_client(store_b).get_experiment_by_name(experiment) is None
        registry_a = mlflow_client(store_a.uri)
        [logged] = registry_a.search_runs([registry_a.get_experiment_by_name(experiment).experiment_id],
                                          filter_string=f"tags.{SERVED_RUN_TAG} = '{run_a}'")
        assert logged.data.tags[SERVED_MANIFEST_TAG] == digest_a

    # the review reads the realised figures of the version's outcomes run: A's are A's version 1's
    assert realised_beside_test(mlflow_client(store_a.uri), REGISTERED_MODEL, "1").attrs["attribution"] == (
        "by run and manifest")
    assert realised_beside_test(mlflow_client(store_b), REGISTERED_MODEL, "1").attrs["outcomes_run"] is None
    # an outcomes run in B whose claims A's model served (a store restored under another's name)
    registry_b = mlflow_client(store_b)
    planted = registry_b.create_run(registry_b.create_experiment(OUTCOMES_EXPERIMENT), tags={
        "model_name": REGISTERED_MODEL, "model_version": "1", SERVED_RUN_TAG: run_a, SERVED_MANIFEST_TAG: digest_a})
    registry_b.set_terminated(planted.info.run_id)
    refused = run("review", "--challenger", "1", "--tracking-uri", store_b, "--out", str(tmp_path / "reviews"))
    assert refused.exit_code == 2, refused.output
    line = one_error_line(refused)
    assert f"outcomes run {planted.info.run_id}" in line and ANOTHER_MODEL in line
    assert not (tmp_path / "reviews").exists() or not any((tmp_path / "reviews").iterdir())  # before the notebook

    # export: B's champion goes to B's own folder, never over A's bundle without --force
    with pytest.raises(BundleConflictError, match="not this store's"):
        export_champion(store_b, store_a.models_dir)
    assert export_champion(store_b).message == (
        f"{folder_b / 'models'} holds run {run_b} from store {store_label(store_b)} already")


def test_rows_from_before_identities_are_attributed_by_number_alone_and_say_so(two_stores, tmp_path):
    _, store_b, _ = two_stores
    audit_url = f"sqlite:///{tmp_path / 'audit.db'}"
    served_at = datetime.now(timezone.utc) - timedelta(minutes=5)
    AuditStore(audit_url).record_many([  # as a release before migration 0005 wrote them
        AuditRecord(f"req{number}", served_at, "abcd1234", REGISTERED_MODEL, "1", "1.0",
                    example_claim(claim_id=f"old-{number}"), {"decision": "uncertain", "approval_probability": 0.5},
                    2.0) for number in range(3)])
    result = run("monitor", "--since", (served_at - timedelta(minutes=1)).isoformat(), "--tracking-uri", store_b,
                 "--audit-url", audit_url)
    assert result.exit_code == 0, result.output
    assert f"v1: 3 claims {UNRECORDED_NOTE}" in result.output
