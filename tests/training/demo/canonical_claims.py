"""The covered pathways of coverage-facts.md as claims with their paperwork in order, and their
cosmetic twins: what the demo payer must pay and what it must not (test_published_rates.py), and
what a champion trained on demo history must answer the same way (test_demo_champion.py).

Claims use the clean-frame keys (features.contract), as `CoverageModel.answer_claims` takes them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.prior_authorization import load_authorization_table

# Every document a payer may ask for is on file; in network, at a doctor's office, under a PPO.
PAPERWORK_IN_ORDER = {
    "claim_id": "canonical", "service_date": pd.Timestamp("2025-06-02"), "plan_type": "ppo",
    "benefit_scope": "comprehensive", "facility_type": "physician_office", "place_of_service": "11",
    "in_network": True, "referral": True, "medical_necessity_letter": True, "prior_authorization": True,
    "conservative_therapy_documented": True, "visit_number": 1, "weeks_since_last_treatment": float("nan"),
    "patient_age": 45, "billed_amount": 1000.0, "benefit_limit": float("nan"), "benefit_used": 0.0,
}


@dataclass(frozen=True)
class CoveredPathway:
    """A covered claim (changes to PAPERWORK_IN_ORDER) and, for a treatment that is cosmetic by
    default, the changes that make it the cosmetic version (no covered diagnosis)."""

    name: str
    changes: dict
    cosmetic: dict | None = field(default=None)

    def claim(self, **changes) -> dict:
        return {**PAPERWORK_IN_ORDER, **self.changes, "claim_id": self.name, **changes}

    def cosmetic_claim(self) -> dict:
        return self.claim(**self.cosmetic)

    @property
    def treatment(self) -> str:
        return self.changes["treatment"]

    @property
    def requires_prior_authorization(self) -> bool:
        """Whether the plan and the setting ask for one (features.prior_authorization)."""
        claim = self.claim()
        return load_authorization_table().requirement(claim["plan_type"], claim["treatment"], claim["procedure_code"],
                                                      claim["place_of_service"], claim["facility_type"]).required is True


# The four claims issue 11 names first, then the other covered rows of coverage-facts.md.
COVERED_PATHWAYS = (
    CoveredPathway("chronic_migraine_toxin", dict(
        treatment="botulinum_toxin", procedure_code="64615", diagnosis_codes="G43709", visit_number=3,
        weeks_since_last_treatment=13.0, billed_amount=1400.0), cosmetic=dict(diagnosis_codes="")),
    CoveredPathway("cervical_dystonia_toxin_medicare_outpatient", dict(
        treatment="botulinum_toxin", procedure_code="64615", diagnosis_codes="G243", plan_type="medicare",
        facility_type="hospital_outpatient", place_of_service="22", patient_age=71, billed_amount=1300.0),
        cosmetic=dict(diagnosis_codes="Z411")),
    CoveredPathway("obesity_counselling", dict(
        treatment="weight_management", procedure_code="G0447", diagnosis_codes="E669;Z6835", billed_amount=65.0)),
    CoveredPathway("low_back_pain_massage", dict(
        treatment="massage_therapy", procedure_code="97124", diagnosis_codes="M5450", visit_number=4,
        weeks_since_last_treatment=1.0, billed_amount=110.0), cosmetic=dict(diagnosis_codes="")),
    CoveredPathway("actinic_keratosis_photodynamic_therapy", dict(
        treatment="photodynamic_therapy", procedure_code="96567", diagnosis_codes="L570",
        facility_type="dermatology_clinic", patient_age=66, billed_amount=380.0)),
    CoveredPathway("varicose_vein_sclerotherapy", dict(
        treatment="sclerotherapy", procedure_code="36471", diagnosis_codes="I83811", billed_amount=1100.0),
        cosmetic=dict(procedure_code="36468", diagnosis_codes="I781")),
    CoveredPathway("visual_field_blepharoplasty", dict(
        treatment="blepharoplasty", procedure_code="15823", diagnosis_codes="H02834;H53453",
        facility_type="ambulatory_surgery_center", place_of_service="24", patient_age=68, billed_amount=3500.0),
        cosmetic=dict(diagnosis_codes="Z411")),
    CoveredPathway("alopecia_areata_wig", dict(
        treatment="wig", procedure_code="A9282", diagnosis_codes="L630", facility_type="dermatology_clinic",
        billed_amount=650.0, benefit_limit=1000.0, benefit_used=0.0)),
    CoveredPathway("axillary_hyperhidrosis_toxin", dict(
        treatment="botulinum_toxin", procedure_code="64650", diagnosis_codes="L74510",
        facility_type="dermatology_clinic", billed_amount=1100.0), cosmetic=dict(diagnosis_codes="L908")),
    CoveredPathway("actinic_keratosis_peel", dict(
        treatment="chemical_peel", procedure_code="15789", diagnosis_codes="L570", facility_type="dermatology_clinic",
        patient_age=70, billed_amount=250.0), cosmetic=dict(diagnosis_codes="L814")),
    CoveredPathway("acne_surgery", dict(
        treatment="acne_treatment", procedure_code="10040", diagnosis_codes="L700", facility_type="dermatology_clinic",
        patient_age=19, billed_amount=160.0)),
    CoveredPathway("keloid_injection", dict(
        treatment="scar_treatment", procedure_code="11900", diagnosis_codes="L910", facility_type="dermatology_clinic",
        billed_amount=220.0), cosmetic=dict(diagnosis_codes="Z411")),  # the injection is not cosmetic by default
    CoveredPathway("port_wine_stain_laser", dict(
        treatment="vascular_laser", procedure_code="17106", diagnosis_codes="Q825", facility_type="dermatology_clinic",
        patient_age=9, billed_amount=600.0), cosmetic=dict(diagnosis_codes="L719")),
    CoveredPathway("hiv_lipodystrophy_filler", dict(
        treatment="dermal_filler", procedure_code="G0429", diagnosis_codes="E8814;Z21;F329", billed_amount=900.0),
        cosmetic=dict(diagnosis_codes="Z411")),
    CoveredPathway("gender_affirming_laser", dict(
        treatment="laser_hair_removal", procedure_code="17380", diagnosis_codes="F640", patient_age=28,
        billed_amount=350.0), cosmetic=dict(diagnosis_codes="")),
)
PATHWAYS_BY_NAME = {pathway.name: pathway for pathway in COVERED_PATHWAYS}
