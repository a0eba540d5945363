"""The small stage functions on hand-made inputs: split, calibration error, metrics, the gate."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.evaluation import (
    binary_metrics,
    calibration_table,
    default_truth_path,
    expected_brier_ratio,
    expected_calibration_error,
)
from training.data.split import split_by_date
from training.model.mlflow_store import DEFAULT_TRACKING_URI, resolve_tracking_uri
from training.registry import GateParams, decide_promotion


def claims_over_days(days: int, per_day: int = 10) -> pd.DataFrame:
    dates = np.repeat(pd.date_range("2025-01-01", periods=days), per_day)
    shuffled = np.random.default_rng(0).permutation(len(dates))
    return pd.DataFrame({"claim_id": [f"c{i}" for i in range(len(dates))], "service_date": dates[shuffled],
                         "approved": np.arange(len(dates)) % 2 == 0})


def test_split_puts_the_oldest_claims_in_train_and_the_newest_fifth_in_test():
    split = split_by_date(claims_over_days(100))
    assert (len(split.train), len(split.validation), len(split.test)) == (700, 100, 200)
    assert split.train["service_date"].max() <= split.validation["service_date"].min()
    assert split.validation["service_date"].max() <= split.test["service_date"].min()
    assert split.summary()["test"]["last_date"] == "2025-04-10"


@pytest.mark.parametrize("validation, test", [(0.0, 0.2), (0.5, 0.5), (0.1, 1.2)])
def test_split_refuses_fractions_that_leave_no_training_claims(validation, test):
    with pytest.raises(ValueError, match="fraction"):
        split_by_date(claims_over_days(10), validation, test)


def test_split_refuses_a_file_too_small_to_split():
    with pytest.raises(ValueError, match="too few"):
        split_by_date(claims_over_days(1, per_day=2))


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


def test_metrics_of_a_single_outcome_leave_auc_undefined_not_crashing():
    found = binary_metrics(np.zeros(5, dtype=bool), np.full(5, 0.1))
    assert np.isnan(found["auc"]) and found["brier"] == pytest.approx(0.01)


@pytest.mark.parametrize("challenger, champion, decision", [
    ({"auc": 0.90, "ece": 0.010}, None, "promoted"),
    ({"auc": 0.900, "ece": 0.010}, {"auc": 0.903, "ece": 0.012}, "promoted"),   # within both margins
    ({"auc": 0.890, "ece": 0.010}, {"auc": 0.900, "ece": 0.010}, "kept_champion"),  # AUC drops 0.01
    ({"auc": 0.910, "ece": 0.020}, {"auc": 0.900, "ece": 0.010}, "kept_champion"),  # ECE rises 0.01
    ({"auc": float("nan"), "ece": 0.0}, {"auc": 0.900, "ece": 0.010}, "kept_champion"),
])
def test_gate_promotes_only_within_the_margins(challenger, champion, decision):
    assert decide_promotion(challenger, champion, GateParams(), "1").decision == decision


def test_tracking_uri_comes_from_the_option_then_the_environment_then_the_project_default(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == DEFAULT_TRACKING_URI
    assert DEFAULT_TRACKING_URI.startswith("sqlite:///") and DEFAULT_TRACKING_URI.endswith("/var/mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert resolve_tracking_uri() == "http://tracking.example:5000"
    assert resolve_tracking_uri("sqlite:////tmp/x/mlflow.db") == "sqlite:////tmp/x/mlflow.db"


def test_the_truth_file_sits_beside_the_data_with_the_same_extension():
    assert default_truth_path("/data/claims.parquet").name == "claims.truth.parquet"


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
