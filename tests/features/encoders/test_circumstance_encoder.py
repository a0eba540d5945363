"""CircumstanceEncoder: documents, course of treatment, place, money and age of the visit."""
import numpy as np
import pytest

from features.encoders import CircumstanceEncoder


@pytest.mark.parametrize("claim, expected", [
    ({"benefit_scope": "office_only", "facility_type": "medical_spa"},
     {"facility_fits_benefit_scope": 0, "facility_is_office": 0, "facility_type_medical_spa": 1}),
    ({"benefit_scope": "office_only", "facility_type": "dermatology_clinic"},
     {"facility_fits_benefit_scope": 1, "facility_is_office": 1}),
    ({"benefit_scope": "comprehensive", "facility_type": "medical_spa"}, {"facility_fits_benefit_scope": 1}),
    ({"treatment": "weight_management", "facility_type": "primary_care_clinic"}, {"setting_fits_treatment": 1}),
    ({"treatment": "weight_management", "facility_type": "medical_spa"}, {"setting_fits_treatment": 0}),
    ({"treatment": "botulinum_toxin", "facility_type": "medical_spa"}, {"setting_fits_treatment": 1}),
    ({"visit_number": 1, "weeks_since_last_treatment": np.nan},
     {"initial_visit": 1, "has_prior_treatment": 0, "below_min_weeks_between": 0}),
    ({"treatment": "botulinum_toxin", "visit_number": 3, "weeks_since_last_treatment": 8.0},
     {"initial_visit": 0, "has_prior_treatment": 1, "below_min_weeks_between": 1, "weeks_since_last_treatment": 8}),
    ({"treatment": "botulinum_toxin", "weeks_since_last_treatment": 12.0}, {"below_min_weeks_between": 0}),
    ({"treatment": "massage_therapy", "weeks_since_last_treatment": 1.0}, {"below_min_weeks_between": 0}),
    ({"treatment": "botulinum_toxin", "patient_age": 16}, {"below_min_age": 1, "patient_age": 16}),
    ({"treatment": "wig", "patient_age": 16}, {"below_min_age": 0}),
    ({"place_of_service": "22"}, {"place_of_service_22": 1, "place_of_service_other": 0}),
    ({"place_of_service": "02"}, {"place_of_service_11": 0, "place_of_service_other": 1}),
    ({"billed_amount": 400.0, "benefit_limit": 1000.0, "benefit_used": 800.0},
     {"benefit_remaining": 200, "benefit_remaining_fraction": 0.5, "benefit_exhausted": 0}),
    ({"billed_amount": 400.0, "benefit_limit": 1000.0, "benefit_used": 1000.0},
     {"benefit_remaining": 0, "benefit_remaining_fraction": 0, "benefit_exhausted": 1}),
    ({"billed_amount": 100.0, "benefit_limit": 1000.0, "benefit_used": 0.0}, {"benefit_remaining_fraction": 1}),
    ({"billed_amount": 0.0, "benefit_limit": 300.0, "benefit_used": 0.0}, {"benefit_remaining_fraction": 1}),
    ({"billed_amount": 400.0, "benefit_limit": np.nan, "benefit_used": 5000.0},
     {"benefit_remaining_fraction": 1, "benefit_exhausted": 0}),
    ({"billed_amount": np.expm1(3.0)}, {"billed_amount_log1p": pytest.approx(3.0)}),
    ({"referral": False, "prior_authorization": True, "medical_necessity_letter": False,
      "conservative_therapy_documented": True},
     {"referral": 0, "prior_authorization": 1, "medical_necessity_letter": 0, "conservative_therapy_documented": 1}),
    # botulinum toxin asks for prior authorization and conservative therapy; a wig asks for neither
    ({"treatment": "botulinum_toxin", "prior_authorization": True, "conservative_therapy_documented": True},
     {"prior_authorization_where_required": 1, "conservative_therapy_where_required": 1}),
    ({"treatment": "botulinum_toxin", "prior_authorization": False, "conservative_therapy_documented": False},
     {"prior_authorization_where_required": 0, "conservative_therapy_where_required": 0}),
    ({"treatment": "wig", "prior_authorization": True, "conservative_therapy_documented": True},
     {"prior_authorization": 1, "prior_authorization_where_required": 0, "conservative_therapy_where_required": 0}),
    ({"treatment": "not_in_catalog", "prior_authorization": True}, {"prior_authorization_where_required": 0}),
])
def test_circumstance_encoder(make_clean_frame, encode, claim, expected):
    row = encode(CircumstanceEncoder(), make_clean_frame(claim))
    assert {name: row[name] for name in expected} == expected


def test_missing_numbers_stay_missing(make_clean_frame, encode):
    frame = make_clean_frame({"weeks_since_last_treatment": np.nan, "benefit_limit": np.nan})
    row = encode(CircumstanceEncoder(), frame)
    assert np.isnan(row["weeks_since_last_treatment"]) and np.isnan(row["benefit_remaining"])


def test_numbers_past_float32_range_stay_finite(make_clean_frame):
    """The contract sets no upper bound; the fuzzer sent 1e308 and the denial model's logits turned NaN."""
    frame = make_clean_frame({"weeks_since_last_treatment": 1e308, "benefit_limit": 1.7e308, "benefit_used": 0.0,
                              "billed_amount": 1.7e308})
    matrix = CircumstanceEncoder().fit(frame).transform(frame)
    assert np.isfinite(matrix).all()


def test_place_of_service_codes_are_a_parameter(make_clean_frame):
    encoder = CircumstanceEncoder(place_of_service_codes=("11", "02")).fit(make_clean_frame({}))
    names = list(encoder.get_feature_names_out())
    assert [n for n in names if n.startswith("place_of_service_")] == [
        "place_of_service_11", "place_of_service_02", "place_of_service_other"]
    with pytest.raises(ValueError, match="place_of_service_codes must be a tuple of distinct non-empty code strings"):
        CircumstanceEncoder(place_of_service_codes="11").fit(make_clean_frame({}))
