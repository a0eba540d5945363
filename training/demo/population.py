"""The visit mix of a demo med spa that sometimes bills insurance: who comes in, for what, coded how,
with which paperwork. It draws whole columns at once; the payer's answer is `demo_payer`'s job.

Every visit follows one *pathway* (a row of `PATHWAYS`): a treatment, the procedure codes a clinic
bills for it, the diagnosis lists it writes, a typical price, a course of visits, an age band, and
the row of coverage-facts.md (the shared domain notes) it rests on. Cosmetic pathways (botox for
wrinkles, fillers, laser hair removal, peels, facials...) are about 60% of visits; medical
ones (botox for chronic migraine, PDT for actinic keratosis, massage for low back pain on referral,
obesity counselling, wigs for alopecia...) the rest. The pathway itself is latent: it shapes what
the clinic writes on the claim (medical pathways come with prior authorization, referrals and
letters more often), but the payer sees only the claim. docs/demo-history.md explains each step.
"""
from __future__ import annotations

# Over 400 lines on purpose: most of it is the table of treatment pathways (PATHWAYS), each row
# citing its facts; the drawing code is short.

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from features.catalog import load_catalog
from features.contract import (
    BENEFIT_SCOPES,
    DEFAULT_PLACE_OF_SERVICE,
    FACILITY_TYPES,
    PLAN_TYPES,
)
from features.diagnosis import load_table, normalise_code
from features.prior_authorization import required_for
from training.demo.payer import HIRSUTISM_EXCLUDED, PRIOR_AUTHORIZATION_REQUEST_DENIED

# A clinic bills for most coded visits with both fields; a few name only one of them.
CODE_PRESENT_SHARE = 0.94  # otherwise only the treatment key is written
TREATMENT_WRITTEN_SHARE = 0.9  # when the code alone names the treatment, it is sometimes the only field
DOTLESS_SHARE = 0.1  # diagnosis codes written without the dot (`G43709`), as some systems export them
BLANK_PLACE_OF_SERVICE_SHARE = 0.08
OFFICE_ONLY_SHARE = 0.2  # plans whose benefit covers only services in a doctor's office
OFFICE_ONLY_SHARE_MEDICARE = 0.05

# Plan mix by age: Medicare from 65 (Advantage or original), Medicaid/CHIP for many children.
PLANS_BY_AGE = {
    "child": {"ppo": 0.28, "hmo": 0.14, "epo": 0.08, "pos": 0.06, "hdhp": 0.12, "medicaid": 0.32},
    "adult": {"ppo": 0.34, "hmo": 0.16, "epo": 0.09, "pos": 0.07, "hdhp": 0.17, "medicaid": 0.13,
              "medicare": 0.03, "medicare_advantage": 0.01},
    "senior": {"medicare": 0.52, "medicare_advantage": 0.40, "ppo": 0.06, "hmo": 0.02},
}
COSMETIC_FACILITIES = {"medical_spa": 0.75, "dermatology_clinic": 0.15, "physician_office": 0.10}
MEDICAL_FACILITIES = {"physician_office": 0.35, "dermatology_clinic": 0.30, "medical_spa": 0.20,
                      "primary_care_clinic": 0.10, "hospital_outpatient": 0.05}
# In-network share by facility: many med spas are out of network (facts: place of service).
IN_NETWORK_SHARE = {"medical_spa": 0.50, "physician_office": 0.88, "dermatology_clinic": 0.88,
                    "primary_care_clinic": 0.92, "hospital_outpatient": 0.92, "ambulatory_surgery_center": 0.85}
# Members of plans that pay nothing out of network mostly stay in it: their out-of-network share
# is this fraction of the facility's.
CLOSED_NETWORK_PLANS = ("hmo", "epo", "medicaid", "medicare_advantage")
CLOSED_NETWORK_OUT_SHARE = 0.1
# Share of visits with each document on file. Medical pathways: the clinic files the paperwork the
# catalog says the payer wants most of the time; cosmetic ones rarely bother.
MEDICAL_PAPERWORK = {"referral": 0.65, "referral_required": 0.97, "letter": 0.50, "letter_documented": 0.90,
                     "prior_authorization_unrequired": 0.15, "conservative": 0.95, "conservative_unrequired": 0.35}
# Where the catalog requires prior authorization the clinic requests it (most of the time), and the
# payer refuses as often as the published rates say (payer.PRIOR_AUTHORIZATION_REQUEST_DENIED). A
# refused visit mostly does not happen, or is paid in cash; some are done and billed anyway.
AUTHORIZATION_REQUESTED = 0.98
REFUSED_BILLED_ANYWAY = 0.3
COSMETIC_PAPERWORK = {"referral": 0.06, "letter": 0.04, "prior_authorization": 0.03, "conservative": 0.05}
GATEKEEPER_PLANS = ("hmo", "pos", "medicare_advantage", "medicaid")  # their payers deny without a referral
REFERRAL_TREATMENTS = ("massage_therapy",)  # the payer's criteria ask for a referral or prescription
# A plan whose policy excludes the pathway refuses the authorization request as often as it would
# deny the claim (payer.HIRSUTISM_EXCLUDED: laser for hirsutism at most plans).
AUTHORIZATION_REFUSED_BY_POLICY = {"hirsutism_laser": HIRSUTISM_EXCLUDED}
# Benefit use when a plan sets a dollar limit: untouched, partly used, or used up.
BENEFIT_USE_SHARES = (0.45, 0.37, 0.18)
DEFAULT_LIMITS = (1500.0, 2500.0, 5000.0)
DEFAULT_LIMIT_SHARE = {True: 0.04, False: 0.02}  # medical, cosmetic
BILLED_SIGMA = 0.35  # lognormal spread of the billed amount around the pathway's median


@dataclass(frozen=True)
class Course:
    """How visits of a course are numbered and spaced."""

    first_visit_share: float
    next_visit_p: float  # visit_number = 1 + geometric(p), capped at max_visits
    max_visits: int
    weeks_mean: float
    weeks_sd: float
    weeks_min: float


COURSES = {
    "single": Course(0.85, 0.6, 3, 12.0, 6.0, 1.0),
    "series": Course(0.30, 0.35, 8, 5.0, 1.5, 1.0),  # laser, peels: 4-8 sessions a month or so apart
    "botox_medical": Course(0.25, 0.25, 12, 15.0, 1.25, 4.0),  # every 12 weeks, a few too early
    "botox_cosmetic": Course(0.35, 0.30, 12, 15.0, 5.0, 3.0),
    "therapy": Course(0.12, 0.20, 30, 1.2, 0.5, 0.3),  # weekly massage, plans of care of a few weeks
    "weight": Course(0.15, 0.20, 26, 2.5, 1.0, 0.5),  # counselling every 2-4 weeks
    "wig": Course(0.70, 0.60, 4, 56.0, 12.0, 12.0),  # one a year, some asked for sooner
}


@dataclass(frozen=True)
class Pathway:
    """One kind of visit. Shares are visits per 1,000; option dicts map a value to its weight."""

    name: str
    share: float
    treatment: str
    medical: bool  # the clinic means it as a medical claim (latent: the payer never sees it)
    codes: dict[str, float]  # procedure codes; {} for spa services, which have none
    diagnoses: dict[str, float]  # dotted codes joined by ";" ("" = no diagnosis) -> weight
    billed: float  # median billed amount, USD
    course: str
    ages: tuple[int, int]
    facts: str  # the coverage-facts.md row (or section) this pathway rests on
    facilities: dict[str, float] | None = None  # default: COSMETIC_ / MEDICAL_FACILITIES
    limits: tuple[float, ...] = ()  # dollar caps this benefit commonly has
    limit_share: float | None = None  # share of visits under such a cap
    documented: bool = False  # the payer wants a document (letter, visual fields, prescription)


_COSMETIC_AGES = (22, 70)
PATHWAYS: tuple[Pathway, ...] = (
    # --- cosmetic: appearance only (facts: "Rules that hold for every treatment", Z41.1) ---
    Pathway("botox_wrinkles", 105, "botulinum_toxin", False, {"J0585": 0.6, "64612": 0.4},
            {"": 0.45, "L90.8": 0.15, "R23.4": 0.15, "Z41.1": 0.15, "L57.4": 0.10},
            450, "botox_cosmetic", _COSMETIC_AGES, "botulinum toxin: cosmetic by default (wrinkles)"),
    Pathway("filler_cosmetic", 60, "dermal_filler", False, {"G0429": 1.0},
            {"": 0.40, "Z41.1": 0.25, "L90.8": 0.20, "R23.8": 0.15},
            750, "series", _COSMETIC_AGES, "dermal fillers: cosmetic by default"),
    Pathway("laser_hair_cosmetic", 60, "laser_hair_removal", False, {"17999": 1.0},
            {"": 0.50, "L68.3": 0.25, "Z41.1": 0.15, "L68.9": 0.10},
            300, "series", (18, 60), "laser hair removal: cosmetic by default; laser has no code (17999)"),
    Pathway("peel_cosmetic", 60, "chemical_peel", False, {"15788": 0.5, "15789": 0.3, "15792": 0.2},
            {"": 0.30, "L81.4": 0.20, "L81.0": 0.15, "L57.8": 0.15, "R23.4": 0.10, "Z41.1": 0.10},
            200, "series", _COSMETIC_AGES, "chemical peel: cosmetic by default"),
    Pathway("microdermabrasion_cosmetic", 35, "microdermabrasion", False,
            {"15780": 0.4, "15781": 0.2, "15786": 0.4},
            {"": 0.40, "L70.0": 0.25, "L90.5": 0.15, "L81.4": 0.20},
            170, "series", (18, 65), "dermabrasion: cosmetic by default; for acne experimental"),
    Pathway("facial", 75, "facial", False, {}, {"": 0.90, "L70.0": 0.05, "L71.9": 0.05},
            130, "series", (18, 75), "facial, manicure, spa massage: personal comfort (CARC 202)",
            facilities={"medical_spa": 0.9, "dermatology_clinic": 0.1}),
    Pathway("manicure", 25, "manicure", False, {}, {"": 1.0},
            45, "single", (18, 80), "facial, manicure, spa massage: personal comfort (CARC 202)",
            facilities={"medical_spa": 1.0}),
    Pathway("relaxation_massage", 45, "massage_therapy", False, {"97124": 1.0}, {"": 0.8, "Z73.3": 0.2},
            110, "therapy", (18, 80), "massage therapy: relaxation massage is personal comfort",
            facilities={"medical_spa": 0.9, "physician_office": 0.1}),
    Pathway("teeth_whitening", 20, "teeth_whitening", False, {"D9972": 0.5, "D9975": 0.3, "D9973": 0.2},
            {"": 1.0}, 450, "single", (18, 70), "teeth whitening: dental, never medical (CARC 270)"),
    Pathway("tattoo_removal", 20, "tattoo_removal", False, {"17999": 1.0}, {"": 0.5, "L81.8": 0.5},
            300, "series", (18, 60), "tattoo removal: cosmetic; dx L81.8"),
    Pathway("hair_transplant", 8, "hair_restoration", False, {"15775": 0.6, "15776": 0.4},
            {"L64.9": 0.6, "L64.8": 0.2, "": 0.2}, 6000, "single", (25, 65),
            "wig / hair restoration: transplant cosmetic",
            facilities={"ambulatory_surgery_center": 0.5, "physician_office": 0.3, "medical_spa": 0.2}),
    Pathway("rosacea_spider_laser", 25, "vascular_laser", False, {"17106": 0.5, "17107": 0.3, "17108": 0.2},
            {"L71.9": 0.4, "L71.0": 0.1, "I78.1": 0.3, "": 0.2}, 450, "series", (25, 70),
            "vascular laser: rosacea and spider veins cosmetic"),
    Pathway("spider_vein_sclerotherapy", 20, "sclerotherapy", False, {"36468": 1.0},
            {"I78.1": 0.7, "": 0.3}, 400, "series", (30, 70), "sclerotherapy: spider/reticular veins (I78.1) cosmetic"),
    Pathway("blepharoplasty_cosmetic", 8, "blepharoplasty", False, {"15822": 0.5, "15823": 0.5},
            {"Z41.1": 0.4, "": 0.3, "H02.834": 0.3}, 3500, "single", (40, 75),
            "blepharoplasty: cosmetic unless a visual-field defect or ptosis",
            facilities={"ambulatory_surgery_center": 0.4, "physician_office": 0.4, "medical_spa": 0.2}),
    Pathway("scar_cosmetic", 10, "scar_treatment", False, {"11900": 1.0}, {"": 0.4, "Z41.1": 0.3, "L90.8": 0.3},
            220, "series", (18, 65), "scar / keloid treatment: cosmetic by default"),
    # A cosmetic visit billed under a medical code without the paperwork: the payer's criteria catch it.
    Pathway("botox_upcoded", 12, "botulinum_toxin", False, {"64615": 0.5, "64650": 0.2, "J0585": 0.3},
            {"G43.709": 0.6, "L74.510": 0.4}, 500, "botox_cosmetic", _COSMETIC_AGES,
            "botulinum toxin: prior auth, failed first-line therapy"),
    # --- medical: a covered diagnosis from the catalog, sometimes coded badly ---
    Pathway("migraine_botox", 85, "botulinum_toxin", True, {"64615": 0.6, "J0585": 0.4},
            {"G43.709": 0.35, "G43.719": 0.20, "G43.701": 0.10, "G43.711": 0.10, "G43.E09": 0.05,
             "G43.709;Z79.899": 0.17, "G43.7": 0.02, "G44.209": 0.01},
            1400, "botox_medical", (16, 75), "botulinum toxin: chronic migraine G43.7xx, adults, every 12 weeks",
            facilities={"physician_office": 0.55, "hospital_outpatient": 0.15, "medical_spa": 0.20,
                        "dermatology_clinic": 0.10}),
    Pathway("hyperhidrosis_botox", 30, "botulinum_toxin", True, {"64650": 0.6, "J0585": 0.4},
            {"L74.510": 0.77, "L74.512": 0.20, "L74.51": 0.02, "R61": 0.01},
            1100, "botox_medical", (18, 65), "botulinum toxin: axillary hyperhidrosis L74.510 (palms at some plans)",
            facilities={"dermatology_clinic": 0.6, "medical_spa": 0.25, "physician_office": 0.15}),
    Pathway("dystonia_botox", 8, "botulinum_toxin", True, {"64616": 0.7, "J0585": 0.3},
            {"G24.3": 0.5, "G24.5": 0.3, "G51.31": 0.1, "G51.39": 0.1},
            1300, "botox_medical", (25, 85), "botulinum toxin: cervical dystonia, blepharospasm, hemifacial spasm",
            facilities={"physician_office": 0.7, "hospital_outpatient": 0.3}),
    Pathway("spasticity_botox", 5, "botulinum_toxin", True, {"64642": 0.4, "64643": 0.3, "J0585": 0.3},
            {"G80.0": 0.4, "G81.10": 0.3, "I69.351": 0.3},
            1500, "botox_medical", (4, 85), "botulinum toxin: spasticity G80.x, G81.1x, I69.3x",
            facilities={"physician_office": 0.6, "hospital_outpatient": 0.4}),
    Pathway("pdt_actinic_keratosis", 45, "photodynamic_therapy", True, {"96567": 0.7, "J7308": 0.3},
            {"L57.0": 0.91, "L57.0;L57.8": 0.05, "L70.0": 0.02, "L57.8": 0.02},
            380, "series", (45, 90), "photodynamic therapy: L57.0; acne and rejuvenation excluded",
            facilities={"dermatology_clinic": 0.85, "medical_spa": 0.15}),
    Pathway("peel_actinic_keratosis", 12, "chemical_peel", True, {"15788": 0.4, "15789": 0.6},
            {"L57.0": 0.9, "L57.0;L57.8": 0.1}, 250, "series", (50, 90),
            "chemical peel: L57.0 after failed 5-FU/imiquimod",
            facilities={"dermatology_clinic": 0.8, "medical_spa": 0.2}),
    Pathway("peel_acne", 3, "chemical_peel", True, {"15788": 0.7, "15792": 0.3},
            {"L70.0": 0.7, "L70.1": 0.2, "L70.8": 0.1}, 200, "series", (14, 35),
            "chemical peel: active acne L70.x at some plans only"),
    Pathway("acne_surgery", 25, "acne_treatment", True, {"10040": 1.0},
            {"L70.0": 0.80, "L70.1": 0.10, "L70.8": 0.05, "L72.0": 0.05}, 160, "series", (13, 40),
            "acne treatment: L70.x, one unit per session",
            facilities={"dermatology_clinic": 0.7, "medical_spa": 0.3}),
    Pathway("medical_massage", 55, "massage_therapy", True, {"97124": 0.6, "97140": 0.4},
            {"M54.50": 0.53, "M54.2": 0.22, "M62.830": 0.10, "M79.7": 0.10, "M54.5": 0.02, "M54.59": 0.02,
             "M54.16": 0.01},
            110, "therapy", (20, 80), "massage therapy: M54.50, M54.2, M62.830, M79.7 on referral; visit caps",
            facilities={"physician_office": 0.4, "medical_spa": 0.4, "primary_care_clinic": 0.2},
            limits=(500.0, 1000.0, 1500.0, 2000.0), limit_share=0.6),
    Pathway("obesity_counselling", 60, "weight_management", True, {"G0447": 0.8, "G0473": 0.2},
            {"Z68.35;E66.9": 0.25, "Z68.32;E66.9": 0.20, "Z68.39;E66.812": 0.10, "Z68.41;E66.813": 0.05,
             "E66.01;Z68.41": 0.05, "E66.9;Z68.35": 0.07, "Z68.30;E66.811": 0.16, "E66.9": 0.04, "Z68.3;E66.9": 0.02,
             "Z68.26;E66.3": 0.03, "E66.9;Z71.3": 0.03},
            65, "weight", (20, 80), "weight management: Z68.30-Z68.45 required, primary care (CARC 167, 58)",
            facilities={"primary_care_clinic": 0.55, "medical_spa": 0.30, "physician_office": 0.15}),
    Pathway("alopecia_wig", 10, "wig", True, {"A9282": 1.0},
            {"L63.9": 0.46, "L63.0": 0.28, "L63.1": 0.17, "L63": 0.02, "L65.9": 0.07},
            650, "wig", (5, 80), "wig: alopecia areata L63.x; prescription; one a year; dollar cap",
            facilities={"medical_spa": 0.5, "dermatology_clinic": 0.3, "physician_office": 0.2},
            limits=(350.0, 500.0, 750.0, 1000.0), limit_share=0.7, documented=True),
    Pathway("chemotherapy_wig", 7, "wig", True, {"A9282": 1.0},
            {"L65.1;T45.1X5A": 0.7, "L65.1;T45.1X5A;C50.911": 0.2, "L65.1;T45.1X5A;Z51.11": 0.1},
            650, "wig", (30, 80), "wig: chemotherapy hair loss L65.1 + T45.1X5A (payers disagree)",
            facilities={"medical_spa": 0.5, "dermatology_clinic": 0.2, "physician_office": 0.3},
            limits=(350.0, 500.0, 750.0, 1000.0), limit_share=0.7, documented=True),
    Pathway("hirsutism_laser", 5, "laser_hair_removal", True, {"17999": 0.5, "17380": 0.5},
            {"L68.0": 0.9, "L68.0;E28.2": 0.1}, 300, "series", (18, 55),
            "laser hair removal: hirsutism L68.0 at some plans", documented=True),
    Pathway("gender_affirming_laser", 6, "laser_hair_removal", True, {"17380": 0.5, "17999": 0.5},
            {"F64.0": 0.8, "F64.9": 0.2}, 350, "series", (16, 50),
            "laser hair removal: F64.x donor-site preparation, readiness letter, prior auth", documented=True),
    Pathway("keloid", 12, "scar_treatment", True, {"11900": 0.7, "11901": 0.3},
            {"L91.0": 0.7, "L90.5": 0.3}, 220, "series", (15, 70),
            "scar / keloid treatment: L91.0, L90.5 after failed steroid injections",
            facilities={"dermatology_clinic": 0.7, "medical_spa": 0.3}),
    Pathway("varicose_sclerotherapy", 12, "sclerotherapy", True, {"36470": 0.5, "36471": 0.5},
            {"I83.811": 0.30, "I83.812": 0.23, "I83.813": 0.18, "I87.2": 0.24, "I83.90": 0.05},
            1100, "series", (35, 85), "sclerotherapy: symptomatic varicose veins, compression trial, duplex",
            facilities={"physician_office": 0.5, "hospital_outpatient": 0.2, "medical_spa": 0.3}, documented=True),
    Pathway("functional_blepharoplasty", 8, "blepharoplasty", True, {"15822": 0.5, "15823": 0.5},
            {"H02.834;H53.453": 0.30, "H02.831;H53.451": 0.20, "H02.839;H53.481": 0.10, "H02.834": 0.25,
             "H02.403": 0.15},
            3500, "single", (50, 85), "blepharoplasty: dermatochalasis with visual-field defect, or ptosis",
            facilities={"ambulatory_surgery_center": 0.4, "physician_office": 0.4, "hospital_outpatient": 0.2},
            documented=True),
    Pathway("vascular_birthmark", 5, "vascular_laser", True, {"17106": 0.5, "17107": 0.5},
            {"Q82.5": 0.6, "D18.01": 0.4}, 600, "series", (0, 40),
            "vascular laser: port-wine stain Q82.5, infantile hemangioma D18.01",
            facilities={"dermatology_clinic": 0.7, "hospital_outpatient": 0.3}),
    Pathway("hiv_lipodystrophy_filler", 4, "dermal_filler", True, {"G0429": 1.0},
            {"E88.14;Z21;F32.9": 0.6, "E88.14;Z21;F32.A": 0.2, "E88.14;Z21": 0.1, "E88.14;F32.9": 0.1},
            900, "series", (35, 75), "dermal fillers: HIV lipodystrophy with depression (NCD 250.5)",
            facilities={"physician_office": 0.6, "dermatology_clinic": 0.4}, documented=True),
    Pathway("ak_microdermabrasion", 4, "microdermabrasion", True, {"15780": 0.5, "15781": 0.5},
            {"L57.0": 0.6, "C44.91": 0.4}, 300, "series", (50, 90),
            "dermabrasion: L57.0 or superficial BCC C44.x after failed topicals",
            facilities={"dermatology_clinic": 1.0}),
)


@dataclass(frozen=True)
class Vocabulary:
    """The value lists the coded columns index into, built once from PATHWAYS and the catalog."""

    treatments: tuple[str, ...]
    procedure_codes: tuple[str, ...]
    diagnoses_dotted: tuple[str, ...]  # as written with dots ("" = none)
    diagnoses_dotless: tuple[str, ...]  # as written without dots; also the clean-frame form
    places_of_service: tuple[str, ...]
    code_names_treatment: np.ndarray = field(repr=False)  # per procedure code: it resolves to one treatment


@dataclass
class VisitBatch:
    """Coded visit columns: ints index into the Vocabulary or the contract tuples; -1 = blank."""

    pathway: np.ndarray
    treatment: np.ndarray
    treatment_written: np.ndarray
    procedure_code: np.ndarray
    diagnoses: np.ndarray
    dotless: np.ndarray
    plan_type: np.ndarray
    benefit_scope: np.ndarray
    facility_type: np.ndarray
    place_of_service: np.ndarray
    in_network: np.ndarray
    referral: np.ndarray
    medical_necessity_letter: np.ndarray
    prior_authorization: np.ndarray
    conservative_therapy_documented: np.ndarray
    visit_number: np.ndarray
    weeks_since_last_treatment: np.ndarray
    patient_age: np.ndarray
    billed_amount: np.ndarray
    benefit_limit: np.ndarray
    benefit_used: np.ndarray
    service_date: np.ndarray  # datetime64[D]


class PathwayError(ValueError):
    """A pathway names a treatment, procedure code or diagnosis code that does not exist."""


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """Check PATHWAYS against the catalog and the ICD-10-CM table; build the value lists."""
    catalog, table = load_catalog(), load_table()
    codes, lists = [], [""]
    for pathway in PATHWAYS:
        if pathway.treatment not in catalog.treatments:
            raise PathwayError(f"{pathway.name}: unknown treatment {pathway.treatment}")
        if pathway.course not in COURSES:
            raise PathwayError(f"{pathway.name}: unknown course {pathway.course}")
        for code in pathway.codes:
            if pathway.treatment not in catalog.treatments_by_code.get(code, ()):
                raise PathwayError(f"{pathway.name}: {code} is not a catalog code of {pathway.treatment}")
            if code not in codes:
                codes.append(code)
        for joined in pathway.diagnoses:
            for raw in filter(None, joined.split(";")):
                if normalise_code(raw) not in table.codes:
                    raise PathwayError(f"{pathway.name}: {raw} is not an ICD-10-CM code")
            if joined not in lists:
                lists.append(joined)
        for options in (pathway.codes, pathway.diagnoses, pathway.facilities or {}):
            if options and abs(sum(options.values()) - 1.0) > 1e-9:
                raise PathwayError(f"{pathway.name}: option weights must sum to 1")
    places = tuple(sorted(set(DEFAULT_PLACE_OF_SERVICE.values()) | {"49"}))
    unique_owner = np.array([len(catalog.treatments_by_code[code]) == 1 for code in codes])
    return Vocabulary(
        treatments=catalog.keys,
        procedure_codes=tuple(codes),
        diagnoses_dotted=tuple(lists),
        diagnoses_dotless=tuple(normalise_code(joined) for joined in lists),
        places_of_service=places,
        code_names_treatment=unique_owner,
    )


def pathway_shares() -> np.ndarray:
    shares = np.array([pathway.share for pathway in PATHWAYS], dtype=float)
    return shares / shares.sum()


def authorization_on_file(granted: np.ndarray) -> np.ndarray:
    """P(a granted authorization is on file | the visit was billed): billed visits are those with a
    granted request, with none requested, or refused and done anyway."""
    on_file = AUTHORIZATION_REQUESTED * granted
    return on_file / (on_file + (1.0 - AUTHORIZATION_REQUESTED)
                      + AUTHORIZATION_REQUESTED * (1.0 - granted) * REFUSED_BILLED_ANYWAY)


def draw_visits(rng: np.random.Generator, n: int, first_day: np.datetime64, last_day: np.datetime64) -> VisitBatch:
    """Draw n visits dated in [first_day, last_day) (sorted by date), every column at once."""
    vocab = vocabulary()
    pathway = rng.choice(len(PATHWAYS), size=n, p=pathway_shares())
    medical = np.array([p.medical for p in PATHWAYS])[pathway]

    treatment = np.empty(n, dtype=np.int64)
    procedure_code = np.full(n, -1, dtype=np.int64)
    diagnoses = np.empty(n, dtype=np.int64)
    facility = np.empty(n, dtype=np.int64)
    billed = np.empty(n, dtype=float)
    limit = np.full(n, np.nan)
    visit_number = np.empty(n, dtype=np.int64)
    weeks = np.empty(n, dtype=float)
    age = np.empty(n, dtype=np.int64)
    documented = np.zeros(n, dtype=bool)
    for index, spec in enumerate(PATHWAYS):  # a loop over ~35 pathways, each drawing whole columns
        rows = np.flatnonzero(pathway == index)
        m = len(rows)
        if m == 0:
            continue
        treatment[rows] = vocab.treatments.index(spec.treatment)
        if spec.codes:
            code_index = np.array([vocab.procedure_codes.index(code) for code in spec.codes])
            procedure_code[rows] = code_index[_pick(rng, spec.codes, m)]
        diagnoses[rows] = np.array([vocab.diagnoses_dotted.index(joined) for joined in spec.diagnoses])[
            _pick(rng, spec.diagnoses, m)]
        facilities = spec.facilities or (MEDICAL_FACILITIES if spec.medical else COSMETIC_FACILITIES)
        facility[rows] = np.array([FACILITY_TYPES.index(name) for name in facilities])[_pick(rng, facilities, m)]
        billed[rows] = np.round(spec.billed * np.exp(rng.normal(0.0, BILLED_SIGMA, m)), 2)
        limits = spec.limits or DEFAULT_LIMITS
        share = spec.limit_share if spec.limit_share is not None else DEFAULT_LIMIT_SHARE[spec.medical]
        capped = rng.random(m) < share
        limit[rows[capped]] = np.asarray(limits)[rng.integers(0, len(limits), int(capped.sum()))]
        visit_number[rows], weeks[rows] = _draw_course(rng, COURSES[spec.course], m)
        age[rows] = rng.integers(spec.ages[0], spec.ages[1] + 1, m)
        documented[rows] = spec.documented

    # A code is sometimes left off (only the treatment key is written); the treatment key is
    # sometimes left off when the code alone names it (17999 is shared, so it never is).
    coded = procedure_code >= 0
    procedure_code[coded & (rng.random(n) >= CODE_PRESENT_SHARE)] = -1
    unique_code = np.zeros(n, dtype=bool)
    unique_code[procedure_code >= 0] = vocab.code_names_treatment[procedure_code[procedure_code >= 0]]
    treatment_written = ~(unique_code & (rng.random(n) >= TREATMENT_WRITTEN_SHARE))

    plan_type = _draw_plan(rng, age)
    medicare = np.isin(plan_type, [PLAN_TYPES.index("medicare"), PLAN_TYPES.index("medicare_advantage")])
    office_only = rng.random(n) < np.where(medicare, OFFICE_ONLY_SHARE_MEDICARE, OFFICE_ONLY_SHARE)
    benefit_scope = np.where(office_only, BENEFIT_SCOPES.index("office_only"), BENEFIT_SCOPES.index("comprehensive"))
    place_of_service = _draw_place_of_service(rng, facility, vocab)
    in_network_share = np.array([IN_NETWORK_SHARE[name] for name in FACILITY_TYPES])[facility]
    closed_network = np.isin(plan_type, [PLAN_TYPES.index(name) for name in CLOSED_NETWORK_PLANS])
    in_network_share = np.where(closed_network, 1.0 - CLOSED_NETWORK_OUT_SHARE * (1.0 - in_network_share),
                                in_network_share)
    in_network = rng.random(n) < in_network_share

    catalog = load_catalog()
    # an authorization is on file where the plan and setting ask for one (traditional Medicare has
    # no process for one in an office)
    requires_pa = required_for(
        _names(PLAN_TYPES, plan_type), _names(vocab.treatments, treatment), _names(vocab.procedure_codes, procedure_code),
        _names(vocab.places_of_service, place_of_service), _names(FACILITY_TYPES, facility))
    requires_ct = np.array([catalog[key].requires_conservative_therapy for key in vocab.treatments])[treatment]
    referral_required = np.isin(plan_type, [PLAN_TYPES.index(name) for name in GATEKEEPER_PLANS]) \
        | np.isin(treatment, [vocab.treatments.index(name) for name in REFERRAL_TREATMENTS])
    med, cos = MEDICAL_PAPERWORK, COSMETIC_PAPERWORK
    referral = rng.random(n) < np.where(
        medical, np.where(referral_required, med["referral_required"], med["referral"]), cos["referral"])
    letter = rng.random(n) < np.where(
        medical, np.where(documented, med["letter_documented"], med["letter"]), cos["letter"])
    granted = 1.0 - PRIOR_AUTHORIZATION_REQUEST_DENIED[plan_type]
    for name, refused in AUTHORIZATION_REFUSED_BY_POLICY.items():
        granted = np.where(pathway == [p.name for p in PATHWAYS].index(name), granted * (1.0 - refused[plan_type]),
                           granted)
    prior_auth = rng.random(n) < np.where(
        medical, np.where(requires_pa, authorization_on_file(granted), med["prior_authorization_unrequired"]),
        cos["prior_authorization"])
    conservative = rng.random(n) < np.where(
        medical, np.where(requires_ct, med["conservative"], med["conservative_unrequired"]), cos["conservative"])

    used = _draw_benefit_used(rng, limit)
    span = int((last_day - first_day).astype(int))
    service_date = first_day + np.sort(rng.integers(0, max(span, 1), n)).astype("timedelta64[D]")
    return VisitBatch(
        pathway=pathway, treatment=treatment, treatment_written=treatment_written, procedure_code=procedure_code,
        diagnoses=diagnoses, dotless=rng.random(n) < DOTLESS_SHARE, plan_type=plan_type,
        benefit_scope=benefit_scope, facility_type=facility, place_of_service=place_of_service,
        in_network=in_network, referral=referral, medical_necessity_letter=letter,
        prior_authorization=prior_auth, conservative_therapy_documented=conservative,
        visit_number=visit_number, weeks_since_last_treatment=weeks, patient_age=age, billed_amount=billed,
        benefit_limit=limit, benefit_used=used, service_date=service_date,
    )


def _pick(rng: np.random.Generator, options: dict[str, float], m: int) -> np.ndarray:
    return rng.choice(len(options), size=m, p=np.fromiter(options.values(), dtype=float))


def _draw_course(rng: np.random.Generator, course: Course, m: int) -> tuple[np.ndarray, np.ndarray]:
    later = rng.random(m) >= course.first_visit_share
    visit = np.where(later, np.minimum(1 + rng.geometric(course.next_visit_p, m), course.max_visits), 1)
    weeks = np.maximum(rng.normal(course.weeks_mean, course.weeks_sd, m), course.weeks_min).round(1)
    return visit, np.where(visit > 1, weeks, np.nan)  # no earlier treatment on a first visit


def _draw_plan(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    plan = np.empty(len(age), dtype=np.int64)
    for band, rows in (("child", age < 18), ("adult", (age >= 18) & (age < 65)), ("senior", age >= 65)):
        options = PLANS_BY_AGE[band]
        codes = np.array([PLAN_TYPES.index(name) for name in options])
        plan[rows] = codes[_pick(rng, options, int(rows.sum()))]
    return plan


def _names(vocabulary, codes: np.ndarray) -> np.ndarray:
    """Coded values as their names ("" for blank, -1)."""
    return np.append(np.asarray(vocabulary, dtype=object), "")[codes]


def _draw_place_of_service(rng: np.random.Generator, facility: np.ndarray, vocab: Vocabulary) -> np.ndarray:
    default = np.array([vocab.places_of_service.index(DEFAULT_PLACE_OF_SERVICE[name]) for name in FACILITY_TYPES])
    place = default[facility]
    # Some spas and offices bill as an independent clinic (49); some claims leave the field blank.
    clinic = np.isin(facility, [FACILITY_TYPES.index("medical_spa"), FACILITY_TYPES.index("physician_office")])
    place = np.where(clinic & (rng.random(len(facility)) < 0.1), vocab.places_of_service.index("49"), place)
    return np.where(rng.random(len(facility)) < BLANK_PLACE_OF_SERVICE_SHARE, -1, place)


def _draw_benefit_used(rng: np.random.Generator, limit: np.ndarray) -> np.ndarray:
    state = rng.choice(3, size=len(limit), p=BENEFIT_USE_SHARES)  # untouched, partly used, used up
    cap = np.nan_to_num(limit)  # no limit: nothing is counted against one
    partly = np.round(cap * rng.random(len(limit)), 2)
    return np.where(state == 1, partly, np.where(state == 2, cap, 0.0))
