"""The treatment catalog: complete against the facts file, sourced, and answering lookups."""
import re
from pathlib import Path

import pytest

from features.catalog import (UNLISTED, CatalogError, TreatmentLookupError, load_catalog,
                              parse_catalog)

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "specs" / "claims-contract.md"
FACTS = Path(__file__).resolve().parents[3] / "shared" / "domain" / "coverage-facts.md"


def _contract_treatment_keys() -> set[str]:
    section = CONTRACT.read_text().split("## Treatment keys")[1].split("##")[0]
    return set(re.findall(r"`([a-z_]+)`", section))


def test_every_contract_treatment_key_is_in_the_catalog():
    if not CONTRACT.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert _contract_treatment_keys() == set(load_catalog().keys)


def test_every_procedure_code_named_in_the_facts_file_is_in_the_catalog():
    if not FACTS.exists():
        pytest.skip("shared/ is not beside this checkout")
    table = FACTS.read_text().split("## Treatments")[1].split("\n## ")[0]  # the table alone
    catalog_codes = {code for t in load_catalog().treatments.values() for code in t.procedure_codes}
    named = set(re.findall(r"\b(\d{5}|[A-DG-Z]\d{4})\b", table))
    named -= {"2014D", "00007"}  # parts of policy numbers (UHC 2014D0017, Anthem ANC.00007)
    assert named - catalog_codes == set()


def test_every_row_cites_a_source_and_a_category():
    for treatment in load_catalog().treatments.values():
        assert treatment.source and treatment.category and treatment.description


@pytest.mark.parametrize("treatment, code, expected", [
    ("botulinum_toxin", "G43709", True),
    ("botulinum_toxin", "G4371", False),  # a header is not itself a covered code
    ("botulinum_toxin", "L74510", True),
    ("photodynamic_therapy", "L570", True),
    ("photodynamic_therapy", "L700", False),
    ("weight_management", "Z6835", True),
    ("weight_management", "E669", False),
    ("massage_therapy", "M5450", True),
    ("sclerotherapy", "I781", False),  # spider veins are cosmetic
    ("sclerotherapy", "I83811", True),
    ("teeth_whitening", "K036", False),
])
def test_covered_diagnoses(treatment, code, expected):
    assert load_catalog()[treatment].covers(code) is expected


def test_dermal_filler_needs_hiv_as_well_as_lipodystrophy():
    filler = load_catalog()["dermal_filler"]
    assert filler.covers("E8814")
    assert not filler.requirement_met(["E8814"])
    assert filler.requirement_met(["E8814", "Z21"])
    assert filler.requirement_met(["E8814", "B20"])  # HIV disease, as well as asymptomatic HIV


@pytest.mark.parametrize("treatment, code, key, unlisted", [
    (None, "64615", "botulinum_toxin", False),
    ("botulinum_toxin", "J0585", "botulinum_toxin", False),
    (None, "g0447", "weight_management", False),
    ("facial", None, "facial", False),
    (None, "99213", UNLISTED, True),  # valid CPT shape, no catalog row
    ("tattoo_removal", "17999", "tattoo_removal", False),
])
def test_resolve_by_key_or_code(treatment, code, key, unlisted):
    resolved = load_catalog().resolve(treatment, code)
    assert (resolved.key, resolved.unlisted) == (key, unlisted)


@pytest.mark.parametrize("treatment, code, field", [
    ("botox", None, "treatment"),
    (None, "6461", "procedure_code"),
    (None, None, "treatment"),
])
def test_resolve_errors_name_the_field(treatment, code, field):
    with pytest.raises(TreatmentLookupError) as error:
        load_catalog().resolve(treatment, code)
    assert error.value.field == field


def test_a_catalog_row_with_an_unknown_diagnosis_pattern_is_rejected():
    row = {name: "" for name in ("treatment", "category", "description", "procedure_codes", "cosmetic_by_default",
                                 "covered_diagnoses", "covered_requires_also", "requires_prior_authorization",
                                 "requires_conservative_therapy", "min_weeks_between", "min_age", "required_setting",
                                 "never_covered_carc", "conditions", "source")}
    row.update(treatment="x", category="skin", cosmetic_by_default="true", covered_diagnoses="Q99.999",
               requires_prior_authorization="false", requires_conservative_therapy="false", source="somewhere")
    with pytest.raises(CatalogError, match="covered_diagnoses"):
        parse_catalog([row])


# Each catalog row and the row of coverage-facts.md's table it follows (wigs and hair transplants share one).
FACTS_ROW_OF = {
    "botulinum_toxin": "botulinum toxin", "dermal_filler": "dermal fillers",
    "laser_hair_removal": "laser hair removal / electrolysis", "chemical_peel": "chemical peel",
    "microdermabrasion": "dermabrasion / microdermabrasion", "photodynamic_therapy": "photodynamic therapy",
    "vascular_laser": "vascular laser", "sclerotherapy": "sclerotherapy", "blepharoplasty": "blepharoplasty",
    "wig": "wig / hair restoration", "hair_restoration": "wig / hair restoration",
    "scar_treatment": "scar / keloid treatment", "tattoo_removal": "tattoo removal", "acne_treatment": "acne treatment",
    "massage_therapy": "massage therapy", "weight_management": "weight management (obesity counselling)",
    "teeth_whitening": "teeth whitening", "facial": "facial, manicure, spa massage", "manicure": "facial, manicure, spa massage",
}
# The facts row's "cosmetic by default" cell where it speaks of several services: the words for this
# row, and what they mean for it (a wig is a benefit question, not a cosmetic one).
COSMETIC_CELL_PART = {"wig": ("wig depends on the plan's benefit", False), "hair_restoration": ("transplant yes", True),
                      "scar_treatment": ("injection: no", False)}
# Investigational uses another row states for this one: PDT for acne, "whichever code is billed".
INVESTIGATIONAL_VIA = {"acne_treatment": ("photodynamic therapy", "whichever code is billed")}


def _facts_rows() -> dict[str, dict[str, str]]:
    table = FACTS.read_text().split("## Treatments")[1].split("\n## ")[0]
    lines = [line for line in table.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return {cells[0]: dict(zip(header, cells)) for cells in
            ([cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:])}


@pytest.mark.parametrize("key", list(FACTS_ROW_OF))
def test_every_catalog_row_s_conditions_follow_the_facts_table(key):
    """Read each row of the facts table's conditions as the catalog encodes them: documented
    first-line therapy, the weeks between sessions, an adult indication, a primary-care setting,
    cosmetic by default, and an investigational use (which a rule of class investigational holds)."""
    if not FACTS.exists():
        pytest.skip("shared/ is not beside this checkout")
    from features.rules import load_rules
    row = _facts_rows()[FACTS_ROW_OF[key]]
    treatment = load_catalog()[key]
    conditions = row["conditions"].lower()
    first_line_asked = ("failed" in conditions or "trial" in conditions) and "itself first-line therapy" not in conditions
    assert treatment.requires_conservative_therapy is first_line_asked
    weeks = re.search(r"every (\d+) weeks", conditions)
    assert treatment.min_weeks_between == (float(weeks.group(1)) if weeks else None)
    if "adult" in conditions:
        assert treatment.min_age == 18
    assert (treatment.required_setting == "primary_care") is ("primary-care setting" in conditions)
    cosmetic_cell = row["cosmetic by default"].lower()
    words, cosmetic = COSMETIC_CELL_PART.get(key, ("", cosmetic_cell.startswith("yes")))
    assert words in cosmetic_cell and treatment.cosmetic_by_default is cosmetic
    investigational = "investigational" in conditions or "experimental" in conditions
    if key in INVESTIGATIONAL_VIA:
        other, words = INVESTIGATIONAL_VIA[key]
        investigational = words in _facts_rows()[other]["conditions"]
    held = any(rule.rule_class == "investigational" and key in rule.applies_to for rule in load_rules().rules)
    assert held is investigational
    if "prior auth" in conditions:
        assert treatment.requires_prior_authorization
