"""POST /v1/estimates with the session's real champion: a Good Faith Estimate (45 CFR 149.610) for a
not-covered visit and for a self-pay one, none for a visit the plan may cover, 4xx errors naming the
field, the audit row saying that an estimate was made and nothing of it in the log; and
patient_cost in /v1/predict's answers."""
from __future__ import annotations

import pytest

from service.estimates import DISCLAIMERS, PATIENT_PLACEHOLDERS
from tests.service.service_testing import SENTINEL, body_of, example_claim

# teeth whitening: dental, which no medical plan covers (a hard rule: covered not-covered)
DENTAL = example_claim(claim_id="E-1", treatment="teeth_whitening", procedure_code="D9972", diagnosis_codes=[],
                       billed_amount=450.0, service_date="2026-04-10")
MIGRAINE = example_claim(claim_id="E-2")  # the README's example claim: the plan may cover it


def _estimate(client, auth, **body):
    return client.post("/v1/estimates", headers=auth, json=body)


def test_a_not_covered_visit_gets_a_printable_estimate_with_what_the_rule_asks_for(served_client, auth):
    response = _estimate(served_client, auth, claim=DENTAL, practice_name="Example Med Spa")
    body = body_of(response)
    assert response.status_code == 200, body
    assert body["kind"] == "not_covered" and body["claim_id"] == "E-1"
    assert body["service_date"] == "2026-04-10" and body["service"]["procedure_code"] == "D9972"
    assert body["items"] == [{"provider": "[PROVIDER NAME], Example Med Spa",
                              "description": body["service"]["description"], "procedure_code": "D9972",
                              "diagnosis_codes": [], "quantity": 1, "expected_charge": 450.0}]
    assert body["total_expected_charge"] == 450.0 and body["dispute_threshold"] == 850.0
    assert body["disclaimers"] == list(DISCLAIMERS) and any("$400" in text for text in body["disclaimers"])
    assert body["placeholders"][:2] == list(PATIENT_PLACEHOLDERS) and "[NPI]" in body["placeholders"]
    assert "[PRACTICE NAME]" not in body["placeholders"]
    page = body["html"]
    assert "@media print" in page and "<script" not in page
    for text in ("Good Faith Estimate", "[PATIENT NAME]", "[DATE OF BIRTH]", "D9972", "$450.00", "$850.00",
                 "2026-04-10", "45 CFR 149.610", "Example Med Spa", "not a contract"):
        assert text in page, text


def test_a_self_pay_visit_gets_an_estimate_with_its_diagnosis_codes(served_client, auth):
    response = _estimate(served_client, auth, claim=MIGRAINE, self_pay=True)
    body = body_of(response)
    assert response.status_code == 200, body
    assert body["kind"] == "self_pay"
    assert body["diagnoses"][0]["code"] == "G43.709" and "migraine" in body["diagnoses"][0]["description"].lower()
    assert body["items"][0]["diagnosis_codes"] == ["G43.709"] and body["items"][0]["procedure_code"] == "64615"
    assert body["total_expected_charge"] == MIGRAINE["billed_amount"]
    assert "G43.709" in body["html"] and "self-pay" in body["html"]


def test_a_visit_the_plan_may_cover_gets_no_estimate_without_self_pay(served_client, auth):
    response = _estimate(served_client, auth, claim=MIGRAINE)
    body = body_of(response)
    assert response.status_code == 422 and body["code"] == "estimate_not_offered"
    assert [error["field"] for error in body["errors"]] == ["self_pay"]


def test_a_claim_without_a_procedure_code_leaves_the_service_code_to_fill_in(served_client, auth):
    claim = {name: value for name, value in DENTAL.items() if name != "procedure_code"}
    body = body_of(_estimate(served_client, auth, claim=claim))
    assert body["items"][0]["procedure_code"] == "[SERVICE CODE]" and "[SERVICE CODE]" in body["placeholders"]


@pytest.mark.parametrize("body, fields", [
    ({"claim": {**DENTAL, "plan_type": SENTINEL}}, {"claim.plan_type"}),
    ({"claim": DENTAL, "self_pay": "yes"}, {"self_pay"}),
    ({"claim": DENTAL, "provider_name": ""}, {"provider_name"}),
    ({"claim": DENTAL, SENTINEL: 1}, {"(unknown field)"}),
    ({"claim": {**DENTAL, "coinsurance_rate": 1.5}}, {"claim.coinsurance_rate"}),
    ({"self_pay": True}, {"claim"}),
])
def test_bad_estimate_requests_name_the_field_and_repeat_nothing(served_client, auth, body, fields):
    response = served_client.post("/v1/estimates", headers=auth, json=body)
    assert response.status_code == 422
    assert {error["field"] for error in body_of(response)["errors"]} == fields
    assert SENTINEL not in response.get_data(as_text=True) and "1.5" not in response.get_data(as_text=True)


def test_an_estimate_needs_the_api_key(served_client):
    response = served_client.post("/v1/estimates", json={"claim": DENTAL})
    assert response.status_code == 401 and body_of(response)["code"] == "unauthorized"


def test_the_audit_says_an_estimate_was_made_and_the_log_keeps_nothing_of_it(served_app, auth, log_lines):
    client = served_app.test_client()
    response = _estimate(client, auth, claim={**DENTAL, "billed_amount": 4321.98}, self_pay=True)
    assert response.status_code == 200
    rows = served_app.extensions["audit_store"].read_since()
    assert len(rows) == 1 and rows[0].request_id == body_of(response)["request_id"]
    assert rows[0].answer["good_faith_estimate_made"] is True
    assert "html" not in rows[0].answer and "disclaimers" not in rows[0].answer  # not the estimate itself
    logged = "\n".join(log_lines())
    assert "estimates_made" in logged and "4321.98" not in logged and "D9972" not in logged


def test_a_predicted_answer_says_what_the_patient_will_owe(served_client, auth):
    claim = example_claim(plan_type="hdhp", billed_amount=1350.0, deductible_remaining=1000.0, coinsurance_rate=0.2,
                          allowed_amount=1100.0)
    answer = body_of(served_client.post("/v1/predict", headers=auth, json=claim))
    cost = answer["patient_cost"]
    # allowed 1,100: deductible 1,000, then 20% of the 100 left; in network the provider writes off 250
    assert cost["if_approved"] == {"plan_pays": 80.0, "patient_pays": 1020.0, "deductible": 1000.0,
                                   "coinsurance": 20.0, "copay": 0.0, "above_benefit_limit": 0.0,
                                   "balance_billing": 0.0, "provider_writes_off": 250.0}
    assert cost["assumptions"] == [] and answer["expected_payment"]["payable_if_approved"] == 80.0
