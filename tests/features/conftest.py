"""Clean claims frames built by hand, small: the input the feature encoders read."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract import CLEAN_COLUMNS

# A claim where nothing stands out; tests override the fields they are about.
BASE_CLAIM = {
    "claim_id": "c-1",
    "service_date": "2026-03-02",
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
    "weeks_since_last_treatment": np.nan,
    "patient_age": 45,
    "billed_amount": 600.0,
    "benefit_limit": np.nan,
    "benefit_used": 0.0,
}
CATEGORY_COLUMNS = ("plan_type", "benefit_scope", "facility_type")
BOOL_COLUMNS = ("in_network", "referral", "medical_necessity_letter", "prior_authorization",
                "conservative_therapy_documented")


def clean_frame(*claims: dict) -> pd.DataFrame:
    """Claims (partial dicts over BASE_CLAIM) as a clean claims frame with the contract's dtypes."""
    frame = pd.DataFrame([{**BASE_CLAIM, **claim} for claim in claims], columns=list(CLEAN_COLUMNS))
    frame["service_date"] = pd.to_datetime(frame["service_date"])
    for column in CATEGORY_COLUMNS:
        frame[column] = frame[column].astype("category")
    for column in BOOL_COLUMNS:
        frame[column] = frame[column].astype(bool)
    for column in ("visit_number", "patient_age"):
        frame[column] = frame[column].astype("int64")
    for column in ("weeks_since_last_treatment", "billed_amount", "benefit_limit", "benefit_used"):
        frame[column] = frame[column].astype("float64")
    return frame


@pytest.fixture
def make_clean_frame():
    return clean_frame


# Values that vary independently in varied_claims; every catalog key, header and cosmetic codes.
_VARIATIONS = {
    ("treatment", "procedure_code", "diagnosis_codes", "facility_type", "place_of_service"): [
        ("botulinum_toxin", "64615", "G43709", "physician_office", "11"),
        ("botulinum_toxin", "J0585", "G437", "medical_spa", "11"),
        ("botulinum_toxin", "64650", "L74510;Z411", "dermatology_clinic", "11"),
        ("facial", "", "", "medical_spa", "11"),
        ("manicure", None, "Z411", "medical_spa", "49"),
        ("weight_management", "G0447", "Z6835;E6601", "primary_care_clinic", "11"),
        ("weight_management", "G0473", "E6601", "medical_spa", "11"),
        ("laser_hair_removal", "17999", "F640", "dermatology_clinic", "11"),
        ("sclerotherapy", "36470", "I83813;I872", "hospital_outpatient", "22"),
        ("blepharoplasty", "15822", "H02831", "ambulatory_surgery_center", "24"),
        ("wig", "A9282", "L630;L651", "medical_spa", "11"),
        ("massage_therapy", "97124", "M5450", "physician_office", "11"),
        ("massage_therapy", "97140", "", "medical_spa", "11"),
        ("teeth_whitening", "D9972", "", "physician_office", "11"),
        ("acne_treatment", "10040", "L700", "dermatology_clinic", "19"),
        ("unlisted", "17999", "L818", "medical_spa", "11"),
        ("chemical_peel", "15788", "L570;C4441", "dermatology_clinic", "11"),
    ],
    ("plan_type", "benefit_scope"): [("ppo", "comprehensive"), ("hmo", "office_only"), ("medicare", "comprehensive"),
                                     ("hdhp", "office_only"), ("medicaid", "comprehensive")],
    ("in_network", "referral", "prior_authorization"): [(True, True, True), (False, False, False),
                                                        (True, False, True)],
    ("visit_number", "weeks_since_last_treatment", "patient_age"): [(1, np.nan, 45), (3, 8.0, 30), (2, 14.0, 16)],
    ("billed_amount", "benefit_limit", "benefit_used"): [(600.0, np.nan, 0.0), (250.0, 1000.0, 900.0),
                                                         (80.0, 500.0, 500.0), (0.0, 300.0, 0.0)],
}


def varied_claims(count: int, seed: int = 0) -> list[dict]:
    """`count` claims mixing the variations above (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    claims = []
    for number in range(count):
        claim = {"claim_id": f"c-{number}"}
        for names, options in _VARIATIONS.items():
            claim.update(zip(names, options[rng.integers(len(options))]))
        claim["medical_necessity_letter"] = bool(rng.integers(2))
        claim["conservative_therapy_documented"] = bool(rng.integers(2))
        claims.append(claim)
    return claims


@pytest.fixture(scope="session")
def varied_claim_dicts() -> list[dict]:
    """600 claims as canonical dicts (BASE_CLAIM filled in)."""
    return [{**BASE_CLAIM, **claim} for claim in varied_claims(600)]


@pytest.fixture(scope="session")
def varied_frame(varied_claim_dicts) -> pd.DataFrame:
    return clean_frame(*varied_claim_dicts)

