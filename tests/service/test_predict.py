"""Answers of the real (tiny) model through /v1/predict and /invocations: decisions, rules, reasons,
advice, the answer schema, the MLflow scoring columns, and one audit row per answered claim."""
from __future__ import annotations

import pandas as pd
import pytest

from features.contract import CLEAN_COLUMNS
from features.rules import load_rules
from service.claims import normalise_request_claim
from service.schemas import ClaimAnswer, InvocationsResponse
from tests.service.service_testing import DROP, MODEL_NAME, body_of, example_claim

COSMETIC_BOTOX = example_claim(diagnosis_codes=[])


def _excluded_by(*rule_ids):
    def check(answer):
        assert answer["decision"] == "excluded" and answer["approval_probability"] == 0.0
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
        "description"], "probability": 1.0}
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
    assert third["answer"]["claim_id"] == "c" and third["answer"]["decision"] == "excluded"
    for result in (first, third):
        ClaimAnswer.model_validate(result["answer"])
    audited = served_app.extensions["audit_store"].read_since()
    assert [row.claim["claim_id"] for row in audited] == ["a", "c"]


def test_a_batch_answers_like_single_claims(served_client, auth):
    claims = [claim for _, claim, _ in PREDICTIONS]
    batch = body_of(served_client.post("/v1/predict", json={"claims": claims}, headers=auth))["results"]
    for claim, result in zip(claims, batch):
        single = body_of(served_client.post("/v1/predict", json=claim, headers=auth))
        for key in ("decision", "approval_probability", "excluded_by", "recommendations", "factors"):
            assert result["answer"][key] == single[key], key


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
