"""The request and response schemas (service.schemas): strict requests that mirror the claims
contract, the JSON Schema they publish (for a claim and for a dataframe row), and responses with
exactly their fields."""
from __future__ import annotations

import re

import jsonschema
import pytest
from pydantic import ValidationError

from features.catalog import load_catalog
from features.contract import EXAMPLE_CLAIM, VISIT_FIELDS, required_fields
from service.schemas import ClaimRequest, ExpectedPayment, InvocationsRequest, ModelInfo, frame_claim_schema
from tests.service.service_testing import DROP, example_claim


def test_the_request_schema_matches_the_contract():
    schema_fields = ClaimRequest.model_fields
    assert tuple(schema_fields) == tuple(VISIT_FIELDS)
    required = {name for name, info in schema_fields.items() if info.is_required()}
    assert required == set(required_fields(history=False))
    for name, (kind, _, _, default) in VISIT_FIELDS.items():
        if default not in (None, ()):
            assert schema_fields[name].default == default, name


@pytest.mark.parametrize("changes", [
    {},
    {"patient_age": 42.0},  # JSON has one number type: 42.0 is the integer 42
    {"weeks_since_last_treatment": None, "benefit_limit": None},  # null where the contract gives it a meaning
    {"diagnosis_codes": DROP, "service_date": DROP, "claim_id": DROP},
    {"treatment": DROP},
])
def test_a_claim_request_accepts(changes):
    ClaimRequest.model_validate(example_claim(**changes))


@pytest.mark.parametrize("changes, field", [
    ({"in_network": "true"}, "in_network"),  # strict: no coercion
    ({"patient_age": 42.5}, "patient_age"),
    ({"visit_number": True}, "visit_number"),
    ({"visit_number": 0}, "visit_number"),
    ({"billed_amount": float("inf")}, "billed_amount"),
    ({"billed_amount": None}, "billed_amount"),  # null only where it means something
    ({"claim_id": None}, "claim_id"),
    ({"plan_type": "gold"}, "plan_type"),
    ({"service_date": "2026-3-2"}, "service_date"),
    ({"diagnosis_codes": "G43.709"}, "diagnosis_codes"),  # a list, not the CSV form
    ({"place_of_service": "1"}, "place_of_service"),
    ({"favourite_colour": "blue"}, "favourite_colour"),
])
def test_a_claim_request_refuses(changes, field):
    with pytest.raises(ValidationError) as refused:
        ClaimRequest.model_validate(example_claim(**changes))
    assert [error["loc"][0] for error in refused.value.errors()] == [field]


def test_the_published_claim_schema_names_the_catalog_and_the_example():
    schema = ClaimRequest.model_json_schema()
    treatment = schema["properties"]["treatment"]
    assert treatment["examples"] == list(load_catalog().keys)
    pattern = re.compile(treatment["pattern"])
    assert all(pattern.match(f" {key} ") for key in load_catalog().keys)  # blanks around it are stripped
    assert not pattern.match("botox") and pattern.match("")  # a blank treatment is absent
    assert re.match(schema["properties"]["plan_type"]["pattern"], "Medicare_Advantage")  # any case
    assert schema["anyOf"] == [{"required": ["treatment"]}, {"required": ["procedure_code"]}]
    assert schema["examples"] == [EXAMPLE_CLAIM]
    assert "default" not in schema["properties"]["claim_id"]  # absent, not null
    assert {"type": "null"} in schema["properties"]["benefit_limit"]["anyOf"]


def test_a_dataframe_row_may_carry_pandas_artefacts_but_not_drop_required_fields():
    validator = jsonschema.Draft202012Validator(frame_claim_schema(ClaimRequest.model_json_schema()),
                                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    row = example_claim(visit_number=None, claim_id=None, diagnosis_codes="G43.709;Z68.35",
                        service_date="2026-03-02T00:00:00")
    assert list(validator.iter_errors(row)) == []
    assert list(validator.iter_errors(example_claim(service_date="2026-03-02T08:30:00")))  # a time of day: no date
    assert list(validator.iter_errors(example_claim(plan_type=None)))


def test_the_invocations_request_takes_only_the_scoring_protocols_fields():
    InvocationsRequest.model_validate({"dataframe_records": [example_claim()], "params": {}})
    with pytest.raises(ValidationError):
        InvocationsRequest.model_validate({"instances": [example_claim()]})


def test_answer_parts_have_exactly_their_fields_and_model_info_may_grow():
    payment = {"amount": 10.0, "payable_if_approved": 20.0, "billed_amount": 20.0, "benefit_remaining": None,
               "currency": "USD"}
    ExpectedPayment.model_validate(payment)
    with pytest.raises(ValidationError):
        ExpectedPayment.model_validate({**payment, "note": "more"})
    assert ModelInfo.model_validate({"ready": False, "note": "more"}).model_extra == {"note": "more"}
