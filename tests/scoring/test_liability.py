"""Who pays when a claim is denied: group codes, traditional Medicare's GY / GA / GZ and the ABN,
and never an ABN for Medicare Advantage (coverage-facts.md, "Who pays when a claim is denied")."""
import json

import pytest

from features.rules import load_rules
from scoring.liability import liability

RULES = {rule.rule_id: rule for rule in load_rules().rules}


@pytest.mark.parametrize("rule_id", ["COSMETIC-001", "COMFORT-001", "DENTAL-001", "MEDICARE-001", "MEDICARE-002"])
def test_a_service_medicare_excludes_is_billed_gy_and_needs_no_notice(rule_id):
    answer = liability("medicare", [RULES[rule_id]], None, likely_paid=False)
    assert (answer["group_code"], answer["modifier"], answer["abn"]) == ("PR", "GY", "not_needed")


@pytest.mark.parametrize("rule_id", ["INVESTIGATIONAL-001", "AGE-001", "SETTING-001"])
def test_a_medical_necessity_edit_under_medicare_advises_an_abn_with_ga_or_gz(rule_id):
    answer = liability("medicare", [RULES[rule_id]], None, likely_paid=False)
    assert (answer["modifier"], answer["modifier_without_notice"], answer["abn"]) == ("GA", "GZ", "advised")
    assert "CMS-R-131" in answer["description"] and "before the visit" in answer["description"]


def test_a_medicare_claim_likely_denied_by_the_model_advises_an_abn_and_one_likely_paid_does_not():
    assert liability("medicare", [], "50", likely_paid=False)["abn"] == "advised"
    paid = liability("medicare", [], "50", likely_paid=True)
    assert (paid["abn"], paid["modifier"], paid["group_code"]) == ("not_needed", None, None)


def test_a_coding_fix_is_no_one_s_liability():
    answer = liability("ppo", [RULES["CODING-001"]], "146", likely_paid=False)
    assert answer["group_code"] == "CO"  # the likeliest reason's, not the fixable rule's


@pytest.mark.parametrize("plan", ["medicare_advantage", "ppo", "hmo", "medicaid"])
@pytest.mark.parametrize("rule_ids, top_reason", [(["COSMETIC-001"], None), (["AGE-001"], None), ([], "50")])
def test_outside_traditional_medicare_there_is_no_modifier_and_no_abn(plan, rule_ids, top_reason):
    answer = liability(plan, [RULES[rule_id] for rule_id in rule_ids], top_reason, likely_paid=False)
    assert (answer["modifier"], answer["modifier_without_notice"], answer["abn"]) == (None, None, None)
    assert "advance beneficiary" not in answer["description"].lower() and "abn" not in answer["description"].lower()
    assert answer["group_code"] == (RULES[rule_ids[0]].group_code if rule_ids else "CO")


@pytest.mark.parametrize("changes, group_code, modifier", [
    (dict(treatment="wig", procedure_code="A9282", diagnosis_codes="L630", plan_type="medicare"), "PR", "GY"),
    (dict(diagnosis_codes="Z411", plan_type="medicare"), "PR", "GY"),
    (dict(diagnosis_codes="G43709", plan_type="medicare", patient_age=15), "CO", "GA"),
    (dict(treatment="photodynamic_therapy", procedure_code="96567", diagnosis_codes="L700", plan_type="ppo"),
     "CO", None),
])
def test_answers_carry_the_liability_of_the_rule_that_excludes_them(champion_model, make_claim, changes, group_code,
                                                                   modifier):
    answer = champion_model.answer_claims([make_claim(**changes)])[0]
    assert answer["decision"] == "excluded"
    assert answer["liability"]["group_code"] == group_code and answer["liability"]["modifier"] == modifier
    assert all(rule["group_code"] in ("CO", "PR") for rule in answer["excluded_by"])


def test_a_medicare_advantage_answer_never_mentions_an_abn(champion_model, make_claim):
    claims = [make_claim(plan_type="medicare_advantage", patient_age=70, **changes) for changes in (
        {}, dict(prior_authorization=False, referral=False), dict(diagnosis_codes="Z411"),
        dict(treatment="wig", procedure_code="A9282", diagnosis_codes="L630"))]
    for answer in champion_model.answer_claims(claims):
        text = json.dumps({key: value for key, value in answer.items()}).lower()
        assert "advance beneficiary" not in text and "cms-r-131" not in text and "gz" not in text
        assert answer["liability"]["abn"] is None
