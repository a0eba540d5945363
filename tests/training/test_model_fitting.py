"""The classifier's fitting recipe: taught by unconstrained teachers on small histories, its calibration."""
import numpy as np
import pytest

from training.model_fitting import ModelParams, _logistic_calibration, fit_coverage_model


@pytest.fixture(scope="module")
def small_split(better_split):
    return better_split.train.iloc[:8000], better_split.validation.iloc[:2000], better_split.test.iloc[:1000]


def test_a_small_history_is_taught_and_a_large_one_learns_from_labels(small_split):
    train, validation, test = small_split
    taught = fit_coverage_model(train, validation, ModelParams(max_iter=40, teachers=3), progress=False)
    direct = fit_coverage_model(train, validation, ModelParams(max_iter=40, teachers=3, distil_max_rows=100),
                                progress=False)
    assert taught.metadata["classifier_teachers"] == 3 and direct.metadata["classifier_teachers"] == 0
    # Both are real models of the same claims: they agree on the order of most claims.
    a, b = taught.model_probability(test), direct.model_probability(test)
    assert np.corrcoef(a, b)[0, 1] > 0.8


@pytest.mark.parametrize("teachers", [0, 1])
def test_fewer_than_two_teachers_means_learning_from_labels(small_split, teachers):
    train, validation, _ = small_split
    model = fit_coverage_model(train, validation, ModelParams(max_iter=20, teachers=teachers), progress=False)
    assert model.metadata["classifier_teachers"] == 0


def test_logistic_calibration_is_an_increasing_table_close_to_the_logistic_map():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.02, 0.98, 5000)
    outcome = rng.random(5000) < np.clip(raw * 0.8 + 0.05, 0, 1)  # over-confident scores
    table = _logistic_calibration(raw, outcome)
    grid = np.linspace(0, 1, 1001)
    mapped = np.interp(grid, table.X_thresholds_, table.y_thresholds_)
    assert np.all(np.diff(mapped) >= 0)
    assert mapped[0] > 0.0 and mapped[-1] < 1.0  # shrinks the over-confident ends
    assert abs(np.interp(0.5, table.X_thresholds_, table.y_thresholds_) - 0.45) < 0.05


def test_logistic_calibration_refuses_a_decreasing_map_and_a_single_class():
    rng = np.random.default_rng(1)
    raw = rng.uniform(0, 1, 2000)
    assert _logistic_calibration(raw, rng.random(2000) < 1 - raw) is None  # would turn the constraints around
    assert _logistic_calibration(raw, np.ones(2000, dtype=bool)) is None
