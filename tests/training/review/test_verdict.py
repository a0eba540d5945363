"""The verdict notebook 1 opens with, on the session's real models: `worse` (v2, labels of its
oldest claims shuffled) against `better` (v3, the champion) on the better history's test split."""
from __future__ import annotations

import numpy as np
import pytest

from tests.stores import version
from scoring.metrics import binary_metrics
from scoring.mlflow_store import REGISTERED_MODEL
from training.promotion_gate import GateParams, decide_promotion
from training.review import model_review as review
from training.review import verdict as verdicts
from training.review.versions import ReviewInputError, load_version

pytestmark = pytest.mark.slow  # the session's trained store


@pytest.fixture(scope="module")
def scored(client, trained_store, test_claims):
    """Scores of the champion (better), the clearly worse and the smaller base model."""
    return {run: review.review_scores(load_version(client, REGISTERED_MODEL, version(trained_store, run)), test_claims)
            for run in ("better", "worse", "base")}


def test_weighted_metrics_with_every_claim_once_are_the_evaluations_metrics(scored):
    scores = scored["better"]
    y = scores["approved"].to_numpy(dtype=bool)
    probability = scores["approval_probability"].to_numpy()
    found = verdicts.weighted_metrics(y, probability, scores["decision"].astype(str).to_numpy(),
                                      np.ones((1, len(y))))
    expected = binary_metrics(y, probability)
    for name in ("auc", "brier", "log_loss", "ece"):
        assert found[name][0] == pytest.approx(expected[name], rel=1e-9), name
    assert found["claims_excluded"][0] == scores["excluded"].sum()


def test_the_bootstrap_resamples_claims_with_replacement():
    weights = verdicts.resample_weights(50, 7, np.random.default_rng(1))
    assert weights.shape == (7, 50) and (weights.sum(axis=1) == 50).all()
    assert (weights == 0).any(axis=1).all()  # some claims are left out of every resample
    again = verdicts.resample_weights(50, 7, np.random.default_rng(1))
    assert (weights == again).all()


def test_a_model_against_itself_passes_with_zero_width_intervals(scored):
    found = verdicts.verdict_on_claims(scored["better"], scored["better"], GateParams(), resamples=60)
    assert found.outcome == verdicts.PASSES
    assert (found.table[["difference", "low", "high"]] == 0).all().all()


def test_the_clearly_worse_challenger_fails_on_a_named_rule(scored):
    found = verdicts.verdict_on_claims(scored["worse"], scored["better"], GateParams(), resamples=200,
                                       names=("challenger v2", "champion v3"))
    assert found.outcome == verdicts.FAILS
    assert found.deciding_rule in {"AUC may drop at most 0.005", "ECE may rise at most 0.005"}
    auc = found.table.loc["auc"]
    assert auc["low"] <= auc["difference"] <= auc["high"] and auc["high"] < -0.005
    assert found.table.loc["auc", "rule_verdict"] == verdicts.FAILS
    assert "FAILS" in found.summary() and "champion v3" in found.summary()
    # the bands add up on every resample: a claim leaving one band lands in another
    bands = [f"claims_{band}" for band in ("likely_approved", "uncertain", "likely_denied", "excluded")]
    assert found.table.loc[bands, "difference"].sum() == pytest.approx(0)
    assert found.figures()["outcome"] == verdicts.FAILS


def test_the_verdict_agrees_with_the_gate_on_point_estimates(scored):
    challenger, champion = scored["base"], scored["better"]
    params = GateParams(max_auc_drop=0.02, max_ece_rise=0.02)
    found = verdicts.verdict_on_claims(challenger, champion, params, resamples=100)
    points = {role: {name: found.table.loc[name, role] for name in ("auc", "ece")} for role in ("challenger", "champion")}
    gate = decide_promotion(points["challenger"], points["champion"], params, "3")
    assert (found.outcome == verdicts.FAILS) <= (not gate.promoted)  # a verdict that fails, the gate would too


def test_a_margin_inside_the_interval_is_too_close_to_call(scored):
    challenger, champion = scored["base"], scored["better"]
    first = verdicts.verdict_on_claims(challenger, champion, GateParams(1.0, 1.0), resamples=200)
    auc_loss = -first.table.loc["auc", "difference"]
    found = verdicts.verdict_on_claims(challenger, champion, GateParams(max_auc_drop=auc_loss, max_ece_rise=1.0),
                                       resamples=200)
    assert found.outcome == verdicts.TOO_CLOSE and found.deciding_rule.startswith("AUC")
    assert "straddles" in found.reason


def test_approving_a_failing_challenger_needs_an_override_reason(scored):
    failing = verdicts.verdict_on_claims(scored["worse"], scored["better"], GateParams(), resamples=60)
    with pytest.raises(ReviewInputError, match="override_reason"):
        verdicts.guard_decision(failing, "approve", "  ")
    verdicts.guard_decision(failing, "approve", "the rule change justifies it")
    verdicts.guard_decision(failing, "reject")
    verdicts.guard_decision(failing, None)


@pytest.mark.parametrize("decision, reviewer, message", [
    ("approved", "B. Lead", "approve, reject"),
    ("approve", " ", "reviewer"),
])
def test_a_decision_that_cannot_be_recorded_is_refused_up_front(decision, reviewer, message):
    with pytest.raises(ReviewInputError, match=message):
        verdicts.check_decision_parameters(decision, reviewer)
    verdicts.check_decision_parameters(None)


def test_the_gate_margins_come_from_the_challengers_run(client, trained_store):
    better = verdicts.gate_params_of_run(client.get_run(trained_store.runs["better"].run_id))
    worse = verdicts.gate_params_of_run(client.get_run(trained_store.runs["worse"].run_id))
    assert (better.max_auc_drop, better.max_ece_rise) == (0.02, 0.02)
    assert (worse.max_auc_drop, worse.max_ece_rise) == (0.005, 0.005)
