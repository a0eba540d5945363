"""Rules checked against a history: counts, Wilson intervals, hard or learned cells, the smoothed
probability of an excluded claim, and the floor that keeps a covered diagnosis from lowering one."""
from __future__ import annotations

import numpy as np
import pytest

from features.catalog import load_catalog
from features.diagnosis import load_table
from features.rules import load_rules
from scoring.rule_evidence import (ANY, HARD, LEARNED, EvidenceParams, RuleEvidence, format_table,
                                          primary_categories, rule_metrics, wilson_interval)

RULES = load_rules()
COLUMN = {rule.rule_id: column for column, rule in enumerate(RULES.rules)}


def history(*groups):
    """(fired, treatments, categories, approved) from (rule_id, treatment, category, claims, paid) groups."""
    fired, treatments, categories, approved = [], [], [], []
    for rule_id, treatment, category, claims, paid in groups:
        row = np.zeros(len(RULES.rules), dtype=bool)
        row[COLUMN[rule_id]] = True
        fired += [row] * claims
        treatments += [treatment] * claims
        categories += [category] * claims
        approved += [True] * paid + [False] * (claims - paid)
    return np.array(fired), np.array(treatments, dtype=object), np.array(categories, dtype=object), np.array(approved)


@pytest.mark.parametrize("paid, fired, low, high", [
    (0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (60, 100, 0.5020, 0.6906), (0, 0, 0.0, 1.0)])
def test_wilson_interval_matches_the_textbook_values(paid, fired, low, high):
    assert wilson_interval(paid, fired) == pytest.approx((low, high), abs=1e-4)


def test_primary_category_is_the_first_codes_three_characters():
    assert list(primary_categories(np.array(["L680;Z411", "", "G43709", "L680"], dtype=object))) == \
        ["L68", "", "G43", "L68"]


@pytest.fixture(scope="module")
def evidence():
    """COSMETIC-001 paid for hair removal with hirsutism (L68), never for toxin; dental never paid;
    a 10-claim cell too small to tell."""
    return RuleEvidence.measure(RULES, *history(
        ("COSMETIC-001", "laser_hair_removal", "L68", 200, 120),
        ("COSMETIC-001", "laser_hair_removal", "L81", 100, 1),
        ("COSMETIC-001", "botulinum_toxin", "L90", 300, 2),
        ("COSMETIC-001", "hair_restoration", "T21", 10, 9),
        ("DENTAL-001", "teeth_whitening", "", 80, 1),
    ))


def test_a_cell_the_history_contradicts_is_learned_and_one_it_confirms_stays_hard(evidence):
    learned = evidence.cells[("COSMETIC-001", "laser_hair_removal", "L68")]
    assert (learned.fired, learned.paid, learned.decision, learned.evidence) == (200, 120, LEARNED, "contradicted")
    assert learned.ci_low > evidence.params.tolerance
    assert evidence.cells[("COSMETIC-001", "laser_hair_removal", "L81")].decision == HARD
    assert evidence.cells[("COSMETIC-001", "botulinum_toxin", "L90")].evidence == "confirmed"
    assert evidence.cells[("DENTAL-001", "teeth_whitening", ANY)].decision == HARD
    assert evidence.learned_rule_ids == ("COSMETIC-001",)


def test_a_cell_with_too_few_claims_takes_the_decision_of_the_level_above(evidence):
    small = evidence.cells[("COSMETIC-001", "hair_restoration", "T21")]
    parent = evidence.cells[("COSMETIC-001", "hair_restoration", ANY)]
    assert small.evidence.startswith("too few claims") and small.decision == parent.decision == HARD


def test_one_contradicted_treatment_does_not_make_the_rule_learned_elsewhere(evidence):
    rule = evidence.cells[("COSMETIC-001", ANY, ANY)]
    assert (rule.fired, rule.paid) == (610, 132) and rule.ci_low > evidence.params.tolerance
    # the two treatments with 300 claims each decide themselves; 10 claims are left to the rule
    assert rule.decided_on == 10 and rule.decision == HARD
    assert evidence.lookup("COSMETIC-001", "chemical_peel", "L70")[0] == HARD


def test_a_rule_without_history_stays_hard_at_the_prior_share(evidence):
    assert evidence.lookup("COMFORT-001", "facial", "") == (HARD, evidence.params.prior_share)


def test_smoothed_shares_shrink_toward_the_parent(evidence):
    cell = evidence.cells[("COSMETIC-001", "hair_restoration", "T21")]
    parent = evidence.cells[("COSMETIC-001", "hair_restoration", ANY)]
    strength = evidence.params.prior_strength
    assert cell.smoothed_share == pytest.approx((9 + strength * parent.smoothed_share) / (10 + strength))
    assert parent.smoothed_share < cell.paid_share


def test_judge_keeps_only_the_hard_firings_and_prices_them(evidence):
    fired, treatments, categories, _ = history(
        ("COSMETIC-001", "laser_hair_removal", "L68", 1, 0), ("COSMETIC-001", "botulinum_toxin", "L90", 1, 0))
    hard, shares = evidence.judge(fired, treatments, categories)
    assert not hard[0].any() and hard[1, COLUMN["COSMETIC-001"]]
    probability = evidence.excluded_probability(hard, shares)
    assert np.isnan(probability[0])
    assert probability[1] == pytest.approx(evidence.cells[("COSMETIC-001", "botulinum_toxin", "L90")].smoothed_share)


def test_the_floor_is_what_the_claims_excluded_twin_would_get(evidence):
    floor = evidence.floor(np.array(["botulinum_toxin", "laser_hair_removal", "acne_treatment"], dtype=object),
                           np.array(["L90", "L68", "L70"], dtype=object), np.array([False, False, False]))
    twin = evidence.lookup("COSMETIC-001", "botulinum_toxin", "L90")[1]
    assert floor[0] == pytest.approx(twin)
    assert floor[1] == 0.0  # its twin would be learned, not excluded: the classifier answers both
    assert floor[2] == 0.0  # acne treatment is not cosmetic by default: no twin


def test_saved_rows_give_the_same_decisions(evidence):
    again = RuleEvidence.from_rows(RULES, evidence.to_rows(), vars(evidence.params))
    assert again.cells == evidence.cells


def test_stricter_parameters_keep_the_rule_hard():
    fired, treatments, categories, approved = history(("COSMETIC-001", "laser_hair_removal", "L68", 200, 30))
    lenient = RuleEvidence.measure(RULES, fired, treatments, categories, approved, EvidenceParams(tolerance=0.05))
    strict = RuleEvidence.measure(RULES, fired, treatments, categories, approved, EvidenceParams(tolerance=0.3))
    assert lenient.learned_rule_ids == ("COSMETIC-001",) and strict.learned_rule_ids == ()


def test_the_table_and_metrics_name_every_rule(evidence):
    text = format_table(evidence)
    assert "COSMETIC-001" in text and "contradicted" in text and "DENTAL-001" in text
    metrics = rule_metrics(evidence)
    assert metrics["rule_fired__COSMETIC-001"] == 610 and metrics["rule_learned_cells__COSMETIC-001"] == 1
    assert metrics["rule_fired__COMFORT-001"] == 0 and "rule_paid_share__COMFORT-001" not in metrics


def test_the_table_says_what_decided_each_row_not_too_few_claims_beside_hundreds(evidence):
    rows = {tuple(line.split()[:3]): line for line in format_table(evidence).splitlines()[1:]}
    rule = next(line for key, line in rows.items() if key[0] == "COSMETIC-001" and key[1] == ANY)
    assert rule.endswith("hard (600 claims decided by its treatments; the 10 left are too few: hard by default)")
    assert "(too few claims)" not in format_table(evidence)
    learned = next(line for key, line in rows.items() if key == ("COSMETIC-001", "laser_hair_removal", "L68"))
    assert learned.endswith("learned (contradicted on its 200 claims)")
    dental = next(line for key, line in rows.items() if key[0] == "DENTAL-001" and key[1] == ANY)
    assert dental.endswith("hard (its treatments decide all 80 claims: hard by default)")


# -- on the session's champion --------------------------------------------------------------------
def covered_code(treatment) -> str:
    """A billable ICD-10-CM code under which the catalog covers this treatment."""
    table = load_table()
    for pattern in treatment.covered_diagnoses:
        stem = pattern.rstrip("*")
        for code, (billable, _) in sorted(table.codes.items()):
            if billable and (code == stem or (pattern.endswith("*") and code.startswith(stem))):
                return code
    raise AssertionError(f"no billable code for {treatment.key}")


@pytest.mark.parametrize("treatment", [t for t in load_catalog().treatments.values()
                                       if t.cosmetic_by_default and t.covered_diagnoses and not t.covered_requires_also],
                         ids=lambda t: t.key)
def test_adding_a_covered_diagnosis_never_lowers_the_probability(champion_model, make_claim, treatment):
    code = treatment.procedure_codes[0] if treatment.procedure_codes else None
    base = make_claim(treatment=treatment.key, procedure_code=code, diagnosis_codes="L818")
    covered = {**base, "diagnosis_codes": f"L818;{covered_code(treatment)}"}
    without, with_it = champion_model.answer_claims([base, covered])
    assert without["decision"] == "excluded"
    assert with_it["approval_probability"] >= without["approval_probability"]


def test_excluded_claims_get_the_smoothed_paid_share_not_zero(champion_model, better_split):
    scored = champion_model.score_frame(better_split.test)
    excluded = scored["excluded"].to_numpy()
    assert excluded.any()
    probability = scored.loc[excluded, "approval_probability"]
    # a small cell's share is smoothed toward the rule's: a dozen claims with one paid by the payer's error
    # gives (1 + 20 x 1%) / (12 + 20), about 0.06, a little above the tolerance a contradiction needs
    assert (probability > 0).all() and (probability < 2 * champion_model.params.rule_tolerance).all()
    assert (scored.loc[excluded, "decision"] == "excluded").all()


@pytest.mark.parametrize("rule_id, per_category", [
    ("AGE-001", True), ("INVESTIGATIONAL-003", True),  # they read diagnoses among other conditions
    ("MEDICARE-001", False), ("SETTING-001", False),  # they read the plan and the place, not diagnoses
])
def test_a_rule_is_measured_per_diagnosis_category_when_one_of_its_conditions_reads_diagnoses(rule_id, per_category):
    treatment = RULES.rules[COLUMN[rule_id]].applies_to.split(":")[1].split("|")[0]
    evidence = RuleEvidence.measure(RULES, *history((rule_id, treatment, "G43", 40, 0), (rule_id, treatment, "L70", 40, 0)),
                                    EvidenceParams())
    assert ((rule_id, treatment, "G43") in evidence.cells) is per_category
