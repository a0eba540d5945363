"""Hypothesis strategies for canonical claims (the clean-frame dict the rules and model read)."""
import pandas as pd
from hypothesis import strategies as st

from features.catalog import load_catalog
from features.contract import BENEFIT_SCOPES, FACILITY_TYPES, PLAN_TYPES, default_place_of_service

# Real ICD-10-CM codes of many chapters: covered for some treatments, for none, headers, Z41.1.
CODE_POOL = ("G43709", "G437", "L570", "L700", "Z6835", "E669", "M5450", "L631", "L651", "T451X5A", "Z411",
             "L908", "R238", "I781", "I83811", "E8814", "Z21", "F329", "H02831", "Q825", "K036", "J069")


def claims(treatments=None, codes=st.lists(st.sampled_from(CODE_POOL), max_size=4, unique=True)):
    treatments = treatments if treatments is not None else st.sampled_from(load_catalog().keys)

    @st.composite
    def build(draw):
        treatment = draw(treatments)
        facility = draw(st.sampled_from(FACILITY_TYPES))
        limit = draw(st.one_of(st.just(float("nan")), st.floats(0, 5000)))
        first_visit = draw(st.booleans())
        procedure = load_catalog()[treatment].procedure_codes
        return {
            "claim_id": "P-1",
            "service_date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=draw(st.integers(0, 1000))),
            "treatment": treatment,
            "procedure_code": draw(st.sampled_from(procedure)) if procedure else None,
            "diagnosis_codes": ";".join(draw(codes)),
            "plan_type": draw(st.sampled_from(PLAN_TYPES)),
            "benefit_scope": draw(st.sampled_from(BENEFIT_SCOPES)),
            "facility_type": facility,
            "place_of_service": default_place_of_service(facility),
            "in_network": draw(st.booleans()),
            "referral": draw(st.booleans()),
            "medical_necessity_letter": draw(st.booleans()),
            "prior_authorization": draw(st.booleans()),
            "conservative_therapy_documented": draw(st.booleans()),
            "visit_number": 1 if first_visit else draw(st.integers(2, 30)),
            "weeks_since_last_treatment": float("nan") if first_visit else draw(st.floats(0, 104)),
            "patient_age": draw(st.integers(0, 120)),
            "billed_amount": draw(st.floats(0, 20000)),
            "benefit_limit": limit,
            "benefit_used": draw(st.floats(0, 6000)),
        }

    return build()
