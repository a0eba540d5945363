"""Discovery (GET /cds-services) as CDS Hooks 2.0 and Inferno's CRD discovery checks ask, and CORS."""
from __future__ import annotations

from service.cds_hooks.discovery import COMMON_PREFETCH


def test_discovery_lists_the_crd_primary_hooks_with_their_prefetch(cds_app):
    response = cds_app.test_client().get("/cds-services")
    assert response.status_code == 200
    services = response.get_json()["services"]
    assert {service["hook"] for service in services} == {"order-sign", "order-select", "appointment-book"}
    for service in services:  # Inferno: hook, description and id required; prefetch an object of strings
        assert service["id"] and service["description"] and service["title"]
        assert set(service["prefetch"]) == {"patient", "coverage", "practitionerRole", "conditions", "documents"}
        assert all(isinstance(template, str) and "{{" in template for template in service["prefetch"].values())
    assert COMMON_PREFETCH["coverage"] == "Coverage?patient={{context.patientId}}&status=active"


def test_discovery_needs_no_credentials_and_cors_lets_a_browser_client_call(cds_app):
    client = cds_app.test_client()
    preflight = client.options("/cds-services/medspa-coverage-order-sign",
                               headers={"Origin": "https://sandbox.cds-hooks.org",
                                        "Access-Control-Request-Method": "POST",
                                        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert {"Authorization", "Content-Type"} <= {name.strip() for name in
                                                 preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    refused = client.post("/cds-services/medspa-coverage-order-sign", json={})
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in client.get("/healthz/live").headers  # only these routes


def test_an_unknown_service_is_the_apps_plain_404(cds_app, hook_call):
    response = hook_call(cds_app.test_client(), "no-such-service", {})
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"
