"""Hard exclusion rules fire on the excluded cases and not on covered pathways."""
import csv

import numpy as np
import pytest

from features.claim_facts import columns_facts
from features.pipeline import claims_to_columns
from features.contract import FACILITY_TYPES, PLAN_TYPES
from features.rules import CONDITIONS, VALUED_CONDITIONS, RuleTableError, atom_columns, load_rules, parse_rules

# Where no rule on plans, places or ages has a say: a PPO claim of an adult at a doctor's office.
NEUTRAL = {"plan_type": "ppo", "facility_type": "physician_office", "patient_age": 45, "procedure_code": None}


def fire(claims: list[dict]):
    columns = claims_to_columns([{**NEUTRAL, **claim} for claim in claims])
    return load_rules().fire(columns, columns_facts(columns))


def fired_ids(treatment, codes, benefit_limit=np.nan, benefit_used=0.0, **fields):
    row = fire([{"treatment": treatment, "diagnosis_codes": ";".join(codes), "benefit_limit": benefit_limit,
                 "benefit_used": benefit_used, **fields}])[0]
    return {rule.rule_id for rule in load_rules().fired_rules(row)}


@pytest.mark.parametrize("treatment, codes, expected", [
    ("teeth_whitening", [], {"DENTAL-001"}),
    ("facial", [], {"COMFORT-001"}),
    ("manicure", ["L603"], {"COMFORT-001"}),
    ("massage_therapy", [], {"COMFORT-002"}),
    ("botulinum_toxin", [], {"COSMETIC-001"}),
    ("botulinum_toxin", ["L908"], {"COSMETIC-001"}),
    ("dermal_filler", ["E8814"], {"COSMETIC-001"}),  # lipodystrophy without HIV
    ("photodynamic_therapy", ["Z411"], {"COSMETIC-002"}),
    ("botulinum_toxin", ["G437"], {"CODING-001"}),  # header: fixable, not cosmetic
])
def test_rule_fires(treatment, codes, expected):
    assert expected <= fired_ids(treatment, codes)


@pytest.mark.parametrize("treatment, codes", [
    ("botulinum_toxin", ["G43709"]),
    ("photodynamic_therapy", ["L570"]),
    ("weight_management", ["Z6835", "E669"]),
    ("massage_therapy", ["M5450"]),
    ("dermal_filler", ["E8814", "Z21", "F329"]),
    ("wig", ["L631"]),
    ("acne_treatment", ["L700"]),
])
def test_no_rule_fires_on_covered_pathways(treatment, codes):
    assert fired_ids(treatment, codes) == set()


def test_benefit_exhausted_fires_only_when_used_reaches_the_limit():
    assert "BENEFIT-001" in fired_ids("wig", ["L631"], benefit_limit=350.0, benefit_used=350.0)
    assert "BENEFIT-001" not in fired_ids("wig", ["L631"], benefit_limit=350.0, benefit_used=100.0)
    assert "BENEFIT-001" not in fired_ids("wig", ["L631"], benefit_limit=np.nan, benefit_used=9999.0)


def test_every_rule_cites_a_source_and_the_version_travels_with_a_hash():
    rules = load_rules()
    assert all(rule.source and rule.carc and rule.reason for rule in rules.rules)
    declared, digest = rules.version.split("+")
    assert declared and len(digest) == 8


def test_rules_vectorise_the_same_as_one_by_one():
    treatments = ["botulinum_toxin", "facial", "wig", "teeth_whitening", "botulinum_toxin"]
    codes = ["G43709", "", "L631", "", "G437"]
    limits, used = [np.nan, np.nan, 100.0, np.nan, np.nan], [0, 0, 100.0, 0, 0]
    plans = ["ppo", "medicare", "medicare", "hmo", "ppo"]
    claims = [{"treatment": treatment, "diagnosis_codes": code, "benefit_limit": limit, "benefit_used": spent,
               "plan_type": plan, "patient_age": 15}
              for treatment, code, limit, spent, plan in zip(treatments, codes, limits, used, plans)]
    together = fire(claims)
    assert together.any(axis=1).all()
    for index, claim in enumerate(claims):
        assert (fire([claim])[0] == together[index]).all()


@pytest.mark.parametrize("column, values", [("facility_type", FACILITY_TYPES), ("plan_type", PLAN_TYPES),
                                           ("patient_age", (10.0, 70.0))])
def test_claims_changed_in_one_column_fire_as_if_judged_whole(varied_claim_dicts, column, values):
    """fire_changed (the spa twins of predict) judges again only the rules reading the changed column,
    and fires exactly as fire does on the changed claims."""
    rules = load_rules()
    columns = claims_to_columns(varied_claim_dicts)
    facts = columns_facts(columns)
    fired = rules.fire(columns, facts)
    reading = [rule for rule in rules.rules if any(column in atom_columns(atom) for atom in rule.atoms)]
    assert reading  # each column parametrised is read by some rule
    for value in values:
        changed = dict(columns, **{column: np.full(len(fired), value, dtype=columns[column].dtype)})
        expected = rules.fire(changed, facts)
        np.testing.assert_array_equal(rules.fire_changed(changed, facts, fired, (column,)), expected)
    moved = np.flatnonzero((expected != fired).any(axis=0))
    assert len(moved) and {rules.rules[at].rule_id for at in moved} <= {rule.rule_id for rule in reading}


def test_a_rule_with_an_unknown_condition_is_rejected():
    row = {"rule_id": "X-1", "applies_to": "any", "condition": "on_tuesdays", "carc": "96",
           "rule_class": "cosmetic", "reason": "r", "source": "s"}
    with pytest.raises(RuleTableError, match="condition"):
        parse_rules([row], "1", "text")


@pytest.mark.parametrize("field, value", [
    ("condition", "plan:tricare"), ("condition", "always & facility:spa"), ("rule_class", "whim"),
    ("carc", "9999"),
])
def test_a_rule_outside_the_vocabulary_is_rejected_naming_the_column(field, value):
    row = {"rule_id": "X-1", "applies_to": "any", "condition": "always", "carc": "96",
           "rule_class": "cosmetic", "reason": "r", "source": "s", field: value}
    with pytest.raises(RuleTableError, match=field):
        parse_rules([row], "1", "text")


# The edits an authorization does not waive (coverage-facts.md, "Claim edits that an authorization
# does not waive", "Benefits that traditional Medicare does not have"): each fires with the
# authorization on file, and not on the same claim where the fact does not hold.
@pytest.mark.parametrize("rule_id, claim, twin", [
    ("MEDICARE-001", dict(treatment="wig", diagnosis_codes="L630", plan_type="medicare"),
     dict(plan_type="medicare_advantage")),
    ("MEDICARE-002", dict(treatment="massage_therapy", diagnosis_codes="M5450", plan_type="medicare",
                          facility_type="medical_spa"), dict(facility_type="physician_office")),
    ("INVESTIGATIONAL-001", dict(treatment="photodynamic_therapy", diagnosis_codes="L700"),
     dict(diagnosis_codes="L700;L570")),
    ("INVESTIGATIONAL-002", dict(treatment="acne_treatment", procedure_code="96567", diagnosis_codes="L700"),
     dict(procedure_code="10040")),
    ("INVESTIGATIONAL-003", dict(treatment="microdermabrasion", diagnosis_codes="L700"),
     dict(diagnosis_codes="L700;L570")),
    ("AGE-001", dict(treatment="botulinum_toxin", diagnosis_codes="G43709", patient_age=15),
     dict(patient_age=18)),
    ("SETTING-001", dict(treatment="weight_management", procedure_code="G0447", diagnosis_codes="E669;Z6835",
                         plan_type="medicare_advantage", facility_type="medical_spa"),
     dict(facility_type="primary_care_clinic")),
])
def test_an_edit_fires_whatever_the_authorization_and_not_on_its_twin(rule_id, claim, twin):
    assert rule_id in fired_ids(**{**claim, "codes": [], "prior_authorization": True})
    assert rule_id not in fired_ids(**{**claim, **twin, "codes": [], "prior_authorization": True})


def test_g0447_outside_primary_care_is_an_edit_of_medicare_plans_only():
    claim = dict(treatment="weight_management", diagnosis_codes="E669;Z6835", facility_type="physician_office")
    assert "SETTING-001" in fired_ids(**claim, codes=[], plan_type="medicare")
    assert "SETTING-001" not in fired_ids(**claim, codes=[], plan_type="ppo")


def test_migraine_under_age_does_not_touch_other_toxin_indications():
    assert "AGE-001" not in fired_ids("botulinum_toxin", ["G243"], patient_age=15)


def test_every_rule_names_its_class_and_who_pays():
    for rule in load_rules().rules:
        assert rule.group_code in ("CO", "PR") and rule.rule_class
    by_id = {rule.rule_id: rule for rule in load_rules().rules}
    # the patient who chose a cosmetic, comfort or excluded service pays; a provider's edit is written off
    assert {by_id[i].group_code for i in ("COSMETIC-001", "COSMETIC-002", "COMFORT-001", "MEDICARE-001")} == {"PR"}
    assert {by_id[i].group_code for i in ("INVESTIGATIONAL-001", "AGE-001", "SETTING-001", "CODING-001")} == {"CO"}
    assert {rule.rule_class for rule in by_id.values() if rule.carc == "55"} == {"investigational"}


def test_every_condition_the_table_may_use_names_the_columns_it_reads():
    """fire_changed trusts atom_columns to say which rules a changed column can move: a condition
    the grammar allows but atom_columns does not know is an error, not a guess."""
    from features.contract import VISIT_FIELDS

    for atom in (*CONDITIONS, *(f"{kind}:x" for kind in VALUED_CONDITIONS)):
        assert set(atom_columns(atom)) <= set(VISIT_FIELDS), atom
    with pytest.raises(ValueError, match="no columns known"):
        atom_columns("weather:rain")

