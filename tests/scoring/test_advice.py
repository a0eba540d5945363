"""What an answer says besides its probability (scoring.advice): the factors that move it,
the recommendations a patient or provider can act on (with their gain), the likely denial reasons,
the coverage information (Da Vinci CRD vocabulary) and the expected payment."""
import pandas as pd
import pytest

from features.carc import describe_carc
from features.contract import REFERRAL_PLANS
from features.catalog import load_catalog
from scoring.advice import ClaimTreatment, _specific_codes


def test_missing_prior_authorization_is_advised_with_its_gain(champion_model, make_claim):
    answer = champion_model.answer_claims([make_claim(prior_authorization=False, referral=False)])[0]
    actions = {advice["action"]: advice for advice in answer["recommendations"]}
    assert "obtain_prior_authorization" in actions
    advice = actions["obtain_prior_authorization"]
    assert advice["probability_after"] > answer["approval_probability"]
    assert advice["gain"] == pytest.approx(advice["probability_after"] - answer["approval_probability"], abs=1e-3)
    gains = [item["gain"] for item in answer["recommendations"]]
    assert gains == sorted(gains, reverse=True) and min(gains) >= 0.01
    assert answer["coverage_information"]["pa_needed"] == "auth-needed"


def test_no_advice_to_obtain_what_the_claim_already_has(champion_model, make_claim):
    answer = champion_model.answer_claims([make_claim()])[0]
    actions = {advice["action"] for advice in answer["recommendations"]}
    assert not actions & {"obtain_prior_authorization", "obtain_referral", "attach_medical_necessity_letter",
                          "use_in_network_provider", "see_physician_office"}
    assert answer["coverage_information"]["pa_needed"] == "satisfied"


def test_office_only_benefit_at_a_spa_is_advised_to_see_a_doctor(champion_model, make_claim):
    answer = champion_model.answer_claims([make_claim(benefit_scope="office_only", facility_type="medical_spa")])[0]
    assert "location" in answer["coverage_information"]["info_needed"]
    advice = [item for item in answer["recommendations"] if item["action"] == "see_physician_office"]
    if advice:  # offered only where the model says it helps
        assert advice[0]["probability_after"] > answer["approval_probability"]


def test_cosmetic_exclusion_gets_the_covered_conditions_as_its_one_advice(champion_model, make_claim):
    answer = champion_model.answer_claims([make_claim(diagnosis_codes="", procedure_code="64612")])[0]
    # excluded, at the rule's smoothed paid share in the demo history (its payer errs about 1% of the time)
    assert answer["decision"] == "excluded" and 0.0 < answer["approval_probability"] < 0.05
    assert [rule["id"] for rule in answer["excluded_by"]] == ["COSMETIC-001"]
    assert answer["likely_denial_reasons"][0]["carc"] == "96"
    (advice,) = answer["recommendations"]
    assert advice["action"] == "document_covered_diagnosis" and "G43.709" in advice["covered_diagnoses"]
    assert answer["coverage_information"]["covered"] == "not-covered"
    assert answer["factors"] == []


@pytest.mark.parametrize("plan_type", ["medicare", "medicare_advantage"])
def test_a_visit_only_its_place_excludes_is_told_where_it_is_paid(champion_model, make_claim, plan_type):
    """G0447 at a medical spa under a Medicare plan (SETTING-001, NCD 210.12): no paperwork helps, but
    the same visit at the patient's primary-care practice is paid, and the answer says so in words."""
    claim = make_claim(treatment="weight_management", procedure_code="G0447", diagnosis_codes="E6601;Z6841",
                       plan_type=plan_type, facility_type="medical_spa", patient_age=70)
    answer = champion_model.answer_claims([claim])[0]
    assert answer["decision"] == "excluded" and [rule["id"] for rule in answer["excluded_by"]] == ["SETTING-001"]
    (move,) = answer["recommendations"]
    assert move["facility_type"] == "primary_care_clinic" and move["probability_after"] > 0.5
    assert move["description"].startswith("Be seen at the patient's primary-care practice")
    assert answer["summary"].startswith("Not covered: Medicare pays")  # the proper noun keeps its capital
    assert "At the patient's primary-care practice" in answer["summary"]
    assert answer["coverage_information"]["pa_needed"] is None


@pytest.mark.parametrize("treatment, rule", [("facial", "COMFORT-001"), ("teeth_whitening", "DENTAL-001")])
def test_never_covered_services_get_no_advice(champion_model, treatment, rule, make_claim):
    answer = champion_model.answer_claims([make_claim(treatment=treatment, procedure_code=None, diagnosis_codes="")])[0]
    assert rule in [item["id"] for item in answer["excluded_by"]]
    assert answer["recommendations"] == []


def test_header_code_is_fixable_by_billing_the_specific_code(champion_model, make_claim):
    answer = champion_model.answer_claims([make_claim(diagnosis_codes="G437")])[0]
    assert [rule["id"] for rule in answer["excluded_by"]] == ["CODING-001"]
    assert answer["coverage_information"]["covered"] == "conditional"
    (advice,) = [item for item in answer["recommendations"] if item["action"] == "bill_specific_diagnosis_code"]
    assert advice["probability_after"] > 0


def test_factors_name_what_moves_the_probability_largest_first(champion_model, make_claim):
    answer = champion_model.answer_claims([make_claim(prior_authorization=False)])[0]
    contributions = [factor["log_odds"] for factor in answer["factors"]]
    assert contributions == sorted(contributions, key=lambda value: -abs(value))
    missing = {factor["input"]: factor for factor in answer["factors"]}["prior_authorization"]
    assert missing["direction"] == "lowers" and missing["description"] == "No prior authorization"


def test_several_missing_requirements_get_a_combined_recommendation(champion_model, make_claim):
    claim = make_claim(plan_type="hmo", prior_authorization=False, referral=False, in_network=False)
    answer = champion_model.answer_claims([claim])[0]
    actions = [item["action"] for item in answer["recommendations"]]
    singles = [item for item in answer["recommendations"] if item["action"] != "all_of_the_above"]
    if "all_of_the_above" in actions:  # offered only when doing everything beats the best single change
        combined = answer["recommendations"][0]
        assert combined["action"] == "all_of_the_above"
        assert combined["gain"] >= max(item["gain"] for item in singles) + 0.01
    everything = champion_model.answer_claims([{**claim, "prior_authorization": True, "referral": True,
                                                "in_network": True}])[0]
    assert everything["approval_probability"] >= max(item["probability_after"] for item in singles) - 1e-9


def test_expected_payment_is_capped_by_what_is_left_of_the_benefit(champion_model, make_claim):
    claim = make_claim(treatment="wig", procedure_code="A9282", diagnosis_codes="L631", billed_amount=800.0,
                       benefit_limit=500.0, benefit_used=200.0)
    payment = champion_model.answer_claims([claim])[0]["expected_payment"]
    assert payment["benefit_remaining"] == 300.0 and payment["payable_if_approved"] == 300.0
    assert 0.0 <= payment["amount"] <= 300.0


def test_denial_reasons_of_a_scored_claim_share_its_denial_probability(champion_model, make_claim):
    answer = champion_model.answer_claims([make_claim(prior_authorization=False, referral=False)])[0]
    reasons = answer["likely_denial_reasons"]
    assert len(reasons) == 3 and len({reason["carc"] for reason in reasons}) == 3
    probabilities = [reason["probability"] for reason in reasons]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 - answer["approval_probability"] + 1e-3
    for reason in reasons:
        if reason["carc"] != "other":
            assert reason["description"] == describe_carc(reason["carc"])


def test_the_denial_reasons_of_an_excluded_claim_are_its_rules(champion_model, make_claim):
    answer = champion_model.answer_claims([make_claim(treatment="teeth_whitening", procedure_code=None,
                                                      diagnosis_codes="")])[0]
    carcs = list(dict.fromkeys(rule["carc"] for rule in answer["excluded_by"]))  # each code once, in rule order
    reasons = answer["likely_denial_reasons"]
    assert carcs and [(reason["carc"], reason["description"]) for reason in reasons] == [
        (carc, describe_carc(carc)) for carc in carcs[:3]]
    for reason in reasons:  # each rule alone denies what the claim is not paid
        assert reason["probability"] == pytest.approx(1 - answer["approval_probability"], abs=1e-4)


@pytest.mark.parametrize("changes, expected", [
    ({}, {"covered": "covered", "pa_needed": "satisfied", "doc_needed": None}),
    ({"plan_type": "hmo", "referral": False}, {"doc_needed": "admin"}),
    ({"plan_type": "hmo", "referral": False, "medical_necessity_letter": False,
      "conservative_therapy_documented": False}, {"doc_needed": "both"}),
    ({"treatment": "unlisted", "procedure_code": "17999", "prior_authorization": False}, {"pa_needed": "conditional"}),
    ({"treatment": "unlisted", "procedure_code": "17999"}, {"pa_needed": "satisfied"}),
    ({"treatment": "teeth_whitening", "procedure_code": None, "diagnosis_codes": ""},
     {"covered": "not-covered", "doc_needed": None, "info_needed": []}),
])
def test_coverage_information_speaks_the_crd_vocabulary(champion_model, make_claim, changes, expected):
    information = champion_model.answer_claims([make_claim(**changes)])[0]["coverage_information"]
    assert {name: information[name] for name in expected} == expected


def test_expected_payment_without_a_benefit_limit_is_the_probability_of_the_billed_amount(champion_model,
                                                                                         make_claim):
    answer = champion_model.answer_claims([make_claim(billed_amount=1000.0)])[0]
    payment = answer["expected_payment"]
    assert payment["benefit_remaining"] is None and payment["payable_if_approved"] == 1000.0
    assert payment["amount"] == pytest.approx(answer["approval_probability"] * 1000.0, abs=0.06)
    assert payment["currency"] == "USD"


def test_a_composite_treatment_is_advised_on_what_each_candidate_needs(champion_model, make_claim):
    """17999 alone may be laser hair removal or tattoo removal: the advice lists the covered
    diagnoses of the one that can be covered, and prior authorization depends on which it is."""
    answer = champion_model.answer_claims([make_claim(
        treatment="laser_hair_removal|tattoo_removal", procedure_code="17999", diagnosis_codes="",
        prior_authorization=False, medical_necessity_letter=False)])[0]
    assert answer["decision"] == "excluded"
    (advice,) = answer["recommendations"]
    assert advice["action"] == "document_covered_diagnosis"
    assert advice["description"].startswith("Laser hair removal") and "F64" in " ".join(advice["covered_diagnoses"])
    assert answer["coverage_information"]["pa_needed"] is None  # excluded: no authorization makes it covered


def test_a_composite_treatment_with_prior_authorization_reads_satisfied(champion_model, make_claim):
    answer = champion_model.answer_claims([make_claim(
        treatment="laser_hair_removal|tattoo_removal", procedure_code="17999", diagnosis_codes="F640")])[0]
    assert answer["coverage_information"]["pa_needed"] == "satisfied"


def test_a_composite_of_covered_treatments_gets_the_specific_code_of_either():
    """A header code under a composite key is replaced by a child one of the candidates covers:
    L57 under acne treatment or photodynamic therapy becomes L57.0, actinic keratosis."""
    treatment = ClaimTreatment.of(load_catalog(), {"treatment": "acne_treatment|photodynamic_therapy",
                                                   "plan_type": "ppo", "facility_type": "dermatology_clinic"})
    assert _specific_codes({"diagnosis_codes": "L57"}, treatment) == "L570"
    assert _specific_codes({"diagnosis_codes": "L570"}, treatment) is None  # nothing to make specific


# -- advice that fits the claim and agrees with itself ----------------------------------------
@pytest.fixture(scope="module")
def many_answers(champion_model, test_claims):
    from features.contract import CLEAN_COLUMNS
    from tests.features.conftest import BASE_CLAIM, varied_claims

    claims = [{**BASE_CLAIM, **claim} for claim in varied_claims(400, seed=5)]
    claims += test_claims[list(CLEAN_COLUMNS)].head(400).to_dict("records")
    return claims, champion_model.answer_claims(claims)


def test_no_answer_advises_prior_authorization_it_says_is_not_needed(many_answers):
    claims, answers = many_answers
    advised = 0
    for answer in answers:
        information = answer["coverage_information"]
        actions = [item["action"] for item in answer["recommendations"]]
        top_reason = answer["likely_denial_reasons"][0]["carc"] if answer["likely_denial_reasons"] else None
        if "obtain_prior_authorization" in actions:
            advised += 1
            assert information["pa_needed"] in ("auth-needed", "conditional"), answer
        if information["pa_needed"] == "no-auth":
            assert not (top_reason == "197" and actions[:1] in (["obtain_prior_authorization"], ["all_of_the_above"]))
    assert advised > 20


def test_prior_authorization_the_plan_does_not_ask_for_is_never_advised_nor_needed(champion_model, make_claim):
    """Massage for low back pain under a PPO: the plan's table does not ask for an authorization,
    so none is advised and pa_needed stays no-auth, whatever the payer's history; the history, when
    it pays such claims clearly less often without one, is a separate statement."""
    answers = champion_model.answer_claims([
        make_claim(treatment="massage_therapy", procedure_code="97124", diagnosis_codes="M5450",
                   prior_authorization=False, service_date=pd.Timestamp(day)) for day in ("2025-03-01", "2025-12-01")])
    for answer in answers:
        information = answer["coverage_information"]
        assert "obtain_prior_authorization" not in [item["action"] for item in answer["recommendations"]]
        assert information["pa_needed"] == "no-auth"
        assert information["sources"]["pa_needed"] == "prior_authorization_table"
        assert "catalog" in information["sources"]["pa_basis"]
        assert information["sources"]["payer_history"] is None or "history" in information["sources"]["payer_history"]


@pytest.mark.parametrize("gain, stated", [(None, False), (0.02, False), (0.049, False), (0.2, True)])
def test_the_payer_history_is_a_statement_beside_the_table_only_from_a_clear_gain(make_claim, gain, stated):
    from scoring.advice import _coverage_information

    claim = make_claim(treatment="massage_therapy", procedure_code="97124", diagnosis_codes="M5450",
                       prior_authorization=False)
    information = _coverage_information(claim, ClaimTreatment.of(load_catalog(), claim), 0.5, [], 0.7, gain)
    assert information["pa_needed"] == "no-auth"
    assert (information["sources"]["payer_history"] is not None) is stated


@pytest.mark.parametrize("changes, pa_needed", [
    # traditional Medicare asks for no authorization in an office, whatever the catalog says ...
    (dict(plan_type="medicare", prior_authorization=False, patient_age=70), "no-auth"),
    (dict(plan_type="medicare", treatment="photodynamic_therapy", procedure_code="96567", diagnosis_codes="L570",
          prior_authorization=False, patient_age=70), "no-auth"),
    # ... only in a hospital outpatient department (42 CFR 419.83)
    (dict(plan_type="medicare", facility_type="hospital_outpatient", place_of_service="22",
          prior_authorization=False, patient_age=70), "auth-needed"),
    (dict(plan_type="medicare_advantage", prior_authorization=False, patient_age=70), "auth-needed"),
])
def test_pa_needed_follows_the_plan_and_the_setting(champion_model, make_claim, changes, pa_needed):
    answer = champion_model.answer_claims([make_claim(**changes)])[0]
    assert answer["coverage_information"]["pa_needed"] == pa_needed
    advised = "obtain_prior_authorization" in [item["action"] for item in answer["recommendations"]]
    if pa_needed == "no-auth":
        assert not advised and all(reason["carc"] != "197" or reason["probability"] < 0.05
                                   for reason in answer["likely_denial_reasons"][:1])


@pytest.mark.parametrize("changes", [
    dict(diagnosis_codes="Z411", prior_authorization=False),  # cosmetic toxin
    dict(treatment="vascular_laser", procedure_code="17106", diagnosis_codes="L719", prior_authorization=False),
    dict(treatment="wig", procedure_code="A9282", diagnosis_codes="L630", plan_type="medicare", patient_age=70),
])
def test_a_claim_a_hard_rule_excludes_gets_no_authorization_advice_nor_auth_needed(champion_model, make_claim,
                                                                                   changes):
    answer = champion_model.answer_claims([make_claim(**changes)])[0]
    assert answer["decision"] == "excluded"
    assert answer["coverage_information"]["pa_needed"] is None
    assert all(item["action"] != "obtain_prior_authorization" for item in answer["recommendations"])


def test_no_referral_advice_to_the_clinic_s_own_primary_care_service(champion_model, make_claim):
    claim = make_claim(treatment="weight_management", procedure_code="G0447", diagnosis_codes="E669;Z6835",
                       plan_type="medicare_advantage", facility_type="primary_care_clinic", referral=False,
                       prior_authorization=False, patient_age=70)
    answer = champion_model.answer_claims([claim])[0]
    assert all(item["action"] != "obtain_referral" and "referral" not in item["description"].lower()
               for item in answer["recommendations"])
    assert answer["coverage_information"]["doc_needed"] is None
    hmo_office = champion_model.answer_claims([{**claim, "plan_type": "hmo", "treatment": "botulinum_toxin",
                                                "procedure_code": "64615", "diagnosis_codes": "G43709",
                                                "facility_type": "physician_office"}])[0]
    assert hmo_office["coverage_information"]["doc_needed"] in ("admin", "both")  # elsewhere the referral is asked


@pytest.mark.parametrize("plan_type", ["ppo", "epo", "hdhp", "medicare"])
def test_no_referral_advice_on_plans_without_a_gatekeeper(champion_model, make_claim, plan_type):
    answer = champion_model.answer_claims([make_claim(plan_type=plan_type, referral=False, prior_authorization=False)])[0]
    assert all("referral" not in item["description"].lower() for item in answer["recommendations"])
    assert answer["coverage_information"]["doc_needed"] is None


def test_referral_advice_names_the_plans_own_rule(champion_model, make_claim, many_answers):
    claims, answers = many_answers
    for claim, answer in zip(claims, answers):
        for item in answer["recommendations"]:
            if item["action"] == "obtain_referral":
                assert claim["plan_type"] in REFERRAL_PLANS and REFERRAL_PLANS[claim["plan_type"]] in item["description"]
            if item["action"] in ("obtain_prior_authorization", "obtain_referral", "attach_medical_necessity_letter",
                                  "document_conservative_therapy", "use_in_network_provider"):
                flag = {"obtain_prior_authorization": "prior_authorization", "obtain_referral": "referral",
                        "attach_medical_necessity_letter": "medical_necessity_letter",
                        "document_conservative_therapy": "conservative_therapy_documented",
                        "use_in_network_provider": "in_network"}[item["action"]]
                assert not claim[flag]  # never advice to obtain what is already on file
                assert item["gain"] >= 0.01


def test_the_move_to_primary_care_is_said_as_a_front_desk_says_it():
    """G0447 at a medical spa under Medicare (SETTING-001, NCD 210.12): where to go, in words to read
    aloud, and why; an office-only benefit says its own why."""
    from scoring.places import move_text

    claim = {"plan_type": "medicare", "facility_type": "medical_spa", "benefit_scope": "comprehensive"}
    assert move_text(claim, "primary_care_clinic") == (
        "Be seen at the patient's primary-care practice (a primary-care clinic) rather than at a medical spa, as "
        "Medicare pays it only in a primary-care setting")
    office_only = {"plan_type": "ppo", "facility_type": "medical_spa", "benefit_scope": "office_only"}
    assert move_text(office_only, "dermatology_clinic") == (
        "Be seen at a dermatology clinic (a dermatologist's office) rather than at a medical spa, as this plan's "
        "benefit covers visits in a doctor's office or clinic only")


@pytest.mark.parametrize("treatment, plan_type, facility_type, expected", [
    # a required primary-care setting (NCD 210.12) wins over the benefit's scope
    ("weight_management", "medicare_advantage", "medical_spa", "primary_care_clinic"),
    ("weight_management", "ppo", "physician_office", "primary_care_clinic"),
    # an office-only benefit at a spa: the office that does such treatments
    ("botulinum_toxin", "ppo", "medical_spa", "dermatology_clinic"),
    ("laser_hair_removal", "hmo", "hospital_outpatient", "dermatology_clinic"),
    ("massage_therapy", "epo", "medical_spa", "primary_care_clinic"),
    ("sclerotherapy", "ppo", "medical_spa", "physician_office"),
    ("blepharoplasty", "medicaid", "ambulatory_surgery_center", "physician_office"),
    # already where the plan and the treatment want it
    ("botulinum_toxin", "ppo", "dermatology_clinic", None),
    ("weight_management", "medicare", "primary_care_clinic", None),
])
def test_the_setting_advised_fits_the_treatment_and_the_plan(treatment, plan_type, facility_type, expected):
    from scoring.places import better_setting, setting_words

    claim = {"treatment": treatment, "plan_type": plan_type, "facility_type": facility_type,
             "benefit_scope": "office_only"}
    assert better_setting(claim, load_catalog().shared_traits(treatment)) == expected
    if expected:
        assert "_" not in setting_words(expected) and setting_words(expected)[0].islower()
