"""What the plan pays and what the patient owes (scoring.patient_cost): the arithmetic on its own,
then in real answers of the session's champion (`patient_cost`, `expected_payment`)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from scoring.patient_cost import _OneClaim, _shares, cost_sharing, plan_payment_if_approved

NAN = math.nan


def shares(billed, allowed=NAN, deductible=NAN, coinsurance=NAN, copay=NAN, limit=NAN, used=0.0, in_network=True):
    out = cost_sharing([billed], [allowed], [deductible], [coinsurance], [copay], [limit], [used], [in_network])
    return {name: float(values[0]) for name, values in out.items()}


@pytest.mark.parametrize("claim, expected", [
    # nothing known: the plan pays the bill, the patient nothing
    ({"billed": 1000.0}, {"plan_pays": 1000.0, "patient_pays": 0.0, "provider_writes_off": 0.0}),
    # in network the provider writes off what the plan does not allow
    ({"billed": 1000.0, "allowed": 700.0}, {"plan_pays": 700.0, "patient_pays": 0.0, "provider_writes_off": 300.0}),
    # out of network the patient is balance billed for it
    ({"billed": 1000.0, "allowed": 700.0, "in_network": False},
     {"plan_pays": 700.0, "patient_pays": 300.0, "balance_billing": 300.0, "provider_writes_off": 0.0}),
    # the deductible first, then the coinsurance on the rest
    ({"billed": 1000.0, "allowed": 800.0, "deductible": 300.0, "coinsurance": 0.2},
     {"deductible": 300.0, "coinsurance": 100.0, "plan_pays": 400.0, "patient_pays": 400.0}),
    # a deductible larger than the allowed amount takes all of it
    ({"billed": 500.0, "deductible": 2000.0, "coinsurance": 0.2}, {"deductible": 500.0, "plan_pays": 0.0,
                                                                    "patient_pays": 500.0}),
    # a copay instead of the coinsurance, never more than what is left
    ({"billed": 1000.0, "coinsurance": 0.2, "copay": 40.0}, {"copay": 40.0, "coinsurance": 0.0, "plan_pays": 960.0}),
    ({"billed": 30.0, "copay": 40.0}, {"copay": 30.0, "plan_pays": 0.0, "patient_pays": 30.0}),
    # the plan pays up to what is left of the benefit, the patient the rest
    ({"billed": 400.0, "limit": 500.0, "used": 450.0}, {"plan_pays": 50.0, "above_benefit_limit": 350.0,
                                                        "patient_pays": 350.0, "benefit_remaining": 50.0}),
    # the plan never allows more than the bill
    ({"billed": 300.0, "allowed": 900.0}, {"allowed": 300.0, "plan_pays": 300.0}),
])
def test_cost_sharing(claim, expected):
    got = shares(**claim)
    assert {name: got[name] for name in expected} == pytest.approx(expected)


@settings(max_examples=200, deadline=None)
@given(billed=st.floats(0, 1e5), allowed=st.one_of(st.just(NAN), st.floats(0, 2e5)),
       deductible=st.one_of(st.just(NAN), st.floats(0, 1e4)), coinsurance=st.one_of(st.just(NAN), st.floats(0, 1)),
       copay=st.one_of(st.just(NAN), st.floats(0, 500)), limit=st.one_of(st.just(NAN), st.floats(0, 1e4)),
       used=st.floats(0, 2e4), in_network=st.booleans())
def test_the_plan_the_patient_and_the_provider_share_exactly_the_bill(billed, allowed, deductible, coinsurance, copay,
                                                                      limit, used, in_network):
    got = shares(billed, allowed, deductible, coinsurance, copay, limit, used, in_network)
    assert got["plan_pays"] + got["patient_pays"] + got["provider_writes_off"] == pytest.approx(billed, abs=1e-6)
    assert min(got[name] for name in got if name != "benefit_remaining") >= -1e-9
    assert got["patient_pays"] == pytest.approx(got["deductible"] + got["coinsurance"] + got["copay"]
                                                + got["above_benefit_limit"] + got["balance_billing"], abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(billed=st.floats(0, 1e5), allowed=st.one_of(st.just(NAN), st.floats(0, 2e5)),
       deductible=st.one_of(st.just(NAN), st.floats(0, 1e4)), coinsurance=st.one_of(st.just(NAN), st.floats(0, 1)),
       copay=st.one_of(st.just(NAN), st.floats(0, 500)), limit=st.one_of(st.just(NAN), st.floats(0, 1e4)),
       used=st.one_of(st.just(NAN), st.floats(0, 2e4)), in_network=st.booleans())
def test_one_claims_floats_give_the_arrays_numbers_exactly(billed, allowed, deductible, coinsurance, copay, limit,
                                                          used, in_network):
    """A single claim's answer works its shares out on Python floats (_OneClaim), a batch's on arrays:
    the same doubles, NaN where the arrays have NaN."""
    one = _shares(_OneClaim, billed, allowed, deductible, coinsurance, copay, limit, used, not in_network)
    arrays = shares(billed, allowed, deductible, coinsurance, copay, limit, used, in_network)
    assert list(one) == list(arrays)
    for name, value in one.items():
        assert value == arrays[name] or (math.isnan(value) and math.isnan(arrays[name])), name


def test_a_frame_without_the_v11_columns_is_paid_its_bill_up_to_the_benefit_left():
    claims = {"billed_amount": np.array([800.0, 100.0]), "benefit_limit": np.array([500.0, NAN]),
              "benefit_used": np.array([200.0, 0.0]), "in_network": np.array([True, False])}
    assert plan_payment_if_approved(claims).tolist() == [300.0, 100.0]


# -- in the champion's answers ----------------------------------------------------------------

def test_an_hdhp_toxin_claim_with_a_deductible_left_shows_the_patient_paying_the_deductible(champion_model,
                                                                                             make_claim):
    claim = make_claim(plan_type="hdhp", billed_amount=1350.0, deductible_remaining=1000.0)
    answer = champion_model.answer_claims([claim])[0]
    cost = answer["patient_cost"]
    assert cost["if_approved"]["deductible"] == 1000.0 and cost["if_approved"]["patient_pays"] == 1000.0
    assert cost["if_approved"]["plan_pays"] == 350.0 == answer["expected_payment"]["payable_if_approved"]
    # the plan's expected payment comes from what it pays, not from the bill
    assert answer["expected_payment"]["amount"] == pytest.approx(answer["approval_probability"] * 350.0, abs=0.01)
    assert "deductible $1,000.00" in cost["description"]
    assert [item["code"] for item in cost["assumptions"]] == ["allowed_amount_taken_as_billed",
                                                              "no_coinsurance_or_copay_known"]


def test_a_wig_with_50_dollars_of_its_500_benefit_left_says_the_patient_owes_the_rest(champion_model, make_claim):
    claim = make_claim(treatment="wig", procedure_code="A9282", diagnosis_codes="L630", billed_amount=400.0,
                       benefit_limit=500.0, benefit_used=450.0, allowed_amount=400.0, deductible_remaining=0.0,
                       coinsurance_rate=0.0)
    cost = champion_model.answer_claims([claim])[0]["patient_cost"]
    assert cost["if_approved"]["plan_pays"] == 50.0
    assert cost["if_approved"]["above_benefit_limit"] == 350.0 == cost["if_approved"]["patient_pays"]
    assert "the patient $350.00 (above what is left of the benefit limit $350.00)" in cost["description"]
    assert cost["assumptions"] == []


def test_an_excluded_claim_denied_under_pr_leaves_the_bill_to_the_patient(champion_model, make_claim):
    claim = make_claim(treatment="teeth_whitening", procedure_code=None, diagnosis_codes="", billed_amount=600.0)
    answer = champion_model.answer_claims([claim])[0]
    assert answer["decision"] == "excluded" and answer["liability"]["group_code"] == "PR"
    denied, expected = answer["patient_cost"]["if_denied"], answer["patient_cost"]["expected"]
    assert denied == {"group_code": "PR", "patient_pays": 600.0, "provider_writes_off": 0.0}
    probability = answer["approval_probability"]
    assert expected["patient_pays"] == pytest.approx((1 - probability) * 600.0, abs=0.01)
    assert expected["plan_pays"] == answer["expected_payment"]["amount"]


def test_a_denial_the_provider_carries_costs_the_patient_nothing(champion_model, make_claim):
    claim = make_claim(plan_type="hmo", referral=False, prior_authorization=False, billed_amount=900.0)
    answer = champion_model.answer_claims([claim])[0]
    assert answer["liability"]["group_code"] == "CO"
    assert answer["patient_cost"]["if_denied"] == {"group_code": "CO", "patient_pays": 0.0,
                                                   "provider_writes_off": 900.0}
    assert "the provider writes it off" in answer["patient_cost"]["description"]


def test_each_missing_field_is_named_as_an_assumption(champion_model, make_claim):
    cost = champion_model.answer_claims([make_claim()])[0]["patient_cost"]
    assumed = {item["code"]: item["fields"] for item in cost["assumptions"]}
    assert assumed == {"allowed_amount_taken_as_billed": ["allowed_amount"],
                       "no_deductible_known": ["deductible_remaining"],
                       "no_coinsurance_or_copay_known": ["coinsurance_rate", "copay"]}
    assert all(item["description"] for item in cost["assumptions"])


def test_the_cost_sharing_fields_do_not_change_the_approval_probability(champion_model, make_claim):
    plain, shared = champion_model.answer_claims([
        make_claim(), make_claim(allowed_amount=700.0, deductible_remaining=200.0, coinsurance_rate=0.3, copay=20.0)])
    assert plain["approval_probability"] == shared["approval_probability"]
    assert plain["factors"] == shared["factors"]
