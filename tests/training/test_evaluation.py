"""The evaluation stage (training.evaluation): calibration error, metrics, the truth file, slice
flags, and `evaluate` on the session's champion against its baselines."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from features.contract import TARGET
from scoring.metrics import binary_metrics, calibration_table, expected_calibration_error
from training.evaluation import TRUTH_COLUMN, Evaluation, EvaluationParams, default_truth_path, evaluate, expected_brier_ratio, read_truth, slice_metrics, system_metrics

pytestmark = pytest.mark.slow  # `evaluate` runs on the session's champion

SLICE_PARAMS = EvaluationParams(min_slice_rows=500, min_slice_outcome=30)


def test_expected_calibration_error_is_zero_when_every_bin_matches_its_rate():
    probability = np.array([0.1] * 10 + [0.8] * 10)
    outcome = np.array([1] + [0] * 9 + [1] * 8 + [0] * 2)
    assert expected_calibration_error(outcome, probability) == pytest.approx(0.0)


def test_expected_calibration_error_weights_bins_by_their_claims():
    probability = np.array([0.9] * 10 + [0.1] * 30)
    outcome = np.array([1] * 5 + [0] * 5 + [0] * 30)  # 0.4 off on a quarter, 0.1 off on the rest
    assert expected_calibration_error(outcome, probability) == pytest.approx(0.25 * 0.4 + 0.75 * 0.1)
    table = calibration_table(outcome, probability)
    assert list(table["count"]) == [30, 10] and table["bin_high"].iloc[-1] == pytest.approx(14 / 15)


def test_a_probability_of_one_falls_in_the_last_bin_and_nothing_is_lost():
    table = calibration_table([1, 1, 0, 0], [1.0, 0.999, 0.0, 0.5], bins=10)
    assert table["count"].tolist() == [1, 1, 2]
    assert table["bin_low"].tolist() == pytest.approx([0.0, 0.5, 0.9])


def test_metrics_of_a_single_outcome_leave_auc_undefined_not_crashing():
    found = binary_metrics(np.zeros(5, dtype=bool), np.full(5, 0.1))
    assert np.isnan(found["auc"]) and found["brier"] == pytest.approx(0.01)


def test_the_truth_file_sits_beside_the_data_with_the_same_extension():
    assert default_truth_path("/data/claims.parquet").name == "claims.truth.parquet"


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_a_truth_file_maps_claim_ids_to_probabilities_in_every_format(tmp_path, suffix):
    frame = pd.DataFrame({"claim_id": ["007", "B2"], TRUTH_COLUMN: [0.25, 0.9]})
    path = tmp_path / f"claims.truth{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True)
    assert read_truth(path).to_dict() == {"007": 0.25, "B2": 0.9}  # ids stay text: no lost leading zeros


def test_expected_brier_ratio_is_the_mean_of_the_measured_ratio_over_outcome_draws():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.02, 0.98, 4000)
    model = np.clip(truth + rng.normal(0, 0.08, len(truth)), 0, 1)
    measured = []
    for _ in range(300):
        outcome = rng.random(len(truth)) < truth
        measured.append(np.mean((model - outcome) ** 2) / np.mean((truth - outcome) ** 2))
    truth_brier = float(np.mean(truth * (1 - truth)))  # the truth's Brier, averaged over draws
    expected = expected_brier_ratio(model, truth, truth_brier)
    assert 1.02 < expected < 1.05
    assert abs(np.mean(measured) - expected) < 0.002
    assert np.std(measured) > 0.004  # one draw's ratio moves: why the expected one is reported
    assert expected_brier_ratio(truth, truth, truth_brier) == 1.0


# -- slices -------------------------------------------------------------------------------------

def slice_frames(parts: dict[str, tuple], facility: dict[str, str] | None = None):
    """(scores, claims) for slice_metrics: plan type -> (outcome, probability, excluded); the truth
    equals the model's probability; facility types by plan type (default physician_office)."""
    frame = pd.concat([pd.DataFrame({TARGET: outcome, "excluded": excluded, "system": probability,
                                     "plan_type": plan})
                       for plan, (outcome, probability, excluded) in parts.items()], ignore_index=True)
    frame["truth"] = frame["system"]
    facilities = [(facility or {}).get(plan, "physician_office") for plan in frame["plan_type"]]
    claims = frame[["plan_type"]].assign(treatment="botulinum_toxin", benefit_scope="comprehensive",
                                         facility_type=facilities)
    return frame, claims


def calibrated(rng, rows: int):
    probability = rng.uniform(0, 1, rows)
    return rng.random(rows) < probability, probability, np.zeros(rows, dtype=bool)


def coin_flips(rng, rows: int, rate: float):
    """Outcomes at `rate`, each predicted at exactly that rate: calibrated, but AUC 0.5."""
    return rng.random(rows) < rate, np.full(rows, rate), np.zeros(rows, dtype=bool)


def test_a_large_slice_ranked_worse_than_overall_is_flagged_on_auc():
    rng = np.random.default_rng(1)
    scores, claims = slice_frames({"ppo": calibrated(rng, 600), "hmo": coin_flips(rng, 600, 0.5)})
    overall = binary_metrics(scores[TARGET], scores["system"])
    metrics, table, flags = slice_metrics(scores, claims, overall, SLICE_PARAMS, with_truth=False)
    assert [(flag["slice"], flag["rows"]) for flag in flags] == [("plan_type_hmo", 600)]
    assert flags[0]["reason"].startswith("AUC 0.500 vs ") and flags[0]["reason"].endswith(" overall")
    assert metrics["test_slices_flagged"] == 1.0 and metrics["test_rows__plan_type_hmo"] == 600.0
    assert metrics["test_auc__plan_type_ppo"] > overall["auc"]
    assert {(entry["column"], entry["value"]) for entry in table} == {
        ("plan_type", "hmo"), ("plan_type", "ppo"), ("treatment", "botulinum_toxin"),
        ("facility_type", "physician_office"), ("benefit_scope", "comprehensive")}


def flagged_slices(scores, claims, params=SLICE_PARAMS, with_truth=False) -> set[str]:
    overall = binary_metrics(scores[TARGET], scores["system"])
    return {flag["slice"] for flag in slice_metrics(scores, claims, overall, params, with_truth)[2]}


@pytest.mark.parametrize("hmo, judged_with", [
    (lambda rng: coin_flips(rng, 400, 0.5), {"min_slice_rows": 300}),  # too few rows
    (lambda rng: coin_flips(rng, 600, 0.02), {"min_slice_outcome": 5}),  # too few approvals for an AUC
])
def test_a_slice_too_small_to_judge_is_not_flagged(hmo, judged_with):
    rng = np.random.default_rng(2)
    scores, claims = slice_frames({"ppo": calibrated(rng, 600), "hmo": hmo(rng)})
    assert "plan_type_hmo" not in flagged_slices(scores, claims)
    assert "plan_type_hmo" in flagged_slices(scores, claims, dataclasses.replace(SLICE_PARAMS, **judged_with))


def test_a_slice_as_hard_for_the_truth_as_for_the_model_is_not_flagged():
    rng = np.random.default_rng(1)
    scores, claims = slice_frames({"ppo": calibrated(rng, 600), "hmo": coin_flips(rng, 600, 0.5)})
    overall = binary_metrics(scores[TARGET], scores["system"])
    metrics, table, flags = slice_metrics(scores, claims, overall, SLICE_PARAMS, with_truth=True)
    assert flags == [] and metrics["test_slices_flagged"] == 0.0
    hmo = next(entry for entry in table if entry["value"] == "hmo")
    assert hmo["truth_auc"] == hmo["auc"] == 0.5


def test_a_flagged_slice_the_rules_decide_wholly_says_so():
    rng = np.random.default_rng(3)
    outcome = rng.random(600) < 0.3
    excluded_by_rules = (outcome, np.zeros(600), np.ones(600, dtype=bool))  # paid 30% of the time, scored 0
    scores, claims = slice_frames({"ppo": calibrated(rng, 1200), "hmo": excluded_by_rules},
                                  facility={"hmo": "medical_spa"})
    overall = binary_metrics(scores[TARGET], scores["system"])
    _, _, flags = slice_metrics(scores, claims, overall, SLICE_PARAMS, with_truth=False)
    assert {flag["slice"] for flag in flags} == {"plan_type_hmo", "facility_type_medical_spa"}
    assert all("ECE" in flag["reason"] and flag["reason"].endswith("rules exclude every claim of this slice")
               for flag in flags)


def test_the_table_prints_each_scorer_a_dash_for_an_undefined_metric_and_each_flag():
    nan = float("nan")
    report = {"scorers": {"system": {"auc": 0.9, "pr_auc": 0.8, "brier": 0.1, "log_loss": 0.3, "ece": 0.01, "rows": 20},
                          "truth": {"auc": nan, "pr_auc": nan, "brier": 0.2, "log_loss": 0.5, "ece": 0.0, "rows": 20}}}
    evaluation = Evaluation(metrics={"test_auc_ratio_to_truth": 0.95}, report=report, scores=pd.DataFrame(),
                            flags=[{"slice": "plan_type_hmo", "rows": 600, "reason": "AUC 0.500 vs 0.700 overall"}])
    lines = evaluation.table().splitlines()
    assert lines[0].split() == ["scorer", "auc", "pr_auc", "brier", "log_loss", "ece", "rows"]
    assert lines[1].split() == ["system", "0.9000", "0.8000", "0.1000", "0.3000", "0.0100", "20"]
    assert lines[2].split() == ["truth", "-", "-", "0.2000", "0.5000", "0.0000", "20"]
    assert lines[3:] == ["test_auc_ratio_to_truth: 0.9500", "FLAG plan_type_hmo: AUC 0.500 vs 0.700 overall"]


# -- the whole evaluation, on the session's champion ----------------------------------------------

@pytest.fixture(scope="module")
def small_split(better_split):
    return better_split.train.iloc[-3000:], better_split.test.iloc[:1500]


@pytest.fixture(scope="module")
def truth(demo_files):
    return read_truth(default_truth_path(demo_files["better"]))


@pytest.fixture(scope="module")
def evaluation(champion_model, small_split, truth):
    train, test = small_split
    return evaluate(champion_model, train, test, truth, EvaluationParams(baseline_max_rows=2000, min_slice_rows=300))


def test_every_scorer_is_measured_on_the_same_test_claims(evaluation, small_split):
    _, test = small_split
    scorers = evaluation.report["scorers"]
    assert list(scorers) == ["system", "classifier", "rules_only", "logreg", "raw_gbm", "truth"]
    kept = int((~evaluation.scores["excluded"]).sum())
    assert {name: entry["rows"] for name, entry in scorers.items()} == {
        "system": 1500, "classifier": kept, "rules_only": 1500, "logreg": 1500, "raw_gbm": 1500, "truth": 1500}
    assert evaluation.scores.index.equals(test.index)
    assert sum(row["count"] for row in evaluation.report["calibration"]) == len(test)


def test_metrics_are_flat_finite_and_compare_the_model_with_the_truth(evaluation):
    metrics = evaluation.metrics
    for key in ("test_auc", "test_classifier_auc", "test_rules_only_auc", "test_logreg_auc", "test_raw_gbm_auc",
                "test_truth_auc", "test_auc_ratio_to_truth", "test_brier_ratio_to_truth",
                "test_expected_brier_ratio_to_truth", "test_auc__plan_type_ppo", "test_slices_flagged"):
        assert key in metrics, key
    assert not [key for key, value in metrics.items() if not math.isfinite(value)]
    assert metrics["test_auc_ratio_to_truth"] == pytest.approx(metrics["test_auc"] / metrics["test_truth_auc"])
    assert metrics["test_rows"] == 1500.0 and 0 < metrics["test_excluded_share"] < 1


def test_denial_reasons_are_scored_on_denied_claims_that_carry_a_carc(evaluation, small_split):
    _, test = small_split
    metrics = evaluation.metrics
    denied_with_reason = (~test[TARGET] & (test["denial_reason"].astype(str) != "")).sum()
    assert metrics["test_denial_rows"] == float(denied_with_reason) > 0
    assert 0 < metrics["test_denial_top1_accuracy"] <= metrics["test_denial_top3_accuracy"] <= 1
    assert evaluation.report["denial_reasons"]["test_denial_top3_accuracy"] == metrics["test_denial_top3_accuracy"]


def test_the_gate_sees_the_same_system_metrics_the_evaluation_reports(evaluation, champion_model, small_split):
    _, test = small_split
    reported = {name: value for name, value in evaluation.report["scorers"]["system"].items()
                if name not in ("rows", "what")}
    assert system_metrics(champion_model, test) == pytest.approx(reported)


def test_without_a_truth_file_or_the_raw_baseline_those_scorers_are_absent(champion_model, small_split):
    train, test = small_split
    found = evaluate(champion_model, train, test.iloc[:600], None,
                     EvaluationParams(baseline_max_rows=1000, raw_gbm_baseline=False))
    assert list(found.report["scorers"]) == ["system", "classifier", "rules_only", "logreg"]
    assert not [key for key in found.metrics if "truth" in key or "raw_gbm" in key]


def test_a_truth_file_missing_test_claims_is_an_error(champion_model, small_split, truth):
    train, test = small_split
    partial = truth.drop(test["claim_id"].astype(str).iloc[:3])
    with pytest.raises(ValueError, match="no probability for 3 test claims"):
        evaluate(champion_model, train, test, partial, EvaluationParams(baseline_max_rows=500, raw_gbm_baseline=False))
