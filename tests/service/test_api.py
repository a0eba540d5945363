"""The /v1 API and the MLflow scoring endpoint with the real (tiny) model: answers (decisions, rules,
reasons, advice, the answer schema), batches, /invocations' batch-scoring columns, the 422s and 4xxs
of bad requests (each naming the field and what is allowed), /v1/model, /v1/treatments, and one
audit row per answered claim, committed before the response, and the ICD-10-CM look-up."""
from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from features.contract import CLEAN_COLUMNS
from features.prior_authorization import load_authorization_table
from features.rules import load_rules
from service.claims import normalise_request_claim
from service.schemas import ClaimAnswer, InvocationsResponse
from tests.service.service_testing import API_KEY, DROP, MODEL_NAME, SENTINEL, body_of, example_claim


# -- /v1/predict -----------------------------------------------------------------------------------
COSMETIC_BOTOX = example_claim(diagnosis_codes=[])


def _excluded_by(*rule_ids):
    def check(answer):
        # excluded, at the rule's smoothed paid share in the history (the demo payer errs about 1% of the time)
        assert answer["decision"] == "excluded" and 0.0 < answer["approval_probability"] < 0.05
        assert [rule["id"] for rule in answer["excluded_by"]][:len(rule_ids)] == list(rule_ids), answer["excluded_by"]
        assert answer["coverage_information"]["covered"] in ("not-covered", "conditional")
    return check


def _medical_botox(answer):
    assert answer["decision"] != "excluded" and answer["excluded_by"] == []
    assert 0.0 <= answer["approval_probability"] <= 1.0
    assert answer["coverage_information"]["pa_needed"] == "satisfied"
    payable = answer["expected_payment"]["payable_if_approved"]
    # The answer rounds the probability to 3 decimals and the amount from the unrounded one.
    assert answer["expected_payment"]["amount"] == pytest.approx(
        answer["approval_probability"] * payable, abs=0.0005 * payable + 0.01)
    assert len(answer["likely_denial_reasons"]) == 3
    assert {factor["input"] for factor in answer["factors"]} & {"prior_authorization", "diagnosis_codes"}


def _facial(answer):
    _excluded_by("COMFORT-001")(answer)
    assert answer["excluded_by"][0]["carc"] == "202" and answer["excluded_by"][0]["source"]
    assert answer["likely_denial_reasons"][0] == {"carc": "202", "description": answer["likely_denial_reasons"][0][
        "description"], "group_code": "PR", "probability": round(1 - answer["approval_probability"], 4)}
    assert answer["liability"]["group_code"] == "PR"  # the patient who chose a comfort service pays
    assert answer["recommendations"] == []  # nothing changes a personal-comfort service
    assert answer["coverage_information"]["covered"] == "not-covered"


def _cosmetic_botox(answer):
    _excluded_by("COSMETIC-001")(answer)
    assert answer["excluded_by"][0]["carc"] == "96"
    [advice] = answer["recommendations"]
    assert advice["action"] == "document_covered_diagnosis"
    assert "G43.709" in advice["covered_diagnoses"] and advice["conditions"] and advice["source"]
    assert "G43.709" in advice["description"] and advice["probability_after"] is None


def _header_code(answer):
    _excluded_by("CODING-001")(answer)
    assert answer["excluded_by"][0]["carc"] == "146"
    actions = [advice["action"] for advice in answer["recommendations"]]
    assert "bill_specific_diagnosis_code" in actions
    advice = answer["recommendations"][actions.index("bill_specific_diagnosis_code")]
    assert advice["probability_after"] > answer["approval_probability"]


def _missing_prior_authorization(answer):
    assert answer["decision"] != "excluded"
    actions = {advice["action"]: advice for advice in answer["recommendations"]}
    advice = actions["obtain_prior_authorization"]
    assert advice["probability_after"] > answer["approval_probability"]
    assert advice["gain"] == pytest.approx(advice["probability_after"] - answer["approval_probability"], abs=1e-3)
    gains = [item["gain"] for item in answer["recommendations"]]
    assert gains == sorted(gains, reverse=True)
    assert answer["coverage_information"]["pa_needed"] == "auth-needed"


def _office_only_at_a_spa(answer):
    assert "see_physician_office" in [advice["action"] for advice in answer["recommendations"]]
    assert "location" in answer["coverage_information"]["info_needed"]


PREDICTIONS = [
    ("botox 64615 for chronic migraine with prior authorization", example_claim(), _medical_botox),
    ("a facial is a personal-comfort service", example_claim(treatment="facial", procedure_code=DROP), _facial),
    ("cosmetic botox without a covered diagnosis", COSMETIC_BOTOX, _cosmetic_botox),
    ("a header diagnosis code", example_claim(diagnosis_codes=["G43.7"]), _header_code),
    ("no prior authorization", example_claim(prior_authorization=False), _missing_prior_authorization),
    ("office-only benefit at a medical spa",
     example_claim(benefit_scope="office_only", facility_type="medical_spa"), _office_only_at_a_spa),
]


@pytest.mark.parametrize("label, claim, check", PREDICTIONS, ids=[case[0] for case in PREDICTIONS])
def test_predict_answers_explains_and_advises(served_client, auth, model_store, label, claim, check):
    response = served_client.post("/v1/predict", json=claim, headers=auth)
    assert response.status_code == 200
    answer = body_of(response)
    ClaimAnswer.model_validate(answer)  # exactly the published shape, no field more or less
    assert answer["claim_id"] == claim["claim_id"] and answer["request_id"] == response.headers["X-Request-ID"]
    assert answer["model"] == {"name": MODEL_NAME, "version": model_store.champion_version, "alias": "champion"}
    assert answer["rules_version"] == load_rules().version
    check(answer)


def test_the_decision_thresholds_are_settings(make_served_app, auth):
    claim = example_claim(prior_authorization=False)
    probability = body_of(make_served_app().test_client().post("/v1/predict", json=claim, headers=auth))[
        "approval_probability"]
    strict = make_served_app(LIKELY_APPROVED_THRESHOLD=1.0, LIKELY_DENIED_THRESHOLD=1.0).test_client()
    lenient = make_served_app(LIKELY_APPROVED_THRESHOLD=0.0, LIKELY_DENIED_THRESHOLD=0.0).test_client()
    assert body_of(strict.post("/v1/predict", json=claim, headers=auth))["decision"] == (
        "likely_denied" if probability < 1.0 else "likely_approved")
    assert body_of(lenient.post("/v1/predict", json=claim, headers=auth))["decision"] == "likely_approved"


def test_a_batch_answers_every_good_claim_when_one_is_bad(served_app, auth):
    claims = [example_claim(claim_id="a"), example_claim(claim_id="b", plan_type="gold"),
              example_claim(claim_id="c", treatment="facial", procedure_code=DROP)]
    response = served_app.test_client().post("/v1/predict", json={"claims": claims}, headers=auth)
    body = body_of(response)
    assert response.status_code == 200 and (body["answered"], body["rejected"]) == (2, 1)
    first, bad, third = body["results"]
    assert first["answer"]["claim_id"] == "a" and first["answer"]["decision"] != "excluded"
    assert bad["error"]["errors"][0]["field"] == "plan_type"
    assert bad["claim_id"] == "b"  # the caller's own id, so the rejected entry can be matched to its claim
    assert third["answer"]["claim_id"] == "c" and third["answer"]["decision"] == "excluded"
    for result in (first, third):
        ClaimAnswer.model_validate(result["answer"])
    audited = served_app.extensions["audit_store"].read_since()
    assert [row.claim["claim_id"] for row in audited] == ["a", "c"]


@pytest.mark.parametrize("payload", [example_claim(claim_id="a"),
                                     {"claims": [example_claim(claim_id="a"), example_claim(claim_id="b", plan_type="gold"),
                                                 example_claim(claim_id="c", treatment="facial")]}])
def test_answers_are_sent_as_jsonify_writes_them_and_as_the_audit_keeps_them(served_app, auth, payload):
    """The answers' JSON is written once, for the audit row and the response (a batch splices it in):
    the bytes are compact JSON with a final newline, as jsonify's, and each answer is the audit's."""
    response = served_app.test_client().post("/v1/predict", json=payload, headers=auth)
    text = response.get_data(as_text=True)
    body = json.loads(text)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert text == json.dumps(body, separators=(",", ":")) + "\n"
    answers = [body] if "results" not in body else [result["answer"] for result in body["results"] if "answer" in result]
    assert [row.answer for row in served_app.extensions["audit_store"].read_since()] == answers
    if "results" in body:
        assert list(body) == ["request_id", "answered", "rejected", "results"]
        assert [list(result) for result in body["results"]] == [["index", "answer"], ["index", "claim_id", "error"],
                                                                ["index", "answer"]]


def test_a_batch_answers_like_single_claims(served_client, auth):
    claims = [claim for _, claim, _ in PREDICTIONS]
    batch = body_of(served_client.post("/v1/predict", json={"claims": claims}, headers=auth))["results"]
    for claim, result in zip(claims, batch):
        single = body_of(served_client.post("/v1/predict", json=claim, headers=auth))
        for key in ("decision", "approval_probability", "excluded_by", "recommendations", "factors"):
            assert result["answer"][key] == single[key], key


@pytest.mark.parametrize("value", ["false", "FALSE", " false "])
def test_explain_false_leaves_the_factors_out_and_nothing_else(served_client, auth, value):
    """Without the factors there are no reasons built from them, and the summary says the decision and
    the next step without naming what decides it; everything else is the same answer."""
    claim = example_claim()
    full = body_of(served_client.post("/v1/predict", json=claim, headers=auth))
    short = body_of(served_client.post(f"/v1/predict?explain={value}", json=claim, headers=auth))
    assert full["factors"] and full["reasons"] and "factors" not in short and "reasons" not in short
    ClaimAnswer.model_validate(short)  # the documented answer, without the optional factors and reasons
    assert short["summary"].split(":")[0] == full["summary"].split(":")[0]  # the same decision, in words
    left_out = ("explanation", "request_id", "factors", "reasons", "summary")
    assert {key: value for key, value in short.items() if key not in left_out} == \
        {key: value for key, value in full.items() if key not in left_out}
    batch = body_of(served_client.post("/v1/predict?explain=false", json={"claims": [claim]}, headers=auth))
    assert "factors" not in batch["results"][0]["answer"]
    explicit = body_of(served_client.post("/v1/predict?explain=true", json=claim, headers=auth))
    assert explicit["factors"] == full["factors"]


@pytest.mark.parametrize("value", ["maybe", "", "1", "yes"])
def test_an_explain_other_than_true_or_false_is_422_naming_it(served_client, auth, value):
    response = served_client.post(f"/v1/predict?explain={value}", json=example_claim(), headers=auth)
    assert response.status_code == 422
    body = body_of(response)
    assert [error["field"] for error in body["errors"]] == ["explain"]
    assert "true" in body["errors"][0]["message"] and "false" in body["errors"][0]["message"]
    assert value not in body["message"] or not value


def test_batch_answers_good_claims_and_rejects_bad_ones_one_by_one(served_client, auth):
    claims = [example_claim(claim_id="a"), example_claim(patient_age="old", claim_id=DROP), example_claim(claim_id="c")]
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


# -- bad requests ----------------------------------------------------------------------------------
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
    ("no treatment at all", example_claim(procedure_code=DROP, treatment=DROP), "treatment", "one of treatment"),
    ("invalid ICD-10-CM code", example_claim(diagnosis_codes=["G43.709", "Q99.999"]), "diagnosis_codes[1]",
     "ICD-10-CM"),
    ("malformed ICD-10-CM code", example_claim(diagnosis_codes=["not a code"]), "diagnosis_codes[0]", "ICD-10-CM"),
    ("code as number", example_claim(diagnosis_codes=[43]), "diagnosis_codes[0]", "ICD-10-CM"),
    ("codes as string", example_claim(diagnosis_codes="G43.709"), "diagnosis_codes", "list"),
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


@pytest.mark.parametrize("path, payload", [
    ("/invocations", {"dataframe_records": [1] * 600_000}),
    ("/invocations", {"dataframe_split": {"columns": ["patient_age"], "data": [[]] * 600_000}}),
    ("/v1/predict", {"claims": [1] * 600_000}),
])
def test_a_batch_over_the_limit_is_refused_before_any_row_is_checked(make_app, auth, path, payload):
    """~700k malformed rows in 2 MB once came back as a 64 MB list of errors, one per row."""
    response = make_app().test_client().post(path, data=json.dumps(payload, separators=(",", ":")),
                                             content_type="application/json", headers=auth)
    assert response.status_code == 422
    assert body_of(response)["code"] == "batch_too_large" and len(response.data) < 1000


def test_every_row_error_of_a_bad_frame_is_capped_at_100_and_a_count(make_app, auth):
    response = make_app(MAX_BATCH_CLAIMS=5000).test_client().post(
        "/invocations", json={"dataframe_records": [{"patient_age": "old"}] * 5000}, headers=auth)
    assert response.status_code == 422
    errors = body_of(response)["errors"]
    assert len(errors) == 101 and errors[-1]["field"] == "(more errors)"


@pytest.mark.parametrize("raw", [
    '{"prior_authorization": false, "prior_authorization": true}',
    '{"claims": [{"claim_id": "a"}, {"%s": 1, "%s": 2}]}' % (SENTINEL, SENTINEL),
    '{"dataframe_records": [{"referral": true, "referral": true}]}',
])
def test_a_key_named_twice_is_400_naming_the_problem_not_the_key(client, auth, raw):
    for path in ("/v1/predict", "/invocations"):
        response = client.post(path, data=raw, content_type="application/json", headers=auth)
        assert response.status_code == 400
        body = body_of(response)
        assert body["code"] == "duplicate_key" and "same key twice" in body["message"]
        assert SENTINEL not in response.get_data(as_text=True) and "prior_authorization" not in body["message"]


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


def test_without_a_model_validation_still_answers_first(client, auth):
    response = client.post("/v1/predict", json=example_claim(patient_age=-1), headers=auth)
    assert response.status_code == 422


# -- /invocations ----------------------------------------------------------------------------------
def _frame_row(claim: dict) -> dict:
    return {**claim, "diagnosis_codes": ";".join(claim.get("diagnosis_codes", []))}


def test_invocations_answer_the_batch_scoring_columns_in_both_orients(served_app, auth, model_store):
    client = served_app.test_client()
    claims = [claim for _, claim, _ in PREDICTIONS]
    rows = [_frame_row(claim) for claim in claims]
    columns = sorted({name for row in rows for name in row})
    split = {"columns": columns, "data": [[row.get(name) for name in columns] for row in rows]}
    by_records = body_of(client.post("/invocations", json={"dataframe_records": rows}, headers=auth))
    by_split = body_of(client.post("/invocations", json={"dataframe_split": split}, headers=auth))
    InvocationsResponse.model_validate(by_records)
    assert by_records == by_split
    predictions = by_records["predictions"]
    assert list(predictions[0]) == ["approval_probability", "model_probability", "decision", "excluded", "rule_ids",
                                    "top_denial_reason"]
    assert [row["excluded"] for row in predictions] == [False, True, True, True, False, False]
    assert predictions[1]["rule_ids"].startswith("COMFORT-001") and predictions[1]["top_denial_reason"] == "202"
    assert predictions[3]["rule_ids"] == "CODING-001"

    # the same numbers as the model's own batch scoring and as /v1/predict
    model = served_app.extensions["coverage_model"].model.coverage_model
    frame = pd.DataFrame.from_records([normalise_request_claim(claim) for claim in claims], columns=list(CLEAN_COLUMNS))
    expected = model.score_frame(frame)
    assert [row["approval_probability"] for row in predictions] == pytest.approx(
        expected["approval_probability"].tolist())
    for claim, row in zip(claims, predictions):
        answer = body_of(client.post("/v1/predict", json=claim, headers=auth))
        assert (answer["decision"], answer["approval_probability"]) == (row["decision"],
                                                                         round(row["approval_probability"], 4))

    audited = served_app.extensions["audit_store"].read_since()
    assert len(audited) == 2 * len(claims) + len(claims)  # two frames, then the single predictions
    assert {(row.model_name, row.model_version) for row in audited} == {(MODEL_NAME, model_store.champion_version)}
    assert audited[0].answer == predictions[0]


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


# -- /v1/model, /v1/treatments and the audit -------------------------------------------------------
def test_ready_and_model_info_with_a_loaded_model(served_client, auth, model_store):
    assert served_client.get("/healthz/ready").status_code == 200
    info = body_of(served_client.get("/v1/model", headers=auth))
    assert info["ready"] is True
    assert (info["name"], info["version"], info["alias"]) == (MODEL_NAME, model_store.champion_version, "champion")
    assert info["rules_version"] == load_rules().version and info["trained_at"] and info["run_id"]
    # the prior-authorization table (plan, setting, service) beside the rules
    assert info["prior_authorization_version"] == load_authorization_table().version
    assert 0.5 < info["metrics"]["test_auc"] <= 1 and not any("__" in key for key in info["metrics"])
    assert info["source"] == "registry" and len(info["model_sha256"]) == 64
    assert info["model_uri"] == f"models:/{MODEL_NAME}/{model_store.champion_version}"


def test_treatments_lists_the_catalog(client, auth):
    body = body_of(client.get("/v1/treatments", headers=auth))
    keys = [row["treatment"] for row in body["treatments"]]
    assert "botulinum_toxin" in keys and "facial" in keys
    botox = body["treatments"][keys.index("botulinum_toxin")]
    assert "64615" in botox["procedure_codes"] and "G43.709" in botox["covered_diagnoses"]


def test_diagnoses_are_found_by_words_with_description_and_billable_flag(client, auth):
    body = body_of(client.get("/v1/diagnoses?q=bell%27s+palsy", headers=auth))
    assert body["diagnoses"] == [{"code": "G51.0", "description": "Bell's palsy", "billable": True}]
    migraine = body_of(client.get("/v1/diagnoses?q=Chronic+MIGRAINE&limit=50", headers=auth))["diagnoses"]
    assert {"code": "G43.709", "billable": True} .items() <= next(
        row for row in migraine if row["code"] == "G43.709").items()
    assert all("chronic migraine" in row["description"].lower() for row in migraine)
    assert {row["billable"] for row in migraine} == {True, False}  # headers (G43.7) and billable codes alike
    varicose = body_of(client.get("/v1/diagnoses?q=varicose", headers=auth))["diagnoses"]
    assert len(varicose) == 20 and all("varicose" in row["description"].lower() for row in varicose)


def test_diagnoses_are_found_by_code_prefix_with_or_without_the_dot(client, auth):
    for query in ("G43.7", "g437", "G43.70"):
        codes = [row["code"] for row in body_of(client.get(f"/v1/diagnoses?q={query}&limit=5", headers=auth))
                 ["diagnoses"]]
        assert codes and all(code.replace(".", "").startswith(query.upper().replace(".", "")) for code in codes)
        assert len(codes) <= 5
    assert body_of(client.get("/v1/diagnoses?q=xyzzy+plugh", headers=auth))["diagnoses"] == []


@pytest.mark.parametrize("query, field", [("", "q"), ("?q=", "q"), ("?q=+++", "q"), (f"?q={'a' * 101}", "q"),
                                          ("?q=migraine&limit=0", "limit"), ("?q=migraine&limit=51", "limit"),
                                          ("?q=migraine&limit=ten", "limit")])
def test_a_bad_diagnosis_look_up_is_422_naming_the_parameter(client, auth, query, field):
    response = client.get(f"/v1/diagnoses{query}", headers=auth)
    assert response.status_code == 422
    assert [error["field"] for error in body_of(response)["errors"]] == [field]


def test_the_diagnosis_look_up_needs_a_key_and_never_echoes_the_query(client, auth):
    assert client.get("/v1/diagnoses?q=migraine").status_code == 401
    response = client.get(f"/v1/diagnoses?q={SENTINEL}&limit={SENTINEL}", headers=auth)
    assert response.status_code == 422 and SENTINEL not in response.get_data(as_text=True)


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


def test_no_audit_rows_without_answers(app, client, auth):
    client.post("/v1/predict", json=example_claim(), headers=auth)
    assert app.extensions["audit_store"].read_since() == []
