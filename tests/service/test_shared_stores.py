"""Several hosts sharing PostgreSQL: the MLflow tracking/registry store and the audit store on the
session's real PostgreSQL server (tests/postgresql_server.py). A model is trained, registered and
served from a PostgreSQL tracking store and its champion alias moved; two service instances (two
gunicorn masters on two ports, one audit database, one tracking store) under concurrent load
answer every request, audit each answer exactly once and both swap to the new champion."""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from tests.service.service_testing import API_KEY, MODEL_NAME, example_claim, start_gunicorn
from tests.stores import quick_params
from scoring.mlflow_store import ARTIFACT_ROOT_ENV, CHAMPION, mlflow_client, tracking
from training.registry import record_model_manifest
from training.train import run_training

CLAIMS = [example_claim(claim_id="botox"), example_claim(claim_id="no-pa", prior_authorization=False),
          example_claim(claim_id="cosmetic", diagnosis_codes=["Z41.1"])]


@dataclass(frozen=True)
class PostgresRegistry:
    uri: str
    first_version: str
    second_version: str

    def move_champion(self, version: str) -> None:
        mlflow_client(self.uri).set_registered_model_alias(MODEL_NAME, CHAMPION, version)


@pytest.fixture(scope="module")
def postgres_registry(postgresql_server, demo_files, tmp_path_factory) -> PostgresRegistry:
    """`train` on a PostgreSQL tracking store (the champion is its first version), then the same
    model registered again as a second version with its manifest, as `train` records it."""
    folder = tmp_path_factory.mktemp("pg-mlflow")
    uri = postgresql_server.create_database("mlflow")
    saved = {name: os.environ.get(name) for name in (ARTIFACT_ROOT_ENV, "MLFLOW_TRACKING_URI")}
    os.environ[ARTIFACT_ROOT_ENV] = str(folder / "artifacts")  # the shared artifact store every host reads
    try:
        result = run_training(demo_files["base"], tracking_uri=uri, models_dir=folder / "models", export=False,
                              params=quick_params(), progress=False, echo=lambda line: None)
        with tracking(uri) as client:  # MLflow resolves a `models:/m-...` source through the global URI
            first = client.get_model_version(MODEL_NAME, result.model_version)
            second = client.create_model_version(MODEL_NAME, first.source, run_id=first.run_id).version
            record_model_manifest(client, uri, MODEL_NAME, str(second))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert result.promoted and result.tracking_uri == uri
    return PostgresRegistry(uri, str(result.model_version), str(second))


def test_train_register_serve_and_move_the_champion_on_postgresql(postgres_registry, make_app, postgresql_server):
    registry = postgres_registry
    registry.move_champion(registry.first_version)
    app = make_app(TRACKING_URI=registry.uri, AUDIT_DATABASE_URL=postgresql_server.create_database("audit"))
    client, headers = app.test_client(), {"X-API-Key": API_KEY}
    first = client.post("/v1/predict", json=CLAIMS[0], headers=headers)
    assert first.status_code == 200 and first.get_json()["model"]["version"] == registry.first_version

    registry.move_champion(registry.second_version)
    assert app.extensions["coverage_model"].poll_once()
    second = client.post("/v1/predict", json=CLAIMS[0], headers=headers)
    assert second.get_json()["model"]["version"] == registry.second_version
    assert second.get_json()["approval_probability"] == first.get_json()["approval_probability"]  # the same model
    audited = [row.model_version for row in app.extensions["audit_store"].read_since()]
    assert audited == [registry.first_version, registry.second_version]


def _post(port: int, claim: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/predict", data=json.dumps(claim).encode(),
                                     headers={"X-API-Key": API_KEY, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:  # the error body says which limit or store refused it
        return error.code, json.loads(error.read() or b"{}")
    except OSError as error:
        return -1, {"error": type(error).__name__}


def _model_metrics(port: int, registry: PostgresRegistry) -> dict[str, int]:
    """An instance's swap count and how many of its workers serve each version, from /metrics."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"X-API-Key": API_KEY})
    with urllib.request.urlopen(request, timeout=30) as response:
        samples = [sample for family in text_string_to_metric_families(response.read().decode())
                   for sample in family.samples]
    found = {"swapped": 0, "served_first": 0, "served_second": 0}
    for sample in samples:
        if sample.name == "medspa_model_events_total" and sample.labels == {"event": "swapped"}:
            found["swapped"] = int(sample.value)
        elif sample.name == "medspa_model_served" and sample.labels["alias"] == CHAMPION:
            key = {registry.first_version: "served_first", registry.second_version: "served_second"}
            found[key[sample.labels["version"]]] = int(sample.value)
    return found


@pytest.mark.slow
def test_two_instances_share_the_audit_and_tracking_stores_under_load(postgres_registry, postgresql_server, tmp_path):
    registry = postgres_registry
    registry.move_champion(registry.first_version)
    audit_url = postgresql_server.create_database("audit")  # new: the four workers race to migrate it
    settings = {"API_KEYS": API_KEY, "TRACKING_URI": registry.uri, "AUDIT_DATABASE_URL": audit_url,
                "MODEL_POLL_SECONDS": 1, "RATE_LIMIT_PER_MINUTE": 100_000, "RATE_LIMIT_CLAIMS_PER_MINUTE": 100_000}
    instances = [start_gunicorn(tmp_path, settings, 2, log_name=f"instance-{n}.log") for n in range(2)]
    answered, failures, lock = [], [], threading.Lock()  # answered: (instance, request id, version)

    def send(number: int) -> None:
        instance = number % 2
        status, body = _post(instances[instance].port, CLAIMS[number % len(CLAIMS)])
        with lock:
            if status == 200:
                answered.append((instance, body["request_id"], body["model"]["version"]))
            else:
                failures.append((instance, status, body))

    def latest_versions(instance: int, count: int = 10) -> set[str]:
        return {version for _, _, version in [row for row in answered if row[0] == instance][-count:]}

    try:
        for instance in instances:
            instance.wait_ready(timeout=120)
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(send, range(120)))
            assert not failures and {version for _, _, version in answered} == {registry.first_version}
            registry.move_champion(registry.second_version)  # both instances poll the one registry every second
            sent, deadline = 120, time.monotonic() + 60
            while not all(latest_versions(n) == {registry.second_version} for n in (0, 1)):
                assert time.monotonic() < deadline, "an instance did not swap in the new champion"
                list(pool.map(send, range(sent, sent + 24)))
                sent += 24
        assert failures == []
        for instance in instances:  # and in every worker of each: both swapped once (the metrics say so)
            deadline = time.monotonic() + 30
            while _model_metrics(instance.port, registry) != {"swapped": 2, "served_first": 0, "served_second": 2}:
                assert time.monotonic() < deadline, _model_metrics(instance.port, registry)
                time.sleep(0.5)
    finally:
        for instance in instances:
            instance.stop()

    engine = create_engine(audit_url)
    with engine.connect() as connection:
        rows = Counter(dict(connection.execute(text("SELECT request_id, count(*) FROM served_claims GROUP BY 1")).all()))
    engine.dispose()
    assert rows == Counter({request_id: 1 for _, request_id, _ in answered})  # every 200 audited once, nothing else
    assert len(answered) >= 144
