"""Hard exclusion rules fire on the excluded cases and not on covered pathways."""
import csv

import numpy as np
import pytest

from features.claim_facts import diagnosis_facts
from features.rules import RuleTableError, load_rules, parse_rules


def fired_ids(treatment, codes, benefit_limit=np.nan, benefit_used=0.0):
    rules = load_rules()
    facts = diagnosis_facts([treatment], [";".join(codes)])
    row = rules.fire([treatment], facts, [benefit_limit], [benefit_used])[0]
    return {rule.rule_id for rule in rules.fired_rules(row)}


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
    rules = load_rules()
    together = rules.fire(treatments, diagnosis_facts(treatments, codes), limits, used)
    for index, treatment in enumerate(treatments):
        alone = rules.fire([treatment], diagnosis_facts([treatment], [codes[index]]), [limits[index]], [used[index]])
        assert (alone[0] == together[index]).all()


def test_a_rule_with_an_unknown_condition_is_rejected():
    row = {"rule_id": "X-1", "applies_to": "any", "condition": "on_tuesdays", "carc": "96",
           "group_code": "CO", "reason": "r", "source": "s"}
    with pytest.raises(RuleTableError, match="condition"):
        parse_rules([row], "1", "text")
