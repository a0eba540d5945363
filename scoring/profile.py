"""A training-data profile stored with the model, and the population stability index (PSI)
that compares served or new claims against it (input drift).

The profile maps each input field to its shares; one more entry, under the label's name (TARGET,
kind "label"), holds the training claims' approval rate (overall and per treatment) and dates, so a
new file's label can be compared with what the model learned from. Profiles saved before it have
no such entry: `label_profile` gives None for them, and PSI reads only the input fields either way.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import TARGET

CATEGORICAL_FIELDS = ("treatment", "plan_type", "benefit_scope", "facility_type")
BOOLEAN_FIELDS = ("in_network", "referral", "medical_necessity_letter", "prior_authorization",
                  "conservative_therapy_documented")
NUMERIC_FIELDS = ("patient_age", "billed_amount", "visit_number")
QUANTILES = np.linspace(0.1, 0.9, 9)
_FLOOR = 1e-4  # keeps empty bins from making PSI infinite
# PSI bands, as commonly read: below 0.1 stable, 0.1-0.2 a moderate shift, above 0.2 a significant one.
PSI_MODERATE, PSI_SIGNIFICANT = 0.1, 0.2
# Fewer claims than this and PSI measures the sample's noise, not drift (37 claims gave PSI up to
# 5.7 on fields that had not moved): drift is not called below it, and the reports say so.
PSI_MIN_CLAIMS = 500


def too_few_for_drift(claims: int, minimum: int = PSI_MIN_CLAIMS) -> str:
    """"" when `claims` are enough to call drift, else the sentence that says why not."""
    if claims >= minimum:
        return ""
    return f"not called: {claims:,} claims, fewer than the {minimum:,} PSI needs to tell drift from noise"


def build_profile(claims: pd.DataFrame) -> dict:
    """Per field: the categories (or decile edges) and the share of training claims in each; and,
    when the claims carry their outcome, the label entry (see the module docstring)."""
    profile = {}
    for name in CATEGORICAL_FIELDS + BOOLEAN_FIELDS:
        shares = claims[name].astype(str).value_counts(normalize=True)
        profile[name] = {"kind": "categorical", "shares": {str(k): float(v) for k, v in shares.items()}}
    for name in NUMERIC_FIELDS:
        values = claims[name].to_numpy(dtype=float)
        edges = np.unique(np.quantile(values, QUANTILES))
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        profile[name] = {"kind": "numeric", "edges": edges.tolist(), "shares": (counts / counts.sum()).tolist()}
    if TARGET in claims.columns and len(claims):
        profile[TARGET] = build_label_profile(claims)
    return profile


def build_label_profile(claims: pd.DataFrame) -> dict:
    """The approval rate of the claims, overall and per treatment, with their count and dates."""
    approved = claims[TARGET].to_numpy(dtype=bool)
    grouped = pd.DataFrame({"treatment": claims["treatment"].astype(str).to_numpy(), "approved": approved}) \
        .groupby("treatment")["approved"].agg(["size", "mean"])
    dates = pd.to_datetime(claims["service_date"])
    return {"kind": "label", "claims": int(len(approved)), "approval_rate": float(approved.mean()),
            "first_date": str(dates.min().date()), "last_date": str(dates.max().date()),
            "by_treatment": {str(name): {"claims": int(row["size"]), "approval_rate": float(row["mean"])}
                             for name, row in grouped.iterrows()}}


def input_fields(profile: dict) -> dict:
    """The profile's input fields (what PSI compares), without the label entry."""
    return {name: spec for name, spec in profile.items() if spec.get("kind") in ("categorical", "numeric")}


def label_profile(profile: dict | None) -> dict | None:
    """The training claims' approval rate entry, or None (no profile, or one saved before it)."""
    entry = (profile or {}).get(TARGET)
    return entry if isinstance(entry, dict) and entry.get("kind") == "label" else None


def population_stability(profile: dict, claims: pd.DataFrame | dict) -> dict[str, float]:
    """PSI per profiled field: sum((actual - expected) * ln(actual / expected)); see the bands above."""
    return stability_from_counts(profile, profile_counts(profile, claims))


def profile_counts(profile: dict, claims: pd.DataFrame | dict) -> dict[str, np.ndarray]:
    """Per profiled field, how many claims fall in each of the profile's bins (a categorical
    field has one more bin, for categories never seen in training). Counts of several chunks of
    claims add up to the counts of them all, so drift can be measured in constant memory."""
    counts = {}
    for name, spec in input_fields(profile).items():
        values = np.asarray(claims[name])
        if spec["kind"] == "categorical":
            keys = list(spec["shares"])
            observed = pd.Series(values.astype(str)).value_counts()
            known = np.array([observed.get(key, 0) for key in keys], dtype=np.int64)
            counts[name] = np.append(known, len(values) - known.sum())
        else:
            bins = np.searchsorted(np.asarray(spec["edges"]), values.astype(float), side="right")
            counts[name] = np.bincount(bins, minlength=len(spec["shares"])).astype(np.int64)
    return counts


def stability_from_counts(profile: dict, counts: dict[str, np.ndarray]) -> dict[str, float]:
    """PSI per field from `profile_counts` (summed over chunks); a field with no claims is left out."""
    result = {}
    for name, spec in input_fields(profile).items():
        observed = counts.get(name)
        if observed is None or observed.sum() == 0:
            continue
        actual = observed / observed.sum()
        expected = np.asarray(list(spec["shares"].values()) if spec["kind"] == "categorical" else spec["shares"],
                              dtype=float)
        if spec["kind"] == "categorical":  # the never-seen bin expects nothing
            expected = np.append(expected, 0.0)
        expected, actual = np.maximum(expected, _FLOOR), np.maximum(actual, _FLOOR)
        result[name] = float(np.sum((actual - expected) * np.log(actual / expected)))
    return result
