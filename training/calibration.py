"""The calibration of the classifier's raw probability on held-out claims: the tables the scorer reads.

Kept apart from the fitting (training.model_fitting) because the benchmarks' sweeps calibrate
their candidates the same way.
"""
from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression


def logistic_calibration(raw: np.ndarray, outcome: np.ndarray, points: int = 2001) -> IsotonicRegression | None:
    """A logistic map of the log-odds (Platt scaling), as an isotonic table the scorer already reads.

    None when the fitted map would not be increasing (it would turn the monotonic constraints
    around) or the outcomes hold one class: the caller falls back to isotonic regression.
    """
    if len(np.unique(outcome)) < 2:
        return None

    def log_odds(p):
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))[:, None]
    logistic = LogisticRegression(C=1e6).fit(log_odds(raw), outcome)
    if logistic.coef_[0, 0] <= 0:
        return None
    # Dense in probability where claims are, and out to the ends, so interpolation stays within 1e-4.
    grid = np.unique(np.r_[np.linspace(0.0, 1.0, points), np.quantile(raw, np.linspace(0.0, 1.0, points))])
    return increasing_map(grid, logistic.predict_proba(log_odds(grid))[:, 1])


def increasing_map(x: np.ndarray, y: np.ndarray) -> IsotonicRegression:
    """The calibrator the scorer reads (scoring.tree_scoring.isotonic_map): increasing, within 0..1."""
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True).fit(x, y)
