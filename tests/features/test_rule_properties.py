"""Properties of the hard rules that must hold whatever the other fields say."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from features.catalog import load_catalog
from features.claim_facts import columns_facts
from features.pipeline import claims_to_columns
from features.rules import load_rules
from tests.claim_strategies import CODE_POOL, claims

CATALOG = load_catalog()
COSMETIC = [t.key for t in CATALOG.treatments.values() if t.cosmetic_by_default and not t.never_covered]


def fired_ids(claim) -> set[str]:
    rules = load_rules()
    columns = claims_to_columns([claim])
    row = rules.fire(columns, columns_facts(columns))[0]
    return {rule.rule_id for rule in rules.fired_rules(row)}


@st.composite
def cosmetic_claim_without_covered_diagnosis(draw):
    treatment = draw(st.sampled_from(COSMETIC))
    entry = CATALOG[treatment]
    # codes neither covered for this treatment nor headers that could become covered ones
    pool = [code for code in CODE_POOL if not entry.covers(code) and not entry.may_cover_header(code)]
    codes = st.lists(st.sampled_from(pool), max_size=3, unique=True)
    return draw(claims(treatments=st.just(treatment), codes=codes))


@settings(max_examples=300, deadline=None)
@given(cosmetic_claim_without_covered_diagnosis())
def test_cosmetic_treatment_without_covered_diagnosis_is_always_excluded(claim):
    assert fired_ids(claim) & {"COSMETIC-001", "COMFORT-002"}


@settings(max_examples=200, deadline=None)
@given(claims(treatments=st.sampled_from(["teeth_whitening", "facial", "manicure"])))
def test_dental_and_personal_comfort_are_always_excluded(claim):
    assert fired_ids(claim) & {"DENTAL-001", "COMFORT-001"}


@settings(max_examples=200, deadline=None)
@given(claims())
def test_z41_1_always_excludes(claim):
    claim = {**claim, "diagnosis_codes": ";".join(filter(None, [claim["diagnosis_codes"], "Z411"]))}
    assert "COSMETIC-002" in fired_ids(claim)


@settings(max_examples=200, deadline=None)
@given(claims())
def test_rules_ignore_paperwork_and_network(claim):
    """The hard rules read benefit, treatment and diagnoses only: paperwork cannot un-exclude."""
    flipped = {**claim, **{name: not claim[name] for name in
                           ("prior_authorization", "referral", "medical_necessity_letter", "in_network")}}
    assert fired_ids(flipped) == fired_ids(claim)


def test_rules_version_is_stable_within_a_process():
    assert load_rules().version == load_rules().version
    assert np.all([rule.source for rule in load_rules().rules])
