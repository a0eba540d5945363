"""What a payer's history says about each exclusion rule, and what the model does with it.

Our rules are our reading of public policies; a payer's history is the better witness for that
payer. At training time every rule is measured on the training claims it fires on: how many, how
many of those the payer paid, and a Wilson interval for the paid share, at three levels:

- the rule (`rule_id`, `*`, `*`);
- the rule and the claim's treatment (`rule_id`, treatment, `*`);
- for the rules about diagnoses (COSMETIC-001 "no covered diagnosis", Z41.1, header codes), also
  the primary diagnosis code's 3-character category (`rule_id`, treatment, category): a rule can be
  right for botulinum toxin and wrong for hair restoration after burns.

A cell the history contradicts (at least `min_fired` claims, and the Wilson interval's lower end
above `tolerance`: the payer pays those claims clearly more often than by mistake) is *learned*:
the rule stops being hard there, becomes an input of the classifier, and the classifier learns
those claims. A cell with enough claims that does not contradict the rule confirms it: *hard*. A
cell with fewer claims takes the decision of the level above it, and a rule with no history at
all stays hard. A level decides on the claims its more specific cells leave undecided, so that
one treatment the payer pays does not make the rule learned for every other treatment.

A claim a hard rule excludes is answered with the rule's smoothed paid share in the history, not a
bare 0: each cell's share is shrunk toward its parent's (`prior_strength` pseudo-claims), the
rule's toward `prior_share`. So the probabilities of excluded claims stay calibrated, while the
decision stays `excluded`. And so that a covered diagnosis (or benefit left) can never lower a
probability, a claim no rule excludes gets at least the probability its excluded twin would get:
the share of the hard cell it would land in without its covered diagnosis (or with its benefit
used up).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from features.claim_facts import CODE_SEPARATOR
from features.distinct import FEW_ROWS, distinct_combinations, distinct_values
from features.rules import RuleSet

ANY = "*"
RULE_INPUT_PREFIX = "rule__"  # the classifier input of a rule the history made learned: rule__<rule_id>
# Conditions a monotone input can lift: a covered diagnosis (no_covered_diagnosis), benefit left
# (benefit_exhausted, only where the plan sets a limit).
ESCAPABLE_CONDITIONS = ("no_covered_diagnosis", "benefit_exhausted")
HARD, LEARNED = "hard", "learned"


@dataclass(frozen=True)
class EvidenceParams:
    tolerance: float = 0.05  # a paid share the payer's errors could explain
    min_fired: int = 30  # fewer fired claims than this cannot tell: the level above decides
    z: float = 1.96  # 95% Wilson interval
    prior_share: float = 0.01  # what a payer pays of the claims its exclusions deny, with no history
    prior_strength: float = 20.0  # pseudo-claims pulling a cell's share toward its parent's


@dataclass(frozen=True)
class Cell:
    rule_id: str
    treatment: str
    category: str
    fired: int
    paid: int
    paid_share: float
    ci_low: float
    ci_high: float
    smoothed_share: float
    decision: str  # hard | learned, after inheritance
    evidence: str  # contradicted | confirmed | too few claims (the level above decides) | no history
    decided_on: int  # fired claims no more specific cell decides: what the decision and share rest on

    def to_dict(self) -> dict:
        return asdict(self)


def wilson_interval(paid: int, fired: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (paid / fired); (0, 1) for no claims."""
    if fired == 0:
        return 0.0, 1.0
    share = paid / fired
    centre = (share + z * z / (2 * fired)) / (1 + z * z / fired)
    half = z / (1 + z * z / fired) * math.sqrt(share * (1 - share) / fired + z * z / (4 * fired * fired))
    return max(0.0, centre - half), min(1.0, centre + half)


def primary_categories(joined_codes) -> np.ndarray:
    """The 3-character category of each claim's primary (first) diagnosis code; "" for none."""
    values, inverse = distinct_values(joined_codes)
    categories = np.array([(value.split(CODE_SEPARATOR, 1)[0][:3] if isinstance(value, str) else "")
                           for value in values], dtype=object)
    return categories[inverse] if len(values) else np.array([], dtype=object)


@dataclass
class RuleEvidence:
    """The measured table and the decisions it implies; saved with the model as plain rows."""

    rules: RuleSet
    params: EvidenceParams
    cells: dict[tuple[str, str, str], Cell]

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def measure(cls, rules: RuleSet, fired: np.ndarray, treatments, categories, approved,
                params: EvidenceParams | None = None) -> "RuleEvidence":
        """Count every rule's fired and paid claims at each level, then decide each cell."""
        params = params or EvidenceParams()
        treatments = np.asarray(treatments, dtype=object)
        categories = np.asarray(categories, dtype=object)
        approved = np.asarray(approved, dtype=bool)
        counts: dict[tuple[str, str, str], tuple[int, int]] = {}
        for column, rule in enumerate(rules.rules):
            rows = np.flatnonzero(fired[:, column])
            counts[(rule.rule_id, ANY, ANY)] = (len(rows), int(approved[rows].sum()))
            if not len(rows):
                continue
            paid = pd.Series(approved[rows])
            for (treatment,), (size, paid_count) in _groups(paid, treatments[rows]):
                counts[(rule.rule_id, treatment, ANY)] = (size, paid_count)
            if rule.reads_diagnoses:
                for (treatment, category), (size, paid_count) in _groups(paid, treatments[rows], categories[rows]):
                    counts[(rule.rule_id, treatment, category)] = (size, paid_count)
        return cls._decided(rules, params, counts)

    @classmethod
    def from_rows(cls, rules: RuleSet, rows: list[dict], params: dict | None = None) -> "RuleEvidence":
        """The evidence saved with a model (its rows' counts; decisions are worked out again)."""
        params = EvidenceParams(**(params or {}))
        counts = {(row["rule_id"], row["treatment"], row["category"]): (int(row["fired"]), int(row["paid"]))
                  for row in rows}
        return cls._decided(rules, params, counts)

    @classmethod
    def _decided(cls, rules: RuleSet, params: EvidenceParams, counts) -> "RuleEvidence":
        """Decide every cell on the claims no more specific cell decides (its residual), so that
        one contradicted treatment does not turn a rule learned for the others."""
        decides_itself = {key for key, (fired, _) in counts.items() if fired >= params.min_fired}
        residual = dict(counts)
        for key in decides_itself:
            parent = _parent(key)
            if parent is not None and parent in residual:
                fired, paid = residual[parent]
                residual[parent] = (fired - counts[key][0], paid - counts[key][1])
        cells: dict[tuple[str, str, str], Cell] = {}
        for key in sorted(counts, key=lambda key: (key[0], key[1] != ANY, key[2] != ANY, key[1], key[2])):
            rule_id, treatment, category = key
            fired, paid = counts[key]
            base_fired, base_paid = residual[key]
            parent = cells.get(_parent(key)) if _parent(key) else None
            prior = parent.smoothed_share if parent else params.prior_share
            weight = base_fired + params.prior_strength
            smoothed = (base_paid + params.prior_strength * prior) / weight if weight else prior
            base_low, _ = wilson_interval(base_paid, base_fired, params.z)
            if base_fired < params.min_fired:
                evidence = "no history" if not fired else "too few claims" if parent is None \
                    else "too few claims (the level above decides)"
                decision = parent.decision if parent else HARD
            elif base_low > params.tolerance:
                evidence, decision = "contradicted", LEARNED
            else:
                evidence, decision = "confirmed", HARD
            low, high = wilson_interval(paid, fired, params.z)
            cells[key] = Cell(rule_id, treatment, category, fired, paid, paid / fired if fired else 0.0,
                              low, high, smoothed, decision, evidence, base_fired)
        return cls(rules, params, cells)

    def to_rows(self) -> list[dict]:
        return [cell.to_dict() for cell in self.cells.values()]

    def summary_cells(self) -> list[Cell]:
        """The rule and rule x treatment cells the rule fired on, and every learned cell, rule by rule."""
        cells = [cell for cell in self.cells.values()
                 if cell.fired and (cell.category == ANY or cell.decision == LEARNED)]
        return sorted(cells, key=lambda cell: (cell.rule_id, cell.treatment != ANY, -cell.fired))

    def summary_rows(self) -> list[dict]:
        """summary_cells(), JSON-ready."""
        return [{**cell.to_dict(), "paid_share": round(cell.paid_share, 4), "ci_low": round(cell.ci_low, 4),
                 "ci_high": round(cell.ci_high, 4), "smoothed_share": round(cell.smoothed_share, 4)}
                for cell in self.summary_cells()]

    # -- applying ----------------------------------------------------------------------------
    def lookup(self, rule_id: str, treatment: str, category: str) -> tuple[str, float]:
        """(decision, smoothed paid share) for a claim in this cell: the most specific level known."""
        cell = self.cell_for(rule_id, treatment, category)
        return (cell.decision, cell.smoothed_share) if cell is not None else (HARD, self.params.prior_share)

    def cell_for(self, rule_id: str, treatment: str, category: str) -> Cell | None:
        """The most specific measured cell a claim of this treatment and category falls in."""
        for key in ((rule_id, treatment, category), (rule_id, treatment, ANY), (rule_id, ANY, ANY)):
            if key in self.cells:
                return self.cells[key]
        return None

    @property
    def learned_rule_ids(self) -> tuple[str, ...]:
        """Rules learned somewhere: each becomes a classifier input (1 where it fires)."""
        learned = {cell.rule_id for cell in self.cells.values() if cell.decision == LEARNED}
        return tuple(rule.rule_id for rule in self.rules.rules if rule.rule_id in learned)

    def judge(self, fired: np.ndarray, treatments, categories) -> tuple[np.ndarray, np.ndarray]:
        """(hard: `fired` without the learned cells, the smoothed paid share of each hard firing,
        NaN elsewhere). A claim is excluded where any hard rule fires."""
        hard = np.zeros_like(fired)
        shares = np.full(fired.shape, np.nan)
        pairs = _Pairs(treatments, categories)
        for column in np.flatnonzero(fired.any(axis=0)).tolist():  # the rules that fire somewhere
            rows = np.flatnonzero(fired[:, column])
            decisions, values = self._per_row(self.rules.rules[column].rule_id, pairs, rows)
            hard[rows, column] = decisions
            shares[rows, column] = np.where(decisions, values, np.nan)
        return hard, shares

    def excluded_probability(self, hard: np.ndarray, shares: np.ndarray) -> np.ndarray:
        """Per claim, the smallest share among the hard rules that fire (NaN where none does)."""
        masked = np.where(hard, shares, np.inf)
        smallest = masked.min(axis=1) if masked.shape[1] else np.full(len(masked), np.inf)
        return np.where(np.isfinite(smallest), smallest, np.nan)

    def floor(self, treatments, categories, has_limit) -> np.ndarray:
        """The probability a claim's excluded twin would get (0 where it has none): the most a
        covered diagnosis, or benefit left, may lift a probability from."""
        has_limit = np.asarray(has_limit, dtype=bool)
        floor = np.zeros(len(treatments))
        applicable = self.rules.applicable(treatments)
        pairs = _Pairs(treatments, categories)
        for column in np.flatnonzero(applicable.any(axis=0)).tolist():  # the rules that apply somewhere
            rule = self.rules.rules[column]
            if rule.condition not in ESCAPABLE_CONDITIONS:
                continue
            rows = np.flatnonzero(applicable[:, column] & (has_limit if rule.condition == "benefit_exhausted" else True))
            if not len(rows):
                continue
            decisions, values = self._per_row(rule.rule_id, pairs, rows)
            floor[rows] = np.maximum(floor[rows], np.where(decisions, values, 0.0))
        return floor

    def _per_row(self, rule_id: str, pairs: "_Pairs", rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(is hard, smoothed share) for each of `rows`, looked up once per distinct (treatment, category)."""
        if len(rows) <= FEW_ROWS:  # the service's claims: a look-up a row beats factorising
            looked_up = [self.lookup(rule_id, str(pairs.raw_treatments[row]), str(pairs.raw_categories[row]))
                         for row in rows]
            return (np.array([decision == HARD for decision, _ in looked_up], dtype=bool),
                    np.array([share for _, share in looked_up], dtype=float))
        present, codes = np.unique(pairs.inverse[rows], return_inverse=True)
        looked_up = [self.lookup(rule_id, *pairs.texts(pair)) for pair in present]
        is_hard = np.array([decision == HARD for decision, _ in looked_up], dtype=bool)
        values = np.array([share for _, share in looked_up], dtype=float)
        return is_hard[codes], values[codes]


class _Pairs:
    """The claims' distinct (treatment, category) pairs, factorised once for every rule's rows,
    and only when a rule fires on many of them."""

    def __init__(self, treatments, categories):
        self.raw_treatments, self.raw_categories = treatments, categories

    @cached_property
    def inverse(self) -> np.ndarray:
        self.treatments, treatment_codes = distinct_values(self.raw_treatments)
        self.categories, category_codes = distinct_values(self.raw_categories)
        inverse, (self.pair_treatment, self.pair_category) = distinct_combinations(
            [(treatment_codes, len(self.treatments)), (category_codes, len(self.categories))])
        return inverse

    def texts(self, pair: int) -> tuple[str, str]:
        return str(self.treatments[self.pair_treatment[pair]]), str(self.categories[self.pair_category[pair]])


def decision_words(cell: Cell) -> str:
    """The decision and what decided it, on the claims it was decided on: a rule fired on 93,459
    claims whose treatments decide for themselves is judged on the few they leave, and says so."""
    parts, above = ("treatments", None) if cell.treatment == ANY else \
        ("diagnosis groups", "the rule's") if cell.category == ANY else (None, "the treatment's")
    left = cell.decided_on < cell.fired
    if cell.evidence == "no history":
        return f"{cell.decision} (no claims: {above or 'hard by default'})"
    if cell.evidence.startswith("too few claims"):
        default = f"{above} decision" if above else "hard by default"
        if left and not cell.decided_on:
            return f"{cell.decision} (its {parts} decide all {cell.fired:,} claims: {default})"
        if left:
            return f"{cell.decision} ({cell.fired - cell.decided_on:,} claims decided by its {parts}; the " \
                   f"{cell.decided_on:,} left are too few: {default})"
        return f"{cell.decision} (too few claims to judge: {default})"
    if left:
        return f"{cell.decision} ({cell.evidence} on the {cell.decided_on:,} claims its {parts} leave)"
    return f"{cell.decision} ({cell.evidence} on its {cell.decided_on:,} claims)"


def format_table(evidence: RuleEvidence, shown: int = 40) -> str:
    """The rule and rule x treatment rows, and every learned cell, as text for the training log."""
    rows = evidence.summary_cells()
    lines = [f"{'rule':<13} {'treatment':<22} {'dx':<4} {'fired':>7} {'paid':>6} {'share':>6} "
             f"{'95% interval':>15}  decision"]
    for cell in rows[:shown]:
        lines.append(f"{cell.rule_id:<13} {cell.treatment[:22]:<22} {cell.category[:4]:<4} {cell.fired:>7,} "
                     f"{cell.paid:>6,} {cell.paid_share:>6.3f} [{cell.ci_low:.3f}, {cell.ci_high:.3f}]  "
                     f"{decision_words(cell)}")
    if len(rows) > shown:
        lines.append(f"... {len(rows) - shown} more rows in rule_evidence.csv")
    return "\n".join(lines)


def _groups(paid: pd.Series, *keys: np.ndarray):
    """((key values), (claims, paid)) per distinct combination of the key arrays."""
    grouped = paid.groupby([pd.Series(key, dtype=object) for key in keys], sort=True).agg(["size", "sum"])
    for index, (size, paid_count) in grouped.iterrows():
        yield (index if isinstance(index, tuple) else (index,)), (int(size), int(paid_count))


def _parent(key: tuple[str, str, str]) -> tuple[str, str, str] | None:
    rule_id, treatment, category = key
    if treatment == ANY:
        return None
    return (rule_id, ANY, ANY) if category == ANY else (rule_id, treatment, ANY)


def rule_metrics(evidence: RuleEvidence) -> dict[str, float]:
    """Flat MLflow metrics per rule: claims it fired on, their paid share, the cells learned."""
    metrics = {}
    for rule in evidence.rules.rules:
        cell = evidence.cells.get((rule.rule_id, ANY, ANY))
        fired = cell.fired if cell else 0
        metrics[f"rule_fired__{rule.rule_id}"] = float(fired)
        if fired:
            metrics[f"rule_paid_share__{rule.rule_id}"] = float(cell.paid_share)
        metrics[f"rule_learned_cells__{rule.rule_id}"] = float(sum(
            1 for key, other in evidence.cells.items()
            if key[0] == rule.rule_id and other.decision == LEARNED and other.evidence == "contradicted"))
    return metrics


__all__ = ["ANY", "Cell", "EvidenceParams", "HARD", "LEARNED", "RuleEvidence", "format_table",
           "primary_categories", "rule_metrics", "wilson_interval"]
