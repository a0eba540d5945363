"""Cards and system actions built from an answer in the API's shape: the summary fits CDS Hooks'
140 characters, the indicator is never critical, a recommended billable code becomes a suggestion
whose updated order is FHIR R4, and an order's earlier coverage-information is replaced."""
from __future__ import annotations

from datetime import date

from service.cds_hooks.crd_response import card, system_action
from service.cds_hooks.order_mapping import COVERAGE_INFORMATION_URL, MappedOrder
from tests.service.cds_hooks import crd_examples
from tests.service.cds_hooks.crd_checks import check_cards, coverage_information


def _order() -> MappedOrder:
    call = crd_examples.blepharoplasty_in_hospital_outpatient(pa_id="PA-1")
    resource = call["context"]["draftOrders"]["entry"][0]["resource"]
    claim = dict(crd_examples.BLEPHAROPLASTY_CLAIM, diagnosis_codes=["H02.83"])
    return MappedOrder("context.draftOrders.entry[0].resource", resource, "ServiceRequest",
                       coverage_reference="Coverage/cov-medicare", claim=claim, treatment="blepharoplasty",
                       satisfied_pa_id="PA-1")


def _answer(**changes) -> dict:
    answer = {
        "decision": "uncertain", "approval_probability": 0.41, "excluded_by": [],
        "likely_denial_reasons": [{"carc": "146", "description": "Diagnosis invalid for date of service",
                                   "probability": 0.4}],
        "recommendations": [{"action": "bill_specific_diagnosis_code", "description": "Bill the most specific "
                             "(billable) diagnosis code instead of the header code", "probability_after": 0.7,
                             "gain": 0.29, "diagnosis_codes": ["H02.831"]}],
        "coverage_information": {"covered": "conditional", "pa_needed": "satisfied", "doc_needed": "both",
                                 "info_needed": ["location"], "sources": {}},
    }
    answer.update(changes)
    return answer


def test_a_recommended_billable_code_is_a_suggestion_updating_the_orders_reasons():
    result = card(_order(), _answer(), "req-1")
    check_cards([result])
    [suggestion] = result["suggestions"]
    [action] = suggestion["actions"]
    assert action["resource"]["reasonCode"] == [{"coding": [{"system": crd_examples.ICD10CM, "code": "H02.831"}]}]
    assert result["indicator"] == "warning"  # documents still needed
    assert "blepharoplasty (15823): payment uncertain, 41% chance the plan pays" == result["summary"]


def test_the_summary_fits_140_characters_and_a_likely_payment_is_info():
    order = _order()
    order.claim = dict(order.claim, procedure_code="1" * 200)
    result = card(order, _answer(decision="likely_approved", recommendations=[], coverage_information={
        "covered": "covered", "pa_needed": "no-auth", "doc_needed": None, "info_needed": [], "sources": {}}), "r")
    assert len(result["summary"]) < 140 and result["indicator"] == "info" and "suggestions" not in result


def test_the_system_action_replaces_an_earlier_coverage_information_and_splits_both_documents():
    action = system_action(_order(), _answer(), "req-1", date(2026, 12, 7))
    parts = coverage_information(action)
    assert parts["doc-needed"] == ["clinical", "admin"] and parts["doc-purpose"] == ["withclaim"]
    assert parts["coverage-assertion-id"] == ["req-1"] and parts["date"] == ["2026-12-07"]
    assert parts["coverage"] == [{"reference": "Coverage/cov-medicare"}] and parts["satisfied-pa-id"] == ["PA-1"]
    assert sum(item["url"] == COVERAGE_INFORMATION_URL for item in action["resource"]["extension"]) == 1


def test_a_claim_a_rule_excludes_carries_no_prior_authorization_part():
    information = {"covered": "not-covered", "pa_needed": None, "doc_needed": None, "info_needed": [], "sources": {}}
    action = system_action(_order(), _answer(decision="excluded", coverage_information=information), "r",
                           date(2026, 12, 7))
    parts = coverage_information(action)
    assert parts["covered"] == ["not-covered"] and "pa-needed" not in parts


def test_the_detail_leads_with_the_answers_summary_and_its_reasons_in_points():
    reasons = {"items": [{"input": "prior_authorization", "text": "No prior authorization is on file", "points": -33.4},
                         {"input": "medical_necessity_letter", "text": "A letter of medical necessity is attached",
                          "points": 8.6}],
               "everything_else_points": -2.2, "everything_else_inputs": ["billed_amount"]}
    summary = "Payment uncertain: no prior authorization is on file."
    detail = card(_order(), _answer(summary=summary, reasons=reasons), "req-1")["detail"]
    assert detail.startswith(summary + "\n")
    why = detail.index("**Why**")
    assert why < detail.index("**Coverage**")
    assert detail.index("No prior authorization is on file (-33 points)") > why
    assert "A letter of medical necessity is attached (+9 points)" in detail
    assert "Everything else together (-2 points)" in detail
    # an answer asked for without its explanation has no Why section, and no summary line to lead with
    assert "**Why**" not in card(_order(), _answer(), "req-1")["detail"]
