"""What a reviewer needs to judge a challenger before it serves (notebooks/01-model-review.ipynb).

The notebook only calls these functions and shows what they return; tests call them directly.

Model review, in notebook order:
- which versions: training.review.versions (`open_client`, `resolve_version`,
  `champion_for_review`, `load_models`);
- on which claims: `review_claims` - a given test file, or the run's own test split, rebuilt by
  re-splitting the run's data file by date with the run's logged fractions. MLflow records only
  the data file's name and sha256, so the file is looked up by name (in `data_dir`, else the
  working directory, the project and its data/ folder) and used only when its sha256 and the
  rebuilt test size match the run; otherwise the reviewer must name a test file;
- `compare_versions` (metrics each run logged, with the gate's verdict from the version tags),
  `review_scores` and `metrics_on_claims` (both models on the same claims);
- feature effects: `permutation_importance_table`, `partial_dependence_table` (+ figure),
  `monotonic_check`;
- rules: `rule_firing_table`, `rule_evidence_side_by_side`, `excluded_but_paid`; errors:
  `confident_misses` (each model's, with every model's probability); advice: `advice_summary`.

The rest of the review has a module each: the verdict the notebook opens with and the guard on the
decision (training.review.verdict), band changes and costs (bands), slices (slices), the curves
(curves), and the kept decision (records: one MLflow run per review with the executed notebook).

Figures are `matplotlib.figure.Figure` objects built without pyplot (see training.plots).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from features.claim_facts import frame_to_columns
from features.contract import CLEAN_COLUMNS, MONOTONIC_FLAGS, TARGET
from features.rules import load_rules
from claims_io.loading import load_claims
from training.data.split import split_by_date
from scoring.metrics import ECE_BINS, binary_metrics
from training.evaluation import SLICE_COLUMNS
from scoring.artifacts import file_sha256
from common.paths import PROJECT_ROOT
from training.plots import feature_effects
from training.review.versions import ReviewInputError, label, resolve_version

# Metrics each training run logs, in the order a reviewer reads them (training.evaluation).
HEADLINE_METRICS = (
    "test_auc", "test_pr_auc", "test_brier", "test_log_loss", "test_ece",
    "test_classifier_auc", "test_classifier_ece", "test_rules_only_auc", "test_logreg_auc", "test_raw_gbm_auc",
    "test_truth_auc", "test_auc_ratio_to_truth", "test_brier_ratio_to_truth",
    "test_denial_top1_accuracy", "test_denial_top3_accuracy", "test_slices_flagged",
    "test_approval_rate", "test_excluded_share", "rows_train", "rows_validation", "rows_test",
)
GATE_METRICS = ("auc", "ece", "brier")  # the champion's, scored on the challenger's test claims
# Inputs permuted together: they describe one thing, and one alone would make impossible claims.
PERMUTATION_GROUPS = {
    "treatment + procedure_code": ("treatment", "procedure_code"),
    "diagnosis_codes": ("diagnosis_codes",),
    "plan_type": ("plan_type",),
    "benefit_scope": ("benefit_scope",),
    "facility_type + place_of_service": ("facility_type", "place_of_service"),
    "in_network": ("in_network",),
    "referral": ("referral",),
    "medical_necessity_letter": ("medical_necessity_letter",),
    "prior_authorization": ("prior_authorization",),
    "conservative_therapy_documented": ("conservative_therapy_documented",),
    "visit_number + weeks_since_last_treatment": ("visit_number", "weeks_since_last_treatment"),
    "patient_age": ("patient_age",),
    "billed_amount": ("billed_amount",),
    "benefit_limit + benefit_used": ("benefit_limit", "benefit_used"),
    "service_date": ("service_date",),
}
MISS_COLUMNS = ("claim_id", "service_date", "treatment", "procedure_code", "diagnosis_codes", "plan_type",
                "benefit_scope", "facility_type", "in_network", "referral", "medical_necessity_letter",
                "prior_authorization", "conservative_therapy_documented", "visit_number",
                "weeks_since_last_treatment", "patient_age", "billed_amount", "benefit_limit", "benefit_used",
                "outcome", "paid_amount", "denial_reason")


# -- on which claims --------------------------------------------------------------------------
@dataclass
class ReviewClaims:
    claims: pd.DataFrame  # clean history claims (claims_io.loading)
    source: str  # one sentence: where they come from
    rows_quarantined: int = 0


def review_claims(client, run_id: str, test_file=None, data_dir=None) -> ReviewClaims:
    """The claims to review a run's model on: every valid claim of `test_file`, or (None) the
    run's own test split, rebuilt from its data file (see the module docstring)."""
    run = client.get_run(run_id)
    if test_file is not None:
        loaded = load_claims(test_file, history=True)
        claims = loaded.claims
        if claims.empty:
            raise ReviewInputError(f"{test_file}: no valid claims (run `medspa-coverage validate` on it)")
        seen = file_sha256(test_file) == run.data.tags.get("data_sha256")
        return ReviewClaims(claims, f"every valid claim of {Path(test_file).name}: {len(claims)} claims, "
                                    f"{_date_range(claims)} ({loaded.report.rows_quarantined} rows quarantined)"
                                    + ("; the challenger trained on most of them, which flatters it" if seen else ""),
                            loaded.report.rows_quarantined)
    path = run_data_file(run, data_dir)
    params, tags = run.data.params, run.data.tags
    loaded = load_claims(path, history=True)
    split = split_by_date(loaded.claims, float(params["validation_fraction"]), float(params["test_fraction"]))
    if str(len(split.test)) != tags.get("rows_test"):
        raise ReviewInputError(f"re-splitting {path} gives {len(split.test)} test claims, the run logged "
                               f"{tags.get('rows_test')}; set test_file")
    return ReviewClaims(split.test, f"the test split of run {run_id[:8]}: the newest "
                                    f"{float(params['test_fraction']):.0%} of {path.name} (sha256 as logged), "
                                    f"{len(split.test)} claims, {_date_range(split.test)}",
                        loaded.report.rows_quarantined)


def run_data_file(run, data_dir=None) -> Path:
    """The run's data file, found by its logged name and checked against its logged sha256."""
    tags, params = run.data.tags, run.data.params
    logged = params.get("data_file") or tags.get("data_file")
    expected = tags.get("data_sha256")
    if not logged or not expected:
        raise ReviewInputError(f"run {run.info.run_id} logged no data file; set test_file")
    if "data_input_2_file" in tags:  # `train --data a --data b`: no one file holds its test split
        raise ReviewInputError(f"run {run.info.run_id} trained on several files ({logged}); set test_file to the "
                               "claims to review on")
    logged = Path(logged)
    folders = [Path(data_dir)] if data_dir else [Path.cwd(), PROJECT_ROOT, PROJECT_ROOT / "data"]
    candidates = [logged] if logged.is_absolute() else [folder / logged.name for folder in folders]
    for candidate in candidates:
        if candidate.is_file() and file_sha256(candidate) == expected:
            return candidate
    where = ", ".join(str(folder) for folder in (candidates if logged.is_absolute() else folders))
    raise ReviewInputError(f"run {run.info.run_id} trained on {logged.name} (sha256 {expected[:12]}...), which is "
                           f"not in {where}; set data_dir to the folder that holds it, or test_file")


def _date_range(claims: pd.DataFrame) -> str:
    dates = claims["service_date"]
    return f"{dates.min().date()} .. {dates.max().date()}" if len(claims) else "no dates"


# -- metrics ------------------------------------------------------------------------------------
def gate_verdict(version) -> dict[str, str]:
    """What the gate decided when this version was registered (its tags)."""
    tags = version.tags
    return {"version": str(version.version), "decision": tags.get("gate_decision", "not gated"),
            "reason": tags.get("gate_reason", ""), "champion_before": tags.get("gate_champion_before", "none")}


def compare_versions(client, name: str, challenger, champion=None) -> pd.DataFrame:
    """Each version's logged test metrics side by side (each on its own run's test split), and
    the champion's metrics on the challenger's test claims as the gate scored them.

    The gate's verdict, from the challenger's version tags, is in `.attrs["gate"]`.
    """
    challenger = resolve_version(client, name, challenger)
    columns = {label(challenger, "challenger"): client.get_run(challenger.run_id).data.metrics}
    if champion is not None:
        champion = resolve_version(client, name, champion)
        columns[label(champion, "champion")] = client.get_run(champion.run_id).data.metrics
    rows = [key for key in HEADLINE_METRICS if any(key in metrics for metrics in columns.values())]
    table = pd.DataFrame({column: [metrics.get(key, np.nan) for key in rows] for column, metrics in columns.items()},
                         index=pd.Index(rows, name="metric"))
    verdict = gate_verdict(challenger)
    if champion is not None and verdict["champion_before"] == str(champion.version):
        gate_scores = {f"test_{metric}": float(challenger.tags[f"gate_champion_test_{metric}"])
                       for metric in GATE_METRICS if f"gate_champion_test_{metric}" in challenger.tags}
        table[f"{label(champion, 'champion')} on the challenger's test claims"] = \
            [gate_scores.get(key, np.nan) for key in rows]
    table.attrs["gate"] = verdict
    return table


def review_scores(model, claims: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: the outcome, what the model serves for it, and its slice columns."""
    scored = model.score_frame(claims)
    frame = pd.DataFrame({"claim_id": claims["claim_id"].astype(str).to_numpy(),
                          TARGET: claims[TARGET].to_numpy(dtype=bool)}, index=claims.index)
    frame = frame.join(scored)
    for column in SLICE_COLUMNS:
        frame[column] = claims[column].astype(str).to_numpy()
    return frame


def metrics_on_claims(scores_by_label: dict[str, pd.DataFrame], bins: int = ECE_BINS) -> pd.DataFrame:
    """The served system's metrics of each model on the same claims, and the classifier's on the
    claims no rule excludes; with two models, a `difference` row (first minus second)."""
    rows = {}
    for name, scores in scores_by_label.items():
        y = scores[TARGET].to_numpy(dtype=bool)
        kept = ~scores["excluded"].to_numpy(dtype=bool)
        system = binary_metrics(y, scores["approval_probability"].to_numpy(), bins)
        classifier = binary_metrics(y[kept], scores["model_probability"].to_numpy()[kept], bins)
        rows[name] = {**system, "classifier_auc": classifier["auc"], "classifier_ece": classifier["ece"],
                      "mean_probability": float(scores["approval_probability"].mean()),
                      "approval_rate": float(y.mean()), "claims": float(len(scores))}
    table = pd.DataFrame.from_dict(rows, orient="index")
    if len(table) == 2:
        table.loc["difference"] = table.iloc[0] - table.iloc[1]
    return table


# -- feature effects ----------------------------------------------------------------------------
def monotonic_check(model, claims: pd.DataFrame) -> pd.DataFrame:
    """Flip each monotonic input from False to True on every claim that lacks it: how many
    claims' classifier probability went down (must be 0), and by how much the rest moved."""
    variants = [claims.loc[~claims[name].to_numpy(dtype=bool)].assign(**{name: True}) for name in MONOTONIC_FLAGS]
    originals = [claims.loc[~claims[name].to_numpy(dtype=bool)] for name in MONOTONIC_FLAGS]
    sizes = [len(frame) for frame in variants]
    if not sum(sizes):
        return pd.DataFrame(columns=["input", "claims_flipped", "decreases", "largest_decrease", "mean_change",
                                     "share_raised"])
    before = np.split(model.model_probability(pd.concat(originals, ignore_index=True)), np.cumsum(sizes)[:-1])
    after = np.split(model.model_probability(pd.concat(variants, ignore_index=True)), np.cumsum(sizes)[:-1])
    rows = []
    for name, old, new in zip(MONOTONIC_FLAGS, before, after):
        change = new - old
        rows.append({"input": name, "claims_flipped": len(change), "decreases": int((change < 0).sum()),
                     "largest_decrease": max(0.0, float(-change.min())) if len(change) else 0.0,
                     "mean_change": float(change.mean()) if len(change) else np.nan,
                     "share_raised": float((change > 0).mean()) if len(change) else np.nan})
    return pd.DataFrame(rows)


def partial_dependence_table(models: dict[str, object], claims: pd.DataFrame, sample_rows: int = 2000,
                             seed: int = 0) -> pd.DataFrame:
    """Mean served probability with prior authorization, referral, in-network, facility type,
    visit number and benefit left set to each value in turn (training.plots.feature_effects, on
    the same sample of claims no rule excludes), one column per model."""
    table = None
    for name, model in models.items():
        effects = feature_effects(model, claims, sample_rows, seed)
        if table is None:
            table = effects.rename(columns={"mean_probability": name})
        else:  # the same sample and variants, in the same order, for every model
            table[name] = effects["mean_probability"].to_numpy()
    return table


def partial_dependence_figure(table: pd.DataFrame) -> Figure:
    """One panel per input of `partial_dependence_table`, a line per model."""
    panels = list(dict.fromkeys(table["panel"]))
    models = [name for name in table.columns if name not in ("panel", "value")]
    figure = Figure(figsize=(13, 7))
    grid = figure.subplots(2, 3, squeeze=False)
    for axes, panel in zip(grid.flat, panels):
        rows = table[table["panel"] == panel]
        numeric = all(isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
                      for value in rows["value"])
        x = rows["value"].astype(float) if numeric else rows["value"].astype(str)
        for name in models:
            axes.plot(x, rows[name], marker="o", label=name)
        axes.tick_params(axis="x", labelrotation=30 if panel == "facility_type" else 0, labelsize=7)
        axes.set(title=panel, ylabel="mean approval probability", ylim=(0, 1))
    for axes in list(grid.flat)[len(panels):]:
        axes.set_visible(False)
    grid.flat[0].legend(loc="upper left", fontsize=7)
    figure.suptitle("Partial dependence (claims no rule excludes)")
    figure.tight_layout()
    return figure


def permutation_importance_table(model, claims: pd.DataFrame, sample_rows: int = 2000, repeats: int = 3,
                                 seed: int = 0) -> pd.DataFrame:
    """How much the served AUC drops when one input (or a group that describes one thing) is
    shuffled across a sample of claims; the mean and spread over `repeats` shuffles."""
    sample = claims.sample(min(sample_rows, len(claims)), random_state=seed).reset_index(drop=True)
    y = sample[TARGET].to_numpy(dtype=bool)
    if y.all() or not y.any():
        raise ReviewInputError("permutation importance needs approved and denied claims in the sample")
    baseline = roc_auc_score(y, model.served_probability(sample))
    rng = np.random.default_rng(seed)
    shuffled = []
    for group, columns in PERMUTATION_GROUPS.items():
        for _ in range(repeats):
            order = rng.permutation(len(sample))
            shuffled.append(sample.assign(**{name: sample[name].to_numpy()[order] for name in columns}))
    served = model.served_probability(pd.concat(shuffled, ignore_index=True)).reshape(len(shuffled), len(sample))
    drops = baseline - np.array([roc_auc_score(y, row) for row in served]).reshape(len(PERMUTATION_GROUPS), repeats)
    return pd.DataFrame({"input": list(PERMUTATION_GROUPS), "auc_drop": drops.mean(axis=1),
                         "auc_drop_std": drops.std(axis=1)}).sort_values("auc_drop", ascending=False,
                                                                           ignore_index=True)


def importance_side_by_side(models: dict[str, object], claims: pd.DataFrame, sample_rows: int = 2000,
                            repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """`permutation_importance_table` of every model on the same sample, one AUC-drop column each,
    ordered by the first model's."""
    tables = [permutation_importance_table(model, claims, sample_rows, repeats, seed).set_index("input")["auc_drop"]
              .rename(f"{name} auc_drop") for name, model in models.items()]
    return pd.concat(tables, axis=1).reset_index()


# -- rules, misses, advice ----------------------------------------------------------------------
def rule_firing_table(model, claims: pd.DataFrame) -> pd.DataFrame:
    """Per exclusion rule: claims it fires on, its share, claims it alone excludes, and how many
    of its claims were paid anyway (approved or partly: the rule may be wrong)."""
    fired = model.fired_rules(frame_to_columns(claims))
    paid = claims[TARGET].to_numpy(dtype=bool)
    alone = fired & (fired.sum(axis=1) == 1)[:, None]
    rows = [{"rule_id": rule.rule_id, "reason": rule.reason, "carc": rule.carc, "fires": int(fired[:, i].sum()),
             "share": float(fired[:, i].mean()) if len(claims) else 0.0, "only_rule": int(alone[:, i].sum()),
             "paid": int((fired[:, i] & paid).sum())} for i, rule in enumerate(load_rules().rules)]
    excluded = fired.any(axis=1)
    rows.append({"rule_id": "any rule", "reason": "excluded by at least one rule", "carc": "",
                 "fires": int(excluded.sum()), "share": float(excluded.mean()) if len(claims) else 0.0,
                 "only_rule": int((fired.sum(axis=1) == 1).sum()), "paid": int((excluded & paid).sum())})
    return pd.DataFrame(rows)


def rule_evidence_table(model) -> pd.DataFrame:
    """Each rule as the model's training history measured it (scoring.rule_evidence): per
    rule, per rule and treatment, and every learned cell, with its decision (hard or learned)."""
    columns = ["rule_id", "treatment", "category", "fired", "paid", "paid_share", "ci_low", "ci_high",
               "decision", "evidence", "smoothed_share"]
    return pd.DataFrame(model.evidence().summary_rows(), columns=columns)


def rule_evidence_side_by_side(models: dict[str, object]) -> pd.DataFrame:
    """`rule_evidence_table` of every model, one row per rule (and rule and treatment, and learned
    cell) any of them measured: each model's claims fired, paid share and decision side by side,
    and `differs` where their decisions disagree (a rule one model applies and the other learned)."""
    keys = ["rule_id", "treatment", "category"]
    merged = None
    for name, model in models.items():
        table = rule_evidence_table(model).set_index(keys)[["fired", "paid_share", "decision"]]
        table.columns = [f"{name} {column}" for column in table.columns]
        merged = table if merged is None else merged.join(table, how="outer")
    decisions = merged[[f"{name} decision" for name in models]]
    merged["differs"] = decisions.nunique(axis=1, dropna=False) > 1
    return merged.reset_index().sort_values(["differs", "rule_id", "treatment", "category"],
                                            ascending=[False, True, True, True], ignore_index=True)


def learned_pairings(model) -> pd.DataFrame:
    """Treatment and diagnosis-category pairings outside the catalog's covered list that the
    history pays clearly more often than by mistake: for a policy analyst to confirm in the catalog."""
    table = rule_evidence_table(model)
    pairings = table[(table["decision"] == "learned") & (table["evidence"] == "contradicted")
                     & (table["category"] != "*")]
    return pairings.sort_values("fired", ascending=False, ignore_index=True)


def excluded_but_paid(model, claims: pd.DataFrame) -> pd.DataFrame:
    """Claims a rule excludes that the payer paid: evidence that a rule may be wrong."""
    scored = model.score_frame(claims)
    rows = scored["excluded"].to_numpy(dtype=bool) & claims[TARGET].to_numpy(dtype=bool)
    columns = [name for name in MISS_COLUMNS if name in claims.columns]
    return claims.loc[rows, columns].assign(rule_ids=scored.loc[rows, "rule_ids"]).reset_index(drop=True)


def confident_misses(scores: pd.DataFrame, claims: pd.DataFrame, count: int = 20,
                     rules_excluded: bool = False, beside: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The `count` claims the model got most wrong with the most confidence (approved claims it
    gave the lowest probabilities, denied ones the highest), with their inputs and outcome; with
    `beside` (review_scores of other models on the same claims, by name), each one's probability
    of those claims too, so a reviewer sees whether the other model misses them as well.

    Claims a rule excludes are left out unless `rules_excluded` (`excluded_but_paid` lists the
    paid ones): a rule's verdict is the rule table's to answer for, not the classifier's."""
    error = np.abs(scores[TARGET].to_numpy(dtype=float) - scores["approval_probability"].to_numpy())
    if not rules_excluded:
        error[scores["excluded"].to_numpy(dtype=bool)] = 0.0
    order = np.argsort(-error, kind="stable")
    order = order[error[order] > 0.5][:count]
    columns = [name for name in MISS_COLUMNS if name in claims.columns]
    picked = claims.iloc[order][columns].reset_index(drop=True)
    served = scores.iloc[order][["approval_probability", "decision", "rule_ids", "top_denial_reason"]]
    others = pd.DataFrame({f"{name} probability": other["approval_probability"].to_numpy()[order]
                           for name, other in (beside or {}).items()})
    return pd.concat([served.reset_index(drop=True), others, picked], axis=1)


def advice_summary(model, claims: pd.DataFrame, sample_rows: int = 1000, seed: int = 0) -> pd.DataFrame:
    """How often each recommendation is given over a sample of claims (the service's own
    answers), and the average gain in approval probability it promises."""
    sample = claims.sample(min(sample_rows, len(claims)), random_state=seed)
    answers = model.answer_claims(sample[list(CLEAN_COLUMNS)].to_dict("records"))
    given: dict[str, list[dict]] = {}
    for answer in answers:
        for advice in answer["recommendations"]:
            given.setdefault(advice["action"], []).append(advice)
    rows = []
    for action, items in given.items():
        gains = [item["gain"] for item in items if item["gain"] is not None]
        after = [item["probability_after"] for item in items if item["probability_after"] is not None]
        descriptions = pd.Series([item["description"] for item in items])
        rows.append({"action": action, "claims": len(items), "share_of_claims": len(items) / max(len(answers), 1),
                     "mean_gain": float(np.mean(gains)) if gains else np.nan,
                     "mean_probability_after": float(np.mean(after)) if after else np.nan,
                     "example": descriptions.mode().iloc[0]})
    silent = sum(not answer["recommendations"] for answer in answers)
    rows.append({"action": "(no advice)", "claims": silent, "share_of_claims": silent / max(len(answers), 1),
                 "mean_gain": np.nan, "mean_probability_after": np.nan, "example": ""})
    return pd.DataFrame(rows).sort_values("claims", ascending=False, ignore_index=True)
