"""The commercial world (the "alt" world): a PPO-heavy commercial payer whose history disagrees
with our tables in places. Its file is CSV with `yes`/`no` booleans, diagnosis codes with and
without dots, and blank optional fields.

Its payer, on claims no rule and no cell decides, is a logistic model of its own (paperwork,
network, facility, plan, covered diagnosis, visit number). Where it disagrees with our tables:

- it pays laser hair removal for pilonidal disease (L05.x), hair restoration after scalp burns
  (T20.x5XS), botulinum toxin for sweating of the face or soles (L74.511/.513/.519: the catalog
  covers armpits and palms only), all more often than not, and massage for radicular pain (M54.1x,
  M54.4x, M54.6) at PPO and POS plans: COSMETIC-001 (and COMFORT-002 for massage) fire there;
- it processes claims with a header diagnosis code anyway (CODING-001), paying 15% of them.

It keeps the other rules: dental and personal-comfort services, Z41.1, cosmetic treatments
without a diagnosis are denied but for errors (0.5%); an exhausted benefit is paid 3% of the time.

Billing: codes several treatments share, alone: 17999 (laser hair removal, tattoo removal),
11900/11901 (keloids and scars, and acne cysts), 96567 (actinic keratosis and acne); pairs the
catalog does not list: scar treatment named with 17106 (pulsed-dye laser of scars, a vascular
laser code), chemical peel named with 17360 (acne exfoliation, a code the catalog has not).

`DISAGREEMENTS` and `CONFIRMED` state all of this against today's tables (tests/training/worlds/world.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import default_place_of_service
from tests.training.worlds.world import BillingForm, Cell, World

BASE_LOGIT = -2.2
EFFECTS = {"prior_authorization": 1.6, "referral": 0.5, "medical_necessity_letter": 1.1,
           "conservative_therapy_documented": 0.9, "in_network": 1.3}
COVERED_DIAGNOSIS_EFFECT = 1.8
FACILITY_EFFECTS = {"medical_spa": -0.9, "physician_office": 0.3, "dermatology_clinic": 0.5,
                    "primary_care_clinic": 0.2, "hospital_outpatient": -0.2, "ambulatory_surgery_center": 0.0}
PLAN_EFFECTS = {"hmo": -0.4, "medicaid": -0.6, "medicare": 0.3, "hdhp": -0.2}
COMMERCIAL_PLANS = ("ppo", "pos", "epo", "hdhp")


def _mostly_paid(commercial: float, hmo: float, public: float) -> dict[str, float]:
    return {**{plan: commercial for plan in COMMERCIAL_PLANS}, "hmo": hmo,
            "medicare": public, "medicare_advantage": public, "medicaid": public}


class CommercialWorld(World):
    name = "alt"
    version = 3
    suffix = ".csv"
    mix = {"sclerotherapy": 0.13, "massage_therapy": 0.14, "botulinum_toxin": 0.13, "photodynamic_therapy": 0.08,
           "vascular_laser": 0.06, "scar_treatment": 0.07, "chemical_peel": 0.06, "acne_treatment": 0.07,
           "laser_hair_removal": 0.08, "hair_restoration": 0.04, "tattoo_removal": 0.03, "wig": 0.03,
           "facial": 0.04, "manicure": 0.02, "teeth_whitening": 0.02}
    diagnoses = {
        "sclerotherapy": {"varicose_veins": 0.42, "varicose_header": 0.03, "venous_insufficiency": 0.1,
                          "spider_veins": 0.25, "none": 0.15, "cosmetic_encounter": 0.05},
        "massage_therapy": {"back_pain": 0.42, "back_pain_header": 0.04, "radicular_pain": 0.16, "none": 0.38},
        "botulinum_toxin": {"migraine": 0.24, "migraine_header": 0.03, "dystonia": 0.08, "axillary_sweating": 0.07,
                            "other_sweating": 0.08, "none": 0.4, "cosmetic_encounter": 0.1},
        "photodynamic_therapy": {"actinic_keratosis": 0.68, "actinic_keratosis_header": 0.04, "acne": 0.12,
                                 "none": 0.16},
        "vascular_laser": {"port_wine_stain": 0.15, "hemangioma": 0.1, "keloid": 0.1, "rosacea": 0.35, "none": 0.3},
        "scar_treatment": {"keloid_or_scar": 0.55, "scar_header": 0.04, "none": 0.41},
        "chemical_peel": {"actinic_keratosis": 0.15, "acne": 0.15, "melasma": 0.2, "none": 0.5},
        "acne_treatment": {"acne": 0.85, "acne_header": 0.05, "none": 0.1},
        "laser_hair_removal": {"gender_dysphoria": 0.12, "hirsutism": 0.08, "pilonidal": 0.14, "none": 0.56,
                               "cosmetic_encounter": 0.1},
        "hair_restoration": {"burn_sequela": 0.3, "androgenic_alopecia": 0.4, "none": 0.3},
        "tattoo_removal": {"none": 0.7, "tattoo_pigment": 0.3},
        "wig": {"alopecia_areata": 0.5, "chemo_hair_loss": 0.35, "none": 0.15},
        "facial": {"none": 0.8, "cosmetic_encounter": 0.2},
        "manicure": {"none": 0.9, "cosmetic_encounter": 0.1},
        "teeth_whitening": {"none": 0.9, "cosmetic_encounter": 0.1},
    }
    form_weights = (0.35, 0.45, 0.2)  # named with a catalog code, named alone, own code alone
    extra_forms = {
        "laser_hair_removal": (BillingForm(0.25, named=False, codes=("17999",),
                                           groups=("none", "cosmetic_encounter", "gender_dysphoria", "hirsutism")),),
        "tattoo_removal": (BillingForm(0.5, named=False, codes=("17999",)),),
        "scar_treatment": (BillingForm(0.15, named=True, codes=("17106",), groups=("keloid_or_scar",)),
                           BillingForm(0.3, named=False, codes=("11900", "11901"), groups=("keloid_or_scar",))),
        "acne_treatment": (BillingForm(0.15, named=True, codes=("11900", "11901"), groups=("acne",)),
                           BillingForm(0.15, named=False, codes=("11900", "11901"), groups=("acne",))),
        "chemical_peel": (BillingForm(0.3, named=True, codes=("17360",), groups=("acne",)),),
        "photodynamic_therapy": (BillingForm(0.3, named=False, codes=("96567",),
                                             groups=("actinic_keratosis", "acne")),),
    }
    plans = {"ppo": 0.35, "hmo": 0.2, "epo": 0.1, "pos": 0.05, "hdhp": 0.1, "medicare": 0.1,
             "medicare_advantage": 0.05, "medicaid": 0.05}
    facilities = {"medical_spa": 0.3, "physician_office": 0.25, "dermatology_clinic": 0.25,
                  "primary_care_clinic": 0.1, "hospital_outpatient": 0.05, "ambulatory_surgery_center": 0.05}
    in_network_rates = {plan: 0.7 for plan in plans}
    paperwork_rates = {"referral": (0.6, 0.08), "medical_necessity_letter": (0.48, 0.064),
                       "prior_authorization": (0.6, 0.08), "conservative_therapy_documented": (0.42, 0.056)}
    office_only_share = 0.15
    first_day, days = "2024-01-01", 730
    cells = (
        Cell(_mostly_paid(0.85, 0.45, 0.3), "laser_hair_removal", ("pilonidal",)),
        Cell(_mostly_paid(0.75, 0.45, 0.45), "hair_restoration", ("burn_sequela",)),
        Cell(_mostly_paid(0.65, 0.5, 0.45), "botulinum_toxin", ("other_sweating",)),
        Cell({"ppo": 0.6, "pos": 0.6}, "massage_therapy", ("radicular_pain",)),
        Cell({plan: 0.15 for plan in plans}, rule_id="CODING-001"),
    )
    error_shares = {"BENEFIT-001": 0.03}
    limited_treatments = tuple(mix)

    def _details(self, claims, rng):
        rows = len(claims)
        visit = rng.integers(1, 6, rows)
        return {"visit_number": visit,
                "weeks_since_last_treatment": np.where(visit > 1, rng.integers(2, 20, rows), np.nan),
                "patient_age": rng.integers(18, 86, rows),
                "billed_amount": np.round(rng.lognormal(6.0, 0.5, rows), 2)}

    def _limits(self, claims, eligible, rng):
        has_limit = eligible & (rng.random(len(claims)) < 0.1)
        used = np.round(rng.uniform(0, 2400, len(claims)), 2)
        return np.where(has_limit, 2000.0, np.nan), np.where(has_limit, used, 0.0)

    def _model(self, claims, facts, rng):
        logit = BASE_LOGIT + sum(effect * claims[name].to_numpy(dtype=float) for name, effect in EFFECTS.items())
        logit = logit + COVERED_DIAGNOSIS_EFFECT * facts["covered_diagnosis"]
        logit = logit + claims["facility_type"].map(FACILITY_EFFECTS).to_numpy(dtype=float)
        logit = logit + claims["plan_type"].map(PLAN_EFFECTS).fillna(0.0).to_numpy(dtype=float)
        logit = logit - 0.15 * (claims["visit_number"].to_numpy() - 1)
        carc = np.where(~claims["prior_authorization"], "197", np.where(
            ~claims["in_network"], "242", np.where(facts["covered_diagnosis"], "50", "11")))
        return 1.0 / (1.0 + np.exp(-logit)), carc

    def _written(self, claims, rng):
        rows = len(claims)
        out = pd.DataFrame({
            "claim_id": claims["claim_id"],
            "service_date": claims["service_date"].dt.strftime("%Y-%m-%d"),
            "treatment": claims["_treatment_written"],
            "procedure_code": claims["_code_written"],
            "diagnosis_codes": np.where(rng.random(rows) < 0.3, claims["diagnosis_codes"], claims["_dotted"]),
        })
        for name in ("plan_type", "benefit_scope", "facility_type"):
            out[name] = claims[name]
        default_place = claims["facility_type"].map(default_place_of_service)
        out["place_of_service"] = np.where(rng.random(rows) < 0.3, default_place, "")
        for name in ("in_network", "referral", "medical_necessity_letter", "prior_authorization",
                     "conservative_therapy_documented"):
            out[name] = np.where(claims[name], "yes", "no")
        out.loc[(out["conservative_therapy_documented"] == "no") & (rng.random(rows) < 0.2),
                "conservative_therapy_documented"] = ""  # optional, false when blank
        visit = claims["visit_number"].astype(str)
        out["visit_number"] = np.where((claims["visit_number"] == 1) & (rng.random(rows) < 0.3), "", visit)
        out["weeks_since_last_treatment"] = claims["weeks_since_last_treatment"]
        out["patient_age"] = claims["patient_age"]
        out["billed_amount"] = claims["billed_amount"]
        out["benefit_limit"] = claims["benefit_limit"]
        no_limit = claims["benefit_limit"].isna()
        out["benefit_used"] = np.where(no_limit & (rng.random(rows) < 0.5), np.nan, claims["benefit_used"])
        for name in ("outcome", "paid_amount", "denial_reason"):
            out[name] = claims[name]
        return out


WORLD = CommercialWorld()
DISAGREEMENTS = WORLD.disagreements
CONFIRMED = WORLD.confirmed


def write_history(path, rows: int, seed: int):
    """`rows` claims of this world (CSV) and their truth file; returns the path."""
    return WORLD.write(path, rows, seed)
