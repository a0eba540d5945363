"""Readiness follows the model extension; with no model the service says 503, never a fake answer."""
from __future__ import annotations

import hashlib

import pytest

from features.rules import load_rules
from service.health import start_draining
from service.model_loading import registry_loader
from tests.service.service_testing import API_KEY, MODEL_NAME, body_of, example_claim


def test_live_is_200(client):
    response = client.get("/healthz/live")
    assert response.status_code == 200 and body_of(response) == {"status": "live"}


def test_ready_is_503_json_without_a_model(client):
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    assert body_of(response)["code"] == "model_unavailable"


@pytest.mark.parametrize("method, path, payload", [
    ("POST", "/v1/predict", example_claim()),
    ("POST", "/v1/predict", {"claims": [example_claim(), example_claim()]}),
    ("POST", "/invocations", {"dataframe_records": [example_claim()]}),
    ("GET", "/v1/model", None),
])
def test_without_a_model_answers_are_503_model_unavailable(client, auth, method, path, payload):
    response = client.open(path, method=method, json=payload, headers=auth)
    assert response.status_code == 503
    assert body_of(response)["code"] == "model_unavailable"
    assert response.headers["Retry-After"]


def test_without_a_model_validation_still_answers_first(client, auth):
    response = client.post("/v1/predict", json=example_claim(patient_age=-1), headers=auth)
    assert response.status_code == 422


def test_no_audit_rows_without_answers(app, client, auth):
    client.post("/v1/predict", json=example_claim(), headers=auth)
    assert app.extensions["audit_store"].read_since() == []


def test_ready_and_model_info_with_a_loaded_model(served_client, auth, model_store):
    assert served_client.get("/healthz/ready").status_code == 200
    info = body_of(served_client.get("/v1/model", headers=auth))
    assert info["ready"] is True
    assert (info["name"], info["version"], info["alias"]) == (MODEL_NAME, model_store.champion_version, "champion")
    assert info["rules_version"] == load_rules().version and info["trained_at"] and info["run_id"]
    assert 0.5 < info["metrics"]["test_auc"] <= 1 and not any("__" in key for key in info["metrics"])
    assert info["source"] == "registry" and len(info["model_sha256"]) == 64
    assert info["model_uri"] == f"models:/{MODEL_NAME}/{model_store.champion_version}"


def test_draining_makes_ready_503(served_app):
    client = served_app.test_client()
    start_draining(served_app)
    response = client.get("/healthz/ready")
    assert response.status_code == 503 and body_of(response)["code"] == "draining"
    assert client.get("/healthz/live").status_code == 200


def test_a_model_that_fails_its_warm_up_is_not_served(make_served_app):
    def loader(config):
        served = registry_loader(config)
        served.coverage_model.feature_pipeline = None  # the warm-up prediction cannot encode the claim
        return served

    app = make_served_app(MODEL_LOADER=loader)
    assert app.extensions["coverage_model"].ready is False
    assert app.test_client().get("/healthz/ready").status_code == 503


def test_a_failed_reload_keeps_the_old_model_and_says_so(make_served_app, auth):
    app = make_served_app()
    extension = app.extensions["coverage_model"]
    served = extension.model
    app.config["MODEL_ALIAS"] = "no-such-alias"  # the next load finds nothing
    assert extension.load() is False
    assert extension.ready and extension.model is served
    info = body_of(app.test_client().get("/v1/model", headers=auth))
    assert info["version"] == served.ref["version"]
    assert info["last_load_error"].startswith("ModelSourceError") and "no-such-alias" in info["last_load_error"]


def test_without_a_tracking_store_the_default_loader_says_what_is_missing(app, tmp_path):
    info = app.extensions["coverage_model"].info()
    assert info["ready"] is False and "no MLflow tracking database" in info["last_load_error"]
    assert not (tmp_path / "mlflow.db").exists()  # looking for a model does not create a store


def test_the_loader_can_be_named_by_dotted_path(make_served_app):
    app = make_served_app(MODEL_LOADER="service.model_loading:registry_loader")
    assert app.extensions["coverage_model"].ready


def test_the_model_receives_canonical_claims_and_the_loader_the_config(make_served_app, auth):
    seen = {"claims": []}

    def loader(config):
        seen["threshold"] = config["LIKELY_APPROVED_THRESHOLD"]
        served = registry_loader(config)
        answer = served.answer

        def recording_answer(claims):
            seen["claims"].append(claims)
            return answer(claims)

        served.answer = recording_answer
        return served

    client = make_served_app(MODEL_LOADER=loader, LIKELY_APPROVED_THRESHOLD=0.8).test_client()
    client.post("/v1/predict", json=example_claim(diagnosis_codes=["g43.709"]), headers=auth)
    assert seen["threshold"] == 0.8
    claim = seen["claims"][-1][0]  # claims[0] is the warm-up
    assert claim["diagnosis_codes"] == "G43709" and claim["place_of_service"] == "11"


def test_treatments_lists_the_catalog(client, auth):
    body = body_of(client.get("/v1/treatments", headers=auth))
    keys = [row["treatment"] for row in body["treatments"]]
    assert "botulinum_toxin" in keys and "facial" in keys
    botox = body["treatments"][keys.index("botulinum_toxin")]
    assert "64615" in botox["procedure_codes"] and "G43.709" in botox["covered_diagnoses"]


def test_every_answered_claim_is_audited_before_the_response(served_app, auth, model_store):
    client = served_app.test_client()
    claims = [example_claim(claim_id="a"), example_claim(patient_age="bad"), example_claim(claim_id="c")]
    response = client.post("/v1/predict", json={"claims": claims}, headers=auth)
    rows = served_app.extensions["audit_store"].read_since()
    assert [row.claim["claim_id"] for row in rows] == ["a", "c"]
    assert {row.request_id for row in rows} == {response.headers["X-Request-ID"]}
    assert rows[0].key_id == hashlib.sha256(API_KEY.encode()).hexdigest()[:8]
    assert (rows[0].model_name, rows[0].model_version) == (MODEL_NAME, model_store.champion_version)
    assert rows[0].rules_version == load_rules().version
    assert rows[0].answer == body_of(response)["results"][0]["answer"] and rows[0].latency_ms >= 0
    assert rows[0].claim["diagnosis_codes"] == "G43709"
