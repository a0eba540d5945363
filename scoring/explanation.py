"""Why the classifier gave a claim its probability, in parts that add up.

The classifier's raw score is log-odds: `baseline + sum(contributions)`, one contribution per
claim input (scoring.tree_shap gives one per feature column; the columns of one input,
the one-hot block of the plan type or the dozens of diagnosis columns, are summed here, which keeps
the sum exact). The calibrated probability is a monotone map of that score, so each input's share
in probability points is its share of the log-odds, scaled by how far the map moves the baseline's
probability to the claim's:

    effect_i = contribution_i x (p(score) - p(baseline)) / (score - baseline)

Effects keep their contribution's sign and add up to `classifier_probability - baseline_probability`
exactly (when the score sits on the baseline, the map's slope there is the scale). The answer's
approval probability may be higher than the classifier's by the rules' floor (`floor_added`,
scoring.coverage_model.system_probability). A claim a hard rule excludes is explained by the
rule, not by factors (scoring.advice).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.catalog import load_catalog
from features.contract import BENEFIT_REMAINING
from features.pipeline import output_input
from features.rules import load_rules
from scoring.rule_evidence import RULE_INPUT_PREFIX
from scoring.tree_shap import ForestExplainer

# The input a learned rule's column belongs to: what its condition reads (its first condition that
# reads one of these; otherwise the diagnoses).
RULE_CONDITION_INPUTS = {"benefit_exhausted": BENEFIT_REMAINING, "always": "treatment", "plan": "plan_type",
                         "facility": "facility_type", "outside_required_setting": "facility_type",
                         "procedure_code": "procedure_code", "below_min_age": "patient_age"}
# Columns that read a document only where the catalog asks for it (document x requirement): for a
# treatment that does not ask for it, the column is the treatment's, whatever the document says.
WHERE_REQUIRED = {
    "circumstance__prior_authorization_where_required": "requires_prior_authorization",
    "circumstance__conservative_therapy_where_required": "requires_conservative_therapy",
}
SLOPE_STEP = 1e-3  # log-odds either side of the score when the map's slope is the scale


def column_input(name: str) -> str:
    if name.startswith(RULE_INPUT_PREFIX):
        rule_id = name[len(RULE_INPUT_PREFIX):]
        rule = next((rule for rule in load_rules().rules if rule.rule_id == rule_id), None)
        if rule is None:
            return "treatment"
        return next((RULE_CONDITION_INPUTS[atom.partition(":")[0]] for atom in rule.atoms
                     if atom.partition(":")[0] in RULE_CONDITION_INPUTS), "diagnosis_codes")
    return output_input(name)


@dataclass(frozen=True)
class InputContributions:
    """Claims x inputs contributions (log-odds) and the numbers they add up to."""

    inputs: tuple[str, ...]
    log_odds: np.ndarray  # claims x inputs
    baseline: float  # the forest's expected score over its training claims
    score: np.ndarray  # the classifier's raw score per claim: baseline + log_odds.sum(axis=1)


class Explainer:
    """Built once per loaded model: the forest's TreeSHAP layout, the column -> input grouping, the baseline."""

    def __init__(self, forest, feature_names, calibrated):
        self.trees = ForestExplainer.from_forest(forest)
        self.calibrated = calibrated  # raw log-odds -> the served (calibrated) probability
        names = [column_input(name) for name in feature_names]
        self.inputs = tuple(dict.fromkeys(names))
        self.grouping = np.zeros((len(feature_names), len(self.inputs)))
        self.grouping[np.arange(len(names)), [self.inputs.index(name) for name in names]] = 1.0
        position = {name: at for at, name in enumerate(feature_names)}
        self.where_required = [(position[column], attribute) for column, attribute in WHERE_REQUIRED.items()
                               if column in position]
        self.treatment_input = self.inputs.index("treatment") if "treatment" in self.inputs else None
        self.baseline = self.trees.baseline
        self.baseline_probability = float(self.calibrated(np.array([self.baseline]))[0])

    def contributions(self, features: np.ndarray, treatments, authorization_asked=None) -> InputContributions:
        """authorization_asked: per claim, whether the plan asks for prior authorization there
        (features.prior_authorization); None reads the catalog's word for the treatment."""
        columns = self.trees.contributions(features)
        grouped = columns @ self.grouping
        catalog = load_catalog()
        traits_of = {}  # once per distinct treatment: a batch repeats a few
        for column, attribute in self.where_required:
            if attribute == "requires_prior_authorization" and authorization_asked is not None:
                asks = np.asarray(authorization_asked, dtype=bool)
            else:
                asks = np.array([bool(traits and getattr(traits, attribute)) for traits in (
                    traits_of[key] if key in traits_of else traits_of.setdefault(key, catalog.shared_traits(key))
                    for key in treatments)])
            # move the column's share from the document to the treatment where it is not asked for
            source = int(np.argmax(self.grouping[column]))
            moved = np.where(asks, 0.0, columns[:, column])
            grouped[:, source] -= moved
            grouped[:, self.treatment_input] += moved
        return InputContributions(self.inputs, grouped, self.baseline, self.baseline + columns.sum(axis=1))

    def probability_scale(self, score: np.ndarray) -> np.ndarray:
        """Per claim: probability points per log-odds point between the baseline and its score."""
        distance = score - self.baseline
        far = np.abs(distance) > SLOPE_STEP
        secant = (self.calibrated(score) - self.baseline_probability) / np.where(far, distance, 1.0)
        slope = (self.calibrated(score + SLOPE_STEP) - self.calibrated(score - SLOPE_STEP)) / (2 * SLOPE_STEP)
        return np.where(far, secant, slope)
