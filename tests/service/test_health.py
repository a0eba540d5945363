"""/healthz: live while the process answers; ready once a model is loaded and until the worker drains."""
from __future__ import annotations

from service.health import start_draining
from tests.service.service_testing import body_of


def test_live_is_200(client):
    response = client.get("/healthz/live")
    assert response.status_code == 200 and body_of(response) == {"status": "live"}


def test_ready_is_503_json_without_a_model(client):
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    assert body_of(response)["code"] == "model_unavailable"


def test_draining_makes_ready_503(served_app):
    client = served_app.test_client()
    start_draining(served_app)
    response = client.get("/healthz/ready")
    assert response.status_code == 503 and body_of(response)["code"] == "draining"
    assert client.get("/healthz/live").status_code == 200


def test_not_ready_without_a_model_asks_to_retry_in_5_seconds(client):
    assert client.get("/healthz/ready").headers["Retry-After"] == "5"


def test_ready_once_a_model_is_loaded_and_warmed_up(served_app):
    assert served_app.extensions["coverage_model"].ready
    response = served_app.test_client().get("/healthz/ready")
    assert response.status_code == 200 and body_of(response) == {"status": "ready"}


def _refuse_writes(store, refuse: bool) -> None:
    """Every new connection of the audit store read-only (SQLite's query_only), as a full or read-only
    disk would leave it; the pool is emptied so the next checkout is such a connection."""
    from sqlalchemy import event

    def query_only(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA query_only=ON")

    if refuse:
        event.listen(store.engine, "connect", query_only)
        store._refusing = query_only
    else:
        event.remove(store.engine, "connect", store._refusing)
    store.engine.dispose()


def test_ready_is_503_while_the_audit_store_cannot_be_written_and_the_log_says_why(served_app, auth, log_lines):
    from tests.service.service_testing import example_claim

    client, store = served_app.test_client(), served_app.extensions["audit_store"]
    assert client.get("/healthz/ready").status_code == 200
    _refuse_writes(store, True)
    response = client.get("/healthz/ready")
    assert response.status_code == 503 and body_of(response)["code"] == "audit_unavailable"
    assert client.get("/healthz/ready").status_code == 503
    assert client.post("/v1/predict", json=example_claim(), headers=auth).status_code == 503  # never unaudited
    causes = [line for line in log_lines() if "audit store cannot be written" in line]
    assert len(causes) == 1 and "attempt to write a readonly database" in causes[0]  # once, at the change
    assert any("nothing answered" in line and "readonly database" in line for line in log_lines())
    assert not any("claim_id" in line or "example-0001" in line for line in log_lines())

    _refuse_writes(store, False)
    assert client.get("/healthz/ready").status_code == 200
    assert any("audit store takes writes again" in line for line in log_lines())


def test_ready_is_503_when_the_audit_disk_is_nearly_full(make_served_app):
    app = make_served_app(AUDIT_MIN_FREE_MB=2**40)  # more than any disk here has free
    response = app.test_client().get("/healthz/ready")
    assert response.status_code == 503 and body_of(response)["code"] == "audit_unavailable"
    cause = app.extensions["audit_watch"].cause
    assert cause.startswith("low free disk:") and "MiB free where the audit store is" in cause
