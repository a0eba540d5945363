"""The curves notebook 1 draws of both models on the same claims: the ROC and precision
differences (challenger minus champion, so two curves that would lie on top of each other become
one line around zero) and reliability, for the served system and the classifier alone.

Scores are model_review.review_scores frames; figures are `matplotlib.figure.Figure` objects built
without pyplot (see training.plots).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

from features.contract import TARGET
from scoring.metrics import ECE_BINS, calibration_table


def roc_difference_figure(challenger_scores: pd.DataFrame, champion_scores: pd.DataFrame | None = None,
                          names: tuple[str, str] = ("challenger", "champion")) -> Figure:
    """How much more of the approved claims the challenger ranks first, at every false positive
    rate (ROC) and every recall (precision): challenger minus champion, so two curves that would
    lie on top of each other become one line around zero. Without a champion: its own curves."""
    figure = Figure(figsize=(12, 4.5))
    roc_axes, pr_axes = figure.subplots(1, 2)
    y = challenger_scores[TARGET].to_numpy(dtype=bool)
    grid = np.linspace(0, 1, 201)
    curves = {}
    for name, scores in zip(names, (challenger_scores, champion_scores)):
        if scores is None or y.all() or not y.any():
            continue
        probability = scores["approval_probability"].to_numpy()
        false_positive, true_positive, _ = roc_curve(y, probability)
        precision, recall, _ = precision_recall_curve(y, probability)
        curves[name] = (np.interp(grid, false_positive, true_positive),
                        np.interp(grid, recall[::-1], precision[::-1]), roc_auc_score(y, probability))
    if len(curves) == 2:
        (roc_a, pr_a, auc_a), (roc_b, pr_b, auc_b) = curves.values()
        roc_axes.plot(grid, roc_a - roc_b, color="#2c6fbb")
        pr_axes.plot(grid, pr_a - pr_b, color="#2c6fbb")
        for axes in (roc_axes, pr_axes):
            axes.axhline(0, color="grey", linewidth=0.8)
        roc_axes.set(ylabel=f"true positive rate: {names[0]} - {names[1]}",
                     title=f"ROC difference (AUC {auc_a:.4f} vs {auc_b:.4f}; above 0: challenger better)")
        pr_axes.set(ylabel=f"precision: {names[0]} - {names[1]}", title="Precision difference at each recall")
    elif curves:
        roc, pr, auc = next(iter(curves.values()))
        roc_axes.plot(grid, roc)
        pr_axes.plot(grid, pr)
        roc_axes.set(ylabel="true positive rate", title=f"ROC (AUC {auc:.4f})")
        pr_axes.set(ylabel="precision", title="Precision-recall")
    roc_axes.set(xlabel="false positive rate")
    pr_axes.set(xlabel="recall (approved claims found)")
    figure.tight_layout()
    return figure


def reliability_figure(scores_by_label: dict[str, pd.DataFrame], bins: int = ECE_BINS) -> Figure:
    """Observed approval rate against predicted probability per equal-width bin, for the served
    system (left; every rule-excluded claim sits near 0) and the classifier alone on the claims
    no rule excludes (right), with the claims per bin underneath (log scale)."""
    figure = Figure(figsize=(12, 7))
    grid = figure.subplots(2, 2, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    views = (("served system", "approval_probability", False), ("classifier only", "model_probability", True))
    width = 0.9 / bins / max(len(scores_by_label), 1)
    for column, (title, field, kept_only) in enumerate(views):
        curve_axes, count_axes = grid[0, column], grid[1, column]
        for offset, (name, scores) in enumerate(scores_by_label.items()):
            kept = ~scores["excluded"].to_numpy(dtype=bool) if kept_only else np.ones(len(scores), dtype=bool)
            table = calibration_table(scores[TARGET].to_numpy()[kept], scores[field].to_numpy()[kept], bins)
            curve_axes.plot(table["predicted"], table["observed"], marker="o", label=name)
            count_axes.bar(table["bin_low"] + (offset + 0.5) * width + 0.05 / bins, table["count"], width=width,
                           label=name)
        curve_axes.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
        curve_axes.set(ylabel="observed approval rate", title=f"Reliability: {title} ({bins} bins)")
        curve_axes.legend(loc="upper left", fontsize=9)
        count_axes.set(xlabel="predicted approval probability", ylabel="claims per bin", yscale="log")
    figure.tight_layout()
    return figure
