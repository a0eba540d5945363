"""Every bad request gets a 4xx JSON error naming the field and what is allowed; never a 500."""
from __future__ import annotations

import json

import pytest

from tests.service.service_testing import DROP, body_of, example_claim

INVALID_CLAIMS = [
    # (label, claim, field named in the error, words of what is allowed)
    ("bool as string", example_claim(in_network="true"), "in_network", "JSON boolean"),
    ("bool as number", example_claim(referral=1), "referral", "JSON boolean"),
    ("int as string", example_claim(patient_age="42"), "patient_age", "integer from 0 to 120"),
    ("int as float", example_claim(patient_age=42.5), "patient_age", "integer from 0 to 120"),
    ("int as bool", example_claim(visit_number=True), "visit_number", "integer from 1"),
    ("age out of range", example_claim(patient_age=121), "patient_age", "integer from 0 to 120"),
    ("negative amount", example_claim(billed_amount=-1), "billed_amount", ">= 0"),
    ("amount as string", example_claim(billed_amount="100"), "billed_amount", ">= 0"),
    ("huge amount", example_claim(billed_amount=10**400), "billed_amount", "finite number"),
    ("unknown plan type", example_claim(plan_type="gold"), "plan_type", "ppo, hmo"),
    ("unknown facility", example_claim(facility_type="spa"), "facility_type", "medical_spa"),
    ("unknown benefit scope", example_claim(benefit_scope="all"), "benefit_scope", "office_only"),
    ("unknown field", example_claim(favourite_colour="blue"), "(unknown field)", "allowed fields"),
    ("missing required", example_claim(plan_type=DROP), "plan_type", "is required"),
    ("unknown treatment", example_claim(treatment="aromatherapy", procedure_code=DROP), "treatment",
     "catalog keys"),
    ("bad procedure code", example_claim(procedure_code="1234", treatment=DROP), "procedure_code", "CPT"),
    ("code of another treatment", example_claim(procedure_code="D9972"), "procedure_code", "teeth_whitening"),
    ("shared code without treatment", example_claim(procedure_code="17999", treatment=DROP), "treatment",
     "laser_hair_removal"),
    ("no treatment at all", example_claim(procedure_code=DROP, treatment=DROP), "treatment", "one of treatment"),
    ("invalid ICD-10-CM code", example_claim(diagnosis_codes=["G43.709", "Q99.999"]), "diagnosis_codes[1]",
     "ICD-10-CM"),
    ("malformed ICD-10-CM code", example_claim(diagnosis_codes=["not a code"]), "diagnosis_codes[0]", "ICD-10-CM"),
    ("code as number", example_claim(diagnosis_codes=[43]), "diagnosis_codes[0]", "ICD-10-CM"),
    ("codes as string", example_claim(diagnosis_codes="G43.709"), "diagnosis_codes", "list"),
    ("too many codes", example_claim(diagnosis_codes=["G43.709"] * 13), "diagnosis_codes", "at most 12"),
    ("bad date", example_claim(service_date="03/02/2026"), "service_date", "YYYY-MM-DD"),
    ("impossible date", example_claim(service_date="2026-02-30"), "service_date", "YYYY-MM-DD"),
    ("bad place of service", example_claim(place_of_service="1"), "place_of_service", "two-digit"),
    ("null where null means nothing", example_claim(visit_number=None), "visit_number", "integer from 1"),
    ("not an object", [1, 2], "", "JSON object"),
]


@pytest.mark.parametrize("label, claim, field, allowed", INVALID_CLAIMS, ids=[c[0] for c in INVALID_CLAIMS])
def test_invalid_claim_is_422_naming_the_field_and_what_is_allowed(served_client, auth, label, claim, field,
                                                                   allowed):
    response = served_client.post("/v1/predict", json=claim, headers=auth)
    assert response.status_code == 422
    body = body_of(response)
    assert body["code"] == "invalid_claim"
    messages = {error["field"]: error["message"] for error in body["errors"]}
    assert field in messages, body
    assert allowed in messages[field]


def test_every_bad_field_is_listed_at_once(served_client, auth):
    claim = example_claim(in_network="yes", patient_age=-1, plan_type="gold", diagnosis_codes=["G43.709", "XX"],
                          treatment="aromatherapy", procedure_code=DROP)
    body = body_of(served_client.post("/v1/predict", json=claim, headers=auth))
    assert {error["field"] for error in body["errors"]} == {
        "in_network", "patient_age", "plan_type", "diagnosis_codes[1]", "treatment"}


def test_a_header_code_passes_validation(served_client, auth):
    response = served_client.post("/v1/predict", json=example_claim(diagnosis_codes=["G43.7"]), headers=auth)
    assert response.status_code == 200


def test_nulls_the_contract_gives_a_meaning_are_accepted(served_client, auth):
    claim = example_claim(weeks_since_last_treatment=None, benefit_limit=None)
    assert served_client.post("/v1/predict", json=claim, headers=auth).status_code == 200


def test_oversized_body_is_413_json(make_app, auth):
    client = make_app(MAX_CONTENT_LENGTH=1000).test_client()
    response = client.post("/v1/predict", json=example_claim(claim_id="x" * 2000), headers=auth)
    assert response.status_code == 413
    body = body_of(response)
    assert body["code"] == "body_too_large" and "1000 bytes" in body["message"]


@pytest.mark.parametrize("path, payload", [
    ("/v1/predict", {"claims": [example_claim()] * 4}),
    ("/invocations", {"dataframe_records": [example_claim()] * 4}),
    ("/invocations", {"dataframe_split": {"columns": ["patient_age"], "data": [[1]] * 4}}),
])
def test_oversized_batch_is_422_naming_the_limit(make_app, auth, path, payload):
    client = make_app(MAX_BATCH_CLAIMS=3).test_client()
    response = client.post(path, json=payload, headers=auth)
    assert response.status_code == 422
    body = body_of(response)
    assert body["code"] == "batch_too_large" and "at most 3" in body["errors"][0]["message"]


@pytest.mark.parametrize("payload, field", [
    ({"claims": []}, "claims"),
    ({"claims": "all of them"}, "claims"),
    ({"claims": [example_claim()], "extra": 1}, "(unknown field)"),
    ({"claims": [example_claim(), "a claim", 3]}, "claims[1]"),
])
def test_malformed_batch_envelope_is_422(served_client, auth, payload, field):
    response = served_client.post("/v1/predict", json=payload, headers=auth)
    assert response.status_code == 422
    assert body_of(response)["errors"][0]["field"] == field


@pytest.mark.parametrize("data", [b"{not json", b"", b'{"a": NaN}', b"[" * 100_000, b"\xff\xfe\x00",
                                  b'{"patient_age": 1' + b"0" * 5000 + b"}"])
def test_malformed_json_is_400_json(client, auth, data):
    response = client.post("/v1/predict", data=data, content_type="application/json", headers=auth)
    assert response.status_code == 400
    assert body_of(response)["code"] == "malformed_json"


def test_a_body_not_declared_as_json_is_415(client, auth):
    response = client.post("/v1/predict", data=json.dumps(example_claim()), content_type="text/plain", headers=auth)
    assert response.status_code == 415
    assert body_of(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/predict/", "/v2/predict", "/v1/nothing"])
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


def test_batch_answers_good_claims_and_rejects_bad_ones_one_by_one(served_client, auth):
    claims = [example_claim(claim_id="a"), example_claim(patient_age="old"), example_claim(claim_id="c")]
    response = served_client.post("/v1/predict", json={"claims": claims}, headers=auth)
    assert response.status_code == 200
    body = body_of(response)
    assert (body["answered"], body["rejected"]) == (2, 1)
    assert [sorted(result) for result in body["results"]] == [["answer", "index"], ["error", "index"],
                                                              ["answer", "index"]]
    assert [result["index"] for result in body["results"]] == [0, 1, 2]
    assert body["results"][0]["answer"]["claim_id"] == "a" and body["results"][2]["answer"]["claim_id"] == "c"
    assert body["results"][1]["error"]["errors"][0]["field"] == "patient_age"
    assert all(result["answer"]["request_id"] == body["request_id"] for result in body["results"] if "answer" in result)


def test_an_unlisted_procedure_code_is_answered_with_a_warning(served_client, auth):
    claim = example_claim(treatment=DROP, procedure_code="99213")
    body = body_of(served_client.post("/v1/predict", json=claim, headers=auth))
    assert [warning["field"] for warning in body["warnings"]] == ["procedure_code"]


@pytest.mark.parametrize("payload, field", [
    ({}, "dataframe_records"),
    ({"dataframe_records": [example_claim()], "dataframe_split": {"columns": [], "data": [[]]}}, "dataframe_records"),
    ({"dataframe_records": "rows"}, "dataframe_records"),
    ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, "dataframe_split.columns"),
    ({"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}, "dataframe_split.data[0]"),
    ({"dataframe_records": [example_claim(patient_age="old")]}, "dataframe_records[0].patient_age"),
    ({"instances": [1]}, "(unknown field)"),
])
def test_invocations_rejects_bad_frames_naming_the_field(served_client, auth, payload, field):
    response = served_client.post("/invocations", json=payload, headers=auth)
    assert response.status_code == 422
    assert field in [error["field"] for error in body_of(response)["errors"]]


def test_invocations_accepts_both_orients_and_pandas_artefacts(served_client, auth):
    row = example_claim(visit_number=2.0, weeks_since_last_treatment=None, diagnosis_codes="G43.709;Z68.35",
                        service_date="2026-03-02T00:00:00", benefit_limit=None)
    records = served_client.post("/invocations", json={"dataframe_records": [row, row]}, headers=auth)
    assert records.status_code == 200 and len(body_of(records)["predictions"]) == 2
    split = {"columns": list(row), "data": [list(row.values())], "index": [0]}
    response = served_client.post("/invocations", json={"dataframe_split": split, "params": {}}, headers=auth)
    assert response.status_code == 200 and len(body_of(response)["predictions"]) == 1


def test_a_failing_model_gives_a_500_that_says_nothing_about_internals(make_app, auth, log_lines):
    class BrokenModel:
        def answer(self, claims):
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
