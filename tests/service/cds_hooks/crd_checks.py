"""The checks a CRD answer must pass, ported from the Inferno Da Vinci CRD test kit's server tests
(lib/davinci_crd_test_kit/cards_validation.rb, service_response_validation_test.rb,
coverage_information_system_action_validation_test.rb), plus the round trip through the FHIR
model library: the updated order of each system action parses as a FHIR R4 resource."""
from __future__ import annotations

from service.cds_hooks.fhir_resources import parse_resource
from service.cds_hooks.order_mapping import COVERAGE_INFORMATION_URL

INDICATORS = ("info", "warning", "critical")


def check_cards(cards: list[dict]) -> None:
    for card in cards:
        assert isinstance(card["summary"], str) and len(card["summary"]) < 140, card["summary"]
        assert card["indicator"] in INDICATORS and card["indicator"] != "critical"
        assert isinstance(card["source"]["label"], str)
        assert isinstance(card["source"]["topic"]["code"], str) and isinstance(card["source"]["topic"]["system"], str)
        for link in card.get("links", []):
            assert link["label"] and link["url"].startswith("https://") and link["type"] in ("absolute", "smart")
            assert "appContext" not in link
        if card.get("suggestions"):
            assert card["selectionBehavior"] in ("at-most-one", "any")
            for suggestion in card["suggestions"]:
                assert suggestion["label"] and suggestion["actions"]
                for action in suggestion["actions"]:
                    check_action(action)


def check_action(action: dict) -> None:
    assert action["type"] in ("create", "update", "delete") and action.get("description")
    if action["type"] != "delete":
        parse_resource(action["resource"])  # raises when the resource is not FHIR R4


def coverage_information(action: dict, valid_order: bool = True) -> dict:
    """A coverage-information system action's extension as {url: [values]}, after Inferno's checks
    (valid_order False: the order as sent was not FHIR R4, so neither is its update)."""
    assert action["type"] == "update"
    if valid_order:
        check_action(action)
    extensions = [item for item in action["resource"]["extension"] if item["url"] == COVERAGE_INFORMATION_URL]
    assert len(extensions) == 1, "one coverage-information per coverage, no earlier one left beside it"
    parts: dict[str, list] = {}
    for part in extensions[0]["extension"]:
        value = next(value for key, value in part.items() if key.startswith("value"))
        parts.setdefault(part["url"], []).append(value)
    assert len(parts["covered"]) == 1 and len(parts["date"]) == 1 and len(parts["coverage-assertion-id"]) == 1
    assert parts["covered"][0] in ("covered", "not-covered", "conditional")
    assert set(parts.get("pa-needed", [])) <= {"no-auth", "auth-needed", "satisfied", "performpa", "conditional"}
    assert set(parts.get("doc-needed", [])) <= {"clinical", "admin", "patient", "conditional"}
    assert set(parts.get("info-needed", [])) <= {"performer", "location", "timeframe", "contract", "detail-code", "OTH"}
    return parts
