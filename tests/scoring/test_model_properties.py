"""Properties of the served model over generated claims (a real model trained on demo history)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract import MONOTONIC_FLAGS
from tests.claim_strategies import claims
from tests.scoring.conftest import canonical_claim

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def model(champion_model):
    return champion_model


@SETTINGS
@given(claim=claims(), field=st.sampled_from(MONOTONIC_FLAGS))
def test_adding_paperwork_or_network_never_lowers_the_probability(model, claim, field):
    without, with_it = {**claim, field: False}, {**claim, field: True}
    low, high = model.answer_claims([without, with_it])
    assert high["approval_probability"] >= low["approval_probability"] - 1e-9
    assert high["model_probability"] >= low["model_probability"] - 1e-9


@SETTINGS
@given(claim=claims(), limit=st.floats(1, 5000), used=st.lists(st.floats(0, 6000), min_size=2, max_size=2))
def test_more_benefit_left_never_lowers_the_probability(model, claim, limit, used):
    more_used, less_used = sorted(used, reverse=True)
    low, high = model.answer_claims([{**claim, "benefit_limit": limit, "benefit_used": more_used},
                                     {**claim, "benefit_limit": limit, "benefit_used": less_used}])
    assert high["approval_probability"] >= low["approval_probability"] - 1e-9
    assert high["model_probability"] >= low["model_probability"] - 1e-9


@pytest.mark.parametrize("used", [100.0, 250.0, 450.0, 499.0])
def test_a_wig_for_alopecia_areata_scores_no_higher_with_its_benefit_partly_used(model, used):
    wig = canonical_claim(treatment="wig", procedure_code="A9282", diagnosis_codes="L639", facility_type="medical_spa",
                          place_of_service="11", billed_amount=400.0, benefit_limit=500.0)
    fresh, partly_used = model.answer_claims([wig, {**wig, "benefit_used": used}])
    assert partly_used["approval_probability"] <= fresh["approval_probability"] + 1e-9
    assert partly_used["model_probability"] <= fresh["model_probability"] + 1e-9
    # the benefit's contribution moves the same way (it is monotone in a monotone input, others held)
    assert _contribution(partly_used, "benefit_remaining") <= _contribution(fresh, "benefit_remaining") + 1e-4


def _contribution(answer: dict, name: str) -> float:
    return {factor["input"]: factor["log_odds"] for factor in answer["factors"]}.get(name, 0.0)


@SETTINGS
@given(batch=st.lists(claims(), min_size=1, max_size=6))
def test_probabilities_are_probabilities_and_a_batch_answers_as_one_by_one(model, batch):
    together = model.answer_claims(batch)
    for claim, answer in zip(batch, together):
        assert 0.0 <= answer["approval_probability"] <= 1.0
        assert answer == model.answer_claims([claim])[0]
        if answer["excluded_by"]:
            assert answer["decision"] == "excluded"
            assert answer["approval_probability"] == round(excluded_probability(model, claim, answer), 4)
        for advice in answer["recommendations"]:
            if advice["gain"] is not None:
                assert advice["gain"] >= 0.01 and 0.0 <= advice["probability_after"] <= 1.0


def excluded_probability(model, claim: dict, answer: dict) -> float:
    """The smallest smoothed paid share among the hard rules that excluded the claim."""
    category = claim["diagnosis_codes"].split(";")[0][:3] if claim["diagnosis_codes"] else ""
    return min(model.evidence().lookup(rule["id"], claim["treatment"], category)[1] for rule in answer["excluded_by"])


MEDICAL_SETTINGS = ("physician_office", "dermatology_clinic", "primary_care_clinic")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(claim=claims(), setting=st.sampled_from(MEDICAL_SETTINGS))
def test_a_doctor_s_office_or_clinic_never_scores_below_a_med_spa(model, claim, setting):
    """For every treatment and plan (claims() draws both), the same claim at a physician office,
    dermatology clinic or primary-care clinic is answered at least as likely paid as at a medical
    spa: a post-check of the served model (CoverageModel.medical_setting_floor), not a hope."""
    spa, medical = model.answer_claims([{**claim, "facility_type": "medical_spa"}, {**claim, "facility_type": setting}])
    assert medical["approval_probability"] >= spa["approval_probability"] - 1e-9


def test_the_setting_floor_holds_in_batch_scoring_too(model):
    import pandas as pd

    from features.catalog import load_catalog
    from features.contract import PLAN_TYPES

    base = canonical_claim(prior_authorization=False, referral=False, in_network=False)
    claims_ = [{**base, "treatment": key, "procedure_code": (treatment.procedure_codes or (None,))[0],
                "plan_type": plan, "facility_type": facility}
               for key, treatment in load_catalog().treatments.items() for plan in PLAN_TYPES
               for facility in ("medical_spa", *MEDICAL_SETTINGS)]
    scored = model.score_frame(pd.DataFrame(claims_))["approval_probability"].to_numpy().reshape(-1, 4)
    assert (scored[:, 1:] >= scored[:, :1] - 1e-9).all()
    answered = [answer["approval_probability"] for answer in model.answer_claims(claims_)]
    assert scored.ravel().tolist() == pytest.approx(answered, abs=5e-5)  # answers are rounded to 4 decimals
