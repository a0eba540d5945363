"""Explanations that add up (scoring.explanation through the answers): on many claims the
factors sum, from the stated baseline, to the classifier's log-odds and to its probability; the
monotone inputs never lower the score from their good value; a hard rule explains its claims."""
from __future__ import annotations

import numpy as np
import pytest

from features.contract import CLEAN_COLUMNS, MONOTONIC_FLAGS
from features.pipeline import claims_to_columns
from tests.features.conftest import BASE_CLAIM, varied_claims
from scoring.explanation import column_input

ROUNDING = 0.5e-4  # each number of an answer is rounded to 4 decimals


@pytest.fixture(scope="module")
def claims(test_claims):
    varied = [{**BASE_CLAIM, **claim} for claim in varied_claims(300, seed=11)]
    return varied + test_claims[list(CLEAN_COLUMNS)].head(300).to_dict("records")


@pytest.fixture(scope="module")
def answers(champion_model, claims):
    return champion_model.answer_claims(claims)


def _scored(answers):
    return [answer for answer in answers if answer["explanation"]["method"] == "tree_shap"]


def test_many_claims_are_explained_by_factors_and_some_by_rules(answers):
    assert len(_scored(answers)) > 200
    assert len(answers) - len(_scored(answers)) > 50


def test_factors_add_up_to_the_classifiers_log_odds_from_the_baseline(answers):
    for answer in _scored(answers):
        explanation, factors = answer["explanation"], answer["factors"]
        total = explanation["baseline_log_odds"] + sum(factor["log_odds"] for factor in factors)
        # each rounded term may be off by ROUNDING; inputs rounding to zero are not listed
        assert total == pytest.approx(explanation["log_odds"], abs=ROUNDING * (len(factors) + 20))


def test_effects_add_up_to_the_probability_and_the_floor_to_the_answer(answers):
    for answer in _scored(answers):
        explanation, factors = answer["explanation"], answer["factors"]
        assert explanation["classifier_probability"] == answer["model_probability"]
        total = explanation["baseline_probability"] + sum(factor["effect"] for factor in factors)
        assert total == pytest.approx(explanation["classifier_probability"], abs=ROUNDING * (len(factors) + 20))
        assert explanation["classifier_probability"] + explanation["floor_added"] == pytest.approx(
            answer["approval_probability"], abs=2 * ROUNDING)
        for factor in factors:
            assert (factor["log_odds"] > 0) == (factor["direction"] == "raises")
            assert factor["effect"] * factor["log_odds"] >= 0  # the probability scale keeps the sign


def test_the_log_odds_are_the_served_trees_score(champion_model, claims, answers):
    columns = claims_to_columns(claims)
    raw = champion_model._compiled()[0].raw(champion_model.encode(columns))
    for answer, score in zip(answers, raw):
        if answer["explanation"]["method"] == "tree_shap":
            assert answer["explanation"]["log_odds"] == round(float(score), 4)


def test_monotone_inputs_never_lower_the_score_from_their_good_value(claims, answers):
    checked = 0
    for claim, answer in zip(claims, answers):
        for factor in answer["factors"]:
            if factor["input"] in MONOTONIC_FLAGS and claim[factor["input"]]:
                assert factor["direction"] == "raises", (factor, claim["treatment"])
                checked += 1
    assert checked > 100


def test_a_claim_a_hard_rule_excludes_is_explained_by_the_rule(answers):
    excluded = [answer for answer in answers if answer["decision"] == "excluded"]
    assert excluded
    for answer in excluded:
        assert answer["explanation"] == {"method": "rule", "rule_ids": [rule["id"] for rule in answer["excluded_by"]]}
        assert answer["factors"] == []
        for rule in answer["excluded_by"]:
            assert rule["reason"] and rule["source"] and rule["history"]["decision"] == "hard"


def test_factors_are_the_contracts_inputs_not_one_hot_columns(champion_model, answers):
    inputs = {factor["input"] for answer in answers for factor in answer["factors"]}
    allowed = set(CLEAN_COLUMNS) | {"benefit_remaining"}
    assert inputs <= allowed and {"plan_type", "treatment", "diagnosis_codes"} <= inputs
    assert {column_input(name) for name in champion_model.feature_names} <= allowed
    for answer in answers:
        names = [factor["input"] for factor in answer["factors"]]
        assert len(names) == len(set(names))


def test_the_baseline_is_the_same_for_every_claim(answers):
    baselines = {answer["explanation"]["baseline_log_odds"] for answer in _scored(answers)}
    assert len(baselines) == 1
    assert np.isfinite(next(iter(baselines)))
