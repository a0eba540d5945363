"""normalise_request_claim: request JSON -> the canonical claim dict of the clean frame."""
from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from features.catalog import UNLISTED
from features.contract import CLEAN_COLUMNS, COST_SHARING_FIELDS
from service.claims import (ClaimValidationError, claim_from_frame_row, claim_to_json, claim_warnings,
                            normalise_claims, normalise_request_claim)
from tests.service.service_testing import DROP, example_claim


def test_the_canonical_claim_has_exactly_the_clean_frame_keys_in_order():
    claim = normalise_request_claim(example_claim())
    assert tuple(claim) == CLEAN_COLUMNS
    assert claim == {
        "claim_id": "example-0001",
        "service_date": pd.Timestamp("2026-03-02"),
        "treatment": "botulinum_toxin",
        "procedure_code": "64615",
        "diagnosis_codes": "G43709",
        "plan_type": "ppo",
        "benefit_scope": "comprehensive",
        "facility_type": "physician_office",
        "place_of_service": "11",
        "in_network": True,
        "referral": True,
        "medical_necessity_letter": True,
        "prior_authorization": True,
        "conservative_therapy_documented": True,
        "visit_number": 1,
        "weeks_since_last_treatment": claim["weeks_since_last_treatment"],  # NaN != NaN
        "patient_age": 42,
        "billed_amount": 1200.0,
        "benefit_limit": claim["benefit_limit"],
        "benefit_used": 0.0,
        **{name: claim[name] for name in COST_SHARING_FIELDS},
    }
    assert math.isnan(claim["weeks_since_last_treatment"]) and math.isnan(claim["benefit_limit"])
    assert all(math.isnan(claim[name]) for name in COST_SHARING_FIELDS)  # v1.1's fields: unknown when absent


@pytest.mark.parametrize("field, value", [("allowed_amount", 800.0), ("deductible_remaining", 0.0),
                                          ("coinsurance_rate", 0.2), ("coinsurance_rate", 1), ("copay", 40.0)])
def test_the_cost_sharing_fields_are_read_as_numbers(field, value):
    claim = normalise_request_claim(example_claim(**{field: value}))
    assert claim[field] == float(value) and isinstance(claim[field], float)


@pytest.mark.parametrize("field, value, allowed", [
    ("coinsurance_rate", 1.5, "from 0 to 1"), ("coinsurance_rate", 25, "from 0 to 1"),
    ("coinsurance_rate", -0.1, "from 0 to 1"), ("allowed_amount", -1, ">= 0"),
    ("deductible_remaining", -5, ">= 0"), ("copay", "40", ">= 0"),
])
def test_a_cost_sharing_field_out_of_range_is_refused_naming_the_field_and_its_range(field, value, allowed):
    with pytest.raises(ClaimValidationError) as refused:
        normalise_request_claim(example_claim(**{field: value}))
    assert [error["field"] for error in refused.value.errors] == [field]
    assert allowed in refused.value.errors[0]["message"] and str(value) not in refused.value.errors[0]["message"]


def test_null_cost_sharing_fields_are_unknown():
    claim = normalise_request_claim(example_claim(**{name: None for name in COST_SHARING_FIELDS}))
    assert all(math.isnan(claim[name]) for name in COST_SHARING_FIELDS)


@pytest.mark.parametrize("changes, field, expected", [
    # diagnosis codes: dots optional, any case, surrounding blanks; joined by ';' in order
    ({"diagnosis_codes": ["g43.709", " Z68.35 "]}, "diagnosis_codes", "G43709;Z6835"),
    ({"diagnosis_codes": ["G43709", "z6835"]}, "diagnosis_codes", "G43709;Z6835"),
    ({"diagnosis_codes": []}, "diagnosis_codes", ""),
    ({"diagnosis_codes": DROP}, "diagnosis_codes", ""),
    ({"diagnosis_codes": ["G43.7"]}, "diagnosis_codes", "G437"),  # a header code is valid input
    # treatment from the procedure code alone; the code normalised
    ({"treatment": DROP, "procedure_code": "j0585"}, "treatment", "botulinum_toxin"),
    ({"treatment": DROP, "procedure_code": " j0585 "}, "procedure_code", "J0585"),
    ({"treatment": DROP, "procedure_code": "D9972"}, "treatment", "teeth_whitening"),
    ({"procedure_code": DROP}, "procedure_code", None),
    ({"procedure_code": DROP, "treatment": "facial"}, "treatment", "facial"),
    # a valid code no catalog row lists
    ({"treatment": DROP, "procedure_code": "99213"}, "treatment", UNLISTED),
    # defaults
    ({"service_date": DROP}, "service_date", pd.Timestamp(date.today())),
    ({"conservative_therapy_documented": DROP}, "conservative_therapy_documented", False),
    ({"visit_number": DROP}, "visit_number", 1),
    ({"benefit_used": DROP}, "benefit_used", 0.0),
    ({"claim_id": DROP}, "claim_id", None),
    ({"place_of_service": DROP, "facility_type": "hospital_outpatient"}, "place_of_service", "22"),
    ({"place_of_service": DROP, "facility_type": "ambulatory_surgery_center"}, "place_of_service", "24"),
    ({"place_of_service": DROP, "facility_type": "medical_spa"}, "place_of_service", "11"),
    ({"place_of_service": "49"}, "place_of_service", "49"),
    # numbers: ints stay int, amounts become float
    ({"billed_amount": 300}, "billed_amount", 300.0),
    ({"benefit_limit": 500}, "benefit_limit", 500.0),
    ({"weeks_since_last_treatment": 12}, "weeks_since_last_treatment", 12.0),
    ({"visit_number": 3}, "visit_number", 3),
])
def test_normalise_request_claim(changes, field, expected):
    claim = normalise_request_claim(example_claim(**changes))
    assert claim[field] == expected
    assert type(claim[field]) is type(expected)


def test_an_unlisted_code_is_flagged_by_its_treatment_key_and_a_warning():
    claim = normalise_request_claim(example_claim(treatment=DROP, procedure_code="99213"))
    assert claim["treatment"] == UNLISTED and claim["procedure_code"] == "99213"
    assert [warning["field"] for warning in claim_warnings(claim)] == ["procedure_code"]
    assert claim_warnings(normalise_request_claim(example_claim())) == []


def test_every_bad_field_is_reported_without_its_value():
    with pytest.raises(ClaimValidationError) as caught:
        normalise_request_claim(example_claim(plan_type="SECRET", patient_age="SECRET", treatment="SECRET",
                                              procedure_code=DROP, diagnosis_codes=["SECRET", "G43.709", "Q99.999"],
                                              unknown_SECRET=1))
    fields = [error["field"] for error in caught.value.errors]
    assert sorted(fields) == sorted(["plan_type", "patient_age", "treatment", "diagnosis_codes[0]",
                                     "diagnosis_codes[2]", "(unknown field)"])
    assert "SECRET" not in repr(caught.value.errors) and "SECRET" not in str(caught.value)


@pytest.mark.parametrize("changes, field, suggestion", [
    ({"treatment": "Botox", "procedure_code": DROP}, "treatment", "did you mean botulinum_toxin?"),
    ({"treatment": "peel", "procedure_code": DROP}, "treatment", "did you mean chemical_peel?"),
    ({"plan_type": "PPOO"}, "plan_type", "did you mean ppo or pos or epo?"),
    ({"facility_type": "medical spa"}, "facility_type", "did you mean medical_spa?"),
])
def test_an_unknown_value_gets_close_matches_beside_the_allowed_list_never_itself(changes, field, suggestion):
    with pytest.raises(ClaimValidationError) as caught:
        normalise_request_claim(example_claim(**changes))
    (error,) = [error for error in caught.value.errors if error["field"] == field]
    assert suggestion in error["message"] and "one of" in error["message"]
    sent = next(iter(changes.values()))
    words_of_our_own = error["message"].replace(suggestion, "").split(":")[0]  # before the allowed list
    assert sent.lower() not in words_of_our_own.lower()


@pytest.mark.parametrize("code, field", [(None, "treatment"), (DROP, "treatment"), ("", "treatment"),
                                         ("64615", "treatment"), ("12", "procedure_code")])
def test_a_bad_treatment_is_reported_on_treatment_unless_a_bad_code_was_sent(code, field):
    with pytest.raises(ClaimValidationError) as caught:
        normalise_request_claim(example_claim(treatment="Botox", procedure_code=code))
    assert [error["field"] for error in caught.value.errors] == [field]
    if field == "treatment":
        assert "did you mean botulinum_toxin?" in caught.value.errors[0]["message"]


def test_a_null_code_beside_a_good_treatment_is_a_code_not_sent():
    claim = normalise_request_claim(example_claim(treatment="botulinum_toxin", procedure_code=None))
    assert (claim["treatment"], claim["procedure_code"]) == ("botulinum_toxin", None)
    with pytest.raises(ClaimValidationError) as caught:
        normalise_request_claim(example_claim(treatment=None, procedure_code=None))
    assert [error["field"] for error in caught.value.errors] == ["treatment"]


@pytest.mark.parametrize("changes", [
    {"plan_type": "PPOO"}, {"facility_type": "medical spa"}, {"treatment": "Botox", "procedure_code": ""},
    {"treatment": "peel", "procedure_code": ""}, {"procedure_code": "6461", "treatment": ""},
])
def test_a_file_row_is_rejected_in_the_words_and_suggestions_the_api_answers(changes):
    from claims_io.requests import clean_request_frame

    claim = example_claim(**changes)
    with pytest.raises(ClaimValidationError) as caught:
        normalise_request_claim(claim)
    row = {name: ";".join(value) if isinstance(value, list) else str(value).lower() if isinstance(value, bool)
           else value for name, value in claim.items()}
    _, rejected = clean_request_frame(pd.DataFrame([row]).astype(str))
    assert rejected[["field", "reason"]].values.tolist() == [[error["field"], error["message"]]
                                                            for error in caught.value.errors]


def test_enumerations_are_read_in_any_case_as_codes_are():
    claim = normalise_request_claim(example_claim(plan_type="PPO", facility_type=" Medical_Spa ",
                                                  benefit_scope="Comprehensive"))
    assert (claim["plan_type"], claim["facility_type"], claim["benefit_scope"]) == ("ppo", "medical_spa",
                                                                                     "comprehensive")


def test_normalise_claims_keeps_order_and_isolates_bad_claims():
    results = normalise_claims([example_claim(), example_claim(patient_age=-1), "not a claim", example_claim()])
    assert [result.ok for result in results] == [True, False, False, True]
    assert [result.index for result in results] == [0, 1, 2, 3]
    assert results[1].errors[0]["field"] == "patient_age"


def test_frame_rows_lose_their_pandas_artefacts():
    row = {"visit_number": 2.0, "benefit_limit": None, "weeks_since_last_treatment": None, "not_a_field": None,
           "diagnosis_codes": "G43.709;Z68.35", "service_date": "2026-03-02T00:00:00.000", "billed_amount": 10.0}
    assert claim_from_frame_row(row) == {"visit_number": 2.0, "not_a_field": None,
                                         "diagnosis_codes": ["G43.709", "Z68.35"], "service_date": "2026-03-02",
                                         "billed_amount": 10.0}


@pytest.mark.parametrize("value, accepted", [(3, True), (3.0, True), (3.5, False), ("3", False), (True, False)])
def test_an_integer_field_takes_json_integers_only(value, accepted):
    if accepted:
        assert normalise_request_claim(example_claim(visit_number=value))["visit_number"] == 3
    else:
        with pytest.raises(ClaimValidationError):
            normalise_request_claim(example_claim(visit_number=value))


def test_claim_to_json_writes_dates_and_nulls():
    claim = claim_to_json(normalise_request_claim(example_claim()))
    assert claim["service_date"] == "2026-03-02"
    assert claim["benefit_limit"] is None and claim["weeks_since_last_treatment"] is None
