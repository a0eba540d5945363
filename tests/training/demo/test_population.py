"""The visit mix of the demo clinic (training.demo.population): who comes in, for what, coded how,
with which paperwork; on the sample history and on visits drawn directly."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from features.catalog import load_catalog
from features.contract import PLAN_TYPES
from features.diagnosis import load_table, normalise_code, split_joined_codes
from training.demo.population import (
    AUTHORIZATION_REQUESTED,
    CLOSED_NETWORK_PLANS,
    PATHWAYS,
    authorization_on_file,
    draw_visits,
    pathway_shares,
    vocabulary,
)


def test_treatment_and_code_are_mostly_both_present_and_sometimes_one(history):
    _, raw, _, _ = history
    both = ((raw["treatment"] != "") & (raw["procedure_code"] != "")).mean()
    only_code = (raw["treatment"] == "").mean()
    assert both > 0.7 and 0.02 < only_code < 0.15
    spa = raw["treatment"].isin(["facial", "manicure"])
    assert (raw.loc[spa, "procedure_code"] == "").all()  # spa services have no code


def test_weeks_since_last_treatment_is_blank_exactly_on_first_visits(history):
    _, raw, _, _ = history
    assert ((raw["weeks_since_last_treatment"] == "") == (raw["visit_number"] == "1")).all()


def test_every_diagnosis_code_is_in_icd10cm_and_most_are_written_with_dots(history):
    _, raw, _, _ = history
    table = load_table()
    codes = [code for joined in raw["diagnosis_codes"] for code in split_joined_codes(joined)]
    assert all(normalise_code(code) in table.codes for code in codes)
    headers = sum(not table.is_billable(normalise_code(code)) for code in codes)
    assert 0 < headers < 0.03 * len(codes)  # a few deliberate header codes (CARC 146)
    dotted = [code for code in codes if len(code) > 3]
    assert 0.8 < np.mean(["." in code for code in dotted]) < 0.97


def test_every_pathway_code_is_a_catalog_code_and_a_valid_diagnosis():
    vocab = vocabulary()  # raises PathwayError otherwise
    table = load_table()
    assert all(code in table.codes for joined in vocab.diagnoses_dotless for code in split_joined_codes(joined))
    assert {pathway.treatment for pathway in PATHWAYS} == set(load_catalog().keys) - {"unlisted"}


# -- visits drawn directly ------------------------------------------------------------------------

FIRST_DAY, LAST_DAY = np.datetime64("2024-01-01"), np.datetime64("2024-07-01")


@pytest.fixture(scope="module")
def visits():
    return draw_visits(np.random.default_rng(7), 20_000, FIRST_DAY, LAST_DAY)


def test_the_same_generator_state_draws_the_same_visits():
    first, second = (draw_visits(np.random.default_rng(3), 500, FIRST_DAY, LAST_DAY) for _ in range(2))
    for field in dataclasses.fields(first):
        np.testing.assert_array_equal(getattr(first, field.name), getattr(second, field.name), err_msg=field.name)


def test_visits_are_dated_in_order_inside_the_window(visits):
    assert (visits.service_date >= FIRST_DAY).all() and (visits.service_date < LAST_DAY).all()
    assert (np.diff(visits.service_date.astype(np.int64)) >= 0).all()


def test_the_pathway_shares_sum_to_one_and_cosmetic_visits_are_about_60_percent():
    shares = pathway_shares()
    assert shares.sum() == pytest.approx(1.0)
    assert 0.57 < shares[[not pathway.medical for pathway in PATHWAYS]].sum() < 0.62


def test_ages_stay_in_each_pathways_band_and_medicare_is_for_seniors(visits):
    low, high = (np.array([pathway.ages[end] for pathway in PATHWAYS])[visits.pathway] for end in (0, 1))
    age = visits.patient_age
    assert ((age >= low) & (age <= high)).all()
    plan = np.array(PLAN_TYPES)[visits.plan_type]
    medicare = np.isin(plan, ["medicare", "medicare_advantage"])
    assert (age < 18).any() and not medicare[age < 18].any()
    assert medicare[age >= 65].mean() > 0.85


def test_medical_visits_come_with_paperwork_far_more_often_than_cosmetic_ones(visits):
    medical = np.array([pathway.medical for pathway in PATHWAYS])[visits.pathway]
    for field in ("referral", "medical_necessity_letter", "prior_authorization"):
        on_file = getattr(visits, field)
        assert on_file[medical].mean() > 3 * on_file[~medical].mean(), field


def test_members_of_closed_network_plans_rarely_go_out_of_network(visits):
    plan = np.array(PLAN_TYPES)[visits.plan_type]
    closed = np.isin(plan, CLOSED_NETWORK_PLANS)
    assert (~visits.in_network[closed]).mean() < 0.5 * (~visits.in_network[~closed]).mean()


def test_a_billed_claim_that_needs_an_authorization_carries_one_less_often_under_traditional_medicare():
    """The payer refuses 28.8% of traditional Medicare's requests and 6.4% of the others'
    (payer.PRIOR_AUTHORIZATION_REQUEST_DENIED); most refused visits are never billed."""
    on_file = authorization_on_file(1.0 - np.array([0.0, 0.064, 0.288]))
    assert on_file[0] == pytest.approx(AUTHORIZATION_REQUESTED)  # every request granted
    assert on_file[0] > on_file[1] > on_file[2] and on_file[1] - on_file[2] > 0.05


def test_procedure_codes_belong_to_the_visits_treatment(visits):
    vocab, catalog = vocabulary(), load_catalog()
    coded = visits.procedure_code >= 0
    pairs = set(zip(np.array(vocab.treatments)[visits.treatment[coded]],
                    np.array(vocab.procedure_codes)[visits.procedure_code[coded]]))
    assert [(treatment, code) for treatment, code in pairs if treatment not in catalog.treatments_by_code[code]] == []


def test_the_treatment_is_left_off_only_where_the_code_alone_names_it(visits):
    unwritten = ~visits.treatment_written
    assert unwritten.any() and (visits.procedure_code[unwritten] >= 0).all()
    assert vocabulary().code_names_treatment[visits.procedure_code[unwritten]].all()


def test_benefit_used_never_exceeds_the_limit_and_is_zero_without_one(visits):
    limited = ~np.isnan(visits.benefit_limit)
    assert limited.any() and (visits.benefit_used[limited] <= visits.benefit_limit[limited]).all()
    assert (visits.benefit_used[~limited] == 0).all()
