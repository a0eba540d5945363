"""Realised accuracy: how the served answers did against the payer's adjudication.

The input is one row per adjudicated served claim (`JOINED_COLUMNS`: what was answered, what the
payer decided); the service builds it from the audit store and the outcomes table
(service.outcomes). The figures are the test set's, measured on real outcomes, so the two can sit
side by side (training.review.realised):

- `claims`, `approval_rate`; AUC, PR AUC, Brier, log loss and ECE of `approval_probability`
  against approval (`outcome in {approved, partial}`), as training.evaluation.binary_metrics;
- the calibration curve (training.evaluation.calibration_table);
- the decision confusion: counts of each served decision by outcome, and the two costly errors
  by name: `likely_approved_but_denied` and `likely_denied_but_paid` (each also as a share of
  the claims given that decision);
- top-1 / top-3 accuracy of the likely denial reasons answered, on denied claims that carry a
  CARC (a claim answered with no reasons counts as a miss);
- expected vs actual paid: the sums of `expected_payment` answered and `paid_amount` received,
  and their ratio.

The degradation alarm compares realised Brier and ECE with the test figures the version was
registered and promoted with (`test_brier`, `test_ece` of its training run); it is called only
from `min_claims` adjudicated claims on (below that, ECE on 15 bins is mostly noise).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import APPROVED_OUTCOMES
from scoring.decisions import DECISION_BANDS, LIKELY_APPROVED, LIKELY_DENIED
from scoring.metrics import ECE_BINS, binary_metrics, calibration_table

EXPERIMENT = "serving-outcomes"  # the MLflow experiment of the realised-accuracy runs
JOINED_COLUMNS = ("claim_id", "service_date", "plan_type", "treatment", "model_version", "decision",
                  "approval_probability", "likely_denial_reasons", "expected_payment", "outcome", "paid_amount",
                  "denial_reason")
REALISED_SLICE_COLUMNS = ("plan_type", "treatment")  # the realised figures per slice, beside the test set's
SLICE_METRICS = ("auc", "brier", "ece")
# The alarm: realised Brier or ECE this much above the promoted test figure, from this many claims on.
MAX_BRIER_RISE = 0.03
MAX_ECE_RISE = 0.05
ALARM_MIN_CLAIMS = 500


def approved(outcomes) -> np.ndarray:
    """The classifier's target from outcome strings: approved or partial."""
    return np.isin(np.asarray(outcomes, dtype=object), APPROVED_OUTCOMES)


def realised_figures(joined: pd.DataFrame, bins: int = ECE_BINS) -> dict[str, float]:
    """The flat figures of one group of adjudicated served claims (see the module docstring)."""
    figures: dict[str, float] = {"claims": float(len(joined))}
    if joined.empty:
        return figures
    y = approved(joined["outcome"])
    probability = joined["approval_probability"].to_numpy(dtype=float)
    figures["approval_rate"] = float(y.mean())
    figures.update({name: value for name, value in binary_metrics(y, probability, bins).items()
                    if not math.isnan(value)})
    figures.update(decision_confusion(joined["decision"].to_numpy(dtype=object), y))
    figures.update(denial_reason_accuracy(joined, y))
    expected = float(joined["expected_payment"].astype(float).sum())
    paid = float(joined["paid_amount"].astype(float).sum())
    figures.update(expected_paid=expected, actual_paid=paid)
    if paid > 0:
        figures["expected_to_actual_paid"] = expected / paid
    return figures


def decision_confusion(decisions: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Counts per decision and outcome, and the two costly errors by name."""
    figures = {}
    for decision in DECISION_BANDS:
        given = decisions == decision
        figures[f"decision__{decision}__paid"] = float((given & y).sum())
        figures[f"decision__{decision}__denied"] = float((given & ~y).sum())
    for name, decision, wrong in ((f"{LIKELY_APPROVED}_but_denied", LIKELY_APPROVED, ~y),
                                  (f"{LIKELY_DENIED}_but_paid", LIKELY_DENIED, y)):
        given = decisions == decision
        figures[name] = float((given & wrong).sum())
        if given.any():
            figures[f"{name}_share"] = float((given & wrong).sum() / given.sum())
    return figures


def denial_reason_accuracy(joined: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    """Top-1 / top-3 accuracy of the answered reasons on denied claims that carry a CARC."""
    reasons = joined["denial_reason"].fillna("").astype(str).to_numpy()
    denied = ~y & (reasons != "")
    if not denied.any():
        return {"denial_rows": 0.0}
    ranked = [list(answered or [])[:3] for answered in joined["likely_denial_reasons"].to_numpy()[denied]]
    truth = reasons[denied]
    top1 = np.array([bool(codes) and codes[0] == carc for codes, carc in zip(ranked, truth)])
    top3 = np.array([carc in codes for codes, carc in zip(ranked, truth)])
    return {"denial_rows": float(denied.sum()), "denial_top1_accuracy": float(top1.mean()),
            "denial_top3_accuracy": float(top3.mean())}


def calibration_curve(joined: pd.DataFrame, bins: int = ECE_BINS) -> pd.DataFrame:
    return calibration_table(approved(joined["outcome"]), joined["approval_probability"].to_numpy(dtype=float), bins)


def service_week(dates) -> pd.Series:
    """The ISO week of each service date, as `2026-W09`."""
    calendar = pd.to_datetime(pd.Series(dates), format="%Y-%m-%d").dt.isocalendar()
    return calendar["year"].astype(str) + "-W" + calendar["week"].astype(int).map("{:02d}".format)


def weekly_figures(joined: pd.DataFrame, bins: int = ECE_BINS) -> dict[str, dict[str, float]]:
    """The figures per ISO week of service, oldest first."""
    if joined.empty:
        return {}
    weeks = service_week(joined["service_date"]).to_numpy()
    return {week: realised_figures(joined[weeks == week], bins) for week in sorted(set(weeks))}


def slice_table(joined: pd.DataFrame, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per plan type and per treatment: claims, approval rate, AUC, Brier, ECE (NaN where undefined)."""
    rows = []
    for column in REALISED_SLICE_COLUMNS:
        values = joined[column].astype(str).to_numpy()
        for value in sorted(set(values)):
            part = joined[values == value]
            figures = realised_figures(part, bins)
            rows.append({"column": column, "value": value, "claims": int(len(part)),
                         "approval_rate": figures.get("approval_rate", math.nan),
                         **{metric: figures.get(metric, math.nan) for metric in SLICE_METRICS}})
    return pd.DataFrame(rows, columns=["column", "value", "claims", "approval_rate", *SLICE_METRICS])


def slice_metric_key(metric: str, column: str, value: str) -> str:
    """`realised_auc__plan_type_hmo`: the realised twin of evaluation's `test_auc__plan_type_hmo`."""
    return f"realised_{metric}__{column}_{value.replace('|', '_or_')}"


@dataclass(frozen=True)
class Degradation:
    """The alarm's verdict for one model version."""

    called: bool  # False: too few claims, or no promoted figures to compare with
    alarm: bool
    reason: str  # words and numbers only, no claim data; never repeats the tag, which is printed before it

    @property
    def tag(self) -> str:
        return "alarm" if self.alarm else ("ok" if self.called else "not called")


def degradation(realised: dict[str, float], promoted: dict[str, float], min_claims: int = ALARM_MIN_CLAIMS,
                max_brier_rise: float = MAX_BRIER_RISE, max_ece_rise: float = MAX_ECE_RISE) -> Degradation:
    """Compare realised Brier and ECE with the promoted test figures (`brier`, `ece`)."""
    claims = int(realised.get("claims", 0))
    if claims < min_claims:
        return Degradation(False, False, f"{claims:,} adjudicated claims, fewer than the "
                                         f"{min_claims:,} needed to tell a change from noise")
    checks = [(name, limit) for name, limit in (("brier", max_brier_rise), ("ece", max_ece_rise))
              if name in promoted and name in realised]
    if not checks:
        return Degradation(False, False, "the version has no promoted test figures to compare with")
    words, rises = [], []
    for name, limit in checks:
        rise = realised[name] - promoted[name]
        words.append(f"{name.upper()} {realised[name]:.4f} vs {promoted[name]:.4f} at promotion")
        if rise > limit:
            rises.append(f"{name.upper()} rose {rise:.4f} > {limit}")
    if rises:
        return Degradation(True, True, f"{'; '.join(rises)} ({', '.join(words)}; {claims:,} claims)")
    return Degradation(True, False, f"within limits ({', '.join(words)}; {claims:,} claims)")
