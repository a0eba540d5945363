"""The documentation table: a sourced criterion for every covered pathway of the catalog, the
criteria the coverage facts name, and none for treatments a plan never covers."""
from __future__ import annotations

from features.catalog import load_catalog
from features.documentation import criteria_for, load_documentation


def _covered_pathways():
    """(treatment, a covered code) for each covered-diagnosis pattern of each treatment a plan may cover."""
    catalog = load_catalog()
    for key in catalog.keys:
        treatment = catalog[key]
        if not treatment.never_covered:
            for pattern in treatment.covered_diagnoses:
                yield key, pattern.rstrip("*")


def test_every_covered_pathway_has_sourced_criteria():
    for treatment, code in _covered_pathways():
        criteria = criteria_for(treatment, [code])
        assert criteria and all(criterion.source for criterion in criteria), (treatment, code)


def test_the_criteria_the_coverage_facts_name_are_listed():
    def texts(treatment, codes):
        return " ".join(criterion.text for criterion in criteria_for(treatment, codes)).lower()

    assert "visual fields within the last 12 months" in texts("blepharoplasty", ["H02831"])
    assert "photographs within the last 12 months" in texts("blepharoplasty", ["H02831"])
    assert "duplex ultrasound" in texts("sclerotherapy", ["I83811"]) and "3-month" in texts("sclerotherapy", ["I83811"])
    migraine = texts("botulinum_toxin", ["G43709"])
    assert "headache diary" in migraine and "preventive" in migraine
    assert "headache diary" not in texts("botulinum_toxin", ["G243"])  # criteria follow the diagnosis


def test_no_criteria_for_treatments_a_plan_never_covers():
    catalog = load_catalog()
    assert not [criterion for criterion in load_documentation() if catalog[criterion.treatment].never_covered]
