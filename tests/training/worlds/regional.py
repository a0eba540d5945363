"""The regional world: a payer harder to learn than the other two, built the way the histories
nobody here wrote were hard (issue 24: their Brier was 1.07-1.08x the truth's where the other
worlds give 1.02-1.03x). Its file is Parquet, spelled as the managed-care world's, whose courses, ages and limits it
shares (with its own prices).

Its payer, on claims no rule and no cell decides, is a logistic model of paperwork, network,
facility and plan, and three things the others do not have:

- plan-specific behaviour: every plan type pays each treatment a little more or less than its
  overall level (`PLAN_TREATMENT`, a fixed table of log-odds between -1.2 and +1.2), so no
  treatment effect and no plan effect alone tells the truth;
- idiosyncrasies in sparse cells: a few rare treatment x plan x setting cells (`QUIRKS`, each well
  under 1% of the claims) where the payer pays nothing like its neighbours (a local medical
  director's habit, a site-of-care policy), never an office or clinic below a medical spa;
- a policy change mid-history: from `CHANGE_DATE` on (about 70% through the history, so the
  newest 20% the training tests on lies wholly after it and only about a tenth of the training
  claims do) its commercial plans require prior authorization for massage and sclerotherapy
  (without it: log-odds -2.5), and its HMO stops asking for a referral at dermatology clinics.

Where it disagrees with our tables (`Cell`s, different places from the other worlds):

- it pays chemical peels for melasma (L81.1) and laser treatment of rosacea (L71.x) at most
  plans: COSMETIC-001 fires there;
- it pays microdermabrasion for acne (L70.x), which our INVESTIGATIONAL-003 (and COSMETIC-001)
  exclude: a payer that disagrees with one of issue 24's new rules.

It keeps every other rule: 0.5% paid by error, an exhausted benefit 1%.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import PLAN_TYPES
from tests.training.worlds.managed_care import ManagedCareWorld
from tests.training.worlds.world import BillingForm, Cell

BASE_LOGIT = -1.6
EFFECTS = {"prior_authorization": 1.3, "referral": 0.4, "medical_necessity_letter": 1.0,
           "conservative_therapy_documented": 0.8, "in_network": 1.5}
COVERED_DIAGNOSIS_EFFECT = 1.9
FACILITY_EFFECTS = {"medical_spa": -0.8, "physician_office": 0.3, "dermatology_clinic": 0.4,
                    "primary_care_clinic": 0.2, "hospital_outpatient": 0.0, "ambulatory_surgery_center": 0.1}
PLAN_EFFECTS = {"hmo": -0.3, "medicaid": -0.5, "medicare": 0.3, "hdhp": -0.2, "epo": 0.1}
REFERRAL_PLANS = ("hmo", "pos", "medicaid")
NO_REFERRAL_EFFECT = -1.4  # a gatekeeper plan's claim without a referral
# The policy change: from this date, commercial plans need prior authorization for these.
CHANGE_DATE = "2025-03-01"
TIGHTENED_PLANS = ("ppo", "epo", "hdhp", "pos")
TIGHTENED_TREATMENTS = ("massage_therapy", "sclerotherapy")
TIGHTENED_EFFECT = -2.5  # without prior authorization, after the change
# (treatment, plan, facility) -> the share this payer pays there, whatever its model says. No
# quirk makes a doctor's office or clinic pay less than a medical spa for the same claim: no payer
# prefers a spa (issue 24, and the served answer's medical-setting floor), so a world that did
# would contradict the facts the project rests on. Version 1 had five such cells (an office or
# clinic paying 3-35%); version 2 moves each to the medical spa of the same treatment and plan
# (`_at_the_spa`), as far below that spa's own level in log-odds as the office was below its own.
# The hospital outpatient and surgery-center quirks stay: a payer's site-of-care policy steering a
# procedure out of the hospital into an office is real, and no fact or floor says otherwise.
QUIRKS_V1_AT_OFFICES = {("scar_treatment", "hdhp", "dermatology_clinic"): 0.03,
                        ("wig", "epo", "physician_office"): 0.1,
                        ("botulinum_toxin", "medicare", "primary_care_clinic"): 0.08,
                        ("photodynamic_therapy", "hmo", "physician_office"): 0.06,
                        ("laser_hair_removal", "epo", "dermatology_clinic"): 0.35}


def _at_the_spa(quirks: dict) -> dict:
    """Each (treatment, plan, office) quirk moved to the same treatment and plan at a medical spa,
    its log-odds shifted by the spa's facility effect less the office's: the same distance below the
    payer's model of its cell, so the quirk is no easier to miss."""
    def shifted(share, facility):
        log_odds = np.log(share / (1 - share)) + FACILITY_EFFECTS["medical_spa"] - FACILITY_EFFECTS[facility]
        return round(float(1 / (1 + np.exp(-log_odds))), 4)
    return {(treatment, plan, "medical_spa"): shifted(share, facility)
            for (treatment, plan, facility), share in quirks.items()}


QUIRKS = {("blepharoplasty", "medicaid", "ambulatory_surgery_center"): 0.15,
          ("sclerotherapy", "pos", "hospital_outpatient"): 0.04,
          ("acne_treatment", "medicare_advantage", "medical_spa"): 0.25,
          **_at_the_spa(QUIRKS_V1_AT_OFFICES)}
PRICES = {"botulinum_toxin": 950, "sclerotherapy": 500, "laser_hair_removal": 350, "hair_restoration": 4500,
          "scar_treatment": 260, "acne_treatment": 160, "photodynamic_therapy": 650, "wig": 380,
          "massage_therapy": 95, "weight_management": 70, "blepharoplasty": 3800, "chemical_peel": 280,
          "microdermabrasion": 210, "vascular_laser": 550, "teeth_whitening": 420, "facial": 130}


def plan_treatment_effects(treatments, seed: int = 24) -> pd.DataFrame:
    """The plan-specific log-odds (plan type x treatment): fixed for the world, whatever the file's seed."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.uniform(-1.2, 1.2, (len(PLAN_TYPES), len(treatments))), index=list(PLAN_TYPES),
                        columns=list(treatments))


class RegionalWorld(ManagedCareWorld):
    name = "regional"
    version = 2  # 2: no quirk makes an office or clinic pay less than a medical spa (QUIRKS, _model)
    mix = {"botulinum_toxin": 0.12, "sclerotherapy": 0.1, "laser_hair_removal": 0.08, "hair_restoration": 0.05,
           "scar_treatment": 0.06, "acne_treatment": 0.07, "photodynamic_therapy": 0.06, "wig": 0.05,
           "massage_therapy": 0.12, "weight_management": 0.05, "blepharoplasty": 0.05, "chemical_peel": 0.06,
           "microdermabrasion": 0.05, "vascular_laser": 0.05, "teeth_whitening": 0.01, "facial": 0.02}
    diagnoses = {
        "botulinum_toxin": {"migraine": 0.35, "migraine_header": 0.03, "dystonia": 0.15, "axillary_sweating": 0.1,
                            "none": 0.32, "cosmetic_encounter": 0.05},
        "sclerotherapy": {"varicose_veins": 0.4, "venous_insufficiency": 0.2, "spider_veins": 0.25, "none": 0.15},
        "laser_hair_removal": {"gender_dysphoria": 0.25, "hirsutism": 0.15, "none": 0.6},
        "hair_restoration": {"burn_sequela": 0.2, "androgenic_alopecia": 0.5, "none": 0.3},
        "scar_treatment": {"keloid_or_scar": 0.7, "scar_header": 0.05, "none": 0.25},
        "acne_treatment": {"acne": 0.9, "acne_header": 0.05, "none": 0.05},
        "photodynamic_therapy": {"actinic_keratosis": 0.8, "actinic_keratosis_header": 0.05, "none": 0.15},
        "wig": {"alopecia_areata": 0.5, "chemo_hair_loss": 0.4, "none": 0.1},
        "massage_therapy": {"back_pain": 0.55, "back_pain_header": 0.05, "none": 0.4},
        "weight_management": {"obesity_with_bmi": 0.75, "obesity_without_bmi": 0.25},
        "blepharoplasty": {"dermatochalasis_with_field_loss": 0.4, "dermatochalasis": 0.2, "ptosis": 0.1,
                           "none": 0.3},
        "chemical_peel": {"actinic_keratosis": 0.3, "melasma": 0.35, "none": 0.35},
        "microdermabrasion": {"actinic_keratosis": 0.3, "acne": 0.35, "none": 0.35},
        "vascular_laser": {"port_wine_stain": 0.2, "hemangioma": 0.15, "rosacea": 0.35, "none": 0.3},
        "teeth_whitening": {"none": 1.0},
        "facial": {"none": 0.85, "cosmetic_encounter": 0.15},
    }
    form_weights = (0.5, 0.3, 0.2)
    extra_forms = {
        "laser_hair_removal": (BillingForm(0.2, named=False, codes=("17999",), groups=("none", "gender_dysphoria",
                                                                                        "hirsutism")),),
    }
    plans = {"ppo": 0.3, "epo": 0.12, "hdhp": 0.1, "hmo": 0.12, "pos": 0.04, "medicare_advantage": 0.15,
             "medicaid": 0.1, "medicare": 0.07}
    facilities = {"physician_office": 0.28, "dermatology_clinic": 0.25, "primary_care_clinic": 0.12,
                  "medical_spa": 0.25, "hospital_outpatient": 0.06, "ambulatory_surgery_center": 0.04}
    in_network_rates = {"ppo": 0.75, "epo": 0.9, "hdhp": 0.75, "hmo": 0.9, "pos": 0.8, "medicare_advantage": 0.85,
                        "medicaid": 0.85, "medicare": 0.85}
    paperwork_rates = {"referral": (0.6, 0.1), "medical_necessity_letter": (0.5, 0.06),
                       "prior_authorization": (0.5, 0.08), "conservative_therapy_documented": (0.45, 0.05)}
    office_only_share = 0.08
    first_day, days = "2023-04-01", 1000
    cells = (
        Cell({plan: 0.7 for plan in ("ppo", "epo", "hdhp", "pos")} | {"hmo": 0.5, "medicare_advantage": 0.45,
                                                                       "medicaid": 0.4, "medicare": 0.35},
             "chemical_peel", ("melasma",)),
        Cell({plan: 0.65 for plan in PLAN_TYPES} | {"medicaid": 0.3}, "vascular_laser", ("rosacea",)),
        Cell({plan: 0.6 for plan in PLAN_TYPES} | {"medicare": 0.2}, "microdermabrasion", ("acne",)),
    )
    error_shares = {"BENEFIT-001": 0.01}
    limited_treatments = ("wig", "massage_therapy")
    prices = PRICES
    course_end = 0.4

    def _model(self, claims, facts, rng):
        plan = claims["plan_type"].to_numpy(dtype=object)
        treatment = claims["treatment"].to_numpy(dtype=object)
        facility = claims["facility_type"].to_numpy(dtype=object)
        after = (claims["service_date"] >= pd.Timestamp(CHANGE_DATE)).to_numpy()
        logit = BASE_LOGIT + sum(effect * claims[name].to_numpy(dtype=float) for name, effect in EFFECTS.items())
        logit = logit + COVERED_DIAGNOSIS_EFFECT * facts["covered_diagnosis"]
        logit = logit + pd.Series(facility).map(FACILITY_EFFECTS).to_numpy(dtype=float)
        logit = logit + pd.Series(plan).map(PLAN_EFFECTS).fillna(0.0).to_numpy(dtype=float)
        table = plan_treatment_effects(self.mix)
        logit = logit + table.to_numpy()[pd.Categorical(plan, categories=table.index).codes,
                                         pd.Categorical(treatment, categories=table.columns).codes]
        no_referral = np.isin(plan, REFERRAL_PLANS) & ~claims["referral"].to_numpy()
        loosened = after & (plan == "hmo") & (facility == "dermatology_clinic")
        logit = logit + np.where(no_referral & ~loosened, NO_REFERRAL_EFFECT, 0.0)
        tightened = after & np.isin(plan, TIGHTENED_PLANS) & np.isin(treatment, TIGHTENED_TREATMENTS) \
            & ~claims["prior_authorization"].to_numpy()
        logit = logit + np.where(tightened, TIGHTENED_EFFECT, 0.0)
        probability = 1.0 / (1.0 + np.exp(-logit))
        for (key, plan_type, place), share in QUIRKS.items():
            # at a spa a quirk only lowers: a fixed share above the claim's own chance there could
            # lift the spa over the same claim at an office, which no payer does
            paid = np.minimum(share, probability) if place == "medical_spa" else share
            probability = np.where((treatment == key) & (plan == plan_type) & (facility == place), paid, probability)
        carc = np.where(tightened, "197", np.where(no_referral & ~loosened, "243", np.where(
            ~claims["in_network"].to_numpy(), "242", np.where(facts["covered_diagnosis"], "50", "11"))))
        return probability, carc


WORLD = RegionalWorld()


def write_history(path, rows: int, seed: int):
    """`rows` claims of this world (Parquet) and their truth file; returns the path."""
    return WORLD.write(path, rows, seed)
