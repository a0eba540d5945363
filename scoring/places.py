"""Where a visit happens, as the advice and the reasons need it: whether the plan asks for a
referral there, which medical setting to suggest instead of the claim's, and that setting in words
a front desk can read aloud.

The setting suggested is the one that fits the treatment and the plan:
- a treatment the catalog requires a primary-care setting for (G0447 obesity counselling, NCD
  210.12): the patient's primary-care practice;
- a benefit that covers office services only (`benefit_scope: office_only`): a dermatology clinic
  for skin, laser, hair and injectable treatments (what dermatologists do), the primary-care
  practice for counselling and therapy, a doctor's office otherwise.
"""
from __future__ import annotations

import numpy as np

from features.catalog import SETTING_FACILITIES
from features.contract import OFFICE_FACILITIES, REFERRAL_PLANS
from features.distinct import per_distinct

PRIMARY_CARE_FACILITIES = SETTING_FACILITIES["primary_care"]
# The settings a claim is compared with a medical spa in (the medical-setting floor): the contract's offices.
MEDICAL_SETTINGS = OFFICE_FACILITIES
# catalog category -> the office a plan with an office-only benefit expects it in
OFFICE_BY_CATEGORY = {"skin": "dermatology_clinic", "laser": "dermatology_clinic", "hair": "dermatology_clinic",
                      "injectable": "dermatology_clinic", "weight": "primary_care_clinic",
                      "therapy": "primary_care_clinic"}
GENERAL_OFFICE = "physician_office"
# How the front desk says each medical setting to a patient.
SETTING_WORDS = {"physician_office": "a doctor's office",
                 "dermatology_clinic": "a dermatology clinic (a dermatologist's office)",
                 "primary_care_clinic": "the patient's primary-care practice (a primary-care clinic)"}
MEDICARE_PLANS = ("medicare", "medicare_advantage")  # NCD 210.12 binds Medicare plans (rule SETTING-001)
WHY_PRIMARY_CARE = "Medicare pays it only in a primary-care setting"
WHY_OFFICE_ONLY = "this plan's benefit covers visits in a doctor's office or clinic only"


def referral_asked(claim: dict) -> bool:
    """Whether the plan asks for a physician's referral for this visit: only gatekeeper plans do,
    and not at the patient's own primary-care practice (that is where a referral comes from)."""
    return claim["plan_type"] in REFERRAL_PLANS and claim["facility_type"] not in PRIMARY_CARE_FACILITIES


def better_setting(claim: dict, traits) -> str | None:
    """The medical setting (a facility_type) to suggest instead of the claim's, or None when the
    claim's setting is already one the plan and treatment accept. traits: the treatment's
    features.catalog.SharedTraits, or None for a treatment not in the catalog."""
    needs_primary_care = bool(traits and traits.required_setting == "primary_care")
    if needs_primary_care and claim["facility_type"] not in PRIMARY_CARE_FACILITIES:
        return PRIMARY_CARE_FACILITIES[0]
    if claim["benefit_scope"] == "office_only" and claim["facility_type"] not in OFFICE_FACILITIES:
        return OFFICE_BY_CATEGORY.get(traits.category if traits else "", GENERAL_OFFICE)
    return None


def setting_words(facility_type: str) -> str:
    """`a dermatology clinic (a dermatologist's office)`; another facility as its name reads."""
    words = SETTING_WORDS.get(facility_type)
    if words:
        return words
    noun = facility_type.replace("_", " ")
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def move_text(claim: dict, facility_type: str) -> str:
    """The advice to be seen elsewhere, naming the place (and why, where a rule of the plan says
    so) in words to read aloud."""
    text = f"Be seen at {setting_words(facility_type)} rather than at {setting_words(claim['facility_type'])}"
    if claim["benefit_scope"] == "office_only" and claim["facility_type"] not in OFFICE_FACILITIES:
        return f"{text}, as {WHY_OFFICE_ONLY}"
    if facility_type in PRIMARY_CARE_FACILITIES and claim["plan_type"] in MEDICARE_PLANS:
        return f"{text}, as {WHY_PRIMARY_CARE}"
    return text


def in_medical_setting(facility_types) -> np.ndarray:
    """Per claim, whether it is at one of MEDICAL_SETTINGS (once per distinct facility)."""
    return per_distinct(facility_types, lambda facility: facility in MEDICAL_SETTINGS, bool)
