"""Hook calls of the three med-spa visits (crd_examples), answered by the session's champion: each
request parses as FHIR R4, each order gets a coverage-information system action whose updated order
parses too, the cards pass Inferno's checks, and the answer is the API's answer for the same claim
(one scoring path), audited as any answer, with no FHIR text kept."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from service.audit import served_claims
from service.cds_hooks.fhir_resources import parse_resource, resources_of
from tests.service.cds_hooks import crd_examples
from tests.service.cds_hooks.cds_testing import FHIR_TOKEN
from tests.service.cds_hooks.crd_checks import check_cards, coverage_information
from tests.service.service_testing import API_KEY

ORDER_SIGN, APPOINTMENT_BOOK, ORDER_SELECT = ("medspa-coverage-order-sign", "medspa-coverage-appointment-book",
                                              "medspa-coverage-order-select")
EXAMPLES = {
    "toxin for chronic migraine, Medicare Advantage": (ORDER_SIGN, crd_examples.toxin_for_chronic_migraine,
                                                        crd_examples.TOXIN_CLAIM),
    "cosmetic filler appointment, PPO": (APPOINTMENT_BOOK, crd_examples.cosmetic_filler_appointment,
                                         crd_examples.FILLER_CLAIM),
    "blepharoplasty in a hospital outpatient department, traditional Medicare": (
        ORDER_SIGN, crd_examples.blepharoplasty_in_hospital_outpatient, crd_examples.BLEPHAROPLASTY_CLAIM),
}


@pytest.fixture
def client(cds_served_app):
    return cds_served_app.test_client()


def _predict(client, claim: dict) -> dict:
    response = client.post("/v1/predict", json=claim, headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _requests_resources(call: dict) -> list:
    """Every resource of a call, parsed by the FHIR model library (raises when one is not FHIR R4)."""
    parsed = [parse_resource(value) for key in ("draftOrders", "appointments") if key in call["context"]
              for value in [call["context"][key]]]
    parsed += [parse_resource(value) for value in (call.get("prefetch") or {}).values()]
    return [resource for model in parsed for resource in resources_of(model)]


@pytest.mark.parametrize("example", EXAMPLES)
def test_a_crd_example_is_answered_as_the_api_answers_its_claim(client, hook_call, example):
    service_id, build, claim = EXAMPLES[example]
    call = build()
    assert _requests_resources(call)  # the request is FHIR R4 as the library reads it
    response = hook_call(client, service_id, call)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    check_cards(answer["cards"])
    [action], [card] = answer["systemActions"], answer["cards"]
    parts = coverage_information(action)
    expected = _predict(client, claim)
    information = expected["coverage_information"]
    assert parts["covered"] == [information["covered"]]
    assert parts.get("pa-needed") == ([information["pa_needed"]] if information["pa_needed"] is not None else None)
    assert parts.get("info-needed", []) == information["info_needed"]
    assert parts["coverage-assertion-id"] == [response.headers["X-Request-ID"]]
    assert parts["coverage"] == [{"reference": call["context"].get("draftOrders", call["context"].get(
        "appointments"))["entry"][0]["resource"].get("insurance", [{"reference": _coverage_of(call)}])[0]["reference"]}]
    assert f"{expected['approval_probability']:.0%} chance the plan pays" in card["summary"]
    payment_problem = expected["decision"] in ("likely_denied", "excluded") or information["covered"] == "not-covered" \
        or information["pa_needed"] == "auth-needed" or information["doc_needed"] is not None
    assert card["indicator"] == ("warning" if payment_problem else "info")
    for reason in expected["likely_denial_reasons"]:
        assert f"CARC {reason['carc']}" in card["detail"]
    # the answer's own words lead, as the page shows them: its summary, then why in points
    shown = card["detail"].replace("\\", "")  # Markdown's escapes removed
    assert shown.startswith(expected["summary"])
    for reason in expected["reasons"]["items"]:
        assert f"{reason['text']} ({reason['points']:+.0f} points)" in shown
    assert "billed amount" in card["detail"] and "network status" in card["detail"]  # said, not assumed silently


def _coverage_of(call: dict) -> str:
    return "Coverage/" + call["prefetch"]["coverage"]["entry"][0]["resource"]["id"]


def test_the_toxin_order_cites_its_policies_as_links(client, hook_call):
    card = hook_call(client, ORDER_SIGN, crd_examples.toxin_for_chronic_migraine()).get_json()["cards"][0]
    urls = {link["url"] for link in card["links"]}
    assert "https://www.aetna.com/cpb/medical/data/100_199/0113.html" in urls
    assert "https://www.cms.gov/medicare-coverage-database/view/lcd.aspx?lcdid=33646" in urls


def test_blepharoplasty_in_hospital_outpatient_needs_authorization_until_one_is_recorded(client, hook_call):
    needed = coverage_information(hook_call(client, ORDER_SIGN,
                                            crd_examples.blepharoplasty_in_hospital_outpatient()).get_json()
                                  ["systemActions"][0])
    assert needed["pa-needed"] == ["auth-needed"]
    satisfied = hook_call(client, ORDER_SIGN, crd_examples.blepharoplasty_in_hospital_outpatient(pa_id="PA-2026-0042"))
    parts = coverage_information(satisfied.get_json()["systemActions"][0])
    assert parts["pa-needed"] == ["satisfied"]  # the earlier extension was read, then replaced by this answer
    assert parts["satisfied-pa-id"] == ["PA-2026-0042"] and "earlier" not in parts["coverage-assertion-id"]


def test_the_hook_call_is_audited_with_the_claim_and_no_fhir_text(cds_served_app, hook_call):
    call = crd_examples.toxin_for_chronic_migraine()
    response = hook_call(cds_served_app.test_client(), ORDER_SIGN, call)
    with cds_served_app.extensions["audit_store"].engine.connect() as connection:
        rows = connection.execute(select(served_claims)).mappings().all()
    [row] = rows
    assert row["request_id"] == response.headers["X-Request-ID"] and row["key_id"].startswith("cds-")
    claim = json.loads(row["claim"])
    assert claim["procedure_code"] == "64615" and claim["plan_type"] == "medicare_advantage"
    assert claim["diagnosis_codes"] == "G43709" and claim["patient_age"] == 44 and claim["referral"] is True
    stored = row["claim"] + row["answer"]
    for text in (crd_examples.PATIENT_NAME, "resourceType", "10A3D58WH456", "Chemodenervation"):
        assert text not in stored


def test_order_select_answers_only_the_selected_orders(client, hook_call):
    call = crd_examples.toxin_for_chronic_migraine()
    other = dict(call["context"]["draftOrders"]["entry"][0]["resource"], id="sr-other")
    call.update(hook="order-select")
    call["context"]["draftOrders"]["entry"].append({"resource": other})
    call["context"]["selections"] = ["ServiceRequest/sr-other"]
    answer = hook_call(client, ORDER_SELECT, call).get_json()
    assert [action["resource"]["id"] for action in answer["systemActions"]] == ["sr-other"]


def test_an_order_without_coverage_still_gets_coverage_information_and_says_why(client, hook_call):
    call = crd_examples.toxin_for_chronic_migraine()
    del call["prefetch"]["coverage"]
    del call["context"]["draftOrders"]["entry"][0]["resource"]["insurance"]
    answer = hook_call(client, ORDER_SIGN, call).get_json()
    parts = coverage_information(answer["systemActions"][0])
    assert parts["covered"] == ["conditional"] and parts["info-needed"] == ["OTH"] and "coverage" not in parts
    card = answer["cards"][0]
    assert card["indicator"] == "warning" and "not assessed" in card["summary"]
    assert "no active Coverage" in card["detail"]


def test_a_reason_that_is_no_icd10cm_code_is_left_out_and_said_without_naming_it(client, hook_call):
    call = crd_examples.blepharoplasty_in_hospital_outpatient()
    call["context"]["draftOrders"]["entry"][0]["resource"]["reasonCode"].append(
        {"coding": [{"system": crd_examples.ICD10CM, "code": "Q99.9ZZ"}]})
    answer = hook_call(client, ORDER_SIGN, call)
    assert answer.status_code == 200
    detail = answer.get_json()["cards"][0]["detail"]
    assert "reason 3 is not an ICD-10-CM code" in detail and "Q99" not in detail


def test_a_prefetch_less_call_is_served_by_the_fhir_server_with_its_token_only_there(
        cds_served_app, hook_call, fhir_server, log_lines):
    client = cds_served_app.test_client()
    call = crd_examples.toxin_for_chronic_migraine()
    prefetch = call["prefetch"]
    fhir_server.serve("Patient/pat-migraine", prefetch["patient"])
    fhir_server.serve("Coverage?patient=pat-migraine&status=active", prefetch["coverage"])
    fhir_server.serve("Condition?patient=pat-migraine&clinical-status=active", prefetch["conditions"])
    fhir_server.serve("DocumentReference?patient=pat-migraine&status=current", prefetch["documents"])
    with_prefetch = hook_call(client, ORDER_SIGN, call).get_json()
    fetched = hook_call(client, ORDER_SIGN, crd_examples.without_prefetch(call, fhir_server.base, FHIR_TOKEN))
    assert fetched.status_code == 200
    read = fetched.get_json()
    assert _comparable(read) == _comparable(with_prefetch)
    assert fhir_server.requests and {header for _, header in fhir_server.requests} == {f"Bearer {FHIR_TOKEN}"}
    with cds_served_app.extensions["audit_store"].engine.connect() as connection:
        stored = json.dumps([dict(row) for row in connection.execute(select(served_claims)).mappings()], default=str)
    assert FHIR_TOKEN not in stored and FHIR_TOKEN not in json.dumps(read) and FHIR_TOKEN not in "".join(log_lines())


def _comparable(answer: dict) -> list:
    """An answer without what differs between two calls (ids, the request id)."""
    cards = [{key: value for key, value in card.items() if key not in ("uuid", "detail")}
             for card in answer["cards"]]
    actions = [[part for part in coverage_information(action).items() if part[0] != "coverage-assertion-id"]
               for action in answer["systemActions"]]
    return [cards, actions]


def test_a_fhir_server_that_does_not_answer_in_time_is_a_note_not_an_error(cds_served_app, hook_call, fhir_server):
    fhir_server.delay = 2.5  # CDS_FHIR_TIMEOUT_SECONDS is 1 in these tests
    call = crd_examples.without_prefetch(crd_examples.toxin_for_chronic_migraine(), fhir_server.base, FHIR_TOKEN)
    response = hook_call(cds_served_app.test_client(), ORDER_SIGN, call)
    assert response.status_code == 200
    card = response.get_json()["cards"][0]
    assert "did not answer within 1 s" in card["detail"] and "not assessed" in card["summary"]
    coverage_information(response.get_json()["systemActions"][0])


def test_a_plain_http_fhir_server_off_loopback_is_not_read(client, hook_call):
    call = crd_examples.without_prefetch(crd_examples.toxin_for_chronic_migraine(), "http://fhir.example.org/r4",
                                         FHIR_TOKEN)
    card = hook_call(client, ORDER_SIGN, call).get_json()["cards"][0]
    assert "not https" in card["detail"]


@pytest.mark.parametrize("change, field", [
    (lambda call: call.pop("context"), "context"),
    (lambda call: call["context"].pop("draftOrders"), "context.draftOrders"),
    (lambda call: call.update(hook="appointment-book"), "hook"),
    (lambda call: call["context"]["draftOrders"]["entry"][0]["resource"].pop("resourceType"),
     "context.draftOrders.entry[0].resource"),
    (lambda call: call.update(fhirAuthorization={"access_token": FHIR_TOKEN}), "fhirAuthorization.token_type"),
])
def test_a_call_that_is_not_a_hook_call_is_422_naming_the_field_and_never_its_value(client, hook_call, change, field):
    call = crd_examples.toxin_for_chronic_migraine()
    change(call)
    response = hook_call(client, ORDER_SIGN, call)
    assert response.status_code == 422
    assert field in {error["field"] for error in response.get_json()["errors"]}
    assert FHIR_TOKEN not in response.get_data(as_text=True)


def test_an_order_that_is_not_fhir_r4_is_answered_not_assessed_naming_the_element(client, hook_call):
    call = crd_examples.toxin_for_chronic_migraine()
    call["context"]["draftOrders"]["entry"][0]["resource"]["status"] = ["draft"]
    answer = hook_call(client, ORDER_SIGN, call).get_json()
    assert coverage_information(answer["systemActions"][0], valid_order=False)["covered"] == ["conditional"]
    assert "not a valid FHIR R4 ServiceRequest: status" in answer["cards"][0]["detail"]
