"""What notebooks/02-claims-data-profile.ipynb shows about one claims file: volume by month,
approval rates, denial reasons, the validator's quarantine report, and drift against a model's
training profile: of the inputs (PSI) and of the label (the approval rate, overall and per
treatment, against the profile's label entry). The notebook only calls these functions; tests call them directly.

Figures are `matplotlib.figure.Figure` objects built without pyplot (see training.plots).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.carc import describe_carc
from features.contract import TARGET
from claims_io.loading import load_claims
from scoring.profile import (PSI_MODERATE, PSI_SIGNIFICANT, label_profile, population_stability,
                                    too_few_for_drift)
from training.review.versions import ReviewInputError


@dataclass
class ClaimsProfile:
    """What notebook 2 shows about one claims file."""

    report: object  # claims_io.loading.LoadReport
    quarantine: pd.DataFrame  # problem lines by reason (the validator's report)
    volume: pd.DataFrame  # per month: claims, approval rate, billed
    approval: dict[str, pd.DataFrame]  # per column: approval rate by value
    denial_reasons: pd.DataFrame
    drift: pd.DataFrame | None = None  # PSI per field against a training profile
    top_shift: pd.DataFrame | None = None  # shares by value of each significantly shifted categorical field
                                           # (none significant: the one that moved most)
    label_drift: pd.DataFrame | None = None  # approval rate here against the training claims (label_drift_table)
    claims: pd.DataFrame = field(default=None, repr=False)


def claims_profile(path, training_profile: dict | None = None) -> ClaimsProfile:
    """Load a claims history file (quarantining bad rows) and profile it; with a model's
    `training_profile`, also its drift against the model's training claims."""
    if path is None:
        raise ReviewInputError("set claims_file to the claims history file to profile")
    loaded = load_claims(path, history=True)
    claims = loaded.claims
    drift = drift_table(training_profile, claims) if training_profile and len(claims) else None
    shifted = None
    if drift is not None:
        categorical = drift[[training_profile[name]["kind"] == "categorical" for name in drift["field"]]]
        # every significantly shifted field, else the one that moved most
        names = categorical.loc[categorical["shift"] == "significant", "field"].tolist() or categorical["field"][:1].tolist()
        shifted = pd.concat([share_comparison(training_profile, claims, name) for name in names],
                            ignore_index=True) if names else None
    return ClaimsProfile(
        report=loaded.report,
        quarantine=quarantine_table(loaded.report),
        volume=volume_by_month(claims),
        approval={column: approval_by(claims, column) for column in ("treatment", "plan_type", "facility_type")},
        denial_reasons=denial_reason_table(claims),
        drift=drift,
        top_shift=shifted,
        label_drift=label_drift_table(training_profile, claims) if training_profile and len(claims) else None,
        claims=claims,
    )


def quarantine_table(report) -> pd.DataFrame:
    """The validator's problem lines by reason (a row with two problems counts under both)."""
    items = list(report.quarantined_by_reason.items())
    return pd.DataFrame({"reason": [key for key, _ in items], "problem_lines": [count for _, count in items]})


def volume_by_month(claims: pd.DataFrame) -> pd.DataFrame:
    months = claims["service_date"].dt.to_period("M").astype(str)
    grouped = claims.assign(month=months.to_numpy()).groupby("month", sort=True)
    return pd.DataFrame({"claims": grouped.size(), "approval_rate": grouped[TARGET].mean(),
                         "billed_amount": grouped["billed_amount"].sum()}).reset_index()


def approval_by(claims: pd.DataFrame, column: str) -> pd.DataFrame:
    grouped = claims.assign(**{column: claims[column].astype(str).to_numpy()}).groupby(column, sort=False)
    table = pd.DataFrame({"claims": grouped.size(), "approval_rate": grouped[TARGET].mean(),
                          "mean_paid": grouped["paid_amount"].mean()})
    return table.sort_values("claims", ascending=False).reset_index()


def denial_reason_table(claims: pd.DataFrame) -> pd.DataFrame:
    """Denied claims by CARC, with its description and share of denials."""
    denied = claims.loc[~claims[TARGET].to_numpy(dtype=bool), "denial_reason"].astype(str)
    counts = denied.replace("", "(none given)").value_counts()
    return pd.DataFrame({"carc": counts.index.astype(str),
                         "description": [describe_carc(code) if code != "(none given)" else ""
                                         for code in counts.index],
                         "claims": counts.to_numpy(), "share_of_denials": counts.to_numpy() / max(len(denied), 1)})


def drift_table(training_profile: dict, claims: pd.DataFrame) -> pd.DataFrame:
    """Population stability index of each profiled field against the training claims; the shift is
    named only when the file has enough claims to tell drift from noise."""
    psi = population_stability(training_profile, claims)
    too_few = too_few_for_drift(len(claims))
    levels = [too_few or ("significant" if value > PSI_SIGNIFICANT else "moderate" if value > PSI_MODERATE
                          else "stable") for value in psi.values()]
    return pd.DataFrame({"field": list(psi), "psi": np.round(list(psi.values()), 4), "shift": levels}).sort_values(
        "psi", ascending=False, ignore_index=True)


def label_drift_table(training_profile: dict, claims: pd.DataFrame, z: float = 1.96) -> pd.DataFrame | None:
    """The approval rate of the file against the model's training claims, overall (first row) and
    per treatment (largest difference first): both rates and counts, the difference with a 95%
    interval (normal approximation of two proportions) and `shifted` when the interval excludes 0.
    None for a profile saved before it held the label (scoring.profile.label_profile)."""
    trained = label_profile(training_profile)
    if trained is None:
        return None
    approved = claims[TARGET].to_numpy(dtype=bool)
    treatments = claims["treatment"].astype(str).to_numpy()
    rows = [("all claims", trained["claims"], trained["approval_rate"], approved)]
    for name in sorted(set(treatments) | set(trained["by_treatment"])):
        seen = trained["by_treatment"].get(name, {"claims": 0, "approval_rate": np.nan})
        rows.append((name, seen["claims"], seen["approval_rate"], approved[treatments == name]))
    table = pd.DataFrame([{"treatment": name, "training_claims": count, "training_approval_rate": rate,
                           "file_claims": len(here), "file_approval_rate": here.mean() if len(here) else np.nan}
                          for name, count, rate, here in rows])
    p1, n1 = table["file_approval_rate"], table["file_claims"].replace(0, np.nan)
    p0, n0 = table["training_approval_rate"], table["training_claims"].replace(0, np.nan)
    table["difference"] = p1 - p0
    spread = z * np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    table["low"], table["high"] = table["difference"] - spread, table["difference"] + spread
    table["shifted"] = (table["low"] > 0) | (table["high"] < 0)
    overall, per_treatment = table.iloc[:1], table.iloc[1:]
    per_treatment = per_treatment.sort_values("difference", key=np.abs, ascending=False, na_position="last")
    table = pd.concat([overall, per_treatment], ignore_index=True)
    table.attrs["training_dates"] = f"{trained['first_date']} .. {trained['last_date']}"
    return table


def share_comparison(training_profile: dict, claims: pd.DataFrame, name: str) -> pd.DataFrame:
    """A categorical field's share of each value in training and in this file."""
    spec = training_profile[name]
    if spec["kind"] != "categorical":
        raise ReviewInputError(f"{name} is numeric in the profile; only categorical fields have shares by value")
    observed = claims[name].astype(str).value_counts(normalize=True)
    values = list(dict.fromkeys([*spec["shares"], *observed.index]))
    table = pd.DataFrame({"field": name, "value": values,
                          "training_share": [spec["shares"].get(v, 0.0) for v in values],
                          "file_share": [float(observed.get(v, 0.0)) for v in values]})
    table["difference"] = table["file_share"] - table["training_share"]
    return table.sort_values("difference", key=np.abs, ascending=False, ignore_index=True)


def volume_figure(volume: pd.DataFrame) -> Figure:
    """Claims per month (bars) and the approval rate (line)."""
    figure = Figure(figsize=(11, 4))
    axes = figure.subplots()
    axes.bar(volume["month"], volume["claims"], color="#9bb7d4")
    axes.set(ylabel="claims", title="Claims per month and approval rate")
    axes.tick_params(axis="x", labelrotation=90, labelsize=7)
    rate = axes.twinx()
    rate.plot(volume["month"], volume["approval_rate"], color="#c0392b", marker=".")
    rate.set(ylabel="approval rate")  # its own scale: a 0-1 axis hides month-to-month change
    figure.tight_layout()
    return figure
