"""The explanation for a person (scoring.reasons) and the summary (scoring.summary): on many claims
the reasons add up exactly, as shown, from the starting chance to the answer's chance; at most
five, none small, none a person cannot act on unless large, none about an authorization the plan
does not ask for; a hard rule's claim explained by its rule; the summary's sentence built from them."""
from __future__ import annotations

import pytest

from features.contract import CLEAN_COLUMNS, MONOTONIC_FLAGS
from scoring.decisions import DECISION_LEADS
from scoring.reasons import (FLOOR, HIDDEN_UNLESS_LARGE, LARGE_POINTS, MAX_REASONS, RULE, SMALL_POINTS,
                             STARTING_POINT, explain_for_a_person, tenths)
from scoring.summary import about
from tests.features.conftest import BASE_CLAIM, varied_claims
from tests.scoring.conftest import canonical_claim

DIRECTION_WORDS = ("raises", "lowers", "increases", "decreases")


@pytest.fixture(scope="module")
def answers(champion_model, test_claims):
    claims = [{**BASE_CLAIM, **claim} for claim in varied_claims(300, seed=23)]
    claims += test_claims[list(CLEAN_COLUMNS)].head(300).to_dict("records")
    return champion_model.answer_claims(claims)


def test_reasons_add_up_exactly_as_shown_from_the_start_to_the_answer(answers):
    for answer in answers:
        reasons = answer["reasons"]
        total = reasons["start_percent"] + sum(item["points"] for item in reasons["items"]) \
            + reasons["everything_else_points"]
        assert round(total, 1) == reasons["end_percent"] == tenths(answer["approval_probability"]) / 10
        assert reasons["start"] == STARTING_POINT


def test_at_most_five_plain_reasons_and_nothing_small_or_unrecognisable(answers):
    for answer in answers:
        items = answer["reasons"]["items"]
        assert len(items) <= MAX_REASONS
        for item in items:
            assert not any(word in item["text"].lower() for word in DIRECTION_WORDS), item  # the sign says it
            if item["input"] in MONOTONIC_FLAGS and item["text"].startswith("No "):  # a missing paper never helps
                assert item["points"] < 0, item
            if item["input"] in (FLOOR, RULE):
                continue
            assert abs(item["points"]) >= SMALL_POINTS - 0.05, item
            if item["input"] in HIDDEN_UNLESS_LARGE:
                assert abs(item["points"]) >= LARGE_POINTS - 0.05, item


def test_no_authorization_reason_where_the_plan_asks_for_none(answers):
    checked = 0
    for answer in answers:
        if answer["coverage_information"]["pa_needed"] == "no-auth":
            checked += 1
            assert "prior_authorization" not in [item["input"] for item in answer["reasons"]["items"]]
    assert checked > 20


@pytest.mark.parametrize("plan_type, facility_type, shown", [
    ("medicare", "physician_office", False),  # traditional Medicare asks for no referral
    ("ppo", "dermatology_clinic", False),
    ("hmo", "primary_care_clinic", False),  # the patient's own primary-care practice is where one comes from
    ("hmo", "dermatology_clinic", True),
    ("medicare_advantage", "physician_office", True),
])
def test_no_referral_reason_where_the_plan_asks_for_none(plan_type, facility_type, shown):
    """A learned referral effect (issue 24: about -5 points under traditional Medicare) is named only
    where the advice would offer a referral; elsewhere it joins everything else."""
    claim = canonical_claim(plan_type=plan_type, facility_type=facility_type, referral=False)
    reasons = explain_for_a_person(claim, {"referral": -0.05, "treatment": -0.2}, 0.8, 0.55, 0.55, [], False)
    assert ("referral" in [item["input"] for item in reasons["items"]]) is shown
    assert ("referral" in reasons["everything_else_inputs"]) is not shown
    assert tenths(0.8) + sum(round(item["points"] * 10) for item in reasons["items"]) \
        + round(reasons["everything_else_points"] * 10) == tenths(0.55)


@pytest.mark.parametrize("treatment, procedure_code, diagnosis_codes", [
    ("botulinum_toxin", "64615", "G43709"), ("photodynamic_therapy", "96567", "L570"),
    ("sclerotherapy", "36471", "I83811")])
def test_a_traditional_medicare_answer_names_no_referral(champion_model, treatment, procedure_code, diagnosis_codes):
    claim = canonical_claim(plan_type="medicare", referral=False, patient_age=70, treatment=treatment,
                            procedure_code=procedure_code, diagnosis_codes=diagnosis_codes)
    answer = champion_model.answer_claims([claim])[0]
    assert all("referral" not in item["text"].lower() for item in answer["reasons"]["items"])
    assert all("referral" not in item["description"].lower() for item in answer["recommendations"])


def test_a_floor_is_a_reason_of_its_own(answers):
    floored = [answer for answer in answers if answer["explanation"].get("floor_added", 0) >= 0.001]
    assert floored, "the sample should hold claims the floors raise"
    for answer in floored:
        (floor,) = [item for item in answer["reasons"]["items"] if item["input"] == FLOOR]
        assert floor["points"] > 0


def test_a_hard_rule_explains_its_claim_from_the_typical_claim(answers):
    excluded = [answer for answer in answers if answer["decision"] == "excluded"]
    assert len(excluded) > 50
    for answer in excluded:
        (item,) = answer["reasons"]["items"]
        assert item["input"] == RULE and answer["excluded_by"][0]["reason"] in item["text"]
        assert answer["reasons"]["everything_else_points"] == 0
        assert answer["summary"].startswith(f"{DECISION_LEADS['excluded']}: ")


def test_every_summary_leads_with_the_decision_and_is_one_plain_paragraph(answers):
    for answer in answers:
        assert answer["summary"].startswith(DECISION_LEADS[answer["decision"]] + ": ")
        assert "{" not in answer["summary"] and "\n" not in answer["summary"] and answer["summary"].endswith(".")


def test_the_laser_hair_removal_example_reads_as_the_issue_asks(champion_model):
    claim = canonical_claim(treatment="laser_hair_removal", procedure_code="17380", diagnosis_codes="L680",
                            prior_authorization=False)
    answer = champion_model.answer_claims([claim])[0]
    authorization = {item["action"]: item for item in answer["recommendations"]}["obtain_prior_authorization"]
    assert (f"{DECISION_LEADS[answer['decision']]}: this plan requires prior authorization for laser hair removal "
            f"and none is on file. With it, the chance would be {about(authorization['probability_after'])}") \
        in answer["summary"]
    texts = [item["text"] for item in answer["reasons"]["items"]]
    assert "This plan requires prior authorization for laser hair removal and none is on file" in texts


def test_a_rule_reason_takes_the_whole_way_from_the_start():
    rule = type("Rule", (), {"reason": "The claim is coded as an encounter for cosmetic surgery (Z41.1)"})()
    reasons = explain_for_a_person(canonical_claim(), None, 0.8612, 0.0123, 0.0, [rule], True)
    assert reasons["items"] == [{"input": RULE, "text": rule.reason, "points": -84.9}]
    assert (reasons["start_percent"], reasons["end_percent"], reasons["everything_else_points"]) == (86.1, 1.2, 0.0)


def test_small_effects_and_the_patients_age_go_to_everything_else_unless_large():
    effects = {"prior_authorization": -0.30, "patient_age": -0.05, "billed_amount": 0.004, "treatment": -0.12,
               "service_date": 0.15}
    reasons = explain_for_a_person(canonical_claim(prior_authorization=False), effects, 0.80, 0.484, 0.484, [], True)
    assert [item["input"] for item in reasons["items"]] == ["prior_authorization", "service_date", "treatment"]
    assert reasons["everything_else_inputs"] == ["patient_age", "billed_amount"]
    assert reasons["everything_else_points"] == -4.6  # -5 and +0.4
