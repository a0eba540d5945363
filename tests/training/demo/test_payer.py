"""The demo payer (training.demo.payer): its true approval probability for each cause of denial in
coverage-facts.md, and the outcomes, denial reasons and paid amounts it draws, on hand-made claims
and on the sample history."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract import OUTCOMES, PLAN_TYPES
from features.rules import load_rules
from training.demo.generator import TRUTH_COLUMN
from training.demo.payer import (LEAK, NO_REFERRAL, OUT_OF_NETWORK, carc_codes, decide, denial_hazards,
                                 true_approval_probability)

# The CARCs of coverage-facts.md ("Denial reasons (X12 CARC) that matter here").
FACTS_CARCS = {"6", "7", "55", "11", "16", "35", "149", "50", "58", "5", "96", "119", "146", "151", "167", "170", "171", "197",
               "202", "204", "242", "243", "252", "270"}


def test_denial_reason_is_a_facts_carc_exactly_when_denied_or_partial(history):
    _, raw, _, _ = history
    not_approved = raw["outcome"] != "approved"
    assert ((raw["denial_reason"] != "") == not_approved).all()
    assert set(raw.loc[not_approved, "denial_reason"]) <= FACTS_CARCS


def test_paid_amount_is_consistent_with_the_outcome(history):
    _, raw, _, _ = history
    paid, billed = raw["paid_amount"].astype(float), raw["billed_amount"].astype(float)
    assert (paid[raw["outcome"] == "denied"] == 0).all()
    for outcome in ("approved", "partial"):
        rows = raw["outcome"] == outcome
        assert ((paid[rows] > 0) & (paid[rows] < billed[rows])).all()
    capped = (raw["outcome"] == "partial") & (raw["denial_reason"] == "119")
    remaining = raw.loc[capped, "benefit_limit"].astype(float) - raw.loc[capped, "benefit_used"].astype(float)
    assert capped.any() and (remaining < billed[capped]).all() and (paid[capped] <= remaining + 0.01).all()


def test_rule_excluded_claims_have_near_zero_truth_and_are_denied_with_the_rule_carc(history, rule_hits):
    _, raw, truth, _ = history
    excluded, first_carc, _ = rule_hits
    assert excluded.mean() > 0.4
    assert (truth[TRUTH_COLUMN].to_numpy()[excluded] <= LEAK + 1e-9).all()
    denied = raw["outcome"].to_numpy()[excluded] == "denied"
    assert denied.mean() > 0.97
    assert (raw["denial_reason"].to_numpy()[excluded][denied] == first_carc[excluded][denied]).mean() > 0.97
    cosmetic = excluded & np.isin(first_carc, ["96", "202", "270"])
    assert (raw["outcome"].to_numpy()[cosmetic] == "denied").mean() > 0.97


def test_covered_claims_with_full_paperwork_are_mostly_approved(history, rule_hits):
    _, raw, _, clean = history
    excluded, _, facts = rule_hits
    ready = (facts["covered_diagnosis"] & ~excluded & clean["prior_authorization"] & clean["in_network"]
             & clean["referral"] & clean["medical_necessity_letter"] & clean["conservative_therapy_documented"]
             & (clean["facility_type"] != "medical_spa")).to_numpy()
    assert ready.sum() > 300
    assert raw["outcome"][ready].isin(["approved", "partial"]).mean() > 0.75


def test_observed_approval_matches_the_truth_in_every_decile(history):
    _, raw, truth, _ = history
    order = np.argsort(truth[TRUTH_COLUMN].to_numpy(), kind="stable")
    approved = raw["outcome"].isin(["approved", "partial"]).to_numpy()
    for decile in np.array_split(order, 10):
        expected = truth[TRUTH_COLUMN].to_numpy()[decile].mean()
        tolerance = 3 * np.sqrt(max(expected * (1 - expected), 0.002) / len(decile)) + 0.005
        assert abs(approved[decile].mean() - expected) < tolerance


def _claim(**changes) -> pd.DataFrame:
    """One clean claim: chronic migraine botox, in network, every document on file."""
    claim = {
        "claim_id": "c1", "service_date": pd.Timestamp("2024-03-01"), "treatment": "botulinum_toxin",
        "procedure_code": "64615", "diagnosis_codes": "G43709", "plan_type": "ppo", "benefit_scope": "comprehensive",
        "facility_type": "physician_office", "place_of_service": "11", "in_network": True, "referral": True,
        "medical_necessity_letter": True, "prior_authorization": True, "conservative_therapy_documented": True,
        "visit_number": 1, "weeks_since_last_treatment": np.nan, "patient_age": 45, "billed_amount": 1400.0,
        "benefit_limit": np.nan, "benefit_used": 0.0,
    }
    claim.update(changes)
    return pd.DataFrame([claim])


@pytest.mark.parametrize("changes, low, high", [
    ({}, 0.9, 1.0),
    ({"prior_authorization": False, "plan_type": "hmo"}, 0.0, 0.15),  # CARC 197
    ({"referral": False, "plan_type": "hmo"}, 0.1, 0.3),  # CARC 243
    ({"in_network": False, "plan_type": "epo"}, 0.05, 0.15),  # CARC 242
    ({"in_network": False, "plan_type": "ppo"}, 0.8, 0.9),
    ({"visit_number": 3, "weeks_since_last_treatment": 8.0}, 0.05, 0.15),  # CARC 151
    # With a granted prior authorization the payer has reviewed the clinical criteria already;
    # without one they deny: CARC 50.
    ({"conservative_therapy_documented": False}, 0.9, 1.0),
    # ... but not the edits an authorization does not waive: migraine toxin is adult-only (AGE-001, CARC 6)
    ({"patient_age": 16}, 0.0, LEAK),
    ({"treatment": "chemical_peel", "procedure_code": "15789", "diagnosis_codes": "L570", "prior_authorization": False,
      "conservative_therapy_documented": False}, 0.25, 0.35),  # failed topicals not documented
    ({"patient_age": 16, "prior_authorization": False}, 0.0, LEAK),  # adults only for migraine (and CARC 197)
    ({"diagnosis_codes": "G437"}, 0.0, LEAK),  # header code, CARC 146
    ({"diagnosis_codes": "Z411;G43709"}, 0.0, LEAK),  # cosmetic encounter, CARC 96
    ({"diagnosis_codes": ""}, 0.0, LEAK),  # cosmetic without a covered diagnosis, CARC 96
    ({"facility_type": "medical_spa", "benefit_scope": "office_only"}, 0.1, 0.2),  # CARC 170
    ({"treatment": "facial", "procedure_code": None, "diagnosis_codes": ""}, 0.0, LEAK),  # CARC 202
    ({"treatment": "teeth_whitening", "procedure_code": "D9972", "diagnosis_codes": ""}, 0.0, LEAK),  # CARC 270
    ({"benefit_limit": 1000.0, "benefit_used": 1000.0}, 0.0, LEAK),  # CARC 119
    ({"treatment": "weight_management", "procedure_code": "G0447", "diagnosis_codes": "E669"}, 0.0, 0.1),  # 167
    ({"treatment": "weight_management", "procedure_code": "G0447", "diagnosis_codes": "Z6835;E669",
      "facility_type": "primary_care_clinic"}, 0.85, 1.0),
    ({"treatment": "weight_management", "procedure_code": "G0447", "diagnosis_codes": "Z6835;E669",
      "plan_type": "medicare"}, 0.0, 0.1),  # outside primary care, CARC 58
    ({"treatment": "weight_management", "procedure_code": "G0447", "diagnosis_codes": "E669;Z6835"}, 0.85, 1.0),
    # traditional Medicare asks for prior authorization only in a hospital outpatient department (42 CFR 419.83)
    ({"plan_type": "medicare", "facility_type": "hospital_outpatient", "place_of_service": "22",
      "prior_authorization": False}, 0.0, 0.06),
    ({"plan_type": "medicare", "prior_authorization": False}, 0.9, 1.0),
    ({"plan_type": "medicare", "facility_type": "ambulatory_surgery_center", "place_of_service": "24",
      "prior_authorization": False}, 0.9, 1.0),
    # what traditional Medicare does not have (MEDICARE-001, -002: CARC 204), whatever the authorization
    ({"treatment": "wig", "procedure_code": "A9282", "diagnosis_codes": "L630", "plan_type": "medicare"}, 0.0, LEAK),
    ({"treatment": "massage_therapy", "procedure_code": "97124", "diagnosis_codes": "M5450", "plan_type": "medicare",
      "facility_type": "medical_spa"}, 0.0, LEAK),
    # investigational (INVESTIGATIONAL-001..003: CARC 55), whichever code is billed
    ({"treatment": "photodynamic_therapy", "procedure_code": "96567", "diagnosis_codes": "L700"}, 0.0, LEAK),
    ({"treatment": "acne_treatment", "procedure_code": "96567", "diagnosis_codes": "L700"}, 0.0, LEAK),
    ({"treatment": "microdermabrasion", "procedure_code": "15780", "diagnosis_codes": "L700"}, 0.0, LEAK),
    # G0447 outside primary care under Medicare Advantage (SETTING-001, CARC 58), authorization or not
    ({"treatment": "weight_management", "procedure_code": "G0447", "diagnosis_codes": "E669;Z6835",
      "plan_type": "medicare_advantage", "facility_type": "medical_spa"}, 0.0, LEAK),
    # no referral is asked for at the primary-care clinic itself
    ({"treatment": "weight_management", "procedure_code": "G0447", "diagnosis_codes": "E669;Z6835", "plan_type": "hmo",
      "facility_type": "primary_care_clinic", "referral": False}, 0.85, 1.0),
])
def test_the_payer_answers_each_cause_as_the_facts_say(changes, low, high):
    assert low <= true_approval_probability(_claim(**changes))[0] <= high


@pytest.mark.parametrize("plan, low, high", [("ppo", 0.6, 0.9), ("hmo", 0.0, 0.15)])
def test_payers_disagree_on_wigs_for_chemotherapy_hair_loss(plan, low, high):
    claim = _claim(treatment="wig", procedure_code="A9282", diagnosis_codes="L651;T451X5A", plan_type=plan)
    assert low <= true_approval_probability(claim)[0] <= high


def test_prior_authorization_tightens_in_the_final_year():
    before = _claim(prior_authorization=False, service_date=pd.Timestamp("2024-06-01"))
    after = _claim(prior_authorization=False, service_date=pd.Timestamp("2025-06-01"))
    assert true_approval_probability(after)[0] < true_approval_probability(before)[0]


def test_the_payers_carcs_hold_every_rules_once_in_numeric_order():
    carcs = carc_codes()
    assert {rule.carc for rule in load_rules().rules} <= set(carcs)
    assert [int(carc) for carc in carcs] == sorted({int(carc) for carc in carcs})


def test_the_approval_probability_is_the_chance_of_passing_every_check():
    hazards = denial_hazards(_claim(plan_type="hmo", in_network=False, referral=False))
    named = dict(zip(hazards.names, hazards.hazard[0]))
    hmo = PLAN_TYPES.index("hmo")
    assert (named["out_of_network"], named["no_referral"]) == (OUT_OF_NETWORK[hmo], NO_REFERRAL[hmo])
    assert ((hazards.hazard >= 0) & (hazards.hazard <= 1)).all()
    assert hazards.approval_probability[0] == pytest.approx(np.prod(1 - hazards.hazard[0]))


def test_a_denied_claims_reason_is_drawn_in_proportion_to_the_check_that_denied_it():
    one = _claim(plan_type="hmo", in_network=False, referral=False)
    frame = one.iloc[np.zeros(40_000, dtype=np.int64)].reset_index(drop=True)
    hazards = denial_hazards(frame)
    decision = decide(np.random.default_rng(0), frame, hazards)
    denied = decision.outcome == OUTCOMES.index("denied")
    assert denied.mean() == pytest.approx(1 - hazards.approval_probability[0], abs=0.01)
    # P(denied by check k | denied) = prod_{j<k} (1 - h_j) * h_k / (1 - P(approved))
    hazard = hazards.hazard[0]
    shares = np.cumprod(np.concatenate([[1.0], 1 - hazard[:-1]])) * hazard / (1 - np.prod(1 - hazard))
    expected = pd.Series(shares).groupby(np.array(hazards.carcs)[hazards.carc[0]]).sum()
    observed = pd.Series(np.array(hazards.carcs)[decision.denial_reason[denied]]).value_counts(normalize=True)
    assert set(observed.index) <= set(expected[expected > 0].index)
    for carc, share in expected[expected > 0.01].items():
        assert observed.get(carc, 0.0) == pytest.approx(share, abs=0.01), carc
