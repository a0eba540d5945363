"""Evaluation figures as PNG files: ROC curves, a reliability diagram with bin counts, and
feature effects (partial dependence of the served approval probability on the inputs a patient
or clinic can act on).

Figures are drawn on `matplotlib.figure.Figure` objects, never through pyplot, so no GUI backend
or global figure state is involved (safe in tests, threads and headless machines).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from features.contract import FACILITY_TYPES, TARGET, default_place_of_service
from scoring.metrics import ECE_BINS, plot_calibration
from training.evaluation import SCORERS

ROC_FILE = "roc.png"
CALIBRATION_FILE = "calibration.png"
FEATURE_EFFECTS_FILE = "feature_effects.png"
EFFECT_SAMPLE_ROWS = 2000
VISIT_NUMBERS = (1, 2, 3, 4, 6, 8, 12)
BENEFIT_REMAINING_STEPS = (0.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0)


def plot_roc(scores: pd.DataFrame, path: Path) -> Path:
    figure = Figure(figsize=(6, 6))
    axes = figure.subplots()
    y = scores[TARGET].to_numpy(dtype=bool)
    kept = ~scores["excluded"].to_numpy(dtype=bool)
    for scorer in SCORERS:
        if scorer not in scores.columns:
            continue
        rows = kept if scorer == "classifier" else np.ones(len(y), dtype=bool)
        if y[rows].all() or not y[rows].any():
            continue
        false_positive, true_positive, _ = roc_curve(y[rows], scores[scorer].to_numpy()[rows])
        label = f"{scorer} (not excluded)" if scorer == "classifier" else scorer
        axes.plot(false_positive, true_positive, label=label, linestyle="--" if scorer == "truth" else "-")
    axes.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test claims")
    axes.legend(loc="lower right")
    figure.savefig(path, dpi=100)
    return path


def _effect_variants(sample: pd.DataFrame) -> list[tuple[str, object, pd.DataFrame]]:
    """(panel, x value, the sample with that one input set) for every plotted point."""
    variants = []
    for name in ("prior_authorization", "referral", "in_network"):
        for value in (False, True):
            variants.append((name, value, sample.assign(**{name: value})))
    for facility in FACILITY_TYPES:
        # A claim billed from another facility carries that facility's place of service.
        variants.append(("facility_type", facility, sample.assign(
            facility_type=facility, place_of_service=default_place_of_service(facility))))
    for visit in VISIT_NUMBERS:
        variants.append(("visit_number", visit, sample.assign(visit_number=np.int64(visit))))
    for remaining in BENEFIT_REMAINING_STEPS:
        variants.append(("benefit remaining (USD)", remaining,
                         sample.assign(benefit_limit=sample["benefit_used"].to_numpy(dtype=float) + remaining)))
    return variants


def feature_effects(model, claims: pd.DataFrame, sample_rows: int = EFFECT_SAMPLE_ROWS, seed: int = 0) -> pd.DataFrame:
    """Partial dependence: the mean served approval probability over a sample of claims no rule
    excludes, with one input set to each value in turn (panel, value, mean_probability)."""
    kept = claims[~model.excluded(claims)]
    sample = kept.sample(min(sample_rows, len(kept)), random_state=seed) if len(kept) else kept
    variants = _effect_variants(sample.reset_index(drop=True))
    if not len(sample):
        return pd.DataFrame(columns=["panel", "value", "mean_probability"])
    everything = pd.concat([frame for _, _, frame in variants], ignore_index=True)
    served = model.served_probability(everything)
    means = served.reshape(len(variants), len(sample)).mean(axis=1)
    return pd.DataFrame({"panel": [panel for panel, _, _ in variants], "value": [value for _, value, _ in variants],
                         "mean_probability": means})


def plot_feature_effects(effects: pd.DataFrame, path: Path) -> Path:
    panels = list(dict.fromkeys(effects["panel"]))
    figure = Figure(figsize=(12, 7))
    grid = figure.subplots(2, 3, squeeze=False)
    for axes, panel in zip(grid.flat, panels):
        rows = effects[effects["panel"] == panel]
        labels = [str(value) for value in rows["value"]]
        if panel in ("facility_type", "prior_authorization", "referral", "in_network"):
            axes.bar(labels, rows["mean_probability"])
            axes.tick_params(axis="x", labelrotation=30 if panel == "facility_type" else 0, labelsize=7)
        else:
            axes.plot(rows["value"].astype(float), rows["mean_probability"], marker="o")
        axes.set(title=panel, ylabel="mean approval probability", ylim=(0, 1))
    for axes in list(grid.flat)[len(panels):]:
        axes.set_visible(False)
    figure.suptitle("Feature effects (partial dependence, test claims no rule excludes)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def write_plots(model, evaluation, test: pd.DataFrame, directory: Path) -> list[Path]:
    """Every evaluation figure into `directory`; returns the written paths."""
    directory.mkdir(parents=True, exist_ok=True)
    bins = evaluation.report.get("ece_bins", ECE_BINS)
    return [
        plot_roc(evaluation.scores, directory / ROC_FILE),
        plot_calibration(evaluation.scores, directory / CALIBRATION_FILE, bins),
        plot_feature_effects(feature_effects(model, test), directory / FEATURE_EFFECTS_FILE),
    ]
