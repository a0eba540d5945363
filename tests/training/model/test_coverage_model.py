"""The served model: fast scoring equals sklearn, answers explain and advise, batch equals single."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from training.model.coverage_model import CoverageModel
from training.model.profile import build_profile, population_stability

OUTCOME_COLUMNS = ["outcome", "paid_amount", "denial_reason", "approved"]


def make_claim(**changes) -> dict:
    """A canonical claim (clean-frame keys): botulinum toxin for chronic migraine at an office."""
    claim = {
        "claim_id": "C-1", "service_date": pd.Timestamp("2025-06-01"), "treatment": "botulinum_toxin",
        "procedure_code": "64615", "diagnosis_codes": "G43709", "plan_type": "ppo",
        "benefit_scope": "comprehensive", "facility_type": "physician_office", "place_of_service": "11",
        "in_network": True, "referral": True, "medical_necessity_letter": True, "prior_authorization": True,
        "conservative_therapy_documented": True, "visit_number": 1, "weeks_since_last_treatment": float("nan"),
        "patient_age": 44, "billed_amount": 1200.0, "benefit_limit": float("nan"), "benefit_used": 0.0,
    }
    claim.update(changes)
    return claim


@pytest.fixture(scope="module")
def test_claims(better_split):
    return better_split.test.drop(columns=OUTCOME_COLUMNS, errors="ignore").reset_index(drop=True)


def test_score_frame_applies_rules_before_the_model(champion_model, test_claims):
    scored = champion_model.score_frame(test_claims)
    excluded = scored["excluded"].to_numpy()
    assert excluded.any() and (~excluded).any()
    assert (scored.loc[excluded, "approval_probability"] == 0).all()
    assert scored.loc[excluded, "model_probability"].isna().all()
    assert (scored.loc[excluded, "decision"] == "excluded").all()
    assert (scored.loc[excluded, "rule_ids"] != "").all() and (scored.loc[~excluded, "rule_ids"] == "").all()
    kept = scored.loc[~excluded, "approval_probability"]
    assert kept.between(0, 1).all()
    assert scored["top_denial_reason"].ne("").all()


def test_batch_answers_equal_single_answers(champion_model, test_claims):
    claims = test_claims.head(25).to_dict("records")
    together = champion_model.answer_claims(claims)
    for claim, answer in zip(claims, together):
        assert champion_model.answer_claims([claim])[0] == answer


class FactsRecomputingModel(CoverageModel):
    """The served model with the features working the diagnosis facts out again, as they did before
    the rules shared theirs: the reference that sharing must not change."""

    def encode(self, claims, facts=None):
        return super().encode(claims)


def test_sharing_the_rules_diagnosis_facts_leaves_answers_and_scores_unchanged(champion_model, test_claims):
    reference = FactsRecomputingModel(**{f.name: getattr(champion_model, f.name)
                                         for f in dataclasses.fields(champion_model)})
    # Header, cosmetic and missing codes: their what-if variants change the diagnosis codes.
    claims = test_claims.head(60).to_dict("records") + [
        make_claim(diagnosis_codes="G437"), make_claim(diagnosis_codes="Z411;G43709"),
        make_claim(diagnosis_codes="", procedure_code="64612"), make_claim(treatment="unlisted", procedure_code="17999"),
        make_claim(diagnosis_codes="G437", benefit_limit=1000.0, benefit_used=200.0, prior_authorization=False),
    ]
    assert champion_model.answer_claims(claims) == reference.answer_claims(claims)
    for claim in claims[-8:]:  # the service's single claim with its variants
        assert champion_model.answer_claims([claim]) == reference.answer_claims([claim])
    pd.testing.assert_frame_equal(champion_model.score_frame(test_claims), reference.score_frame(test_claims))


def test_answer_probability_matches_batch_scoring(champion_model, test_claims):
    claims = test_claims.head(40)
    scored = champion_model.score_frame(claims)
    answers = champion_model.answer_claims(claims.to_dict("records"))
    np.testing.assert_allclose([a["approval_probability"] for a in answers], scored["approval_probability"],
                               atol=1e-4)
    assert [a["decision"] for a in answers] == list(scored["decision"])


def test_missing_prior_authorization_is_advised_with_its_gain(champion_model):
    answer = champion_model.answer_claims([make_claim(prior_authorization=False, referral=False)])[0]
    actions = {advice["action"]: advice for advice in answer["recommendations"]}
    assert "obtain_prior_authorization" in actions
    advice = actions["obtain_prior_authorization"]
    assert advice["probability_after"] > answer["approval_probability"]
    assert advice["gain"] == pytest.approx(advice["probability_after"] - answer["approval_probability"], abs=1e-3)
    gains = [item["gain"] for item in answer["recommendations"]]
    assert gains == sorted(gains, reverse=True) and min(gains) >= 0.01
    assert answer["coverage_information"]["pa_needed"] == "auth-needed"


def test_no_advice_to_obtain_what_the_claim_already_has(champion_model):
    answer = champion_model.answer_claims([make_claim()])[0]
    actions = {advice["action"] for advice in answer["recommendations"]}
    assert not actions & {"obtain_prior_authorization", "obtain_referral", "attach_medical_necessity_letter",
                          "use_in_network_provider", "see_physician_office"}
    assert answer["coverage_information"]["pa_needed"] == "satisfied"


def test_office_only_benefit_at_a_spa_is_advised_to_see_a_doctor(champion_model):
    answer = champion_model.answer_claims([make_claim(benefit_scope="office_only", facility_type="medical_spa")])[0]
    assert "location" in answer["coverage_information"]["info_needed"]
    advice = [item for item in answer["recommendations"] if item["action"] == "see_physician_office"]
    if advice:  # offered only where the model says it helps
        assert advice[0]["probability_after"] > answer["approval_probability"]


def test_cosmetic_exclusion_gets_the_covered_conditions_as_its_one_advice(champion_model):
    answer = champion_model.answer_claims([make_claim(diagnosis_codes="", procedure_code="64612")])[0]
    assert answer["decision"] == "excluded" and answer["approval_probability"] == 0.0
    assert [rule["id"] for rule in answer["excluded_by"]] == ["COSMETIC-001"]
    assert answer["likely_denial_reasons"][0]["carc"] == "96"
    (advice,) = answer["recommendations"]
    assert advice["action"] == "document_covered_diagnosis" and "G43.709" in advice["covered_diagnoses"]
    assert answer["coverage_information"]["covered"] == "not-covered"
    assert answer["factors"] == []


@pytest.mark.parametrize("treatment, rule", [("facial", "COMFORT-001"), ("teeth_whitening", "DENTAL-001")])
def test_never_covered_services_get_no_advice(champion_model, treatment, rule):
    answer = champion_model.answer_claims([make_claim(treatment=treatment, procedure_code=None, diagnosis_codes="")])[0]
    assert rule in [item["id"] for item in answer["excluded_by"]]
    assert answer["recommendations"] == []


def test_header_code_is_fixable_by_billing_the_specific_code(champion_model):
    answer = champion_model.answer_claims([make_claim(diagnosis_codes="G437")])[0]
    assert [rule["id"] for rule in answer["excluded_by"]] == ["CODING-001"]
    assert answer["coverage_information"]["covered"] == "conditional"
    (advice,) = [item for item in answer["recommendations"] if item["action"] == "bill_specific_diagnosis_code"]
    assert advice["probability_after"] > 0


def test_expected_payment_is_capped_by_what_is_left_of_the_benefit(champion_model):
    claim = make_claim(treatment="wig", procedure_code="A9282", diagnosis_codes="L631", billed_amount=800.0,
                       benefit_limit=500.0, benefit_used=200.0)
    payment = champion_model.answer_claims([claim])[0]["expected_payment"]
    assert payment["benefit_remaining"] == 300.0 and payment["payable_if_approved"] == 300.0
    assert 0.0 <= payment["amount"] <= 300.0


def test_factors_name_what_moves_the_probability(champion_model):
    answer = champion_model.answer_claims([make_claim(prior_authorization=False)])[0]
    effects = [factor["effect"] for factor in answer["factors"]]
    assert effects == sorted(effects, key=lambda value: -abs(value))
    for factor in answer["factors"]:
        assert (factor["effect"] > 0) == (factor["direction"] == "raises")


def test_save_and_load_round_trip(champion_model, test_claims, tmp_path):
    champion_model.save(tmp_path / "model")
    loaded = type(champion_model).load(tmp_path / "model")
    pd.testing.assert_frame_equal(loaded.score_frame(test_claims.head(200)),
                                  champion_model.score_frame(test_claims.head(200)))


def test_psi_is_near_zero_on_the_same_data_and_large_on_a_shift(test_claims):
    profile = build_profile(test_claims)
    assert max(population_stability(profile, test_claims).values()) < 0.01
    shifted = test_claims.assign(plan_type="medicare", patient_age=test_claims["patient_age"] + 30)
    drift = population_stability(profile, shifted)
    assert drift["plan_type"] > 0.2 and drift["patient_age"] > 0.2


def test_several_missing_requirements_get_a_combined_recommendation(champion_model):
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


def test_the_classifier_fits_alike_on_one_thread_and_on_every_core(better_split):
    """Training takes every core (OMP_NUM_THREADS pins the service, not the data team's job); the
    model must not depend on how many threads built it."""
    from training.model_fitting import ModelParams, fit_coverage_model

    train, validation = better_split.train.iloc[:6000], better_split.validation.iloc[:1500]
    claims = better_split.test.iloc[:500]
    one = fit_coverage_model(train, validation, ModelParams(max_iter=30, fit_threads=1), progress=False)
    every = fit_coverage_model(train, validation, ModelParams(max_iter=30, fit_threads=None), progress=False)
    assert one.classifier.n_iter_ == every.classifier.n_iter_
    np.testing.assert_allclose(one.model_probability(claims), every.model_probability(claims), atol=1e-6)
