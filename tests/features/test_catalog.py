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
