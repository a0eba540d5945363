"""Canonical visits a billing office would check an answer against, written from coverage-facts.md
(each names the fact it rests on) and not from the demo payer: the expected direction and the band
the approval probability must fall in. The demo champion answers every one of them
(test_demo_champion.py); the demo payer's truth agrees with each (test_published_rates.py).

A visit is PAPERWORK_IN_ORDER (every document on file, in network, a PPO at a doctor's office,
2025-06-02) with its changes.
"""
from __future__ import annotations

from dataclasses import dataclass

from tests.training.demo.canonical_claims import PAPERWORK_IN_ORDER

# direction -> (band of the approval probability, the decisions the answer may carry)
DIRECTIONS = {
    "paid": ((0.7, 1.0), ("likely_approved",)),
    # more likely denied than paid: a model trained on a small history answers these in coarse
    # calibrated steps, so "uncertain" below one half is accepted; never "likely approved"
    "denied": ((0.0, 0.5), ("likely_denied", "uncertain", "excluded")),
    "excluded": ((0.0, 0.05), ("excluded",)),
}

MIGRAINE_TOXIN = dict(treatment="botulinum_toxin", procedure_code="64615", diagnosis_codes="G43709", visit_number=3,
                      weeks_since_last_treatment=13.0, billed_amount=1400.0)
DYSTONIA_TOXIN = dict(treatment="botulinum_toxin", procedure_code="64615", diagnosis_codes="G243", billed_amount=1300.0)
AK_PDT = dict(treatment="photodynamic_therapy", procedure_code="96567", diagnosis_codes="L570",
              facility_type="dermatology_clinic", patient_age=66, billed_amount=380.0)
COUNSELLING = dict(treatment="weight_management", procedure_code="G0447", diagnosis_codes="E669;Z6835",
                   facility_type="primary_care_clinic", billed_amount=65.0)
BACK_MASSAGE = dict(treatment="massage_therapy", procedure_code="97124", diagnosis_codes="M5450", visit_number=4,
                    weeks_since_last_treatment=1.0, billed_amount=110.0)
ALOPECIA_WIG = dict(treatment="wig", procedure_code="A9282", diagnosis_codes="L630", facility_type="dermatology_clinic",
                    billed_amount=650.0, benefit_limit=1000.0, benefit_used=0.0)
VEIN = dict(treatment="sclerotherapy", procedure_code="36471", diagnosis_codes="I83811", billed_amount=1100.0)
EYELID = dict(treatment="blepharoplasty", procedure_code="15823", diagnosis_codes="H02834;H53453",
              facility_type="ambulatory_surgery_center", place_of_service="24", patient_age=68, billed_amount=3500.0)
MEDICARE = dict(plan_type="medicare", patient_age=70)
HOSPITAL_OUTPATIENT = dict(facility_type="hospital_outpatient", place_of_service="22")
NO_AUTHORIZATION = dict(prior_authorization=False)


@dataclass(frozen=True)
class Visit:
    name: str
    changes: dict
    direction: str  # a key of DIRECTIONS
    fact: str  # coverage-facts.md: the section or row it rests on

    def claim(self) -> dict:
        return {**PAPERWORK_IN_ORDER, **self.changes, "claim_id": self.name}

    @property
    def band(self) -> tuple[float, float]:
        return DIRECTIONS[self.direction][0]

    @property
    def decisions(self) -> tuple[str, ...]:
        return DIRECTIONS[self.direction][1]


VISITS = (
    # botulinum toxin
    Visit("migraine_toxin_ppo", MIGRAINE_TOXIN, "paid", "Treatments: botulinum toxin (chronic migraine)"),
    Visit("migraine_toxin_medicare_office_no_authorization", {**MIGRAINE_TOXIN, **MEDICARE, **NO_AUTHORIZATION}, "paid",
          "Prior authorization: traditional Medicare has none in an office"),
    Visit("dystonia_toxin_medicare_outpatient", {**DYSTONIA_TOXIN, **MEDICARE, **HOSPITAL_OUTPATIENT}, "paid",
          "Prior authorization: the OPD program (42 CFR 419.83), authorization on file"),
    Visit("dystonia_toxin_medicare_outpatient_no_authorization",
          {**DYSTONIA_TOXIN, **MEDICARE, **HOSPITAL_OUTPATIENT, **NO_AUTHORIZATION}, "denied",
          "Prior authorization: the OPD program is a condition of payment"),
    Visit("migraine_toxin_medicare_advantage_no_authorization",
          {**MIGRAINE_TOXIN, "plan_type": "medicare_advantage", "patient_age": 70, **NO_AUTHORIZATION}, "denied",
          "Prior authorization: Medicare Advantage follows the catalog (toxin)"),
    Visit("migraine_toxin_ppo_no_authorization", {**MIGRAINE_TOXIN, **NO_AUTHORIZATION}, "denied",
          "Treatments: botulinum toxin needs prior auth at commercial plans"),
    Visit("migraine_toxin_age_15_authorized", {**MIGRAINE_TOXIN, "patient_age": 15}, "excluded",
          "Edits an authorization does not waive: migraine toxin is an adult indication (CARC 6)"),
    Visit("migraine_toxin_after_8_weeks_authorized", {**MIGRAINE_TOXIN, "weeks_since_last_treatment": 8.0}, "denied",
          "Edits an authorization does not waive: toxin less than 12 weeks apart (CARC 151)"),
    Visit("hyperhidrosis_toxin", dict(treatment="botulinum_toxin", procedure_code="64650", diagnosis_codes="L74510",
                                      facility_type="dermatology_clinic", billed_amount=1100.0), "paid",
          "Treatments: botulinum toxin (axillary hyperhidrosis L74.510)"),
    Visit("cosmetic_toxin_z41", {**MIGRAINE_TOXIN, "diagnosis_codes": "Z411"}, "excluded",
          "Rules for every treatment: Z41.1 marks a cosmetic encounter"),
    Visit("toxin_without_diagnosis", {**MIGRAINE_TOXIN, "diagnosis_codes": ""}, "excluded",
          "Treatments: botulinum toxin is cosmetic by default (wrinkles)"),
    Visit("migraine_toxin_header_code", {**MIGRAINE_TOXIN, "diagnosis_codes": "G437"}, "excluded",
          "Rules for every treatment: non-billable header codes are rejected (CARC 146)"),
    Visit("migraine_toxin_hmo_no_referral", {**MIGRAINE_TOXIN, "plan_type": "hmo", "referral": False}, "denied",
          "Edits an authorization does not waive: a gatekeeper plan's referral missing (CARC 243)"),
    Visit("migraine_toxin_epo_out_of_network", {**MIGRAINE_TOXIN, "plan_type": "epo", "in_network": False}, "denied",
          "Place of service: out-of-network med spas (CARC 242)"),
    Visit("migraine_toxin_spa_office_only_benefit", {**MIGRAINE_TOXIN, "facility_type": "medical_spa",
                                                     "benefit_scope": "office_only"}, "denied",
          "Denial reasons: spa facility (CARC 170/171) under an office-only benefit"),
    # photodynamic therapy, peels, dermabrasion, acne
    Visit("actinic_keratosis_pdt", AK_PDT, "paid", "Treatments: photodynamic therapy for AK (L57.0)"),
    Visit("actinic_keratosis_pdt_medicare_no_authorization", {**AK_PDT, **MEDICARE, **NO_AUTHORIZATION}, "paid",
          "Prior authorization: traditional Medicare has none in an office or clinic"),
    Visit("acne_pdt", {**AK_PDT, "diagnosis_codes": "L700", "patient_age": 19}, "excluded",
          "Treatments: photodynamic therapy for acne is investigational (CARC 55)"),
    Visit("acne_pdt_billed_as_acne_treatment", {**AK_PDT, "treatment": "acne_treatment", "diagnosis_codes": "L700",
                                               "patient_age": 19}, "excluded",
          "Codes that several treatments share: 96567 for acne, investigational whichever code is billed"),
    Visit("acne_surgery", dict(treatment="acne_treatment", procedure_code="10040", diagnosis_codes="L700",
                               facility_type="dermatology_clinic", patient_age=19, billed_amount=160.0), "paid",
          "Treatments: acne treatment (10040, L70.0)"),
    Visit("acne_microdermabrasion", dict(treatment="microdermabrasion", procedure_code="15780", diagnosis_codes="L700",
                                         facility_type="dermatology_clinic", billed_amount=200.0), "excluded",
          "Treatments: microdermabrasion for acne is experimental (CARC 55)"),
    Visit("actinic_keratosis_peel", dict(treatment="chemical_peel", procedure_code="15789", diagnosis_codes="L570",
                                         facility_type="dermatology_clinic", patient_age=70, billed_amount=250.0),
          "paid", "Treatments: chemical peel for AK after failed topicals"),
    Visit("keloid_injection_first_line", dict(treatment="scar_treatment", procedure_code="11900",
                                              diagnosis_codes="L910", facility_type="dermatology_clinic",
                                              conservative_therapy_documented=False, billed_amount=220.0), "paid",
          "Treatments: the keloid steroid injection is itself first-line therapy"),
    # obesity counselling
    Visit("obesity_counselling_primary_care", COUNSELLING, "paid", "Treatments: G0447 with a Z68 BMI code"),
    Visit("obesity_counselling_without_bmi_code", {**COUNSELLING, "diagnosis_codes": "E669"}, "denied",
          "Edits an authorization does not waive: G0447 without Z68 (CARC 167)"),
    Visit("obesity_counselling_medicare_at_spa", {**COUNSELLING, **MEDICARE, "facility_type": "medical_spa"},
          "excluded", "Edits an authorization does not waive: G0447 outside primary care (CARC 58), NCD 210.12"),
    Visit("obesity_counselling_medicare_advantage_own_primary_care_no_referral",
          {**COUNSELLING, "plan_type": "medicare_advantage", "patient_age": 70, "referral": False}, "paid",
          "Place of service: no referral is asked at the primary-care clinic itself"),
    Visit("obesity_counselling_medicare_primary_care", {**COUNSELLING, **MEDICARE, **NO_AUTHORIZATION}, "paid",
          "Treatments: weight management, NCD 210.12 in a primary-care setting"),
    # massage
    Visit("low_back_pain_massage", BACK_MASSAGE, "paid", "Treatments: massage therapy for low back pain M54.50"),
    Visit("low_back_pain_massage_medicare_at_spa", {**BACK_MASSAGE, **MEDICARE, "facility_type": "medical_spa"},
          "excluded", "Benefits that traditional Medicare does not have: massage by a massage therapist (CARC 204)"),
    Visit("relaxation_massage", {**BACK_MASSAGE, "diagnosis_codes": ""}, "excluded",
          "Treatments: relaxation massage is personal comfort (CARC 202)"),
    # wigs
    Visit("alopecia_areata_wig", ALOPECIA_WIG, "paid", "Treatments: wig for alopecia areata (L63.x)"),
    Visit("alopecia_areata_wig_medicare", {**ALOPECIA_WIG, **MEDICARE}, "excluded",
          "Benefits that traditional Medicare does not have: wigs (CARC 204)"),
    Visit("alopecia_areata_wig_cap_used_up", {**ALOPECIA_WIG, "benefit_used": 1000.0}, "excluded",
          "Denial reasons: visit or dollar cap (CARC 119)"),
    # veins and eyelids
    Visit("varicose_vein_sclerotherapy", VEIN, "paid", "Treatments: sclerotherapy of symptomatic varicose veins"),
    Visit("spider_vein_sclerotherapy", {**VEIN, "procedure_code": "36468", "diagnosis_codes": "I781"}, "excluded",
          "Treatments: spider veins (I78.1) are cosmetic"),
    Visit("vein_ablation_medicare_outpatient_no_authorization",
          {**VEIN, **MEDICARE, **HOSPITAL_OUTPATIENT, **NO_AUTHORIZATION}, "denied",
          "Prior authorization: vein ablation in the OPD program"),
    Visit("visual_field_blepharoplasty", EYELID, "paid", "Treatments: blepharoplasty with a visual-field defect"),
    Visit("blepharoplasty_medicare_ambulatory_surgery_center_no_authorization",
          {**EYELID, **MEDICARE, **NO_AUTHORIZATION}, "paid",
          "Prior authorization: the OPD program does not apply in an ambulatory surgery center"),
    Visit("blepharoplasty_medicare_outpatient_no_authorization",
          {**EYELID, **MEDICARE, **HOSPITAL_OUTPATIENT, **NO_AUTHORIZATION}, "denied",
          "Prior authorization: blepharoplasty in the OPD program"),
    # the rest of the catalog
    Visit("hiv_lipodystrophy_filler", dict(treatment="dermal_filler", procedure_code="G0429",
                                           diagnosis_codes="E8814;Z21;F329", billed_amount=900.0), "paid",
          "Treatments: fillers for HIV lipodystrophy, NCD 250.5"),
    Visit("port_wine_stain_laser", dict(treatment="vascular_laser", procedure_code="17106", diagnosis_codes="Q825",
                                        facility_type="dermatology_clinic", patient_age=9, billed_amount=600.0),
          "paid", "Treatments: vascular laser for a port-wine stain"),
    Visit("rosacea_laser", dict(treatment="vascular_laser", procedure_code="17106", diagnosis_codes="L719",
                                facility_type="dermatology_clinic", billed_amount=600.0), "excluded",
          "Treatments: vascular laser for rosacea is cosmetic"),
    Visit("gender_affirming_laser", dict(treatment="laser_hair_removal", procedure_code="17380",
                                         diagnosis_codes="F640", patient_age=28, billed_amount=350.0), "paid",
          "Treatments: laser hair removal for gender-affirming care"),
    Visit("teeth_whitening", dict(treatment="teeth_whitening", procedure_code="D9972", diagnosis_codes=""),
          "excluded", "Treatments: teeth whitening is dental (CARC 270)"),
    Visit("facial", dict(treatment="facial", procedure_code=None, diagnosis_codes="", facility_type="medical_spa"),
          "excluded", "Treatments: a facial is personal comfort (CARC 202)"),
)
