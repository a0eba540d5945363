"""What the rules say about a set of claims, and those claims scored: the records that
CoverageModel.judge and CoverageModel.score_rows hand on (aligned arrays, one row per claim), the
classifier's `rule__<id>` inputs made from the rules that fired, and the rule evidence's settings."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.claim_facts import DiagnosisFacts, facts_of_rows, joined_facts
from features.rules import load_rules
from scoring.params import ModelParams
from scoring.rule_evidence import EvidenceParams


@dataclass(frozen=True)
class RuleJudgement:
    """What the rules say about a set of claims (aligned arrays, one row per claim)."""

    facts: DiagnosisFacts
    fired: np.ndarray  # every rule whose condition holds
    hard: np.ndarray  # those the training history keeps hard for the claim's treatment and diagnosis
    excluded_probability: np.ndarray  # the smoothed paid share an excluded claim gets; NaN elsewhere
    categories: np.ndarray  # the primary diagnosis code's 3-character category

    @property
    def excluded(self) -> np.ndarray:
        return self.hard.any(axis=1)

    def of_rows(self, rows: np.ndarray) -> "RuleJudgement":
        """The judgement of the given rows, in that order."""
        return RuleJudgement(facts_of_rows(self.facts, rows), self.fired[rows], self.hard[rows],
                             self.excluded_probability[rows], self.categories[rows])

    def followed_by(self, then: "RuleJudgement") -> "RuleJudgement":
        """This judgement's claims followed by `then`'s, as one judgement."""
        return RuleJudgement(joined_facts(self.facts, then.facts), np.vstack([self.fired, then.fired]),
                             np.vstack([self.hard, then.hard]),
                             np.concatenate([self.excluded_probability, then.excluded_probability]),
                             np.concatenate([self.categories, then.categories]))


@dataclass(frozen=True)
class ScoredRows:
    """CoverageModel.score_rows: claims judged, encoded and scored (aligned, one row per claim)."""

    judged: RuleJudgement
    features: np.ndarray
    raw: np.ndarray  # the trees' score (log-odds)
    model_probability: np.ndarray  # the calibrated classifier
    system_probability: np.ndarray  # the answer: rules, their floor and the medical-setting floor


def rule_input_columns(fired: np.ndarray, rule_ids: list[str]) -> np.ndarray:
    """The `rule__<id>` inputs: 1 where the rule fires (0 for a rule no longer in the table)."""
    positions = {rule.rule_id: column for column, rule in enumerate(load_rules().rules)}
    columns = [fired[:, positions[rule_id]] if rule_id in positions else np.zeros(len(fired), dtype=bool)
               for rule_id in rule_ids]
    return np.column_stack(columns).astype(np.float32)


def evidence_params(params: ModelParams) -> EvidenceParams:
    return EvidenceParams(tolerance=params.rule_tolerance, min_fired=params.rule_min_fired,
                          prior_share=params.rule_prior_share, prior_strength=params.rule_prior_strength)
