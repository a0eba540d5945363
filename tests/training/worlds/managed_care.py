"""The managed-care world: an HMO, Medicare Advantage and Medicaid payer with another mix, other
plan effects and other disagreements than the commercial world. Its file is Parquet: native
booleans and 1/0 integers, dates as dates, dotless diagnosis codes (some dotted), nulls for
optional fields.

Its payer, on claims no rule and no cell decides, walks checks in turn and pays when all pass
(network, referral, prior authorization, facility, then the clinical review: its own view of each
diagnosis, letters, failed first-line therapy, treatment frequency); a denied claim carries the
reason of the first check it failed. Where it disagrees with our tables:

- it pays laser hair removal for hidradenitis suppurativa or pseudofolliculitis (L73.x), hair
  restoration for scarring alopecia (L66.x) and for scars (L90.5), sclerotherapy for chronic
  venous hypertension or post-thrombotic syndrome (I87.0x/I87.3x: the catalog lists I87.2 only),
  and massage for myalgia or limb pain (M79.1x/M79.6x) at Medicaid and Medicare Advantage plans:
  COSMETIC-001 (and COMFORT-002 for massage) fire there;
- it does not pay wigs for chemotherapy hair loss (L65.1), which the catalog covers (no rule is
  involved: `DENIED_THOUGH_COVERED`).

It keeps every other rule, the header-code rule (CODING-001) included: 0.5% paid by error, an
exhausted benefit 2%.

Billing: codes several treatments share, alone: 17999 (laser hair removal), 96567 (actinic
keratosis), 11901 (acne cysts); acne treatment named with 96567 or 11901; pairs the catalog does
not list: scar treatment named with 0479T (fractional laser of scars, a code the catalog has not)
or 15780/15781 (dermabrasion of scars, a microdermabrasion code), photodynamic therapy named with
J7309 (methyl aminolevulinate: the catalog lists J7308 only).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import PLAN_TYPES, default_place_of_service
from tests.training.worlds.world import BillingForm, Cell, World

# plan -> share paid of claims out of network (CARC 242)
OUT_OF_NETWORK = {"hmo": 0.05, "epo": 0.05, "medicaid": 0.05, "medicare_advantage": 0.3, "ppo": 0.7, "pos": 0.6,
                  "medicare": 0.9}
REFERRAL_PLANS = ("hmo", "pos", "medicaid")
PRIOR_AUTHORIZATION = ("botulinum_toxin", "laser_hair_removal", "sclerotherapy", "blepharoplasty",
                       "hair_restoration", "vascular_laser")
FIRST_LINE_THERAPY = ("botulinum_toxin", "sclerotherapy", "chemical_peel", "microdermabrasion", "scar_treatment")
# The clinical review's view of a diagnosis group, per treatment where it differs: share passed.
CLINICAL = {"none": 0.06, "cosmetic_encounter": 0.06, "acne": 0.7, "obesity_without_bmi": 0.04,
            "dermatochalasis": 0.3, "chemo_hair_loss": 0.02}
CLINICAL_BY_TREATMENT = {("photodynamic_therapy", "acne"): 0.05}
CLINICAL_DEFAULT = 0.85
PRICES = {"botulinum_toxin": 900, "sclerotherapy": 450, "laser_hair_removal": 300, "hair_restoration": 4000,
          "scar_treatment": 250, "acne_treatment": 150, "photodynamic_therapy": 600, "wig": 350,
          "massage_therapy": 90, "weight_management": 60, "blepharoplasty": 3500, "chemical_peel": 250,
          "microdermabrasion": 200, "teeth_whitening": 400, "facial": 120}


class ManagedCareWorld(World):
    name = "managed_care"
    version = 2
    suffix = ".parquet"
    mix = {"botulinum_toxin": 0.14, "sclerotherapy": 0.12, "laser_hair_removal": 0.10, "hair_restoration": 0.06,
           "scar_treatment": 0.08, "acne_treatment": 0.08, "photodynamic_therapy": 0.07, "wig": 0.07,
           "massage_therapy": 0.08, "weight_management": 0.07, "blepharoplasty": 0.05, "chemical_peel": 0.03,
           "microdermabrasion": 0.02, "teeth_whitening": 0.01, "facial": 0.02}
    diagnoses = {
        "botulinum_toxin": {"migraine": 0.35, "migraine_header": 0.04, "dystonia": 0.15, "axillary_sweating": 0.08,
                            "palm_sweating": 0.04, "none": 0.3, "cosmetic_encounter": 0.04},
        "sclerotherapy": {"varicose_veins": 0.35, "venous_insufficiency": 0.15, "venous_hypertension": 0.15,
                          "spider_veins": 0.2, "none": 0.15},
        "laser_hair_removal": {"gender_dysphoria": 0.2, "hirsutism": 0.1, "hidradenitis": 0.2, "none": 0.5},
        "hair_restoration": {"scarring_alopecia": 0.3, "skin_scar": 0.2, "androgenic_alopecia": 0.3, "none": 0.2},
        "scar_treatment": {"keloid_or_scar": 0.7, "scar_header": 0.05, "none": 0.25},
        "acne_treatment": {"acne": 0.9, "acne_header": 0.05, "none": 0.05},
        "photodynamic_therapy": {"actinic_keratosis": 0.75, "actinic_keratosis_header": 0.05, "acne": 0.1,
                                 "none": 0.1},
        "wig": {"alopecia_areata": 0.45, "chemo_hair_loss": 0.45, "none": 0.1},
        "massage_therapy": {"back_pain": 0.45, "back_pain_header": 0.05, "myalgia": 0.25, "none": 0.25},
        "weight_management": {"obesity_with_bmi": 0.7, "obesity_without_bmi": 0.3},
        "blepharoplasty": {"dermatochalasis_with_field_loss": 0.35, "dermatochalasis": 0.2, "ptosis": 0.15,
                           "none": 0.3},
        "chemical_peel": {"actinic_keratosis": 0.3, "acne": 0.2, "melasma": 0.2, "none": 0.3},
        "microdermabrasion": {"actinic_keratosis": 0.3, "superficial_bcc": 0.2, "none": 0.5},
        "teeth_whitening": {"none": 1.0},
        "facial": {"none": 0.85, "cosmetic_encounter": 0.15},
    }
    form_weights = (0.6, 0.2, 0.2)
    extra_forms = {
        "laser_hair_removal": (BillingForm(0.3, named=False, codes=("17999",), groups=("none", "gender_dysphoria",
                                                                                        "hirsutism")),),
        "acne_treatment": (BillingForm(0.2, named=True, codes=("96567", "11901"), groups=("acne",)),
                           BillingForm(0.1, named=False, codes=("11901",), groups=("acne",))),
        "scar_treatment": (BillingForm(0.15, named=True, codes=("0479T",), groups=("keloid_or_scar",)),
                           BillingForm(0.1, named=True, codes=("15780", "15781"), groups=("keloid_or_scar",))),
        "photodynamic_therapy": (BillingForm(0.2, named=True, codes=("J7309",), groups=("actinic_keratosis",)),
                                 BillingForm(0.2, named=False, codes=("96567",), groups=("actinic_keratosis",))),
    }
    plans = {"hmo": 0.35, "medicare_advantage": 0.2, "medicaid": 0.2, "epo": 0.1, "ppo": 0.08, "pos": 0.04,
             "medicare": 0.03}
    facilities = {"physician_office": 0.3, "dermatology_clinic": 0.25, "primary_care_clinic": 0.2,
                  "medical_spa": 0.15, "hospital_outpatient": 0.07, "ambulatory_surgery_center": 0.03}
    in_network_rates = {"hmo": 0.9, "epo": 0.88, "medicaid": 0.85, "medicare_advantage": 0.85, "ppo": 0.7,
                        "pos": 0.75, "medicare": 0.8}
    paperwork_rates = {"referral": (0.7, 0.1), "medical_necessity_letter": (0.5, 0.05),
                       "prior_authorization": (0.55, 0.1), "conservative_therapy_documented": (0.5, 0.05)}
    office_only_share = 0.05
    first_day, days = "2023-07-01", 900
    cells = (
        Cell({"hmo": 0.55, "medicare_advantage": 0.5, "medicaid": 0.6, "epo": 0.5, "ppo": 0.6, "pos": 0.55,
              "medicare": 0.4}, "laser_hair_removal", ("hidradenitis",)),
        Cell({"hmo": 0.6, "medicare_advantage": 0.65, "medicaid": 0.55, "epo": 0.6, "ppo": 0.7, "pos": 0.6,
              "medicare": 0.65}, "hair_restoration", ("scarring_alopecia",)),
        Cell({"hmo": 0.45, "medicare_advantage": 0.5, "medicaid": 0.35, "epo": 0.45, "ppo": 0.55, "pos": 0.45,
              "medicare": 0.5}, "hair_restoration", ("skin_scar",)),
        Cell({"hmo": 0.7, "medicare_advantage": 0.8, "medicaid": 0.65, "epo": 0.7, "ppo": 0.75, "pos": 0.7,
              "medicare": 0.8}, "sclerotherapy", ("venous_hypertension",)),
        Cell({"medicaid": 0.55, "medicare_advantage": 0.5}, "massage_therapy", ("myalgia",)),
        Cell({plan: 0.02 for plan in plans}, "wig", ("chemo_hair_loss",)),
        # Its Medicare plans read NCD 210.12's "primary-care setting" broadly (any office or clinic of
        # a primary-care practice): obesity counselling outside a primary-care clinic is mostly paid,
        # where our rule SETTING-001 excludes it. Every plan is named: only Medicare plans fire it.
        Cell({plan: 0.8 for plan in PLAN_TYPES}, rule_id="SETTING-001"),
    )
    error_shares = {"BENEFIT-001": 0.02}
    limited_treatments = ("wig", "massage_therapy")
    partial_share = 0.15
    paid_ratio = (0.7, 0.4)
    prices = PRICES
    course_end = 0.45  # a course's visit number is geometric: this chance that a visit is the last

    def _details(self, claims, rng):
        rows = len(claims)
        visit = np.minimum(rng.geometric(self.course_end, rows), 12)
        older = claims["plan_type"].isin(["medicare", "medicare_advantage"]).to_numpy()
        age = np.where(older, rng.integers(65, 96, rows), rng.integers(18, 65, rows))
        price = claims["treatment"].map(self.prices).to_numpy(dtype=float)
        return {"visit_number": visit,
                "weeks_since_last_treatment": np.where(visit > 1, np.round(rng.gamma(3.0, 4.0, rows), 1), np.nan),
                "patient_age": age,
                "billed_amount": np.round(price * rng.lognormal(0.0, 0.3, rows), 2)}

    def _limits(self, claims, eligible, rng):
        rows = len(claims)
        treatment = claims["treatment"].to_numpy(dtype=object)
        cap = np.where(treatment == "wig", 400.0, 1500.0)
        has_limit = eligible & np.isin(treatment, self.limited_treatments) & (rng.random(rows) < 0.6)
        used = np.round(cap * rng.uniform(0, 1.3, rows), 2)
        return np.where(has_limit, cap, np.nan), np.where(has_limit, used, 0.0)

    def _model(self, claims, facts, rng):
        plan = claims["plan_type"].to_numpy(dtype=object)
        treatment = claims["treatment"].to_numpy(dtype=object)
        group = claims["_group"]
        in_network = claims["in_network"].to_numpy()
        weeks = claims["weeks_since_last_treatment"].to_numpy()
        clinical = group.map(CLINICAL).fillna(CLINICAL_DEFAULT).to_numpy(dtype=float)
        for (key, name), share in CLINICAL_BY_TREATMENT.items():
            clinical = np.where((treatment == key) & (group == name), share, clinical)
        clinical = clinical * np.where(claims["medical_necessity_letter"], 1.0, 0.8)
        untried = np.isin(treatment, FIRST_LINE_THERAPY) & ~claims["conservative_therapy_documented"]
        clinical = clinical * np.where(untried, 0.6, 1.0)
        checks = [  # (share passed, CARC when failed), in the order the payer walks them
            (np.where(in_network, 0.98, pd.Series(plan).map(OUT_OF_NETWORK).to_numpy(dtype=float)), "242"),
            (np.where(np.isin(plan, REFERRAL_PLANS) & ~claims["referral"], 0.3, 1.0), "243"),
            (np.where(np.isin(treatment, PRIOR_AUTHORIZATION) & ~claims["prior_authorization"],
                      np.where(plan == "medicare_advantage", 0.1, 0.25), 1.0), "197"),
            (np.where(claims["facility_type"] == "medical_spa", 0.45, 1.0), "171"),
            (np.where((treatment == "weight_management") & (claims["facility_type"] != "primary_care_clinic"),
                      0.15, 1.0), "58"),
            (np.where((treatment == "botulinum_toxin") & (weeks < 12), 0.2, 1.0), "151"),
            (clinical, "50"),
        ]
        passed = np.stack([share for share, _ in checks], axis=1)
        probability = passed.prod(axis=1)
        # The reason of a denied claim is the first check it failed: P(first failure is check k | denied).
        before = np.cumprod(np.hstack([np.ones((len(passed), 1)), passed[:, :-1]]), axis=1)
        first_failure = before * (1.0 - passed)
        cumulative = np.cumsum(first_failure, axis=1) / np.maximum(1.0 - probability, 1e-12)[:, None]
        chosen = (rng.random(len(passed))[:, None] > cumulative).sum(axis=1).clip(max=len(checks) - 1)
        carc = np.array([reason for _, reason in checks], dtype=object)[chosen]
        carc = np.where((carc == "50") & (clinical < 0.1), "11", carc)
        carc = np.where((carc == "11") & (treatment == "wig"), "204", carc)
        return probability, carc

    def _written(self, claims, rng):
        rows = len(claims)
        place = claims["facility_type"].map(default_place_of_service).to_numpy(dtype=object)
        place = np.where((claims["facility_type"] == "hospital_outpatient") & (rng.random(rows) < 0.5), "19", place)
        visit = pd.array(claims["visit_number"], dtype="Int64")
        visit[(claims["visit_number"] == 1).to_numpy() & (rng.random(rows) < 0.5)] = pd.NA
        conservative = pd.array(claims["conservative_therapy_documented"], dtype="boolean")
        conservative[~claims["conservative_therapy_documented"].to_numpy() & (rng.random(rows) < 0.3)] = pd.NA
        no_limit = claims["benefit_limit"].isna().to_numpy()
        return pd.DataFrame({
            "claim_id": claims["claim_id"],
            "service_date": claims["service_date"].dt.date,
            "treatment": claims["_treatment_written"].replace("", None),
            "procedure_code": claims["_code_written"].replace("", None),
            "diagnosis_codes": np.where(rng.random(rows) < 0.8, claims["diagnosis_codes"], claims["_dotted"]),
            "plan_type": claims["plan_type"],
            "benefit_scope": claims["benefit_scope"],
            "facility_type": claims["facility_type"],
            "place_of_service": np.where(rng.random(rows) < 0.4, None, place),
            "in_network": claims["in_network"],
            "referral": claims["referral"],
            "medical_necessity_letter": claims["medical_necessity_letter"].astype(np.int8),
            "prior_authorization": claims["prior_authorization"].astype(np.int8),
            "conservative_therapy_documented": conservative,
            "visit_number": visit,
            "weeks_since_last_treatment": claims["weeks_since_last_treatment"],
            "patient_age": claims["patient_age"],
            "billed_amount": claims["billed_amount"],
            "benefit_limit": claims["benefit_limit"],
            "benefit_used": np.where(no_limit, np.nan, claims["benefit_used"]),
            "outcome": claims["outcome"],
            "paid_amount": claims["paid_amount"],
            "denial_reason": claims["denial_reason"].replace("", None),
        })


WORLD = ManagedCareWorld()
DISAGREEMENTS = WORLD.disagreements
CONFIRMED = WORLD.confirmed
DENIED_THOUGH_COVERED = WORLD.denied_though_covered


def write_history(path, rows: int, seed: int):
    """`rows` claims of this world (Parquet) and their truth file; returns the path."""
    return WORLD.write(path, rows, seed)
