"""Next steps that name things (scoring.next_steps): the billable codes under a header code with
their ICD-10-CM descriptions, the conditions a treatment is covered under as conditions (never as
codes to bill), the BMI family for obesity counselling, the documents the policy asks for, and the
earliest date a repeat session is covered; through the answers of the session's champion too."""
from __future__ import annotations

import pytest

from features.catalog import load_catalog
from features.rules import load_rules
from scoring.advice import ClaimTreatment
from scoring.next_steps import (covered_conditions_steps, documents_for, earliest_covered_date, header_choices,
                                missing_condition_step, name_the_steps, repeat_session_step)
from tests.scoring.conftest import canonical_claim


def _treatment(claim: dict) -> ClaimTreatment:
    return ClaimTreatment.of(load_catalog(), claim)


def _actions(answer: dict) -> dict:
    return {item["action"]: item for item in answer["recommendations"]}


def test_a_header_code_gets_its_billable_codes_named_and_described():
    claim = canonical_claim(diagnosis_codes="G437")
    (choice,) = header_choices(claim, _treatment(claim))
    assert choice["header"] == "G43.7" and choice["header_description"] == "Chronic migraine without aura"
    codes = {code["code"]: code["description"] for code in choice["billable_codes"]}
    assert set(codes) == {"G43.701", "G43.709", "G43.711", "G43.719"}
    assert codes["G43.709"] == "Chronic migraine without aura, not intractable, without status migrainosus"


@pytest.mark.parametrize("service_date, weeks, minimum, earliest", [
    ("2026-03-02", 8.0, 12, "2026-03-30"),  # 4 weeks to wait
    ("2026-03-02", 11.5, 12, "2026-03-06"),  # 3.5 days: the 4th day is the first one far enough
    ("2026-12-28", 0.0, 12, "2027-03-22"),  # across a year
])
def test_the_earliest_covered_date_is_counted_from_the_last_session(service_date, weeks, minimum, earliest):
    assert earliest_covered_date(service_date, weeks, minimum) == earliest


def test_a_toxin_session_too_soon_gets_the_date_it_is_covered_from():
    claim = canonical_claim(visit_number=3, weeks_since_last_treatment=8.0)
    step = repeat_session_step(claim, _treatment(claim), hard_excluded=False)
    assert step["date"] == "2025-06-29" and "2025-06-29" in step["description"] and "12 weeks" in step["description"]
    assert repeat_session_step({**claim, "weeks_since_last_treatment": 12.0}, _treatment(claim), False) is None
    assert repeat_session_step({**claim, "weeks_since_last_treatment": float("nan")}, _treatment(claim), False) is None


def test_obesity_counselling_without_a_bmi_code_is_told_the_bmi_family_not_an_authorization():
    claim = canonical_claim(treatment="weight_management", procedure_code="G0447", diagnosis_codes="E669")
    step = missing_condition_step(_treatment(claim), claim, hard_excluded=False)
    assert [condition["code"] for condition in step["covered_conditions"]] == ["Z68.3*", "Z68.4*"]
    assert step["covered_conditions"][0]["description"] == "Body mass index [BMI] 30-39, adult"
    assert "covered only when the patient has one of these documented conditions" in step["description"]
    with_bmi = {**claim, "diagnosis_codes": "E669;Z6835"}
    assert missing_condition_step(_treatment(with_bmi), with_bmi, hard_excluded=False) is None


def test_cosmetic_exclusion_lists_covered_conditions_with_words_never_as_codes_to_bill():
    claim = canonical_claim(diagnosis_codes="", procedure_code="64612")
    cosmetic = [rule for rule in load_rules().rules if rule.rule_id == "COSMETIC-001"]
    (step,) = covered_conditions_steps(_treatment(claim), claim, cosmetic)
    described = {condition["code"]: condition["description"] for condition in step["covered_conditions"]}
    assert described["G43.709"] == "Chronic migraine without aura, not intractable, without status migrainosus"
    assert described["G51.3*"] == "Clonic hemifacial spasm"  # a family: its stem described
    assert "covered only when the patient has one of these documented conditions" in step["description"]
    assert "Chronic migraine without aura" in step["description"]
    assert "coded" not in step["description"].lower().split("documented conditions")[0]


def test_a_cosmetic_encounter_code_beside_a_covered_one_is_not_told_to_code_what_it_has():
    claim = canonical_claim(treatment="blepharoplasty", procedure_code="15822", diagnosis_codes="H02831;Z411")
    cosmetic = [rule for rule in load_rules().rules if rule.rule_id == "COSMETIC-002"]
    (step,) = covered_conditions_steps(_treatment(claim), claim, cosmetic)
    assert "H02.83*" not in [condition["code"] for condition in step["covered_conditions"]]
    assert "Z41.1" in step["description"] and "on the claim already: H02.831" in step["description"]


@pytest.mark.parametrize("claim, expected", [
    (canonical_claim(treatment="blepharoplasty", procedure_code="15822", diagnosis_codes="H02831"),
     ["Visual fields within the last 12 months", "Photographs within the last 12 months"]),
    (canonical_claim(treatment="sclerotherapy", procedure_code="36471", diagnosis_codes="I83811"),
     ["A duplex ultrasound", "A 3-month trial of prescription compression stockings"]),
    (canonical_claim(), ["A headache diary", "Preventive (prophylactic) migraine medications tried and failed"]),
])
def test_the_documents_the_policy_asks_for_are_named_with_their_sources(claim, expected):
    documents = documents_for(claim)
    for start in expected:
        assert any(document["text"].startswith(start) and document["source"] for document in documents), documents


# -- through the champion's answers ---------------------------------------------------------------
def test_the_header_code_advice_names_the_codes_and_what_they_are(champion_model):
    answer = champion_model.answer_claims([canonical_claim(diagnosis_codes="G437")])[0]
    advice = _actions(answer)["bill_specific_diagnosis_code"]
    assert "G43.709 (Chronic migraine without aura, not intractable" in advice["description"]
    assert {code["code"] for code in advice["billable_codes"]} >= {"G43.709", "G43.719"}
    assert advice["diagnosis_codes"][0] in {code["code"] for code in advice["billable_codes"]}  # what it applies


def test_a_session_too_soon_is_answered_with_the_date_and_leads_the_advice(champion_model):
    answer = champion_model.answer_claims([canonical_claim(visit_number=3, weeks_since_last_treatment=8.0)])[0]
    assert answer["recommendations"][0]["action"] == "wait_for_repeat_interval"
    assert answer["recommendations"][0]["date"] == "2025-06-29"
    assert "timeframe" in answer["coverage_information"]["info_needed"]


def test_obesity_counselling_without_a_bmi_code_is_advised_the_bmi_codes_first(champion_model):
    claim = canonical_claim(treatment="weight_management", procedure_code="G0447", diagnosis_codes="E669",
                            plan_type="medicare", facility_type="primary_care_clinic", place_of_service="11",
                            prior_authorization=False)
    answer = champion_model.answer_claims([claim])[0]
    first = answer["recommendations"][0]
    assert first["action"] == "document_covered_diagnosis" and first["covered_conditions"][0]["code"] == "Z68.3*"
    assert "obtain_prior_authorization" not in _actions(answer)  # the table asks for none here


def test_the_document_advice_names_the_documents_and_all_of_these_keeps_it_short():
    claim = canonical_claim(treatment="blepharoplasty", procedure_code="15822", diagnosis_codes="H02831",
                            medical_necessity_letter=False)
    letter = {"action": "attach_medical_necessity_letter", "probability_after": 0.9, "gain": 0.2,
              "description": "Attach a letter of medical necessity from the treating physician"}
    combined = {"action": "all_of_the_above", "probability_after": 0.95, "gain": 0.25,
                "description": "Do all of these: attach a letter of medical necessity from the treating physician"}
    named_combined, named_letter = name_the_steps([combined, letter], claim, _treatment(claim))
    assert named_combined == combined
    assert named_letter["description"].startswith(letter["description"] + ", showing what the policy asks for: "
                                                  "Visual fields within the last 12 months")
    assert [document["text"][:12] for document in named_letter["documents"]][:2] == ["Visual field", "Photographs "]
