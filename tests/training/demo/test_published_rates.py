"""The demo world matches published rates (docs/demo-history.md, "Published rates"): KFF's denial
rates and reasons on the part of the mix they describe, and covered pathways with their paperwork
in order that the payer pays, as a granted prior authorization says it will."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract import PLAN_TYPES
from features.prior_authorization import required_for
from training.demo.generator import COMMERCIAL_PLANS, TRUTH_COLUMN, draw_history, measure_published_rates
from training.demo.payer import (
    LEAK,
    PRIOR_AUTHORIZATION_REQUEST_DENIED,
    PUBLISHED_DENIAL_RATES,
    PUBLISHED_DENIAL_REASONS,
    PUBLISHED_YEAR,
    TIGHTENING_STARTS,
    true_approval_probability,
)
from tests.training.demo.canonical_claims import COVERED_PATHWAYS, PATHWAYS_BY_NAME
from tests.training.demo.canonical_visits import VISITS

ROWS, SEED = 150_000, 20260302  # ~10,000 in-network claims of the published part; ~2 s
# Tolerances, in percentage points, a few standard errors of this sample: ~0.4 for the in-network
# rate, ~1.1 for the out-of-network rate (~2,000 claims), ~1 for a reason's share (~2,000 denials).
RATE_TOLERANCE = {"in_network": 0.02, "out_of_network": 0.04}
REASON_TOLERANCE = 0.04
PAID = 0.8  # a covered pathway with its paperwork in order is paid at least this often
CLEAR_DROP = 0.3  # ... and this much less often without a prior authorization the catalog requires


@pytest.fixture(scope="module")
def drawn():
    """The history in memory, with each claim's latent pathway."""
    return draw_history(ROWS, SEED)


@pytest.fixture(scope="module")
def requires_authorization(drawn):
    """Where the plan and the setting ask for prior authorization (features.prior_authorization)."""
    return pd.Series(required_for(drawn["plan_type"], drawn["treatment"], drawn["procedure_code"],
                                  drawn["place_of_service"], drawn["facility_type"]), index=drawn.index)


@pytest.fixture(scope="module")
def published_part(drawn):
    return measure_published_rates(drawn)


def probability(claims) -> np.ndarray:
    frame = pd.DataFrame(list(claims))
    return true_approval_probability(frame)


@pytest.mark.parametrize("network", ["in_network", "out_of_network"])
def test_denial_rates_match_kff_marketplace_figures(published_part, network):
    measured = published_part["denial_rates"][network]
    assert measured == pytest.approx(PUBLISHED_DENIAL_RATES[network], abs=RATE_TOLERANCE[network])


@pytest.mark.parametrize("category", list(PUBLISHED_DENIAL_REASONS))
def test_in_network_denial_reasons_match_kff_shares(published_part, category):
    """KFF's six shares sum to 95% (the rest fall in categories it does not break out): scaled to 100%."""
    published = PUBLISHED_DENIAL_REASONS[category] / sum(PUBLISHED_DENIAL_REASONS.values())
    assert published_part["denial_reasons"][category] == pytest.approx(published, abs=REASON_TOLERANCE)
    assert published_part["claims"]["in_network_denied"] > 1_500


def test_the_published_part_is_commercial_medical_claims_of_the_published_year(drawn):
    part = drawn[drawn["medical"] & drawn["plan_type"].isin(COMMERCIAL_PLANS)
                 & (drawn["service_date"].dt.year == PUBLISHED_YEAR)]
    rates = measure_published_rates(drawn)
    assert rates["claims"]["in_network"] + rates["claims"]["out_of_network"] == len(part)
    assert TIGHTENING_STARTS > np.datetime64(f"{PUBLISHED_YEAR}-12-31")  # the drift comes after it


def test_prior_authorization_on_file_follows_the_published_request_denial_rates(drawn, requires_authorization):
    """Medicare Advantage insurers deny 6.4% of requests, traditional Medicare 28.8%: a billed
    claim that needs an authorization has one less often under traditional Medicare."""
    on_file = drawn[drawn["medical"] & requires_authorization].groupby("plan_type", observed=True)[
        "prior_authorization"].mean()
    assert PRIOR_AUTHORIZATION_REQUEST_DENIED[PLAN_TYPES.index("medicare")] == 0.288
    assert PRIOR_AUTHORIZATION_REQUEST_DENIED[PLAN_TYPES.index("medicare_advantage")] == 0.064
    assert on_file["medicare_advantage"] > 0.9 and on_file["ppo"] > 0.9
    assert on_file["medicare"] < on_file["medicare_advantage"] - 0.05


def test_claims_with_a_granted_authorization_are_paid_in_the_large_majority(drawn, requires_authorization):
    covered = drawn["medical"] & requires_authorization & drawn["in_network"]
    approved = drawn["outcome"] != "denied"
    assert approved[covered & drawn["prior_authorization"]].mean() > 0.85
    assert approved[covered & ~drawn["prior_authorization"]].mean() < 0.4
    assert drawn.loc[covered & drawn["prior_authorization"], TRUTH_COLUMN].median() > 0.9


@pytest.mark.parametrize("pathway", COVERED_PATHWAYS, ids=lambda pathway: pathway.name)
def test_covered_pathway_with_paperwork_in_order_is_paid(pathway):
    assert probability([pathway.claim()])[0] >= PAID


@pytest.mark.parametrize("pathway", [p for p in COVERED_PATHWAYS if p.requires_prior_authorization],
                         ids=lambda pathway: pathway.name)
def test_covered_pathway_without_the_required_prior_authorization_is_paid_clearly_less(pathway):
    with_authorization, without = probability([pathway.claim(), pathway.claim(prior_authorization=False)])
    assert without <= with_authorization - CLEAR_DROP


@pytest.mark.parametrize("name", ["obesity_counselling", "actinic_keratosis_photodynamic_therapy",
                                  "alopecia_areata_wig", "acne_surgery", "low_back_pain_massage"])
def test_covered_pathway_that_needs_no_authorization_is_paid_without_one_before_the_tightening(name):
    claim = PATHWAYS_BY_NAME[name].claim(prior_authorization=False, service_date=pd.Timestamp("2024-06-03"))
    assert probability([claim])[0] >= PAID


@pytest.mark.parametrize("name, changes", [
    ("low_back_pain_massage", {}),  # PPO massage, tightening year or not
    ("actinic_keratosis_peel", {}),
    ("chronic_migraine_toxin", dict(plan_type="medicare", patient_age=70)),  # traditional Medicare at an office
    ("visual_field_blepharoplasty", dict(plan_type="medicare")),  # ... at an ambulatory surgery center
])
def test_the_payer_asks_for_prior_authorization_only_where_the_plan_and_setting_table_does(name, changes):
    pathway = PATHWAYS_BY_NAME[name]
    without, with_it = probability([pathway.claim(prior_authorization=False, **changes), pathway.claim(**changes)])
    assert without >= PAID and without == pytest.approx(with_it, abs=0.05)


@pytest.mark.parametrize("pathway", [p for p in COVERED_PATHWAYS if p.cosmetic], ids=lambda pathway: pathway.name)
def test_cosmetic_version_of_a_covered_pathway_is_paid_only_by_mistake(pathway):
    assert probability([pathway.cosmetic_claim()])[0] <= LEAK + 1e-12


@pytest.mark.parametrize("name, uncovered", [
    ("obesity_counselling", "E669"),  # no BMI code: CARC 167
    ("actinic_keratosis_photodynamic_therapy", "L700"),  # PDT for acne is excluded
    ("alopecia_areata_wig", "L659"),
    ("acne_surgery", "L720"),
])
def test_treatment_that_is_not_cosmetic_by_default_is_rarely_paid_for_an_uncovered_diagnosis(name, uncovered):
    assert probability([PATHWAYS_BY_NAME[name].claim(diagnosis_codes=uncovered)])[0] <= 0.15


def test_a_granted_authorization_settles_the_clinical_checks():
    """The payer saw the documents when it granted the authorization: a claim with one is not
    denied again for a missing letter or undocumented first-line therapy; one without is."""
    migraine = PATHWAYS_BY_NAME["chronic_migraine_toxin"]
    bare = dict(medical_necessity_letter=False, conservative_therapy_documented=False, referral=False)
    before_tightening = pd.Timestamp("2024-06-03")
    authorised, unreviewed, unauthorised_complete = probability([
        migraine.claim(**bare), migraine.claim(**bare, prior_authorization=False, service_date=before_tightening),
        migraine.claim(prior_authorization=False, service_date=before_tightening)])
    assert authorised >= PAID
    assert unreviewed < unauthorised_complete < authorised - CLEAR_DROP


@pytest.mark.parametrize("changes", [
    {"medical_necessity_letter": False}, {"conservative_therapy_documented": False}, {"in_network": False},
    {"referral": False},
])
def test_one_document_or_the_network_never_raises_the_probability_when_lost(changes):
    for pathway in COVERED_PATHWAYS:
        complete, changed = probability([pathway.claim(), pathway.claim(**changes)])
        assert changed <= complete + 1e-12, pathway.name


@pytest.mark.parametrize("visit", VISITS, ids=lambda visit: visit.name)
def test_the_demo_payer_agrees_with_every_canonical_visit(visit):
    """The demo world models the facts the canonical visits rest on (tests/training/demo/canonical_visits.py)."""
    low, high = visit.band
    if visit.direction == "denied":  # the truth is sharper than a small model: a denial it deems clear
        high = 0.3
    assert low <= probability([visit.claim()])[0] <= high
