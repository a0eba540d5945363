"""Every error is JSON in one shape (`code`, `message`, `errors[]`), built on the HTTP error's own
response so its headers survive; a 500 says nothing about internals (service.errors)."""
from __future__ import annotations

import io
import json

import pytest
from flask import abort

from service.errors import DEFAULTS, MAX_LISTED_ERRORS, APIError, error_body, field_error
from tests.service.service_testing import body_of, example_claim


@pytest.mark.parametrize("path", ["/v1", "/v1/predict/", "/v2/predict", "/v1/nothing", "/index.html"])  # "/" is the page
def test_unknown_route_is_404_json(client, auth, path):
    response = client.get(path, headers=auth)
    assert response.status_code == 404
    assert body_of(response)["code"] == "not_found"


@pytest.mark.parametrize("method, path, allowed", [
    ("GET", "/v1/predict", {"POST"}),
    ("PUT", "/v1/predict", {"POST"}),
    ("DELETE", "/invocations", {"POST"}),
    ("POST", "/v1/treatments", {"GET", "HEAD"}),
    ("PATCH", "/v1/model", {"GET", "HEAD"}),
    ("OPTIONS", "/v1/predict", {"POST"}),
    ("POST", "/healthz/live", {"GET", "HEAD"}),
])
def test_wrong_method_is_405_json_with_allow(client, auth, method, path, allowed):
    response = client.open(path, method=method, headers=auth)
    assert response.status_code == 405
    assert body_of(response)["code"] == "method_not_allowed"
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


def test_every_route_answers_every_method_it_lacks_with_405_and_allow(client, auth):
    """Walks the app's own routes, so a route added later is held to it too (RFC 9110: a 405 carries Allow)."""
    allowed: dict[str, set[str]] = {}
    for rule in client.application.url_map.iter_rules():
        path = rule.rule.replace("<job_id>", "no-such-job")
        allowed.setdefault(path, set()).update(rule.methods)
    for path, methods in allowed.items():
        for method in sorted({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"} - methods):
            response = client.open(path, method=method, headers=auth)
            assert response.status_code == 405, (method, path, response.status_code)
            assert {m.strip() for m in response.headers["Allow"].split(",")} == methods, (method, path)


def test_oversized_body_is_413_json(make_app, auth):
    client = make_app(MAX_CONTENT_LENGTH=1000).test_client()
    response = client.post("/v1/predict", json=example_claim(claim_id="x" * 2000), headers=auth)
    assert response.status_code == 413
    body = body_of(response)
    assert body["code"] == "body_too_large" and "1,000 bytes" in body["message"]


def test_a_chunked_body_over_the_limit_is_413_not_cut_at_the_limit(make_app, auth):
    """No Content-Length (a chunked body the server ends): werkzeug alone would read 1,000 bytes and answer."""
    client = make_app(MAX_CONTENT_LENGTH=1000).test_client()
    body = json.dumps(example_claim(claim_id="x" * 2000)).encode()
    response = client.post("/v1/predict", input_stream=io.BytesIO(body), content_type="application/json",
                           headers=auth, environ_overrides={"HTTP_TRANSFER_ENCODING": "chunked",
                                                            "CONTENT_LENGTH": "", "wsgi.input_terminated": True})
    assert response.status_code == 413 and body_of(response)["code"] == "body_too_large"


def test_a_body_shorter_than_its_content_length_is_400(make_app, auth):
    client = make_app().test_client()
    body = json.dumps(example_claim()).encode()
    response = client.post("/v1/predict", data=body, content_type="application/json", headers=auth,
                           environ_overrides={"CONTENT_LENGTH": str(len(body) + 10)})
    assert response.status_code == 400
    assert body_of(response)["code"] == "incomplete_body"
    assert f"{len(body):,} of the {len(body) + 10:,} bytes" in body_of(response)["message"]


def test_an_error_list_keeps_100_entries_and_counts_the_rest():
    body = error_body("invalid", "bad", [field_error(f"f{n}", "bad") for n in range(MAX_LISTED_ERRORS + 50)])
    assert len(body["errors"]) == MAX_LISTED_ERRORS + 1 == 101
    assert body["errors"][:MAX_LISTED_ERRORS] == [field_error(f"f{n}", "bad") for n in range(MAX_LISTED_ERRORS)]
    assert body["errors"][-1]["field"] == "(more errors)" and "50 more errors" in body["errors"][-1]["message"]
    assert len(error_body("invalid", "bad", [field_error("f", "bad")] * MAX_LISTED_ERRORS)["errors"]) == 100


def test_a_failing_model_gives_a_500_that_says_nothing_about_internals(make_app, auth, log_lines):
    class BrokenModel:
        def answer(self, claims, explain=True):  # the served model's protocol (service.model_extension)
            if len(claims) == 1 and claims[0]["claim_id"] == "example-0001":
                return [{}]  # the warm-up passes
            raise KeyError("SECRET-INTERNAL-DETAIL")

        def score(self, claims):
            return [{}]

        def info(self):
            return {}

    client = make_app(MODEL_LOADER=lambda config: BrokenModel()).test_client()
    response = client.post("/v1/predict", json=example_claim(claim_id="x"), headers=auth)
    assert response.status_code == 500
    body = body_of(response)
    assert body["code"] == "internal_error" and "SECRET" not in response.get_data(as_text=True)
    assert "X-Request-ID" in response.headers
    error_lines = [json.loads(line) for line in log_lines() if '"error_type"' in line]
    assert error_lines and error_lines[0]["error_type"] == "KeyError"
    assert not any("SECRET-INTERNAL-DETAIL" in line for line in log_lines())


def answer_of(app, view):
    """What the app answers to a request whose view is `view` (on a route added for the test)."""
    app.add_url_rule("/test/error", view_func=view)
    return app.test_client().get("/test/error")


def test_an_api_error_keeps_its_code_message_field_errors_and_headers(make_app):
    def conflict():
        raise APIError(409, "duplicate_claim", "the claim was sent before", [field_error("claim_id", "seen before")],
                       headers={"Retry-After": "30"})

    response = answer_of(make_app(), conflict)
    assert (response.status_code, response.headers["Retry-After"]) == (409, "30")
    assert body_of(response) == error_body("duplicate_claim", "the claim was sent before",
                                           [{"field": "claim_id", "message": "seen before"}])


@pytest.mark.parametrize("status", sorted(set(DEFAULTS) - {413}))  # 413 names the configured limit
def test_an_http_error_gets_its_statuss_code_and_message(make_app, status):
    response = answer_of(make_app(), lambda: abort(status))
    assert response.status_code == status
    code, message = DEFAULTS[status]
    assert body_of(response) == {"code": code, "message": message, "errors": []}


def test_a_status_without_a_default_gets_a_generic_code(make_app):
    response = answer_of(make_app(), lambda: abort(418))
    assert response.status_code == 418
    assert body_of(response) == {"code": "http_error", "message": "the request failed", "errors": []}
