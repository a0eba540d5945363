"""What the served-model tests share: the `better` history's test claims without their outcomes,
and a canonical claim (clean-frame keys) to vary."""
from __future__ import annotations

import pandas as pd
import pytest

OUTCOME_COLUMNS = ["outcome", "paid_amount", "denial_reason", "approved"]


def canonical_claim(**changes) -> dict:
    """Botulinum toxin for chronic migraine at an office, with everything a payer asks for."""
    claim = {
        "claim_id": "C-1", "service_date": pd.Timestamp("2025-06-01"), "treatment": "botulinum_toxin",
        "procedure_code": "64615", "diagnosis_codes": "G43709", "plan_type": "ppo",
        "benefit_scope": "comprehensive", "facility_type": "physician_office", "place_of_service": "11",
        "in_network": True, "referral": True, "medical_necessity_letter": True, "prior_authorization": True,
        "conservative_therapy_documented": True, "visit_number": 1, "weeks_since_last_treatment": float("nan"),
        "patient_age": 44, "billed_amount": 1200.0, "benefit_limit": float("nan"), "benefit_used": 0.0,
    }
    claim.update(changes)
    return claim


@pytest.fixture
def make_claim():
    return canonical_claim


@pytest.fixture(scope="session")
def test_claims(better_split):
    return better_split.test.drop(columns=OUTCOME_COLUMNS, errors="ignore").reset_index(drop=True)
