"""Where the challenger is worse than the champion, slice by slice, sorted by severity (notebook 1):
each slice's AUC and ECE differences with paired bootstrap 95% intervals (training.review.verdict),
flagged only when the whole interval says the challenger is worse by more than the gate's margin.
A small slice gets a wide interval, so it is flagged only when it is clearly worse.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import TARGET
from training.evaluation import SLICE_COLUMNS
from training.promotion_gate import GateParams, gate_rules
from training.review.verdict import CONFIDENCE, resample_weights, weighted_metrics

AGE_BANDS = (0, 18, 35, 50, 65, 200)  # patient_age band edges (years): lower inclusive
SLICES = (*SLICE_COLUMNS, "patient_age_band", "in_network", "month")
MIN_CLAIMS = 30  # fewer claims: not shown (an interval over a handful of claims says nothing)


def slice_values(claims: pd.DataFrame) -> pd.DataFrame:
    """The value of every slice column for each claim (age band, network and month derived)."""
    ages = claims["patient_age"].to_numpy(dtype=float)
    labels = [f"{low}-{high - 1}" for low, high in zip(AGE_BANDS[:-1], AGE_BANDS[1:])]
    band = pd.cut(ages, AGE_BANDS, right=False, labels=labels).astype(str)
    frame = pd.DataFrame({column: claims[column].astype(str).to_numpy() for column in SLICE_COLUMNS})
    return frame.assign(patient_age_band=band, in_network=claims["in_network"].astype(str).to_numpy(),
                        month=claims["service_date"].dt.to_period("M").astype(str).to_numpy())


def slice_verdicts(challenger_scores: pd.DataFrame, champion_scores: pd.DataFrame, claims: pd.DataFrame,
                   gate: GateParams | None = None, resamples: int = 200, seed: int = 0,
                   min_claims: int = MIN_CLAIMS) -> pd.DataFrame:
    """One row per slice value: claims, approval rate, AUC and ECE differences (challenger minus
    champion) with intervals, `worse_by` (how much worse the challenger surely is, beyond the
    rule's margin: the lower end of its loss interval minus the margin) and `flagged`; most severe first."""
    rules = gate_rules(gate or GateParams())
    values = slice_values(claims)
    y = challenger_scores[TARGET].to_numpy(dtype=bool)
    tail = (1 - CONFIDENCE) / 2
    rng = np.random.default_rng(seed)
    rows = []
    for column in SLICES:
        for value in sorted(set(values[column])):
            members = np.flatnonzero(values[column].to_numpy() == value)
            if len(members) < min_claims:
                continue
            weights = np.vstack([np.ones(len(members)), resample_weights(len(members), resamples, rng)])
            found = {role: weighted_metrics(y[members], scores["approval_probability"].to_numpy()[members],
                                            scores["decision"].astype(str).to_numpy()[members], weights)
                     for role, scores in (("challenger", challenger_scores), ("champion", champion_scores))}
            entry = {"slice": column, "value": value, "claims": len(members),
                     "approval_rate": float(y[members].mean())}
            worse_by, why = -np.inf, []
            for rule in rules:
                difference = found["challenger"][rule.metric] - found["champion"][rule.metric]
                sign = -1.0 if rule.higher_is_better else 1.0
                low, high = np.nanquantile(difference[1:], [tail, 1 - tail]) if np.isfinite(difference[1:]).any() \
                    else (np.nan, np.nan)
                entry.update({f"{rule.metric}_difference": difference[0], f"{rule.metric}_low": low,
                              f"{rule.metric}_high": high})
                surely_worse = min(sign * low, sign * high) - rule.margin
                if np.isfinite(surely_worse):
                    worse_by = max(worse_by, surely_worse)
                    if surely_worse > 0:
                        why.append(f"{rule.label} {difference[0]:+.3f}")
            entry.update({"worse_by": worse_by if np.isfinite(worse_by) else np.nan, "flagged": bool(why),
                          "why": "; ".join(why)})
            rows.append(entry)
    table = pd.DataFrame(rows)
    return table.sort_values("worse_by", ascending=False, na_position="last", ignore_index=True)


def highlight_worse(table: pd.DataFrame):
    """`slice_verdicts` styled for a notebook: the flagged rows (the challenger surely worse) in red."""
    def colour(row):
        return ["background-color: #f8d0d0" if row.get("flagged", False) else ""] * len(row)

    numbers = {name: "{:.3f}" for name in table.columns if table[name].dtype.kind == "f"}
    return table.style.apply(colour, axis=1).format(numbers, na_rep="-")
