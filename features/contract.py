"""The claims data contract (v1.1), as data: field names, types, allowed values, defaults.

Both the training-file loader and the service's request validation read these tables, so the
two can never disagree on what a claim is. The source is ../shared/specs/claims-contract.md.
"""
from __future__ import annotations

import difflib

CONTRACT_VERSION = "v1.1"

PLAN_TYPES = ("ppo", "hmo", "epo", "pos", "hdhp", "medicare", "medicare_advantage", "medicaid")
BENEFIT_SCOPES = ("comprehensive", "office_only")
FACILITY_TYPES = (
    "medical_spa",
    "physician_office",
    "dermatology_clinic",
    "primary_care_clinic",
    "hospital_outpatient",
    "ambulatory_surgery_center",
)
OUTCOMES = ("approved", "partial", "denied")
APPROVED_OUTCOMES = ("approved", "partial")

# Two-digit CMS place-of-service code a facility bills under when the claim names none.
DEFAULT_PLACE_OF_SERVICE = {
    "medical_spa": "11",
    "physician_office": "11",
    "dermatology_clinic": "11",
    "primary_care_clinic": "11",
    "hospital_outpatient": "22",
    "ambulatory_surgery_center": "24",
}
# Facilities that count as "a doctor's office" for an office_only benefit.
OFFICE_FACILITIES = ("physician_office", "dermatology_clinic", "primary_care_clinic")

MAX_PATIENT_AGE = 120

# field -> (kind, required_in_history, required_in_request, default when absent)
# kind is one of: string, date, code, codes, enum, bool, int, number.
VISIT_FIELDS: dict[str, tuple[str, bool, bool, object]] = {
    "claim_id": ("string", True, False, None),
    "service_date": ("date", True, False, None),
    "treatment": ("string", False, False, None),
    "procedure_code": ("code", False, False, None),
    "diagnosis_codes": ("codes", False, False, ()),
    "plan_type": ("enum", True, True, None),
    "benefit_scope": ("enum", True, True, None),
    "facility_type": ("enum", True, True, None),
    "place_of_service": ("string", False, False, None),
    "in_network": ("bool", True, True, None),
    "referral": ("bool", True, True, None),
    "medical_necessity_letter": ("bool", True, True, None),
    "prior_authorization": ("bool", True, True, None),
    "conservative_therapy_documented": ("bool", False, False, False),
    "visit_number": ("int", False, False, 1),
    "weeks_since_last_treatment": ("number", False, False, None),
    "patient_age": ("int", True, True, None),
    "billed_amount": ("number", True, True, None),
    "benefit_limit": ("number", False, False, None),
    "benefit_used": ("number", False, False, 0.0),
    # v1.1: what the patient will owe (scoring.patient_cost); optional, null = unknown, never a model input
    "allowed_amount": ("number", False, False, None),
    "deductible_remaining": ("number", False, False, None),
    "coinsurance_rate": ("number", False, False, None),
    "copay": ("number", False, False, None),
}
# The v1.1 fields: they say what the patient will owe, not whether the plan pays (the contract:
# "not needed to predict approval"), so no encoder reads them and a v1 file stays valid.
COST_SHARING_FIELDS = ("allowed_amount", "deductible_remaining", "coinsurance_rate", "copay")
OUTCOME_FIELDS = ("outcome", "paid_amount", "denial_reason")

ENUM_VALUES = {
    "plan_type": PLAN_TYPES,
    "benefit_scope": BENEFIT_SCOPES,
    "facility_type": FACILITY_TYPES,
    "outcome": OUTCOMES,
}


def read_enum(field: str, value) -> str | None:
    """The contract's value an enumeration cell or request field names, in any case ("PPO",
    "Medical_Spa"), as codes are read in any case; None when it names none."""
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return value if value in ENUM_VALUES[field] else None


def close_matches(value, choices) -> list[str]:
    """Up to three allowed values close to what was sent ("did you mean ..."), for a message that
    never repeats the value itself."""
    if not isinstance(value, str):
        return []
    value = value.strip().lower().replace(" ", "_")
    words = [choice for choice in choices if value and value in choice.split("_")]  # "peel": chemical_peel
    similar = difflib.get_close_matches(value, list(choices), n=3, cutoff=0.5)  # "botox": botulinum_toxin
    return list(dict.fromkeys(words + similar))[:3]


def did_you_mean(value, choices) -> str:
    """" (did you mean X or Y?)" when the value is close to some allowed ones, else ""."""
    matches = close_matches(value, choices)
    return f" (did you mean {' or '.join(matches)}?)" if matches else ""


BOOL_FIELDS = tuple(name for name, spec in VISIT_FIELDS.items() if spec[0] == "bool")
NUMBER_FIELDS = tuple(name for name, spec in VISIT_FIELDS.items() if spec[0] in ("int", "number"))
# One of the two must be present on every claim.
TREATMENT_FIELDS = ("treatment", "procedure_code")

# CSV spellings of booleans the contract accepts (compared lower-cased).
TRUE_STRINGS = frozenset({"true", "1", "yes"})
FALSE_STRINGS = frozenset({"false", "0", "no"})

# Lower bounds of numeric fields; upper bounds where the contract sets one. A file's rows
# (claims_io.fields) and a request (service.schemas) are checked against these same
# bounds; where the contract sets no upper bound, neither path invents one, but for integers:
NUMBER_BOUNDS = {
    "visit_number": (1, None),
    "weeks_since_last_treatment": (0, None),
    "patient_age": (0, MAX_PATIENT_AGE),
    "billed_amount": (0, None),
    "benefit_limit": (0, None),
    "benefit_used": (0, None),
    "allowed_amount": (0, None),
    "deductible_remaining": (0, None),
    "coinsurance_rate": (0, 1),
    "copay": (0, None),
    "paid_amount": (0, None),
}
# The technical bound of integer fields, in both paths: the largest n such that every integer up
# to n is exact in a float64 (JavaScript's Number.MAX_SAFE_INTEGER). CSV text and JSON numbers are
# read as floats, and past 2**53 two integers read as one: 2**53 + 1 arrives as 2**53. With the
# bound one below 2**53, a value just past it can never round back into range.
MAX_EXACT_INTEGER = 2**53 - 1
# claim_id, the contract's "opaque id, echoed back": any Unicode text, surrounding blanks stripped
# (a blank one is absent), returned exactly as given in answers, the audit store and Parquet and
# JSON-lines outputs. Its one special treatment is on the way out to CSV: a claim_id (like any text
# cell) that a spreadsheet would run, starting with =, +, -, @, a tab or a carriage return and not
# a plain number, is written with a leading single quote (claims_io.csv_cells).
# No bound on the length of claim_id or on the number of diagnosis codes, in either path: the
# contract sets none, and the bounds that exist belong to one billing form each (an 837P carries
# 12 diagnosis codes, an 837I 25), which a history exported from elsewhere need not follow. A
# request is bounded as a whole instead (MAX_CONTENT_LENGTH, 2 MiB, and MAX_BATCH_CLAIMS), which
# bounds both fields and the work of answering; a file is read and checked in chunks, within the
# reader's own bounds on what a file may cost (claims_io.files: columns, a cell's length, decoded size).


def integer_bounds(field: str) -> tuple[int, int]:
    """The bounds an integer field is checked against: the contract's, and above MAX_EXACT_INTEGER
    when the contract leaves it open."""
    lower, upper = NUMBER_BOUNDS[field]
    return lower, MAX_EXACT_INTEGER if upper is None else upper


def required_fields(history: bool) -> tuple[str, ...]:
    """Fields a file (history=True) or a request (history=False) must carry."""
    index = 1 if history else 2
    return tuple(name for name, spec in VISIT_FIELDS.items() if spec[index])


def default_place_of_service(facility_type: str) -> str:
    return DEFAULT_PLACE_OF_SERVICE[facility_type]


# The clean claims frame: what the loader returns and what rules, features and models read.
# One row per claim line; a request is normalised to a dict with the same keys and values.
#   claim_id                 str (requests: may be None)
#   service_date             datetime64 (requests: today when absent)
#   treatment                catalog key, or "unlisted" for a valid code no catalog row names, or
#                            the composite key of a shared code the diagnoses did not settle
#                            ("laser_hair_removal|tattoo_removal", features.catalog)
#   procedure_code           str, or None/"" when only the treatment was given
#   diagnosis_codes          dotless upper-case codes joined by ";" (features.claim_facts.join_codes), "" for none
#   plan_type, benefit_scope, facility_type   str (category dtype in frames)
#   place_of_service         str, defaulted from facility_type
#   in_network, referral, medical_necessity_letter, prior_authorization,
#   conservative_therapy_documented          bool
#   visit_number             int64
#   weeks_since_last_treatment               float64, NaN when there was no earlier treatment
#   patient_age              int64
#   billed_amount, benefit_used              float64
#   benefit_limit            float64, NaN when the plan sets no limit
#   allowed_amount, deductible_remaining, coinsurance_rate, copay   float64, NaN when unknown
# History frames add: outcome (str), paid_amount (float64), denial_reason (str, "" when approved),
# and approved (bool: outcome in APPROVED_OUTCOMES), the classifier's target.
CLEAN_COLUMNS = tuple(VISIT_FIELDS)
TARGET = "approved"

# Paperwork and network status that may never lower the approval probability: the classifier is
# constrained on them, the advice offers them, the review checks them.
MONOTONIC_FLAGS = ("prior_authorization", "referral", "medical_necessity_letter",
                   "conservative_therapy_documented", "in_network")
# What is left of the plan's benefit limit (benefit_limit less benefit_used): an input of its own
# in explanations, and more of it never lowers the probability either.
BENEFIT_REMAINING = "benefit_remaining"
MONOTONIC_INPUTS = (*MONOTONIC_FLAGS, BENEFIT_REMAINING)
# Plan types that ask for a physician's referral to see a specialist, and how the advice says so:
# a referral is advised only on these (CMS and payer plan descriptions; a PPO, EPO, HDHP or
# original Medicare claim gets no referral advice).
REFERRAL_PLANS = {
    "hmo": "HMO plans require a referral from the primary care physician",
    "pos": "POS plans require a referral from the primary care physician for in-network specialist care",
    "medicare_advantage": "Most Medicare Advantage plans (HMO) require a referral from the primary care physician",
    "medicaid": "Most Medicaid managed-care plans require a referral from the primary care physician",
}

# A made-up claim in request form (no row of any data file): the OpenAPI example, the warm-up
# claim every service worker answers before it serves, and the logged model's input example.
EXAMPLE_CLAIM = {
    "claim_id": "example-0001",
    "service_date": "2026-03-02",
    "treatment": "botulinum_toxin",
    "procedure_code": "64615",
    "diagnosis_codes": ["G43.709"],
    "plan_type": "ppo",
    "benefit_scope": "comprehensive",
    "facility_type": "physician_office",
    "in_network": True,
    "referral": True,
    "medical_necessity_letter": True,
    "prior_authorization": True,
    "conservative_therapy_documented": True,
    "visit_number": 1,
    "patient_age": 42,
    "billed_amount": 1200.0,
}
