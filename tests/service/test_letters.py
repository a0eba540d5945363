"""POST /v1/letters with the session's real champion: a letter for each covered pathway of the
catalog (criteria and citations present, placeholders left for the clinic), none for a claim a hard
rule excludes, and nothing of the letter in the log."""
from __future__ import annotations

import pytest

from features.catalog import load_catalog
from features.diagnosis import load_table, with_dot
from features.documentation import criteria_for
from service.letters import PATIENT_PLACEHOLDERS
from tests.service.service_testing import SENTINEL, body_of, example_claim

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


@pytest.mark.parametrize("claim", [
    example_claim(diagnosis_codes=["L90.8"], procedure_code="64612"),  # toxin for wrinkles: cosmetic
    example_claim(treatment="teeth_whitening", procedure_code="D9972", diagnosis_codes=[]),  # dental
    example_claim(treatment="facial", procedure_code=None, diagnosis_codes=[]),  # comfort
])
def test_no_letter_for_a_claim_a_hard_rule_excludes(served_client, auth, claim):
    claim = {name: value for name, value in claim.items() if value is not None}
    response = _letter(served_client, auth, claim)
    assert response.status_code == 422 and body_of(response)["code"] == "letter_not_offered"


def test_bad_letter_requests_name_the_field_and_repeat_nothing(served_client, auth):
    response = served_client.post("/v1/letters", headers=auth, json={
        "claim": example_claim(plan_type=SENTINEL), "provider_name": "", SENTINEL: 1})
    assert response.status_code == 422
    assert {error["field"] for error in body_of(response)["errors"]} == {
        "claim.plan_type", "provider_name", "(unknown field)"}
    assert SENTINEL not in response.get_data(as_text=True)
