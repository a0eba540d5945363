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
