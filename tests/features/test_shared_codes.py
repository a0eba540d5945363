"""Codes several treatments share (coverage-facts.md, "Codes that several treatments share"): the
catalog lists them under each, a claim giving only such a code is read from its diagnoses or stays
unresolved (a composite key), and rules, facts and features hold an unresolved claim only to what
every candidate shares. A treatment with a code the catalog does not list for it is kept and warned."""
from __future__ import annotations

import numpy as np
import pytest

from features.catalog import (CATALOG_FILE, UNLISTED, UNLISTED_CODE, UNPAIRED_CODE, UNRESOLVED_TREATMENT,
                              CatalogError, composite_key, load_catalog, parse_catalog)
from features.claim_facts import diagnosis_facts
from features.encoders import CircumstanceEncoder, TreatmentEncoder
from features.pipeline import build_feature_pipeline, claims_to_columns, encode_claims, one_hot_groups
from features.rules import load_rules, parse_rules

LASER_OR_TATTOO = "laser_hair_removal|tattoo_removal"
ACNE_OR_SCAR = "acne_treatment|scar_treatment"
ACNE_OR_PDT = "acne_treatment|photodynamic_therapy"


# -- the catalog -----------------------------------------------------------------------------------

@pytest.mark.parametrize("code, owners", [
    ("17999", ("laser_hair_removal", "tattoo_removal")),
    ("11900", ("acne_treatment", "scar_treatment")),
    ("11901", ("acne_treatment", "scar_treatment")),
    ("96567", ("acne_treatment", "photodynamic_therapy")),
])
def test_the_catalog_lists_a_shared_code_under_every_treatment_billed_with_it(code, owners):
    assert tuple(sorted(t.key for t in load_catalog().by_code(code))) == owners


def test_the_acne_row_cites_the_sources_of_its_shared_codes():
    source = load_catalog()["acne_treatment"].source
    assert "Aetna CPB 0251" in source and "BCBSA 2.01.44" in source and "Codes that several treatments share" in source


def test_the_composite_keys_are_those_of_the_shared_codes():
    assert load_catalog().composite_keys == (ACNE_OR_PDT, ACNE_OR_SCAR, LASER_OR_TATTOO)
    assert composite_key(["tattoo_removal", "laser_hair_removal", "tattoo_removal"]) == LASER_OR_TATTOO


def test_a_catalog_key_may_not_contain_the_composite_separator():
    row = {name: "" for name in ("treatment", "category", "description", "procedure_codes", "cosmetic_by_default",
                                 "covered_diagnoses", "covered_requires_also", "requires_prior_authorization",
                                 "requires_conservative_therapy", "min_weeks_between", "min_age", "required_setting",
                                 "never_covered_carc", "conditions", "source")}
    row.update(treatment="peel|laser", category="skin", cosmetic_by_default="true", source="somewhere",
               requires_prior_authorization="false", requires_conservative_therapy="false")
    with pytest.raises(CatalogError, match=f"{CATALOG_FILE} row 2"):
        parse_catalog([row])


@pytest.mark.parametrize("key, candidates", [
    ("botulinum_toxin", ("botulinum_toxin",)),
    (LASER_OR_TATTOO, ("laser_hair_removal", "tattoo_removal")),
    (UNLISTED, ()),
    ("no_such_treatment", ()),
    ("laser_hair_removal|no_such_treatment", ()),
    (None, ()),
])
def test_candidates_of_a_key(key, candidates):
    assert tuple(t.key for t in load_catalog().candidates(key)) == candidates


@pytest.mark.parametrize("code, diagnoses, key", [
    ("17999", [], LASER_OR_TATTOO),
    ("17999", ["L818"], LASER_OR_TATTOO),  # a tattoo diagnosis, but tattoo removal covers none
    ("17999", ["F640"], "laser_hair_removal"),  # gender-affirming care: only laser hair removal covers it
    ("11900", ["L700"], "acne_treatment"),
    ("11901", ["L910"], "scar_treatment"),  # keloid
    ("11900", ["Z411"], ACNE_OR_SCAR),
    ("96567", ["L570"], "photodynamic_therapy"),
    ("96567", ["L700"], "acne_treatment"),
    ("96567", ["L570", "L700"], ACNE_OR_PDT),  # both candidates covered: still unresolved
    ("64615", [], "botulinum_toxin"),  # a code of one treatment names it, whatever the diagnoses
])
def test_a_shared_code_alone_is_read_from_the_diagnoses_or_stays_unresolved(code, diagnoses, key):
    resolved = load_catalog().resolve(None, code, diagnoses)
    assert (resolved.key, resolved.procedure_code, resolved.unlisted) == (key, code, False)
    assert resolved.unresolved is ("|" in key)


@pytest.mark.parametrize("treatment, code", [
    ("facial", "64615"),  # a code of another treatment
    ("acne_treatment", "17106"),
    ("scar_treatment", "17106"),
    ("facial", "99213"),  # a code no row lists
    ("tattoo_removal", "17999"),  # a shared code with one of its treatments: paired, no warning
])
def test_a_given_treatment_stays_the_treatment_whatever_the_code(treatment, code):
    resolved = load_catalog().resolve(treatment, code)
    assert (resolved.key, resolved.procedure_code, resolved.unlisted) == (treatment, code, False)


@pytest.mark.parametrize("key, code, warnings", [
    ("botulinum_toxin", "64615", ()),
    ("botulinum_toxin", None, ()),
    ("tattoo_removal", "17999", ()),
    ("facial", "64615", (UNPAIRED_CODE,)),
    ("facial", "99213", (UNPAIRED_CODE,)),
    (UNLISTED, "99213", (UNLISTED_CODE,)),
    (LASER_OR_TATTOO, "17999", (UNRESOLVED_TREATMENT,)),
])
def test_warnings_of_a_kept_claim(key, code, warnings):
    assert load_catalog().warnings(key, code) == warnings


def test_warnings_name_no_value():
    for warning in (UNLISTED_CODE, UNPAIRED_CODE, UNRESOLVED_TREATMENT):
        assert not any(char.isdigit() for char in warning.message)
        assert not any(key in warning.message for key in load_catalog().keys)


def test_shared_traits_are_what_every_candidate_requires():
    catalog = load_catalog()
    toxin = catalog["botulinum_toxin"]
    own = catalog.shared_traits("botulinum_toxin")
    assert (own.category, own.cosmetic_by_default, own.requires_prior_authorization, own.min_weeks_between,
            own.min_age) == (toxin.category, True, True, toxin.min_weeks_between, toxin.min_age)
    laser_or_tattoo = catalog.shared_traits(LASER_OR_TATTOO)
    # laser hair removal needs prior authorization and an adult; tattoo removal neither
    assert catalog["laser_hair_removal"].requires_prior_authorization and catalog["laser_hair_removal"].min_age
    assert (laser_or_tattoo.category, laser_or_tattoo.cosmetic_by_default,
            laser_or_tattoo.requires_prior_authorization, laser_or_tattoo.min_age) == ("laser", True, False, None)
    acne_or_scar = catalog.shared_traits(ACNE_OR_SCAR)
    # the keloid steroid injection is itself first-line therapy: neither candidate asks for an earlier one
    assert not catalog["scar_treatment"].requires_conservative_therapy
    assert (acne_or_scar.cosmetic_by_default, acne_or_scar.requires_conservative_therapy) == (False, False)
    assert catalog.shared_traits(UNLISTED) is None


# -- facts and rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("key, codes, covered, primary", [
    (LASER_OR_TATTOO, "", False, False),
    (ACNE_OR_SCAR, "Z411;L910", True, False),  # covered under scar treatment, not as the primary code
    (ACNE_OR_PDT, "L570;L700", True, True),
])
def test_an_unresolved_claim_is_covered_when_a_candidate_covers_it(key, codes, covered, primary):
    facts = diagnosis_facts([key], [codes])
    assert (bool(facts["covered_diagnosis"][0]), bool(facts["primary_diagnosis_covered"][0])) == (covered, primary)


def rule_columns(keys, codes) -> dict:
    """The rule columns of claims of these keys and codes: a PPO adult at a doctor's office, no limit."""
    return claims_to_columns([{"treatment": key, "diagnosis_codes": code, "plan_type": "ppo", "patient_age": 45,
                               "facility_type": "physician_office"} for key, code in zip(keys, codes)])


def _fired(keys, codes=None) -> dict[str, list[bool]]:
    keys = np.array(keys, dtype=object)
    codes = np.array(codes or [""] * len(keys), dtype=object)
    rules = load_rules()
    fired = rules.fire(rule_columns(keys, codes), diagnosis_facts(keys, codes))
    return {rule.rule_id: fired[:, column].tolist() for column, rule in enumerate(rules.rules)}


def test_cosmetic_by_default_holds_an_unresolved_claim_only_when_every_candidate_is_cosmetic():
    fired = _fired([LASER_OR_TATTOO, ACNE_OR_SCAR, ACNE_OR_PDT])
    assert fired["COSMETIC-001"] == [True, False, False]  # acne treatment is not cosmetic by default


def test_one_claim_and_many_claims_fire_alike():
    keys = [LASER_OR_TATTOO, ACNE_OR_SCAR, "facial", UNLISTED, "botulinum_toxin"] * 20
    many = _fired(keys)
    for row, key in enumerate(keys[:5]):
        assert {rule: hits[row] for rule, hits in many.items()} == {rule: hits[0] for rule, hits in _fired([key]).items()}


@pytest.mark.parametrize("applies_to, expected", [
    ("treatment:laser_hair_removal", [False, True]),  # a treatment rule needs every candidate listed
    ("treatment:laser_hair_removal|tattoo_removal", [True, True]),
    ("category:laser", [True, True]),
    ("category:skin", [False, False]),
])
def test_a_rule_applies_to_an_unresolved_claim_only_when_it_applies_to_every_candidate(applies_to, expected):
    row = {"rule_id": "TEST-001", "applies_to": applies_to, "condition": "always", "carc": "96", 
           "rule_class": "cosmetic", "reason": "a test rule", "source": "a test"}
    rules = parse_rules([row], "test", "table")
    keys = np.array([LASER_OR_TATTOO, "laser_hair_removal"], dtype=object)
    fired = rules.fire(rule_columns(keys, ["", ""]), diagnosis_facts(keys, ["", ""]))
    assert fired[:, 0].tolist() == expected


# -- features --------------------------------------------------------------------------------------

def _encoded(encoder, frame, row: int = 0) -> dict:
    return dict(zip(encoder.get_feature_names_out(), encoder.transform(frame)[row]))


def test_the_treatment_encoder_marks_an_unresolved_claim_and_keeps_what_its_candidates_share(make_clean_frame):
    frame = make_clean_frame({"treatment": LASER_OR_TATTOO, "procedure_code": "17999"},
                             {"treatment": ACNE_OR_SCAR, "procedure_code": "11900"})
    encoder = TreatmentEncoder(min_frequency=1).fit(frame)
    laser_or_tattoo, acne_or_scar = _encoded(encoder, frame, 0), _encoded(encoder, frame, 1)
    assert {name: laser_or_tattoo[name] for name in ("unresolved", "unlisted", "laser_hair_removal", "tattoo_removal",
                                                      "category_laser", "cosmetic_by_default",
                                                      "requires_prior_authorization", "procedure_code_17999")} == {
        "unresolved": 1, "unlisted": 0, "laser_hair_removal": 0, "tattoo_removal": 0, "category_laser": 1,
        "cosmetic_by_default": 1, "requires_prior_authorization": 0, "procedure_code_17999": 1}
    assert (acne_or_scar["unresolved"], acne_or_scar["category_skin"], acne_or_scar["cosmetic_by_default"],
            acne_or_scar["requires_conservative_therapy"], acne_or_scar["procedure_code_11900"]) == (1, 1, 0, 0, 1)


def test_an_encoder_fitted_before_composite_keys_reads_them_as_unlisted(make_clean_frame):
    encoder = TreatmentEncoder(min_frequency=1).fit(make_clean_frame({}))
    # the state an earlier release saved: no `unresolved` output, rows in the order of the keys
    plain = len(load_catalog().keys) + 1
    encoder.treatment_keys_ = encoder.treatment_keys_[:plain]
    encoder.treatment_table_ = np.delete(encoder.treatment_table_[:plain], plain, axis=1)
    del encoder.treatment_rows_
    row = _encoded(encoder, make_clean_frame({"treatment": LASER_OR_TATTOO}))
    assert "unresolved" not in row and row["unlisted"] == 1 and row["cosmetic_by_default"] == 0


def test_the_treatment_block_stays_one_hot(make_clean_frame):
    keys = (*load_catalog().keys, UNLISTED, *load_catalog().composite_keys, "no_such_treatment")
    frame = make_clean_frame(*({"treatment": key} for key in keys))
    encoder = TreatmentEncoder(min_frequency=1).fit(frame)
    block = encoder.one_hot_groups()["treatment"]
    out = encoder.transform(frame)
    names = list(encoder.get_feature_names_out())
    assert (out[:, [names.index(name) for name in block]].sum(axis=1) == 1).all()


def test_the_circumstance_encoder_holds_an_unresolved_claim_to_what_every_candidate_requires(make_clean_frame):
    claim = {"prior_authorization": True, "conservative_therapy_documented": True, "patient_age": 15,
             "visit_number": 2, "weeks_since_last_treatment": 1.0}
    frame = make_clean_frame({**claim, "treatment": LASER_OR_TATTOO}, {**claim, "treatment": "laser_hair_removal"})
    encoder = CircumstanceEncoder().fit(frame)
    unresolved, laser = _encoded(encoder, frame, 0), _encoded(encoder, frame, 1)
    # laser hair removal asks for prior authorization and an adult; tattoo removal for neither
    assert (laser["prior_authorization_where_required"], laser["below_min_age"]) == (1, 1)
    assert (unresolved["prior_authorization_where_required"], unresolved["below_min_age"],
            unresolved["conservative_therapy_where_required"], unresolved["below_min_weeks_between"]) == (0, 0, 0, 0)


def test_a_pipeline_encodes_many_claims_as_each_claim_alone(make_clean_frame):
    claims = [{"treatment": key, "procedure_code": code, "diagnosis_codes": codes}
              for key, code, codes in ((LASER_OR_TATTOO, "17999", ""), (ACNE_OR_SCAR, "11901", "Z411"),
                                       (ACNE_OR_PDT, "96567", "L570;L700"), ("facial", "64615", ""),
                                       ("botulinum_toxin", "64615", "G43709"))] * 30
    frame = make_clean_frame(*claims)
    pipeline = build_feature_pipeline(procedure_code_min_frequency=1, diagnosis_min_frequency=1).fit(frame)
    many = pipeline.transform(frame)
    for row in range(5):
        one = encode_claims(pipeline, claims_to_columns([frame.iloc[row].to_dict()]))
        np.testing.assert_array_equal(one[0], many[row])
    treatment_block = one_hot_groups(pipeline)["treatment__treatment"]
    assert (many[:, treatment_block].sum(axis=1) == 1).all()
