"""Is a claims history fit to train on? One verdict - `fit`, `fit with warnings` or `not fit` -
from stated thresholds (FitThresholds), checked on what training would use:

- quarantine share: rows the validator refused, of all rows read;
- missingness per column of the loaded claims (columns where an empty value has a meaning in the
  contract - no procedure code, no diagnosis, no earlier visit, no benefit limit, no denial
  reason, cost sharing not known - are shown, not judged);
- duplicate claim_id: the loader keeps the first and quarantines the rest; judged here on their own;
- outcome consistency: approved claims paid and without a denial reason, denied ones unpaid and
  with one, partial ones paid and with one (claims-contract.md);
- date coverage for the time split: months spanned, months without claims, and a test window
  (the newest test_fraction) with enough claims of both outcomes;
- label drift: the approval rate of the test window against the older claims, and of the file
  against the champion's training claims (its profile's label entry, scoring.profile; a
  profile saved before it is `not judged`);
- feature drift: PSI of every profiled field (significant: above scoring.profile's
  PSI_SIGNIFICANT) against the champion's training profile when there is one, and of the test
  window against the older claims (with procedure code and diagnosis category too).

`fit_to_train` is what notebook 2 opens with and what `train` calls before fitting (a `not fit`
file is refused unless `--allow-unfit`). It lives with the data, not the review notebooks, so that
`train` (training.train) may import it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import COST_SHARING_FIELDS, TARGET
from claims_io.loading import load_claims
from training.data.split import DEFAULT_TEST_FRACTION
from scoring.profile import PSI_SIGNIFICANT, build_profile, label_profile, population_stability
from scoring.rule_evidence import primary_categories

FIT, WARN, NOT_FIT = "fit", "fit with warnings", "not fit"
OK, WARNING, FAIL = "ok", "warning", "fail"
NOT_JUDGED = "not judged"  # the check has nothing to compare with; it never changes the verdict
# Empty means something in the contract for these columns (see the module docstring).
MEANINGFUL_EMPTY = ("procedure_code", "diagnosis_codes", "weeks_since_last_treatment", "benefit_limit",
                    "denial_reason", *COST_SHARING_FIELDS)


@dataclass(frozen=True)
class FitThresholds:
    """Where a check turns into a warning, and where into `not fit` (shares are of claims)."""

    quarantine_warn: float = 0.01
    quarantine_fail: float = 0.05
    missing_warn: float = 0.01
    missing_fail: float = 0.10
    duplicate_warn: float = 0.0  # any duplicate claim_id warns
    duplicate_fail: float = 0.01
    inconsistent_warn: float = 0.0  # any claim whose outcome, payment and reason disagree warns
    inconsistent_fail: float = 0.01
    min_months: int = 6  # months spanned; fewer fail (too little time to split by date)
    max_empty_months: int = 0  # months without claims inside the span; more warn
    min_test_claims: int = 200  # in the test window, and at least min_test_outcome of each outcome
    min_test_outcome: int = 30
    label_drift_warn: float = 0.05  # |approval rate of the test window - of the older claims|, and
                                    # |of the file - of the champion's training claims|
    label_drift_fail: float = 0.15
    psi_warn: float = PSI_SIGNIFICANT  # a field above it warns (named)
    test_fraction: float = DEFAULT_TEST_FRACTION


@dataclass
class FitVerdict:
    verdict: str  # FIT | WARN | NOT_FIT
    checks: pd.DataFrame  # check, value, warn_above, fail_above, status, detail
    missing: pd.DataFrame  # per column: missing share, judged or not
    drift: pd.DataFrame  # per field and comparison: psi, significant
    thresholds: FitThresholds

    def reasons(self) -> list[str]:
        """One line per check that is not ok: `status: check - detail`."""
        return [f"{row.status}: {row.check} - {row.detail}" for row in self.checks.itertuples() if row.status != OK]

    def summary(self) -> str:
        return "\n".join([f"FIT TO TRAIN: {self.verdict.upper()}", *(f"  {line}" for line in self.reasons())])


def _status(value: float, warn_above: float, fail_above: float | None) -> str:
    if fail_above is not None and value > fail_above:
        return FAIL
    return WARNING if value > warn_above else OK


def missing_shares(claims: pd.DataFrame) -> pd.DataFrame:
    """Share of claims without a value, per column (NaN, None or empty text)."""
    rows = []
    for name in claims.columns:
        values = claims[name]
        empty = values.isna().to_numpy().copy()
        if values.dtype == object or isinstance(values.dtype, pd.CategoricalDtype):
            empty |= values.astype(str).str.strip().isin(["", "nan", "None"]).to_numpy()
        rows.append({"column": name, "missing_share": float(empty.mean()) if len(values) else 0.0,
                     "judged": name not in MEANINGFUL_EMPTY})
    return pd.DataFrame(rows).sort_values("missing_share", ascending=False, ignore_index=True)


def inconsistent_outcomes(claims: pd.DataFrame) -> np.ndarray:
    """Claims whose outcome, paid amount and denial reason disagree (claims-contract.md)."""
    outcome = claims["outcome"].astype(str).to_numpy()
    paid = claims["paid_amount"].to_numpy(dtype=float) > 0
    reason = claims["denial_reason"].astype(str).str.strip().to_numpy() != ""
    return (((outcome == "approved") & (~paid | reason)) | ((outcome == "denied") & (paid | ~reason))
            | ((outcome == "partial") & (~paid | ~reason)))


def drift_fields(claims: pd.DataFrame) -> pd.DataFrame:
    """The profiled fields plus procedure code and primary diagnosis category."""
    return claims.assign(procedure_code=claims["procedure_code"].astype(str).to_numpy(),
                         diagnosis_category=primary_categories(claims["diagnosis_codes"].astype(str).to_numpy()))


def _categorical_profile(claims: pd.DataFrame, names) -> dict:
    return {name: {"kind": "categorical",
                   "shares": {str(k): float(v) for k, v in claims[name].astype(str).value_counts(normalize=True).items()}}
            for name in names}


def drift_rows(claims: pd.DataFrame, older: pd.DataFrame, newest: pd.DataFrame,
               training_profile: dict | None) -> pd.DataFrame:
    rows = []
    if training_profile:
        for name, psi in population_stability(training_profile, claims).items():
            rows.append({"comparison": "file vs champion's training claims", "field": name, "psi": psi})
    if len(older) and len(newest):
        extra = ("procedure_code", "diagnosis_category")
        profile = {**build_profile(older), **_categorical_profile(drift_fields(older), extra)}
        for name, psi in population_stability(profile, drift_fields(newest)).items():
            rows.append({"comparison": "test window vs older claims", "field": name, "psi": psi})
    table = pd.DataFrame(rows, columns=["comparison", "field", "psi"])
    table["psi"] = table["psi"].astype(float).round(4)
    return table.sort_values("psi", ascending=False, ignore_index=True)


def fit_to_train(path, training_profile: dict | None = None, thresholds: FitThresholds | None = None,
                 loaded=None) -> FitVerdict:
    """The verdict on one claims history file (see the module docstring); `loaded` reuses a
    claims_io.loading result of the same file instead of reading it again."""
    limits = thresholds or FitThresholds()
    loaded = loaded or load_claims(path, history=True)
    report, claims = loaded.report, loaded.claims
    checks = []

    def check(name, value, warn_above, fail_above, detail, status=None):
        checks.append({"check": name, "value": value, "warn_above": warn_above, "fail_above": fail_above,
                       "status": status or _status(value, warn_above, fail_above), "detail": detail})

    quarantined = report.rows_quarantined / max(report.rows_read, 1)
    check("quarantine share", round(quarantined, 4), limits.quarantine_warn, limits.quarantine_fail,
          f"{report.rows_quarantined} of {report.rows_read} rows ({quarantined:.1%}) quarantined")
    missing = missing_shares(claims)
    judged = missing[missing["judged"]]
    worst = judged.iloc[0] if len(judged) else None
    named = judged[judged["missing_share"] > limits.missing_warn]["column"].tolist()
    check("missingness (worst column)", round(float(worst["missing_share"]) if worst is not None else 0.0, 4),
          limits.missing_warn, limits.missing_fail,
          f"columns over {limits.missing_warn:.0%} empty: {', '.join(named)}" if named else "every judged column filled")
    duplicates = sum(count for reason, count in report.quarantined_by_reason.items()
                     if reason.startswith("claim_id") and "duplicate" in reason)
    share = duplicates / max(report.rows_read, 1)
    check("duplicate claim_id", round(share, 4), limits.duplicate_warn, limits.duplicate_fail,
          f"{duplicates} rows repeat an earlier claim_id (the first was kept)")
    inconsistent = inconsistent_outcomes(claims) if len(claims) else np.zeros(0, dtype=bool)
    check("outcome consistency", round(float(inconsistent.mean()) if len(claims) else 0.0, 4),
          limits.inconsistent_warn, limits.inconsistent_fail,
          f"{int(inconsistent.sum())} claims whose outcome, paid_amount and denial_reason disagree")
    older, newest = _time_windows(claims, limits.test_fraction)
    _date_checks(check, claims, newest, limits)
    if len(older) and len(newest):
        gap = abs(float(newest[TARGET].mean()) - float(older[TARGET].mean()))
        check("label drift (approval rate)", round(gap, 4), limits.label_drift_warn, limits.label_drift_fail,
              f"approval rate {newest[TARGET].mean():.3f} in the test window vs {older[TARGET].mean():.3f} before")
    if training_profile and len(claims):
        _champion_label_check(check, claims, label_profile(training_profile), limits)
    drift = drift_rows(claims, older, newest, training_profile) if len(claims) else \
        pd.DataFrame(columns=["comparison", "field", "psi"])
    drift["significant"] = drift["psi"] > limits.psi_warn
    significant = drift[drift["significant"]]
    check("feature drift (largest PSI)", float(drift["psi"].max()) if len(drift) else 0.0, limits.psi_warn, None,
          "significant: " + "; ".join(f"{row.field} {row.psi:.4f} ({row.comparison})" for row in significant.itertuples())
          if len(significant) else "no field above the significant level")
    table = pd.DataFrame(checks)
    verdict = NOT_FIT if (table["status"] == FAIL).any() else WARN if (table["status"] == WARNING).any() else FIT
    return FitVerdict(verdict, table, missing, drift, limits)


def _champion_label_check(check, claims: pd.DataFrame, trained_on: dict | None, limits: FitThresholds) -> None:
    name = "label drift vs the champion's training claims"
    if trained_on is None:
        check(name, np.nan, limits.label_drift_warn, limits.label_drift_fail,
              "the champion's profile predates approval rates (saved before them): retrain it to compare",
              status=NOT_JUDGED)
        return
    rate = float(claims[TARGET].mean())
    gap = abs(rate - trained_on["approval_rate"])
    check(name, round(gap, 4), limits.label_drift_warn, limits.label_drift_fail,
          f"approval rate {rate:.3f} in this file vs {trained_on['approval_rate']:.3f} in the champion's "
          f"{trained_on['claims']:,} training claims ({trained_on['first_date']} .. {trained_on['last_date']})")


def _time_windows(claims: pd.DataFrame, test_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(older claims, the newest `test_fraction`): the windows a time split trains and tests on."""
    ordered = claims.sort_values("service_date", kind="stable")
    start = len(ordered) - int(round(len(ordered) * test_fraction))
    return ordered.iloc[:start], ordered.iloc[start:]


def _date_checks(check, claims: pd.DataFrame, newest: pd.DataFrame, limits: FitThresholds) -> None:
    if claims.empty:
        check("date coverage (months spanned)", 0, None, None, "no valid claims", status=FAIL)
        return
    months = claims["service_date"].dt.to_period("M")
    span = pd.period_range(months.min(), months.max(), freq="M")
    empty = sorted(set(span.astype(str)) - set(months.astype(str)))
    check("date coverage (months spanned)", len(span), None, None,
          f"{span[0]} .. {span[-1]}: {len(span)} months (fewer than {limits.min_months} fail)",
          status=FAIL if len(span) < limits.min_months else OK)
    check("date coverage (months without claims)", len(empty), limits.max_empty_months, None,
          f"empty months: {', '.join(empty)}" if empty else "every month has claims")
    approved = int(newest[TARGET].sum())
    minority = min(approved, len(newest) - approved)
    check("test window size", len(newest), None, None,
          f"{len(newest)} claims in the newest {limits.test_fraction:.0%} ({approved} approved); need "
          f"{limits.min_test_claims} with {limits.min_test_outcome} of each outcome",
          status=FAIL if len(newest) < limits.min_test_claims or minority < limits.min_test_outcome else OK)
