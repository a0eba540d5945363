"""The verdict notebook 1 opens with: the promotion gate's own rules (training.promotion_gate.gate_rules)
applied to both models' scores on the same claims, each difference with a paired bootstrap 95%
interval, and one plain answer naming the rule that decided:

- `passes`: every rule holds across its whole interval;
- `fails`: some rule is broken across its whole interval;
- `too close to call`: an interval straddles a rule's margin (more claims, or a closer look, decide).

The bootstrap resamples claims (the same resample for both models: the difference is paired),
seeded, `RESAMPLES` times, every resample at once as a matrix of claim counts. Also here: the
guard on the reviewer's decision (an approval the verdict fails needs a stated reason).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract import TARGET
from scoring.metrics import ECE_BINS
from scoring.decisions import DECISION_BANDS
from training.promotion_gate import GateParams, gate_rules
from training.review.versions import ReviewInputError

RESAMPLES = 400
CONFIDENCE = 0.95
PASSES, FAILS, TOO_CLOSE = "passes", "fails", "too close to call"
REVIEW_DECISIONS = ("approve", "reject")
# Metrics the verdict shows for both models; True where higher is better.
VERDICT_METRICS = {"auc": True, "brier": False, "log_loss": False, "ece": False}
_CHUNK = 50  # resamples scored together: bounds memory to _CHUNK x claims counts


def gate_params_of_run(run) -> GateParams:
    """The gate margins the challenger's training run used (logged as `gate_*` params)."""
    params, defaults = run.data.params, GateParams()
    return GateParams(max_auc_drop=float(params.get("gate_max_auc_drop", defaults.max_auc_drop)),
                      max_ece_rise=float(params.get("gate_max_ece_rise", defaults.max_ece_rise)))


# -- weighted metrics: row b of `weights` is one resample (how often each claim was drawn) --------
def resample_weights(claims: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, claims) draw counts of a bootstrap: each row sums to `claims`."""
    picks = rng.integers(0, claims, size=(resamples, claims))
    picks += (np.arange(resamples) * claims)[:, None]
    return np.bincount(picks.ravel(), minlength=resamples * claims).reshape(resamples, claims).astype(float)


def weighted_auc(y: np.ndarray, probability: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC per row of `weights` (ties count one half, as roc_auc_score counts them)."""
    values, inverse = np.unique(probability, return_inverse=True)
    rows, width = weights.shape[0], len(values)
    slots = (inverse[None, :] + (np.arange(rows) * width)[:, None]).ravel()
    positive = np.bincount(slots, weights=(weights * y).ravel(), minlength=rows * width).reshape(rows, width)
    negative = np.bincount(slots, weights=(weights * ~y).ravel(), minlength=rows * width).reshape(rows, width)
    below = np.cumsum(negative, axis=1) - negative
    pairs = positive.sum(axis=1) * negative.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, (positive * (below + 0.5 * negative)).sum(axis=1) / pairs, np.nan)


def weighted_metrics(y: np.ndarray, probability: np.ndarray, band: np.ndarray, weights: np.ndarray,
                     bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """AUC, Brier, log loss, ECE (as training.evaluation.binary_metrics computes them) and the
    claims in each decision band, per row of `weights`."""
    probability = np.clip(probability.astype(float), 0.0, 1.0)
    total = weights.sum(axis=1)
    eps = np.finfo(float).eps  # sklearn's log_loss clips at the dtype's precision
    clipped = np.clip(probability, eps, 1 - eps)
    log_loss = -(y * np.log(clipped) + ~y * np.log(1 - clipped))
    which_bin = np.minimum((probability * bins).astype(int), bins - 1)
    gap_by_bin = np.zeros((len(y), bins))
    gap_by_bin[np.arange(len(y)), which_bin] = y - probability
    in_band = (band[:, None] == np.asarray(DECISION_BANDS)[None, :]).astype(float)
    counts = weights @ in_band
    found = {"auc": weighted_auc(y, probability, weights),
             "brier": weights @ (probability - y) ** 2 / total,
             "log_loss": weights @ log_loss / total,
             "ece": np.abs(weights @ gap_by_bin).sum(axis=1) / total}
    found.update({f"claims_{name}": counts[:, i] for i, name in enumerate(DECISION_BANDS)})
    return found


# -- the verdict ----------------------------------------------------------------------------------
@dataclass
class Verdict:
    outcome: str  # PASSES | FAILS | TOO_CLOSE
    deciding_rule: str  # the rule that decided, as the gate states it
    reason: str  # one sentence with the numbers
    table: pd.DataFrame  # per metric: champion, challenger, difference, its interval, the rule and its verdict
    claims: int
    resamples: int
    champion: str | None = None
    challenger: str = ""
    gate: GateParams = field(default_factory=GateParams)

    def summary(self) -> str:
        """What the notebook prints first."""
        against = f" against {self.champion}" if self.champion else ""
        return (f"VERDICT: {self.challenger}{against}: {self.outcome.upper()} - decided by: {self.deciding_rule}\n"
                f"{self.reason}\n({self.claims} claims; differences are challenger minus champion with paired "
                f"bootstrap {CONFIDENCE:.0%} intervals over {self.resamples} resamples)")

    def figures(self) -> dict:
        """The numbers the reviewer saw, compact enough for a registry tag."""
        rows = {metric: [round(float(row[key]), 6) for key in ("champion", "challenger", "difference", "low", "high")]
                for metric, row in self.table.iterrows() if not np.isnan(row["difference"])}
        return {"outcome": self.outcome, "deciding_rule": self.deciding_rule, "claims": self.claims,
                "resamples": self.resamples, "champion_challenger_difference_low_high": rows}


def verdict_on_claims(challenger_scores: pd.DataFrame, champion_scores: pd.DataFrame | None,
                      gate: GateParams | None = None, resamples: int = RESAMPLES, seed: int = 0,
                      names: tuple[str, str | None] = ("challenger", "champion")) -> Verdict:
    """The gate's rules on two models' scores of the same claims (model_review.review_scores),
    with paired bootstrap intervals; see the module docstring."""
    gate = gate or GateParams()
    challenger_name, champion_name = names
    if champion_scores is None:
        return Verdict(PASSES, "no champion", "no champion to compare with: the gate promotes the first model",
                       pd.DataFrame(), len(challenger_scores), 0, None, challenger_name, gate)
    if not challenger_scores["claim_id"].equals(champion_scores["claim_id"]):
        raise ReviewInputError("the two models must be scored on the same claims, in the same order")
    y = challenger_scores[TARGET].to_numpy(dtype=bool)
    if y.all() or not y.any():
        raise ReviewInputError("the review claims need approved and denied claims to compare AUC")
    scored = {role: (scores["approval_probability"].to_numpy(), scores["decision"].astype(str).to_numpy())
              for role, scores in (("challenger", challenger_scores), ("champion", champion_scores))}
    whole = np.ones((1, len(y)))
    point = {role: {k: v[0] for k, v in weighted_metrics(y, p, band, whole).items()}
             for role, (p, band) in scored.items()}
    differences, rng = [], np.random.default_rng(seed)
    for start in range(0, resamples, _CHUNK):
        weights = resample_weights(len(y), min(_CHUNK, resamples - start), rng)
        found = {role: weighted_metrics(y, p, band, weights) for role, (p, band) in scored.items()}
        differences.append(pd.DataFrame({k: found["challenger"][k] - found["champion"][k] for k in point["champion"]}))
    spread = pd.concat(differences, ignore_index=True)
    tail = (1 - CONFIDENCE) / 2
    table = pd.DataFrame({"champion": pd.Series(point["champion"]), "challenger": pd.Series(point["challenger"])})
    table["difference"] = table["challenger"] - table["champion"]
    table["low"] = spread.quantile(tail)
    table["high"] = spread.quantile(1 - tail)
    table["better_when"] = [("higher" if VERDICT_METRICS[name] else "lower") if name in VERDICT_METRICS else ""
                            for name in table.index]
    table["gate_rule"], table["rule_verdict"] = "", ""
    judged = []
    for rule in gate_rules(gate):
        # the challenger's loss is the difference, signed so that positive is worse
        sign = -1.0 if rule.higher_is_better else 1.0
        loss = sign * table.loc[rule.metric, "difference"] + 0.0  # + 0.0: no "-0.0000" when equal
        low, high = sorted(sign * table.loc[rule.metric, ["low", "high"]].to_numpy() + 0.0)
        outcome = PASSES if high <= rule.margin else FAILS if low > rule.margin else TOO_CLOSE
        table.loc[rule.metric, ["gate_rule", "rule_verdict"]] = rule.statement, outcome
        judged.append((rule, outcome, loss, low, high))
    table.index.name = "metric"
    rule, outcome, loss, low, high = _deciding(judged)
    word = "drops" if rule.higher_is_better else "rises"
    reason = (f"{rule.label} {word} {loss:+.4f} (95% interval {low:+.4f} .. {high:+.4f}) against a margin of "
              f"{rule.margin}: " + {PASSES: "within it across the whole interval",
                                    FAILS: "beyond it across the whole interval",
                                    TOO_CLOSE: "the interval straddles it"}[outcome])
    return Verdict(outcome, rule.statement, reason, table, len(y), resamples, champion_name, challenger_name, gate)


def _deciding(judged):
    """A failing rule decides, else a straddled one, else the one with least room to spare."""
    for wanted in (FAILS, TOO_CLOSE):
        for item in judged:
            if item[1] == wanted:
                return item
    return max(judged, key=lambda item: item[4] - item[0].margin)


# -- the reviewer's decision -----------------------------------------------------------------------
def check_decision_parameters(decision, reviewer: str = "", override_reason: str = "") -> None:
    """Refuse a decision the notebook could not record, before any work (the notebook's first cell)."""
    if decision is None:
        return
    if decision not in REVIEW_DECISIONS:
        raise ReviewInputError(f"decision must be one of {', '.join(REVIEW_DECISIONS)} or None; got {decision!r}")
    if not str(reviewer or "").strip():
        raise ReviewInputError("reviewer: give the reviewer's name to record a decision")


def guard_decision(verdict: Verdict, decision, override_reason: str = "") -> None:
    """An approval of a challenger the verdict fails needs `override_reason`."""
    if decision == "approve" and verdict.outcome == FAILS and not str(override_reason or "").strip():
        raise ReviewInputError(f"decision='approve' but the verdict FAILS ({verdict.deciding_rule}: {verdict.reason}); "
                               "set override_reason to say why this challenger should serve anyway, "
                               "or record decision='reject'")
