"""Evaluate a fitted CoverageModel on the test split, against baselines and (for demo history)
against the true approval probabilities.

What is measured, all on the newest (test) claims:
- the whole system as it serves (`approval_probability`: the rule's smoothed paid share in the
  training history where a hard rule excludes the claim, else
  the calibrated classifier) on every test claim: ROC AUC, PR AUC, Brier, log loss and expected
  calibration error (ECE);
- the classifier alone (`model_probability`) on the claims no rule excludes: its actual job;
- baselines on the same split: `rules_only` (excluded -> the rule's paid share, else the training approval rate of
  non-excluded claims), `logreg` (logistic regression on the same feature pipeline, for the
  claims no rule excludes) and `raw_gbm` (untuned gradient boosting on the raw columns, no rules,
  no feature pipeline: the bar the issue says the pipeline must clear);
- denial reasons: top-1 and top-3 accuracy on denied test claims that carry a CARC, of the
  ranking the service gives (fired rules' CARCs for excluded claims, else the denial-reason
  model's); `test_classifier_denial_*` on the claims no rule excludes (the model's own share).
  A pooled `other` class never counts as a hit;
- per slice (plan_type, treatment, facility_type, benefit_scope): AUC, Brier, ECE and rows;
- with a truth file (demo history): the same metrics of the true probabilities, and the ratios
  model AUC / truth AUC and model Brier / truth Brier; and the expected Brier ratio, free of the
  test outcomes' noise (`expected_brier_ratio`).

ECE uses ECE_BINS = 15 equal-width probability bins over [0, 1]:
    ECE = sum over bins of (claims in bin / all claims) * |approval rate in bin - mean probability in bin|.

Slice flags: a slice with at least `min_slice_rows` test claims is flagged when its AUC is more
than `slice_auc_drop` below the reference AUC (judged only when each outcome has at least
`min_slice_outcome` claims), or its ECE more than `slice_ece_rise` above the reference ECE. The
reference is the truth's metric on the same slice when a truth file is given (a slice that is
hard for the best possible model is not the model's fault), else the overall test metric.
Defaults 0.05 / 0.05, 500 rows, 30 per outcome: below that, AUC and ECE of a good model are
themselves noisy at the 0.03-0.05 level and flags would be noise. (A slice the rules decide
wholly, such as facials, scores 0 throughout: its AUC is 0.5 when a rare approval exists, which
is why the per-outcome minimum matters.)

Flat metric keys (MLflow): `test_<metric>` (system), `test_classifier_<metric>`,
`test_<baseline>_<metric>`, `test_truth_<metric>`, `test_auc_ratio_to_truth`,
`test_brier_ratio_to_truth`, `test_expected_brier_ratio_to_truth`, `test_<metric>__<slice column>_<value>` (e.g. `test_auc__plan_type_hmo`),
`test_rows__<slice>`, `test_slices_flagged`, `test_denial_top1_accuracy`,
`test_denial_top3_accuracy`, `test_classifier_denial_top1_accuracy`,
`test_classifier_denial_top3_accuracy`; where <metric> is one of METRIC_NAMES.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import TARGET
from features.rules import RULE_COLUMNS, load_rules
from scoring.metrics import ECE_BINS, METRIC_NAMES, binary_metrics, calibration_table

SLICE_COLUMNS = ("plan_type", "treatment", "facility_type", "benefit_scope")
TRUTH_COLUMN = "true_approval_probability"
# Table rows in print order: name -> what it is.
SCORERS = {
    "system": "rules + calibrated classifier, every test claim",
    "classifier": "calibrated classifier alone, claims no rule excludes",
    "rules_only": "baseline: excluded -> the rule's paid share, else the training approval rate",
    "logreg": "baseline: logistic regression on the same features (+ rules)",
    "raw_gbm": "baseline: untuned gradient boosting on raw columns, no rules",
    "truth": "the true probabilities (demo history only)",
}


@dataclass
class EvaluationParams:
    ece_bins: int = ECE_BINS
    min_slice_rows: int = 500
    min_slice_outcome: int = 30
    slice_auc_drop: float = 0.05
    slice_ece_rise: float = 0.05
    # Baselines are fitted on at most this many training claims (they are yardsticks, not products).
    baseline_max_rows: int = 100_000
    raw_gbm_baseline: bool = True
    random_state: int = 0


@dataclass
class Evaluation:
    metrics: dict[str, float]  # flat keys, see the module docstring
    report: dict  # the JSON document written as evaluation.json
    scores: pd.DataFrame  # one row per test claim: target and every scorer's probability (plots)
    flags: list[dict] = field(default_factory=list)

    def table(self) -> str:
        """The metrics of each scorer as a fixed-width text table."""
        header = f"{'scorer':<11}" + "".join(f"{name:>10}" for name in METRIC_NAMES) + "  rows"
        lines = [header]
        for scorer, values in self.report["scorers"].items():
            cells = "".join(f"{_format(values.get(name)):>10}" for name in METRIC_NAMES)
            lines.append(f"{scorer:<11}{cells}  {values['rows']}")
        for name in ("test_auc_ratio_to_truth", "test_brier_ratio_to_truth", "test_expected_brier_ratio_to_truth",
                     "test_denial_top1_accuracy", "test_denial_top3_accuracy"):
            if name in self.metrics:
                lines.append(f"{name}: {self.metrics[name]:.4f}")
        for flag in self.flags:
            lines.append(f"FLAG {flag['slice']}: {flag['reason']}")
        return "\n".join(lines)


def _format(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def system_metrics(model, claims: pd.DataFrame, bins: int = ECE_BINS) -> dict[str, float]:
    """The served system's metrics on history claims (what the promotion gate compares)."""
    scored = model.score_frame(claims)
    return binary_metrics(claims[TARGET].to_numpy(dtype=bool), scored["approval_probability"].to_numpy(), bins)


# -- truth ----------------------------------------------------------------------------------
def expected_brier_ratio(probability, truth, truth_brier: float) -> float:
    """Model Brier / truth Brier as its mean over draws of the test outcomes from the truth.

    Brier(p) - Brier(q) = mean((p - q)^2) + 2 mean((p - q)(q - y)); the second term has mean 0 over
    outcome draws but not on one draw (on 40,000 test claims its standard deviation is about 0.004
    of the truth's Brier), so the measured ratio moves with the draw and this one does not.
    """
    distance = float(np.mean((np.asarray(probability, float) - np.asarray(truth, float)) ** 2))
    return 1.0 + distance / truth_brier


def default_truth_path(data_path: str | Path) -> Path:
    """`claims.csv` -> `claims.truth.csv` (beside the data, same extension)."""
    data_path = Path(data_path)
    return data_path.with_name(f"{data_path.stem}.truth{data_path.suffix}")


def read_truth(path: str | Path) -> pd.Series:
    """claim_id -> true approval probability, from a CSV or Parquet truth file."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path, columns=["claim_id", TRUTH_COLUMN])
    elif path.suffix.lower() in (".jsonl", ".json"):
        frame = pd.read_json(path, lines=True, dtype={"claim_id": str})
    else:
        frame = pd.read_csv(path, usecols=["claim_id", TRUTH_COLUMN], dtype={"claim_id": str})
    return pd.Series(frame[TRUTH_COLUMN].to_numpy(dtype=float), index=frame["claim_id"].astype(str),
                     name=TRUTH_COLUMN)


# -- baselines ------------------------------------------------------------------------------
def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= rows else frame.sample(rows, random_state=seed)


def fit_logreg_baseline(train_kept: pd.DataFrame, params: EvaluationParams):
    """Logistic regression on the project's feature pipeline (scaled, missing values imputed)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from features.pipeline import build_feature_pipeline

    sample = _sample(train_kept, params.baseline_max_rows, params.random_state)
    pipeline = make_pipeline(build_feature_pipeline(), SimpleImputer(keep_empty_features=True),
                             StandardScaler(), LogisticRegression(max_iter=500))
    with threadpool_limits(limits=1, user_api="blas"):  # as the denial model: training.model_fitting says why
        return pipeline.fit(sample, sample[TARGET].to_numpy(dtype=bool))


RAW_CATEGORICAL = ("treatment", "plan_type", "benefit_scope", "facility_type", "place_of_service")
RAW_NUMERIC = ("in_network", "referral", "medical_necessity_letter", "prior_authorization",
               "conservative_therapy_documented", "visit_number", "weeks_since_last_treatment",
               "patient_age", "billed_amount", "benefit_limit", "benefit_used")
_RAW_MAX_CODES = 200  # distinct primary diagnoses kept as categories; the rest share one


def _raw_frame(claims: pd.DataFrame, primary_codes: list[str]) -> pd.DataFrame:
    """The claim columns as they come, in the form HistGradientBoosting takes natively."""
    frame = pd.DataFrame({name: claims[name].astype(str).astype("category") for name in RAW_CATEGORICAL})
    for name in RAW_NUMERIC:
        frame[name] = claims[name].to_numpy(dtype=float)
    primary = claims["diagnosis_codes"].astype(str).str.split(";", n=1).str[0]
    frame["primary_diagnosis"] = pd.Categorical(primary.where(primary.isin(primary_codes), "other"),
                                                categories=[*primary_codes, "other"])
    frame["diagnosis_count"] = claims["diagnosis_codes"].astype(str).str.count(";").to_numpy() + \
        (claims["diagnosis_codes"].astype(str) != "").to_numpy()
    return frame


def fit_raw_gbm_baseline(train: pd.DataFrame, params: EvaluationParams):
    from sklearn.ensemble import HistGradientBoostingClassifier

    sample = _sample(train, params.baseline_max_rows, params.random_state)
    primary = sample["diagnosis_codes"].astype(str).str.split(";", n=1).str[0]
    codes = [str(code) for code in primary.value_counts().index[:_RAW_MAX_CODES]]
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=params.random_state)
    model.fit(_raw_frame(sample, codes), sample[TARGET].to_numpy(dtype=bool))
    return model, codes


def raw_gbm_baseline_scores(train: pd.DataFrame, test: pd.DataFrame, params: EvaluationParams) -> np.ndarray:
    """The raw-columns baseline's approval probability of each test claim."""
    raw_gbm, codes = fit_raw_gbm_baseline(train, params)
    return raw_gbm.predict_proba(_raw_frame(test, codes))[:, 1]


# -- denial reasons -------------------------------------------------------------------------
def denial_reason_accuracy(model, claims: pd.DataFrame, excluded: np.ndarray) -> dict[str, float]:
    """Top-1 / top-3 accuracy of the served CARC ranking on denied claims that carry a CARC.

    The ranking is what the service answers: for a claim rules exclude, the CARCs of the hard
    rules that fire, in table order; otherwise the denial-reason model's three most probable CARCs.
    """
    denied = ~claims[TARGET].to_numpy(dtype=bool) & (claims["denial_reason"].astype(str).to_numpy() != "")
    if not denied.any():
        return {}
    truth = claims["denial_reason"].astype(str).to_numpy()[denied]
    ranked = np.full((len(truth), 3), "", dtype=object)
    excluded_denied = excluded[denied]
    kept_claims = claims[denied][~excluded_denied]
    if len(kept_claims):
        probabilities = model.denial_reason_probabilities(kept_claims)
        classes = probabilities.columns.to_numpy().astype(str).astype(object)
        order = np.argsort(-probabilities.to_numpy(), axis=1)[:, :3]
        ranked[~excluded_denied, :order.shape[1]] = classes[order]
    if excluded_denied.any():
        rules = load_rules().rules
        excluded_claims = claims[denied][excluded_denied]
        hard = model.judge({name: excluded_claims[name].to_numpy() for name in RULE_COLUMNS}).hard
        carcs = [list(dict.fromkeys(rules[i].carc for i in np.flatnonzero(row)))[:3] for row in hard]
        ranked[excluded_denied] = [carc + [""] * (3 - len(carc)) for carc in carcs]
    hit1 = ranked[:, 0] == truth
    hit3 = (ranked == truth[:, None]).any(axis=1)
    result = {"test_denial_top1_accuracy": float(hit1.mean()), "test_denial_top3_accuracy": float(hit3.mean()),
              "test_denial_rows": float(len(truth))}
    if (~excluded_denied).any():
        result["test_classifier_denial_top1_accuracy"] = float(hit1[~excluded_denied].mean())
        result["test_classifier_denial_top3_accuracy"] = float(hit3[~excluded_denied].mean())
    return result


# -- slices ---------------------------------------------------------------------------------
def slice_metrics(scores: pd.DataFrame, claims: pd.DataFrame, overall: dict[str, float],
                  params: EvaluationParams, with_truth: bool) -> tuple[dict[str, float], list[dict], list[dict]]:
    """Flat slice metrics, a JSON-ready table of slices, and the flagged slices."""
    metrics, table, flags = {}, [], []
    y = scores[TARGET].to_numpy(dtype=bool)
    excluded = scores["excluded"].to_numpy(dtype=bool)
    probability = scores["system"].to_numpy()
    truth = scores["truth"].to_numpy() if with_truth else None
    for column in SLICE_COLUMNS:
        values = claims[column].astype(str).to_numpy()
        for value in sorted(set(values)):
            rows = values == value
            name = f"{column}_{value.replace('|', '_or_')}"  # MLflow metric keys refuse `|` (shared codes)
            found = binary_metrics(y[rows], probability[rows], params.ece_bins)
            excluded_share = float(excluded[rows].mean())
            entry = {"column": column, "value": value, "rows": int(rows.sum()),
                     "approval_rate": float(y[rows].mean()), "excluded_share": excluded_share,
                     **{metric: found[metric] for metric in ("auc", "brier", "ece")}}
            reference = overall
            if truth is not None:
                reference = binary_metrics(y[rows], truth[rows], params.ece_bins)
                entry.update({f"truth_{metric}": reference[metric] for metric in ("auc", "brier", "ece")})
            table.append(entry)
            metrics[f"test_rows__{name}"] = float(rows.sum())
            for metric in ("auc", "brier", "ece"):
                if not math.isnan(found[metric]):
                    metrics[f"test_{metric}__{name}"] = found[metric]
            if rows.sum() < params.min_slice_rows:
                continue
            against = "truth on the slice" if truth is not None else "overall"
            reasons = []
            minority = min(int(y[rows].sum()), int((~y[rows]).sum()))
            if minority >= params.min_slice_outcome and found["auc"] < reference["auc"] - params.slice_auc_drop:
                reasons.append(f"AUC {found['auc']:.3f} vs {reference['auc']:.3f} {against}")
            if found["ece"] > reference["ece"] + params.slice_ece_rise:
                reasons.append(f"ECE {found['ece']:.3f} vs {reference['ece']:.3f} {against}")
            if reasons:
                if excluded_share == 1.0:  # nothing for the classifier to fix: the rule table decides
                    reasons.append("rules exclude every claim of this slice")
                entry["flagged"] = True
                flags.append({"slice": name, "rows": int(rows.sum()), "reason": "; ".join(reasons)})
    metrics["test_slices_flagged"] = float(len(flags))
    return metrics, table, flags


# -- the whole evaluation -------------------------------------------------------------------
def evaluate(model, train: pd.DataFrame, test: pd.DataFrame, truth: pd.Series | None = None,
             params: EvaluationParams | None = None) -> Evaluation:
    """Score the test claims with the model and every baseline; see the module docstring."""
    params = params or EvaluationParams()
    # The raw-columns baseline needs neither the model nor the other scorers: it is fitted beside
    # them, its trees' threads filling the core the scoring and the logistic baseline leave idle.
    raw_gbm_scores = None
    if params.raw_gbm_baseline:
        beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="raw-gbm-baseline")
        raw_gbm_scores = beside.submit(raw_gbm_baseline_scores, train, test, params)
        beside.shutdown(wait=False)  # the thread ends with its one task
    y = test[TARGET].to_numpy(dtype=bool)
    scored = model.score_frame(test)
    excluded = scored["excluded"].to_numpy(dtype=bool)
    scores = pd.DataFrame({TARGET: y, "excluded": excluded,
                           "system": scored["approval_probability"].to_numpy(dtype=float),
                           "classifier": scored["model_probability"].to_numpy(dtype=float)}, index=test.index)

    train_excluded = model.excluded(train)
    train_kept = train[~train_excluded]
    kept_rate = float(train_kept[TARGET].mean()) if len(train_kept) else 0.0
    scores["rules_only"] = np.where(excluded, scored["approval_probability"].to_numpy(dtype=float), kept_rate)
    logreg = fit_logreg_baseline(train_kept, params)
    scores["logreg"] = 0.0
    if (~excluded).any():
        scores.loc[~excluded, "logreg"] = logreg.predict_proba(test[~excluded])[:, 1]
    if raw_gbm_scores is not None:
        scores["raw_gbm"] = raw_gbm_scores.result()
    if truth is not None:
        matched = truth.reindex(test["claim_id"].astype(str).to_numpy())
        if matched.isna().any():
            raise ValueError(f"the truth file has no probability for {int(matched.isna().sum())} test claims")
        scores["truth"] = matched.to_numpy(dtype=float)

    report_scorers, metrics = {}, {}
    for scorer in SCORERS:
        if scorer not in scores.columns:
            continue
        rows = ~excluded if scorer == "classifier" else np.ones(len(scores), dtype=bool)
        found = binary_metrics(y[rows], scores[scorer].to_numpy()[rows], params.ece_bins)
        report_scorers[scorer] = {**found, "rows": int(rows.sum()), "what": SCORERS[scorer]}
        prefix = "test" if scorer == "system" else f"test_{scorer}"
        metrics.update({f"{prefix}_{name}": value for name, value in found.items() if not math.isnan(value)})
    overall = report_scorers["system"]
    if "truth" in report_scorers:
        metrics["test_auc_ratio_to_truth"] = overall["auc"] / report_scorers["truth"]["auc"]
        metrics["test_brier_ratio_to_truth"] = overall["brier"] / report_scorers["truth"]["brier"]
        metrics["test_expected_brier_ratio_to_truth"] = expected_brier_ratio(
            scores["system"].to_numpy(), scores["truth"].to_numpy(), report_scorers["truth"]["brier"])
    metrics["test_rows"] = float(len(test))
    metrics["test_excluded_share"] = float(excluded.mean()) if len(test) else 0.0
    metrics["test_approval_rate"] = float(y.mean()) if len(test) else 0.0
    metrics.update(denial_reason_accuracy(model, test, excluded))
    slice_flat, slice_table, flags = slice_metrics(scores, test, overall, params, "truth" in scores.columns)
    metrics.update(slice_flat)

    report = {
        "ece_bins": params.ece_bins,
        "params": asdict(params),
        "scorers": report_scorers,
        "rules_only_rate": kept_rate,
        "calibration": calibration_table(y, scores["system"], params.ece_bins).to_dict(orient="records"),
        "slices": slice_table,
        "flags": flags,
        "denial_reasons": {key: value for key, value in metrics.items() if "denial" in key},
        "metrics": metrics,
    }
    return Evaluation(metrics=metrics, report=report, scores=scores, flags=flags)
