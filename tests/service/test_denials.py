"""POST /v1/denials with the session's real champion: a step for every CARC, the fix scored again
as /v1/predict would score the fixed claim, no appeal of an exclusion, deadlines, and 422s."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from features.carc import carc_descriptions
from features.denial_playbook import APPEAL_STEPS, PAYER_STEPS, STEPS
from features.diagnosis import load_table, normalise_code
from tests.service.service_testing import SENTINEL, body_of, example_claim

# Chronic migraine billed with the header code G43.7: the payer's 146.
HEADER_CODE_CLAIM = example_claim(claim_id="D-146", diagnosis_codes=["G43.7"])
# Toxin for wrinkles (no covered diagnosis): a hard rule excludes it as cosmetic.
COSMETIC_CLAIM = example_claim(claim_id="D-cos", diagnosis_codes=["L90.8"], procedure_code="64612")


def _denial(client, auth, claim, carc, group_code="CO", **extra):
    return client.post("/v1/denials", headers=auth,
                       json={"claim": claim, "carc": carc, "group_code": group_code, **extra})


def _probability(client, auth, claim) -> float:
    return body_of(client.post("/v1/predict", headers=auth, json=claim))["approval_probability"]


def test_every_carc_gets_a_step_and_a_pr_exclusion_is_never_appealed(served_client, auth):
    for carc in carc_descriptions():
        for group_code in ("CO", "PR"):
            response = _denial(served_client, auth, example_claim(prior_authorization=False), carc, group_code)
            answer = body_of(response)
            assert response.status_code == 200, (carc, answer)
            assert answer["step"] in STEPS and answer["source"] and answer["liability"]["group_code"] == group_code
            assert answer["appeal"] == (answer["step"] in APPEAL_STEPS)
            if carc in ("96", "202", "204", "270"):
                assert not answer["appeal"] and answer["expected_recovery"] == 0
                assert answer["step"] == ("bill_patient" if group_code == "PR" else "write_off")
            if answer["step"] in PAYER_STEPS:
                probability = answer["resubmission"]["approval_probability"]
                assert answer["expected_recovery"] == pytest.approx(probability * answer["amount_at_stake"], abs=0.01)
            else:
                assert answer["resubmission"] is None and answer["deadlines"] == []


def test_a_146_is_corrected_with_a_billable_code_and_scored_as_predict_scores_it(served_client, auth):
    answer = body_of(_denial(served_client, auth, HEADER_CODE_CLAIM, "146", denial_date="2026-04-01"))
    assert answer["step"] == "corrected_claim" and answer["fix"]["action"] == "bill_specific_diagnosis_code"
    codes = answer["fix"]["diagnosis_codes"]
    assert all(load_table().is_billable(normalise_code(code)) for code in codes)
    assert normalise_code(codes[0]).startswith("G437")
    fixed = _probability(served_client, auth, {**HEADER_CODE_CLAIM, "diagnosis_codes": codes})
    assert answer["resubmission"]["approval_probability"] == pytest.approx(fixed, abs=1e-4)
    assert fixed > _probability(served_client, auth, HEADER_CODE_CLAIM)
    assert answer["amount_at_stake"] == HEADER_CODE_CLAIM["billed_amount"]
    corrected, appeal = answer["deadlines"]
    assert corrected["kind"] == "corrected_claim" and appeal["kind"] == "appeal"
    assert appeal["due_date"] == (date(2026, 4, 1) + timedelta(days=180)).isoformat()  # a PPO: 45 CFR 147.136
    assert "general rule" in appeal["rule"]


def test_a_197_asks_for_a_retroactive_authorization_and_scores_the_claim_with_it(served_client, auth):
    claim = example_claim(prior_authorization=False, plan_type="medicare_advantage")
    answer = body_of(_denial(served_client, auth, claim, "197", paid_amount=100))
    assert answer["step"] == "retro_authorization" and answer["appeal"]
    assert answer["fix"] == {"action": "prior_authorization",
                             "description": "the claim sent again with a retroactive prior authorization granted"}
    with_authorization = _probability(served_client, auth, {**claim, "prior_authorization": True})
    assert answer["resubmission"]["approval_probability"] == pytest.approx(with_authorization, abs=1e-4)
    assert answer["amount_at_stake"] == claim["billed_amount"] - 100
    assert [deadline["kind"] for deadline in answer["deadlines"]] == ["appeal"]  # the MA contract sets filing


@pytest.mark.parametrize("carc", ["50", "252", "11"])
def test_a_claim_a_hard_rule_excludes_as_cosmetic_is_never_sent_to_appeal(served_client, auth, carc):
    for group_code, step in (("PR", "bill_patient"), ("CO", "write_off")):
        answer = body_of(_denial(served_client, auth, COSMETIC_CLAIM, carc, group_code))
        assert answer["step"] == step and not answer["appeal"] and answer["expected_recovery"] == 0
        assert "excludes" in answer["instruction"]


def test_a_167_adds_the_bmi_code_the_policy_requires(served_client, auth):
    claim = example_claim(treatment="weight_management", procedure_code="G0447", diagnosis_codes=["E66.9"],
                          facility_type="primary_care_clinic", plan_type="medicare")
    answer = body_of(_denial(served_client, auth, claim, "167", denial_date="2026-04-01"))
    assert answer["step"] == "corrected_claim"
    assert any(code.startswith("Z68.") for code in answer["fix"]["diagnosis_codes"])
    assert answer["deadlines"][1]["due_date"] == "2026-07-30"  # 120 days: 42 CFR 405.942
    assert answer["deadlines"][0]["due_date"] == "2027-03-02"  # 12 months from the service date


def test_bad_denials_name_each_field_and_repeat_nothing(served_client, auth):
    response = served_client.post("/v1/denials", headers=auth, json={
        "claim": example_claim(patient_age=SENTINEL), "carc": "999", "group_code": SENTINEL,
        "rarc": SENTINEL, "paid_amount": -1, "denial_date": SENTINEL, SENTINEL: 1})
    assert response.status_code == 422
    body = body_of(response)
    assert {error["field"] for error in body["errors"]} == {
        "claim.patient_age", "carc", "group_code", "rarc", "paid_amount", "denial_date", "(unknown field)"}
    assert SENTINEL not in response.get_data(as_text=True) and "999" not in response.get_data(as_text=True)


def test_denials_need_a_key(served_client):
    assert _denial(served_client, {}, HEADER_CODE_CLAIM, "146").status_code == 401
