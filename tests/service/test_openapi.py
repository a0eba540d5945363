"""The committed OpenAPI document equals the app's; the docs page lists it; production hides both."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from service.openapi import build_document, document_text
from service.metrics import METRICS_ROUTE
from service.page import PAGE_ROUTES
from features.contract import EXAMPLE_CLAIM

COMMITTED = Path(__file__).resolve().parents[2] / "service" / "openapi.json"


def test_committed_openapi_equals_the_apps(client):
    served = client.get("/openapi.json").get_data(as_text=True)
    assert served == COMMITTED.read_text(encoding="utf-8"), (
        "service/openapi.json is stale: python -m service.openapi > service/openapi.json")


def test_the_document_is_openapi_3_1_with_every_route(app):
    document = json.loads(document_text(build_document()))
    assert document["openapi"].startswith("3.1")
    # the page's own routes (sign-in, its static files) are not API operations: service/page.py; nor is the
    # operators' Prometheus endpoint (its format is Prometheus', documented in service/metrics.py)
    routes = {re.sub(r"<(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules()} - {
        "/openapi.json", "/docs", METRICS_ROUTE, *PAGE_ROUTES}
    assert routes == set(document["paths"])
    for path, operations in document["paths"].items():
        for operation in operations.values():
            assert any(status.startswith("2") for status in operation["responses"]), path


def test_the_example_claim_is_valid_under_the_published_schema():
    document = build_document()
    schema = {**document["components"]["schemas"]["ClaimRequest"], "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(EXAMPLE_CLAIM)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({**EXAMPLE_CLAIM, "in_network": "true"})


def test_the_batch_limit_setting_shows_in_the_document(make_app):
    document = make_app(MAX_BATCH_CLAIMS=50).test_client().get("/openapi.json").get_json()
    assert document["components"]["schemas"]["BatchRequest"]["properties"]["claims"]["maxItems"] == 50


def test_docs_page_lists_operations_and_schemas_without_scripts(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for needle in ("POST /v1/predict", "POST /invocations", "GET /v1/treatments", "ClaimRequest", "patient_age"):
        assert needle in page
    assert "<script" not in page and "http" not in page.replace("/openapi.json", "")


def test_docs_disabled_means_404_for_both(make_app):
    client = make_app(DOCS_ENABLED=False).test_client()
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 404
