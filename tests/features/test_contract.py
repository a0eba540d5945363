"""The claims contract as data: which fields a file or a request must carry, the place-of-service
defaults, the example claim, and the inputs the model may never be lowered by."""
import pytest

from features.contract import (
    BENEFIT_REMAINING,
    BOOL_FIELDS,
    CLEAN_COLUMNS,
    DEFAULT_PLACE_OF_SERVICE,
    ENUM_VALUES,
    EXAMPLE_CLAIM,
    FACILITY_TYPES,
    MONOTONIC_FLAGS,
    MONOTONIC_INPUTS,
    NUMBER_BOUNDS,
    OFFICE_FACILITIES,
    TREATMENT_FIELDS,
    VISIT_FIELDS,
    default_place_of_service,
    required_fields,
)

REQUEST_FIELDS = ("plan_type", "benefit_scope", "facility_type", "in_network", "referral", "medical_necessity_letter",
                  "prior_authorization", "patient_age", "billed_amount")


def test_a_request_must_carry_the_policy_paperwork_age_and_amount():
    assert required_fields(history=False) == REQUEST_FIELDS


def test_a_history_file_must_carry_what_a_request_does_and_the_claim_id_and_date():
    history = required_fields(history=True)
    assert set(REQUEST_FIELDS) < set(history)
    assert set(history) - set(REQUEST_FIELDS) == {"claim_id", "service_date"}
    assert list(history) == [name for name in VISIT_FIELDS if name in history]  # in contract order


def test_a_required_field_has_no_default():
    for name in required_fields(history=False):
        assert VISIT_FIELDS[name][3] is None, name


@pytest.mark.parametrize("facility, code", [("medical_spa", "11"), ("physician_office", "11"),
                                            ("hospital_outpatient", "22"), ("ambulatory_surgery_center", "24")])
def test_default_place_of_service(facility, code):
    assert default_place_of_service(facility) == code


def test_every_facility_has_a_two_digit_default_place_of_service():
    assert set(DEFAULT_PLACE_OF_SERVICE) == set(FACILITY_TYPES)
    for facility in FACILITY_TYPES:
        code = default_place_of_service(facility)
        assert len(code) == 2 and code.isdigit(), facility
    assert set(OFFICE_FACILITIES) < set(FACILITY_TYPES)


def test_an_unknown_facility_has_no_default_place_of_service():
    with pytest.raises(KeyError):
        default_place_of_service("spa")


def test_the_example_claim_uses_only_visit_fields_and_carries_every_required_one():
    assert set(EXAMPLE_CLAIM) <= set(VISIT_FIELDS)
    assert set(required_fields(history=False)) <= set(EXAMPLE_CLAIM)
    assert set(TREATMENT_FIELDS) & set(EXAMPLE_CLAIM)


def test_the_example_claim_values_are_of_the_contract():
    for name, allowed in ENUM_VALUES.items():
        if name in EXAMPLE_CLAIM:
            assert EXAMPLE_CLAIM[name] in allowed, name
    for name in BOOL_FIELDS:
        assert isinstance(EXAMPLE_CLAIM.get(name, False), bool), name
    for name, (low, high) in NUMBER_BOUNDS.items():
        if name in EXAMPLE_CLAIM:
            assert low <= EXAMPLE_CLAIM[name] and (high is None or EXAMPLE_CLAIM[name] <= high), name


def test_monotonic_flags_are_bool_fields_and_benefit_left_is_monotone_too():
    assert MONOTONIC_FLAGS and set(MONOTONIC_FLAGS) <= set(BOOL_FIELDS)
    assert all(VISIT_FIELDS[name][0] == "bool" for name in MONOTONIC_FLAGS)
    assert MONOTONIC_INPUTS == (*MONOTONIC_FLAGS, BENEFIT_REMAINING)


def test_the_clean_columns_are_the_visit_fields_in_order():
    assert CLEAN_COLUMNS == tuple(VISIT_FIELDS)
