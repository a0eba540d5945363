"""No answer contradicts itself, over generated claims (hypothesis, the session's champion): nothing
on file is advised; `coverage_information.pa_needed`, the authorization advice and the reasons
agree; the reasons add up to the answer; and applying a recommendation gives the chance it
promised, with the change showing in the new answer's reasons and advice."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from features.contract import OFFICE_FACILITIES
from features.diagnosis import load_table, normalise_code
from scoring.advice import ACTION_INPUTS, BOOLEAN_INPUTS
from scoring.places import setting_words
from scoring.reasons import tenths
from tests.claim_strategies import claims

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
AUTHORIZATION_ADVICE = BOOLEAN_INPUTS["prior_authorization"][2]


def _codes(claim: dict) -> set[str]:
    return set(claim["diagnosis_codes"].split(";")) if claim["diagnosis_codes"] else set()


@SETTINGS
@given(claim=claims())
def test_an_answer_never_advises_what_is_on_file_nor_contradicts_its_coverage(champion_model, claim):
    answer = champion_model.answer_claims([claim])[0]
    actions = {item["action"]: item for item in answer["recommendations"]}
    information = answer["coverage_information"]
    for action, name in ACTION_INPUTS.items():
        if action in actions and name in BOOLEAN_INPUTS:
            assert not claim[name], (action, claim)
    if "see_physician_office" in actions:  # another medical setting, named in the words a person reads
        place = actions["see_physician_office"]["facility_type"]
        assert place != claim["facility_type"] and place in OFFICE_FACILITIES
        assert actions["see_physician_office"]["description"].startswith(f"Be seen at {setting_words(place)} rather")
    table = load_table()
    if "bill_specific_diagnosis_code" in actions:
        assert any(not table.is_billable(code) for code in _codes(claim))
        assert all(table.is_billable(normalise_code(code)) for code in actions["bill_specific_diagnosis_code"]
                   ["diagnosis_codes"])
    for item in answer["recommendations"]:
        for condition in item.get("covered_conditions", []):  # a condition the claim already has is not advised
            stem = normalise_code(condition["code"].rstrip("*"))
            assert not any(code == stem or condition["code"].endswith("*") and code.startswith(stem)
                           for code in _codes(claim)), (condition, claim["diagnosis_codes"])
    # prior authorization: the coverage, the advice and the reasons say the same
    if AUTHORIZATION_ADVICE in actions:
        assert information["pa_needed"] in ("auth-needed", "conditional") and not claim["prior_authorization"]
    if information["pa_needed"] in ("no-auth", "satisfied", None):
        assert AUTHORIZATION_ADVICE not in actions
    if information["pa_needed"] == "no-auth":
        assert "prior_authorization" not in [item["input"] for item in answer["reasons"]["items"]]
    if information["pa_needed"] == "auth-needed":
        assert not claim["prior_authorization"]
    reasons = answer["reasons"]
    total = reasons["start_percent"] + sum(item["points"] for item in reasons["items"]) + reasons["everything_else_points"]
    assert round(total, 1) == reasons["end_percent"] == tenths(answer["approval_probability"]) / 10


@SETTINGS
@given(claim=claims())
def test_applying_a_recommendation_gives_its_chance_and_the_answer_shows_the_change(champion_model, claim):
    answer = champion_model.answer_claims([claim])[0]
    steps = [item for item in answer["recommendations"]
             if ACTION_INPUTS.get(item["action"]) in BOOLEAN_INPUTS or item["action"] == "bill_specific_diagnosis_code"]
    changed_claims = [_applied(claim, item) for item in steps]
    for item, after in zip(steps, champion_model.answer_claims(changed_claims) if steps else []):
        assert after["approval_probability"] == pytest.approx(item["probability_after"], abs=1e-4)
        assert item["action"] not in [step["action"] for step in after["recommendations"]]
        name = ACTION_INPUTS[item["action"]]
        before_texts = {entry["input"]: entry["text"] for entry in answer["reasons"]["items"]}
        after_texts = {entry["input"]: entry["text"] for entry in after["reasons"]["items"]}
        if name in before_texts and name in after_texts:  # the reason that named the gap now names what is on file
            assert before_texts[name] != after_texts[name]


def _applied(claim: dict, item: dict) -> dict:
    if item["action"] == "bill_specific_diagnosis_code":
        return {**claim, "diagnosis_codes": ";".join(normalise_code(code) for code in item["diagnosis_codes"])}
    return {**claim, ACTION_INPUTS[item["action"]]: True}
