"""The Inferno Da Vinci CRD test kit's hook requests (inferno/, unchanged but for fhirServer),
checked with the kit's own server-side rules (crd_checks): every order gets a coverage-information
system action even when it cannot be assessed: the fixtures' orders are not all valid FHIR R4 (their
NutritionOrder lacks `intent`, their MedicationRequest's `doseAndRate` is not a list, their
Appointments carry R5's `reason` and a malformed `end`). The order's other extensions are kept, and
what is wrong is said by element, never by value."""
from __future__ import annotations

import pytest

from tests.service.cds_hooks.cds_testing import inferno_request
from tests.service.cds_hooks.crd_checks import check_cards, coverage_information


@pytest.mark.parametrize("name, service_id", [("order_sign_hook_request", "medspa-coverage-order-sign"),
                                              ("order_select_hook_request", "medspa-coverage-order-select")])
def test_every_order_of_an_inferno_request_gets_coverage_information(cds_app, hook_call, fhir_server, name,
                                                                     service_id):
    call = inferno_request(name)
    call["fhirServer"] = fhir_server.base
    response = hook_call(cds_app.test_client(), service_id, call)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    orders = call["context"]["draftOrders"]["entry"]
    selected = call["context"].get("selections") or [f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
                                                     for entry in orders]
    assert [f"{action['resource']['resourceType']}/{action['resource']['id']}"
            for action in answer["systemActions"]] == selected
    for action in answer["systemActions"]:
        parts = coverage_information(action, valid_order=False)
        assert parts["covered"] == ["conditional"] and parts["pa-needed"] == ["conditional"]
        assert parts["info-needed"] == ["OTH"]
    sent = {f"{entry['resource']['resourceType']}/{entry['resource']['id']}": entry["resource"] for entry in orders}
    for action in answer["systemActions"]:  # the order's own extensions stay (order-sign's NutritionOrder has two)
        resource = action["resource"]
        own = sent[f"{resource['resourceType']}/{resource['id']}"].get("extension", [])
        assert all(extension in resource["extension"] for extension in own)
    check_cards(answer["cards"])
    assert all(card["indicator"] == "warning" and "not assessed" in card["summary"] for card in answer["cards"])
    assert "not a valid FHIR R4 NutritionOrder: intent" in answer["cards"][0]["detail"]
    assert "not a valid FHIR R4 MedicationRequest: dosageInstruction.0.doseAndRate" in answer["cards"][1]["detail"]
    assert fhir_server.requests  # the prefetch-less fixture was read from the FHIR server (which knows nothing)


def test_the_inferno_appointments_are_answered_not_assessed_naming_the_elements_fhir_r4_lacks(
        cds_app, hook_call, fhir_server):
    call = inferno_request("appointment_book_hook_request")
    call["fhirServer"] = fhir_server.base
    response = hook_call(cds_app.test_client(), "medspa-coverage-appointment-book", call)
    assert response.status_code == 200
    answer = response.get_json()
    assert [action["resource"]["id"] for action in answer["systemActions"]] == ["apt1", "apt2"]
    for action in answer["systemActions"]:
        assert coverage_information(action, valid_order=False)["covered"] == ["conditional"]
    check_cards(answer["cards"])
    assert "not a valid FHIR R4 Appointment" in answer["cards"][0]["detail"] and "reason" in answer["cards"][0]["detail"]
    assert all("Apnea" not in card["detail"] and "CPAP" not in card["detail"] for card in answer["cards"])
