"""POST /v1/letters with the session's real champion: a letter for each covered pathway of the
catalog (criteria and citations present, placeholders left for the clinic), none for a claim any
rule of the rules table fires on (each named), and nothing of the letter in the log or the audit
store but that it was drafted."""
from __future__ import annotations

import pytest

from features.catalog import load_catalog
from features.diagnosis import load_table, with_dot
from features.documentation import criteria_for
from features.rules import load_rules
from service.letters import PATIENT_PLACEHOLDERS
from tests.service.service_testing import DROP, SENTINEL, body_of, example_claim

MIGRAINE_CLAIM = example_claim(claim_id="L-1")  # botulinum toxin, 64615, G43.709: the README's example


def _covered_claims():
    """One claim per covered pathway: each treatment a plan may cover with a billable code of each
    covered-diagnosis pattern (and a code of what it also requires)."""
    catalog, table = load_catalog(), load_table()

    def billable(pattern):
        stem = pattern.rstrip("*")
        return next(code for code in sorted(table.codes) if code.startswith(stem) and table.is_billable(code))

    for key in catalog.keys:
        treatment = catalog[key]
        if treatment.never_covered:
            continue
        also = [with_dot(billable(treatment.covered_requires_also[0]))] if treatment.covered_requires_also else []
        for pattern in treatment.covered_diagnoses:
            yield key, [with_dot(billable(pattern)), *also]


def _letter(client, auth, claim, **names):
    return client.post("/v1/letters", headers=auth, json={"claim": claim, **names})


def test_a_letter_for_each_covered_pathway_lists_its_criteria_and_citations(served_client, auth):
    drafted = refused = 0
    for treatment, codes in _covered_claims():
        claim = example_claim(treatment=treatment, procedure_code=None, diagnosis_codes=codes)
        claim.pop("procedure_code")
        response = _letter(served_client, auth, claim)
        body = body_of(response)
        if response.status_code == 422:  # a hard rule the history upholds (an age or setting rule, ...)
            assert body["code"] == "letter_not_offered", (treatment, codes, body)
            refused += 1
            continue
        assert response.status_code == 200, (treatment, codes, body)
        drafted += 1
        catalog_sources = [part.strip() for part in load_catalog()[treatment].source.split(";")]
        assert body["citations"] == catalog_sources
        expected = [criterion.text for criterion in criteria_for(treatment, [code.replace(".", "") for code in codes])]
        assert [criterion["text"] for criterion in body["criteria"]] == expected and expected
        for text in (*expected, *catalog_sources, *PATIENT_PLACEHOLDERS):
            assert text in body["markdown"]
        assert all(found["description"] for found in body["diagnoses"])
    assert drafted > refused


def test_the_migraine_letter_has_placeholders_and_prints(served_client, auth, log_lines):
    response = _letter(served_client, auth, MIGRAINE_CLAIM, provider_name="Dr A. Example")
    body = body_of(response)
    assert response.status_code == 200
    assert body["diagnoses"] == [{"code": "G43.709", "description": body["diagnoses"][0]["description"]}]
    assert "migraine" in body["diagnoses"][0]["description"].lower()
    assert "- [ ] A headache diary" in body["markdown"] and "Aetna CPB 0113" in body["markdown"]
    assert body["placeholders"] == [*PATIENT_PLACEHOLDERS, "[PRACTICE NAME]", "[SIGNATURE]"]
    assert "@media print" in body["html"] and "<script" not in body["html"]
    assert "Dr A. Example" in body["html"]
    logged = "\n".join(log_lines())
    assert "letters_drafted" in logged and "headache" not in logged and "G43" not in logged


# A claim each rule of features/data/exclusion_rules.csv fires on (the test fails on a rule missing here).
RULE_CLAIMS = {
    "DENTAL-001": example_claim(treatment="teeth_whitening", procedure_code="D9972", diagnosis_codes=[]),
    "COMFORT-001": example_claim(treatment="facial", procedure_code=DROP, diagnosis_codes=[]),
    "COMFORT-002": example_claim(treatment="massage_therapy", procedure_code="97124", diagnosis_codes=["R53.83"]),
    "INVESTIGATIONAL-001": example_claim(treatment="photodynamic_therapy", procedure_code="96567",
                                         diagnosis_codes=["L70.0"]),
    "INVESTIGATIONAL-002": example_claim(treatment="acne_treatment", procedure_code="96567", diagnosis_codes=["L70.0"]),
    "INVESTIGATIONAL-003": example_claim(treatment="microdermabrasion", procedure_code="15780",
                                         diagnosis_codes=["L70.0"]),
    "COSMETIC-001": example_claim(procedure_code="64612", diagnosis_codes=["L90.8"]),
    "COSMETIC-002": example_claim(diagnosis_codes=["G43.709", "Z41.1"]),
    "MEDICARE-001": example_claim(treatment="wig", procedure_code="A9282", diagnosis_codes=["L63.0"],
                                  plan_type="medicare"),
    "MEDICARE-002": example_claim(treatment="massage_therapy", procedure_code="97124", diagnosis_codes=["M54.50"],
                                  plan_type="medicare", facility_type="medical_spa"),
    "AGE-001": example_claim(patient_age=12),
    "SETTING-001": example_claim(treatment="weight_management", procedure_code="G0447",
                                 diagnosis_codes=["E66.01", "Z68.41"], plan_type="medicare",
                                 facility_type="medical_spa"),
    "BENEFIT-001": example_claim(benefit_limit=1000, benefit_used=1000),
    "CODING-001": example_claim(diagnosis_codes=["G43.7"]),
}


@pytest.mark.parametrize("rule", load_rules().rules, ids=lambda rule: rule.rule_id)
def test_no_letter_for_a_claim_any_rule_fires_on_and_the_422_names_the_rule(served_client, auth, rule):
    claim = RULE_CLAIMS[rule.rule_id]  # a KeyError: a new rule needs its claim above
    answer = body_of(served_client.post("/v1/predict", headers=auth, json=claim))
    fired = {found["id"] for found in [*answer["excluded_by"], *answer["rules_learned_from_history"]]}
    assert rule.rule_id in fired, (rule.rule_id, fired)  # whether the history keeps it hard or only learned it
    response = _letter(served_client, auth, claim)
    body = body_of(response)
    assert response.status_code == 422 and body["code"] == "letter_not_offered", body
    why = body["errors"][0]["message"]
    assert body["errors"][0]["field"] == "claim"
    assert f"rule {rule.rule_id} ({rule.rule_class})" in why and rule.reason in why
    assert ("bill the billable code" in why) == rule.fixable  # a header code is corrected, then a letter drafted


def test_a_drafted_letter_is_audited_by_request_id_and_its_text_is_not(served_client, auth, served_app):
    from sqlalchemy import select

    from service.paperwork import paperwork_records

    body = body_of(_letter(served_client, auth, MIGRAINE_CLAIM))
    refused = body_of(_letter(served_client, auth, RULE_CLAIMS["COSMETIC-001"]))
    assert refused["code"] == "letter_not_offered"
    with served_app.extensions["audit_store"].engine.connect() as connection:
        rows = connection.execute(select(paperwork_records)).mappings().all()
    assert [(row["request_id"], row["kind"]) for row in rows] == [(body["request_id"], "letter")]  # none for the 422
    assert set(rows[0]) == {"id", "request_id", "recorded_at", "key_id", "kind"}  # no column for a text or claim


def test_bad_letter_requests_name_the_field_and_repeat_nothing(served_client, auth):
    response = served_client.post("/v1/letters", headers=auth, json={
        "claim": example_claim(plan_type=SENTINEL), "provider_name": "", SENTINEL: 1})
    assert response.status_code == 422
    assert {error["field"] for error in body_of(response)["errors"]} == {
        "claim.plan_type", "provider_name", "(unknown field)"}
    assert SENTINEL not in response.get_data(as_text=True)
