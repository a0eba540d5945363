"""How good a model's approval probabilities are, on any claims with known outcomes: the test split
at training (training.evaluation) and the payer's adjudications of served claims (scoring.realised)
measure with the same functions, so their figures can sit side by side.

ECE uses ECE_BINS = 15 equal-width probability bins over [0, 1]:
    ECE = sum over bins of (claims in bin / all claims) * |approval rate in bin - mean probability in bin|.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from features.contract import TARGET

METRIC_NAMES = ("auc", "pr_auc", "brier", "log_loss", "ece")
ECE_BINS = 15


def expected_calibration_error(y_true, probability, bins: int = ECE_BINS) -> float:
    """Weighted mean |observed rate - mean probability| over `bins` equal-width bins on [0, 1]."""
    y_true = np.asarray(y_true, dtype=float)
    probability = np.asarray(probability, dtype=float)
    if len(y_true) == 0:
        return float("nan")
    table = calibration_table(y_true, probability, bins)
    return float(np.sum(table["count"] / len(y_true) * np.abs(table["observed"] - table["predicted"])))


def calibration_table(y_true, probability, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per non-empty equal-width bin: count, mean predicted probability, observed approval rate."""
    y_true = np.asarray(y_true, dtype=float)
    probability = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    index = np.minimum((probability * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins)
    predicted = np.bincount(index, weights=probability, minlength=bins)
    observed = np.bincount(index, weights=y_true, minlength=bins)
    present = count > 0
    return pd.DataFrame({
        "bin_low": np.arange(bins)[present] / bins,
        "bin_high": (np.arange(bins)[present] + 1) / bins,
        "count": count[present],
        "predicted": predicted[present] / count[present],
        "observed": observed[present] / count[present],
    })


def binary_metrics(y_true, probability, bins: int = ECE_BINS) -> dict[str, float]:
    """AUC, PR AUC, Brier, log loss and ECE; AUC and PR AUC are NaN when one outcome is missing."""
    y_true = np.asarray(y_true, dtype=bool)
    probability = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    both = 0 < y_true.sum() < len(y_true)
    return {
        "auc": float(roc_auc_score(y_true, probability)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y_true, probability)) if both else float("nan"),
        "brier": float(brier_score_loss(y_true, probability, pos_label=True)) if len(y_true) else float("nan"),
        "log_loss": float(log_loss(y_true, probability, labels=[False, True])) if len(y_true) else float("nan"),
        "ece": expected_calibration_error(y_true, probability, bins),
    }


def plot_calibration(scores: pd.DataFrame, path: Path, bins: int = ECE_BINS, claims: str = "test claims") -> Path:
    """The reliability diagram of `scores["system"]` (and `truth` when present) against `scores[TARGET]`."""
    from matplotlib.figure import Figure  # drawn by reports, never while scoring: not a serving requirement

    figure = Figure(figsize=(6, 7))
    curve_axes, count_axes = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    y = scores[TARGET].to_numpy(dtype=float)
    for scorer in ("system", "truth"):
        if scorer not in scores.columns:
            continue
        table = calibration_table(y, scores[scorer], bins)
        curve_axes.plot(table["predicted"], table["observed"], marker="o", label=scorer,
                        linestyle="--" if scorer == "truth" else "-")
        if scorer == "system":
            count_axes.bar((table["bin_low"] + table["bin_high"]) / 2, table["count"], width=0.9 / bins)
            for _, row in table.iterrows():
                count_axes.annotate(str(int(row["count"])), ((row["bin_low"] + row["bin_high"]) / 2, row["count"]),
                                    ha="center", va="bottom", fontsize=6)
    curve_axes.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    curve_axes.set(ylabel="observed approval rate", title=f"Reliability, {claims} ({bins} equal-width bins)")
    curve_axes.legend(loc="upper left")
    count_axes.set(xlabel="predicted approval probability", ylabel="claims", yscale="log")
    figure.savefig(path, dpi=100)
    return path
