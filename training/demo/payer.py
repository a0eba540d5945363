"""The demo payer: the true approval probability of a claim, and its drawn decision.

The payer reads only what the claim file carries (the clean claims frame of features.contract),
so the probability it computes is the Bayes-optimal one for a model trained on that file. It
walks a fixed list of checks, each with a hazard (the chance it denies a claim that passed the
earlier ones) and the CARC it denies with:

    P(approved) = prod_k (1 - hazard_k)
    P(denied by check k | denied) = prod_{j<k} (1 - hazard_j) * hazard_k / (1 - P(approved))

`decide` draws the outcome as Bernoulli(P(approved)) first, then, separately, the denial reason
of a denied claim, and the approved-vs-partial split and paid amount of an approved one.
A claim whose prior authorization was granted has passed the payer's clinical review already, so
the clinical checks rarely deny it again; the automated edits (the rule table's, age, frequency,
place of service, referral, benefit) deny it whatever the authorization said. The payer asks for
prior authorization exactly where the plan-and-setting table does (features.prior_authorization). The numbers are tuned to published rates
(`PUBLISHED_DENIAL_RATES`, measured by `measured_rates`); docs/demo-history.md explains each check
and the facts it rests on.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from features.catalog import SETTING_FACILITIES, UNLISTED, load_catalog
from features.claim_facts import diagnosis_facts, split_codes
from features.contract import FACILITY_TYPES, OFFICE_FACILITIES, OUTCOMES, PLAN_TYPES
from features.prior_authorization import required_for
from features.rules import load_rules

LEAK = 0.01  # a payer pays a claim its own exclusions deny, by mistake (hard-rule rows: p <= LEAK)
BILLING_ERROR = 0.015  # a random rejection for missing or garbled information (CARC 16): noise
PARTIAL_SHARE = 0.04  # approved claims paid for fewer units than billed (CARC 50 on the rest)
# Drift: in the final year PPO and Medicare Advantage plans enforce prior authorization harder
# where they ask for it. (A payer that asks for more than its table is the independent worlds' job.)
TIGHTENING_STARTS = np.datetime64("2025-01-01")
TIGHTENING_PLANS = ("ppo", "medicare_advantage")
# The payer wants a document (letter, photographs and visual fields, duplex scan, prescription).
DOCUMENTED_TREATMENTS = ("blepharoplasty", "sclerotherapy", "laser_hair_removal", "wig", "dermal_filler")
MAINTENANCE_VISIT = 12  # beyond this visit, massage is maintenance and counselling needs weight lost
# A granted prior authorization means the payer reviewed the clinical criteria and the documents
# before the visit (coverage-facts.md, "Published rates": such a claim is denied mostly for
# administrative, eligibility or benefit-limit reasons), so a clinical check denies it this much
# less often than a claim nobody reviewed. The automated edits are not discounted (coverage-facts.md,
# "Claim edits that an authorization does not waive").
CLINICAL_RECHECK_AFTER_AUTHORIZATION = 0.05

# Published rates the world is tuned to (docs/demo-history.md, "Published rates"; measured by
# `measured_rates`). KFF, "Claims Denials and Appeals in ACA Marketplace Plans in 2023" (2025-01):
# HealthCare.gov insurers denied 19% of in-network and 37% of out-of-network claims.
PUBLISHED_DENIAL_RATES = {"in_network": 0.19, "out_of_network": 0.37}
# Same source: of in-network denials with a reason reported, these shares. They sum to 95%: the rest
# fall in CMS reporting categories the source does not break out; compare after scaling to 100%.
PUBLISHED_DENIAL_REASONS = {
    "other": 0.34, "administrative": 0.18, "excluded_service": 0.16, "benefit_limit": 0.12,
    "prior_authorization_or_referral": 0.09, "medical_necessity": 0.06,
}
# Our CARCs in those categories; every CARC not named here is "other" (6, 11, 58, 167, 170, 171, 242).
DENIAL_CATEGORIES = {
    "excluded_service": ("96", "202", "204", "270"),
    "prior_authorization_or_referral": ("197", "243"),
    "benefit_limit": ("119", "35", "149"),
    "administrative": ("16", "252", "146"),  # information missing or invalid: fix and resubmit
    "medical_necessity": ("50", "151", "55"),  # investigational: not reasonable and necessary
}
OTHER_CATEGORY = "other"
# The year the published figures describe: the world before the final-year tightening.
PUBLISHED_YEAR = 2023


def _by_plan(default: float = 0.0, **values: float) -> np.ndarray:
    return np.array([values.get(plan, default) for plan in PLAN_TYPES])


# KFF, "Medicare Advantage Insurers Made Nearly 50 Million Prior Authorization Determinations in
# 2023" (2025-01): MA insurers fully or partially denied 6.4% of prior authorization requests
# (7.4% in 2022); traditional Medicare denied 28.8% of its far fewer requests. Commercial plans and
# Medicaid have no published figure here: they take the MA one. The visit mix
# (training.demo.population) draws whether a requested authorization was granted from this.
PRIOR_AUTHORIZATION_REQUEST_DENIED = _by_plan(0.064, medicare=0.288)

# Hazards that differ by plan type (index by the plan code).
NO_WIG_BENEFIT = _by_plan(0.15, medicare=0.95, medicare_advantage=0.55, medicaid=0.35, hmo=0.20, epo=0.20,
                          ppo=0.08, pos=0.08)
NO_MASSAGE_BENEFIT = _by_plan(0.05, medicare=0.90, medicare_advantage=0.50, medicaid=0.40)
# Payers disagree: some cover a wig for chemotherapy hair loss, others only for alopecia areata;
# some cover laser for hirsutism or peels for acne, most do not; palms only at some plans.
CHEMO_WIG_EXCLUDED = _by_plan(0.10, hmo=0.85, epo=0.85, medicaid=0.80, medicare=0.90)
HIRSUTISM_EXCLUDED = _by_plan(0.85, ppo=0.25, pos=0.25, hdhp=0.30, medicaid=0.60, medicare=0.90)
ACNE_PEEL_EXCLUDED = _by_plan(0.85, ppo=0.30, pos=0.30, hdhp=0.40, medicaid=0.70, medicare=0.95,
                              medicare_advantage=0.90)
PALMS_NOT_NECESSARY = _by_plan(0.70, ppo=0.20, pos=0.20, hdhp=0.30, medicare=0.60, hmo=0.80, epo=0.80)
OUT_OF_NETWORK = _by_plan(0.12, hmo=0.90, epo=0.90, medicaid=0.85, medicare_advantage=0.60, pos=0.20, ppo=0.10,
                          medicare=0.08)
NO_REFERRAL = _by_plan(0.0, hmo=0.80, pos=0.45, medicare_advantage=0.35, medicaid=0.25)
# Where the plan asks for it. Traditional Medicare asks only in a hospital outpatient department,
# where it is a condition of payment (42 CFR 419.83): its claims without one are denied.
NO_PRIOR_AUTH = _by_plan(0.75, hmo=0.90, epo=0.85, pos=0.80, medicare=0.95, medicare_advantage=0.85, medicaid=0.90)
NO_PRIOR_AUTH_TIGHTENED = _by_plan(0.0, ppo=0.92, medicare_advantage=0.95)
NOT_MEDICALLY_NECESSARY = _by_plan(0.015, ppo=0.012, hmo=0.02, epo=0.018, medicare=0.01, medicare_advantage=0.02,
                                   medicaid=0.025)
# Obesity counselling outside primary care: Medicare covers it only there (NCD 210.12), and Medicare
# Advantage follows; commercial plans must cover it as a USPSTF grade B service (ACA s.2713) wherever
# an in-network clinician gives it, Medicaid mostly does.
OUTSIDE_PRIMARY_CARE = _by_plan(0.05, medicare=0.95, medicare_advantage=0.85, medicaid=0.30)
# Allowed amount as a share of billed: (low, high) for in-network and out-of-network claims.
ALLOWED_IN_NETWORK = (_by_plan(0.60, medicare=0.45, medicare_advantage=0.50, medicaid=0.35),
                      _by_plan(0.85, medicare=0.60, medicare_advantage=0.70, medicaid=0.50))
ALLOWED_OUT_OF_NETWORK = (_by_plan(0.40, medicare=0.40, medicaid=0.30), _by_plan(0.60, medicare=0.55, medicaid=0.45))


@dataclass(frozen=True)
class Hazards:
    """Per claim and check: the chance the check denies (given the earlier ones passed) and its CARC."""

    names: tuple[str, ...]
    hazard: np.ndarray  # (claims, checks) float
    carc: np.ndarray  # (claims, checks) index into `carcs`
    carcs: tuple[str, ...]

    @property
    def approval_probability(self) -> np.ndarray:
        return np.prod(1.0 - self.hazard, axis=1)


@dataclass(frozen=True)
class Decision:
    outcome: np.ndarray  # index into features.contract.OUTCOMES
    paid_amount: np.ndarray
    denial_reason: np.ndarray  # index into Hazards.carcs, -1 when approved


class _Checks:
    def __init__(self, n: int, carcs: tuple[str, ...]):
        self.n, self.carcs = n, carcs
        self.names, self.hazards, self.codes = [], [], []

    def add(self, name: str, hazard, carc) -> None:
        """carc: one CARC string, or an array of indices into self.carcs."""
        self.names.append(name)
        self.hazards.append(np.broadcast_to(np.asarray(hazard, dtype=float), (self.n,)))
        code = self.carcs.index(carc) if isinstance(carc, str) else carc
        self.codes.append(np.broadcast_to(np.asarray(code, dtype=np.int16), (self.n,)))

    def build(self) -> Hazards:
        return Hazards(tuple(self.names), np.column_stack(self.hazards), np.column_stack(self.codes), self.carcs)


@lru_cache(maxsize=1)
def carc_codes() -> tuple[str, ...]:
    """Every CARC the payer can answer with: its own and the rule table's."""
    own = {"6", "11", "16", "50", "58", "96", "119", "151", "167", "170", "171", "197", "204", "242", "243", "252"}
    return tuple(sorted(own | {rule.carc for rule in load_rules().rules}, key=int))


def _codes(values: pd.Series, vocabulary) -> np.ndarray:
    """Index of each value in `vocabulary`; -1 for a blank or a value outside it."""
    return pd.Index(list(vocabulary)).get_indexer(values.astype(object)).astype(np.int64)


def _text(values: pd.Series) -> np.ndarray:
    """A text column (categorical, object or string dtype) as an object array, "" for blanks."""
    return values.astype(object).fillna("").to_numpy(dtype=object)


def _diagnosis_flags(joined: pd.Series) -> dict[str, np.ndarray]:
    """Payer-specific facts about a diagnosis list, worked out once per distinct list."""
    index, uniques = pd.factorize(_text(joined))
    rows = []
    for value in uniques:
        codes = split_codes(value)

        def has(*prefixes: str) -> bool:
            return any(code.startswith(prefixes) for code in codes)  # noqa: B023 (used at once)

        rows.append((
            has("G43"),  # migraine: the adult-only criterion applies
            "L74512" in codes and "L74510" not in codes,  # palms only
            "L651" in codes and not has("L63"),  # chemotherapy hair loss, no alopecia areata
            "L680" in codes and not has("F64"),  # hirsutism, not gender-affirming care
            has("L70") and "L570" not in codes,  # acne, not actinic keratosis
            has("H5345", "H5348", "H0240", "H0241"),  # visual-field defect or ptosis documented
            has("F32"),  # depression (fillers for HIV lipodystrophy)
        ))
    names = ("migraine", "palms_only", "chemo_hair_loss", "hirsutism", "acne_only", "visual_field", "depression")
    table = np.array(rows, dtype=bool).reshape(len(uniques), len(names))
    return {name: table[index, column] for column, name in enumerate(names)}


def denial_hazards(frame: pd.DataFrame) -> Hazards:
    """The payer's checks for a clean claims frame (features.contract CLEAN_COLUMNS)."""
    catalog, rules = load_catalog(), load_rules()
    carcs = carc_codes()
    n = len(frame)
    keys = catalog.keys + (UNLISTED,)
    treatment = _codes(frame["treatment"], keys)  # an unknown key (-1) reads as the last: unlisted
    plan = _codes(frame["plan_type"], PLAN_TYPES)
    facility = _codes(frame["facility_type"], FACILITY_TYPES)
    office_only = (frame["benefit_scope"] == "office_only").to_numpy(dtype=bool)
    flags = {name: frame[name].to_numpy(dtype=bool) for name in (
        "in_network", "referral", "medical_necessity_letter", "prior_authorization", "conservative_therapy_documented")}
    visit = frame["visit_number"].to_numpy(dtype=float)
    weeks = frame["weeks_since_last_treatment"].to_numpy(dtype=float)
    age = frame["patient_age"].to_numpy(dtype=float)
    limit = frame["benefit_limit"].to_numpy(dtype=float)
    used = frame["benefit_used"].to_numpy(dtype=float)
    final_year = frame["service_date"].to_numpy(dtype="datetime64[D]") >= TIGHTENING_STARTS
    procedure_code = _text(frame["procedure_code"])
    has_code = procedure_code != ""
    treatment_keys = np.asarray(keys, dtype=object)[treatment]
    facts = diagnosis_facts(treatment_keys, _text(frame["diagnosis_codes"]), catalog)
    dx = _diagnosis_flags(frame["diagnosis_codes"])
    covered = facts["covered_diagnosis"]

    def per_treatment(attribute, default):
        values = [getattr(catalog[key], attribute) for key in catalog.keys] + [default]
        return np.array([default if value is None else value for value in values])[treatment]

    def is_(*names):
        return np.isin(treatment, [keys.index(name) for name in names])

    # The checks of clinical policy (criteria, documents, necessity) were done before the visit when
    # a prior authorization was granted.
    recheck = np.where(flags["prior_authorization"], CLINICAL_RECHECK_AFTER_AUTHORIZATION, 1.0)
    checks = _Checks(n, carcs)
    # 1. The contract exclusions and the edits an authorization does not waive
    #    (features/data/exclusion_rules.csv): dental, personal comfort, investigational, cosmetic, no
    #    Medicare benefit, age, place of service, benefit used up, header code. The first rule that
    #    fires gives the CARC.
    fired = rules.fire({"treatment": treatment_keys, "diagnosis_codes": _text(frame["diagnosis_codes"]),
                        "plan_type": _text(frame["plan_type"]), "facility_type": _text(frame["facility_type"]),
                        "procedure_code": procedure_code, "patient_age": age, "benefit_limit": limit,
                        "benefit_used": used}, facts, catalog)
    rule_carc = np.array([carcs.index(rule.carc) for rule in rules.rules])[fired.argmax(axis=1)]
    checks.add("exclusion_rule", np.where(fired.any(axis=1), 1.0 - LEAK, 0.0), rule_carc)
    # 2. Is there a benefit at all? Wigs and massage riders are non-essential benefits.
    checks.add("no_wig_benefit", np.where(is_("wig"), NO_WIG_BENEFIT[plan], 0.0), "204")
    checks.add("no_massage_benefit", np.where(is_("massage_therapy") & covered, NO_MASSAGE_BENEFIT[plan], 0.0), "204")
    # 3. Payers that disagree with the catalog's broadest reading.
    checks.add("chemo_wig_excluded", np.where(is_("wig") & dx["chemo_hair_loss"], CHEMO_WIG_EXCLUDED[plan], 0.0), "204")
    #    A plan that excludes one answers the authorization request so: a granted one settles it.
    checks.add("hirsutism_excluded", np.where(is_("laser_hair_removal") & dx["hirsutism"] & covered,
                                              HIRSUTISM_EXCLUDED[plan] * recheck, 0.0), "96")
    checks.add("acne_peel_excluded", np.where(is_("chemical_peel") & dx["acne_only"] & covered,
                                              ACNE_PEEL_EXCLUDED[plan] * recheck, 0.0), "96")
    checks.add("palms_not_necessary", np.where(is_("botulinum_toxin") & dx["palms_only"],
                                               PALMS_NOT_NECESSARY[plan] * recheck, 0.0), "50")
    # 4. Does the diagnosis fit? (Cosmetic-by-default treatments were handled by the rules.)
    cosmetic_default = per_treatment("cosmetic_by_default", True)
    misfit = ~cosmetic_default & ~covered & ~facts["header_code"]
    misfit_carc = np.where(is_("weight_management"), carcs.index("167"),
                           np.where(is_("photodynamic_therapy"), carcs.index("96"), carcs.index("11")))
    checks.add("diagnosis_misfit", np.where(misfit, np.where(is_("weight_management"), 0.92, 0.88), 0.0), misfit_carc)
    # A BMI code (Z68) is a secondary code by the ICD-10-CM guidelines: obesity (E66) comes first.
    not_primary = covered & ~facts["primary_diagnosis_covered"] & ~is_("weight_management")
    checks.add("covered_code_not_primary", np.where(not_primary, 0.30, 0.0), "11")
    min_age = per_treatment("min_age", 0)
    age_applies = ~is_("botulinum_toxin") | dx["migraine"]  # adults-only is a migraine criterion
    # an automated edit (CARC 6): an authorization does not waive it
    checks.add("under_age", np.where(covered & age_applies & (age < min_age), 0.85, 0.0), "6")
    # 5. Network and gatekeeping: out-of-network and missing referrals, strongest for HMO/EPO.
    checks.add("out_of_network", np.where(flags["in_network"], 0.0, OUT_OF_NETWORK[plan]), "242")
    # no referral is asked for at the primary-care clinic itself
    at_primary_care = np.isin(_text(frame["facility_type"]), SETTING_FACILITIES["primary_care"])
    checks.add("no_referral", np.where(flags["referral"] | at_primary_care, 0.0, NO_REFERRAL[plan]), "243")
    # 6. Prior authorization where the plan-and-setting table asks for it, enforced harder in the
    #    final year by some plans.
    tightening = final_year & np.isin(plan, [PLAN_TYPES.index(name) for name in TIGHTENING_PLANS])
    requires_pa = required_for(frame["plan_type"], treatment_keys, frame["procedure_code"], frame["place_of_service"],
                               frame["facility_type"])
    pa_hazard = np.where(requires_pa, np.where(tightening, NO_PRIOR_AUTH_TIGHTENED[plan], NO_PRIOR_AUTH[plan]), 0.0)
    checks.add("no_prior_authorization", np.where(flags["prior_authorization"], 0.0, pa_hazard), "197")
    # 7. Where it was done: an office-only benefit outside an office; counselling outside primary care.
    spa = facility == FACILITY_TYPES.index("medical_spa")
    outside_office = ~np.isin(facility, [FACILITY_TYPES.index(name) for name in OFFICE_FACILITIES])
    checks.add("spa_provider", np.where(spa, np.where(office_only, 0.85, 0.06), 0.0), "170")
    checks.add("facility_outside_benefit", np.where(office_only & outside_office & ~spa, 0.80, 0.0), "171")
    primary_care_only = per_treatment("required_setting", "") == "primary_care"
    checks.add("outside_primary_care", np.where(primary_care_only & ~at_primary_care, OUTSIDE_PRIMARY_CARE[plan], 0.0),
               "58")
    # 8. Documents and criteria of medical necessity (seen already when an authorization was granted).
    letter = flags["medical_necessity_letter"]
    document_missing = np.where(letter, 0.0, np.where(is_(*DOCUMENTED_TREATMENTS), 0.65, np.where(covered, 0.02, 0.0)))
    checks.add("document_missing", document_missing * recheck, "252")
    requires_ct = per_treatment("requires_conservative_therapy", False)
    checks.add("no_conservative_therapy",
               np.where(requires_ct & ~flags["conservative_therapy_documented"], 0.70 * recheck, 0.0), "50")
    criteria_unmet = np.zeros(n)
    criteria_unmet = np.where(is_("blepharoplasty") & covered & ~dx["visual_field"], 0.85, criteria_unmet)
    criteria_unmet = np.where(is_("dermal_filler") & covered & ~dx["depression"], 0.60, criteria_unmet)
    criteria_unmet = np.where(is_("massage_therapy") & covered & ~flags["referral"], 0.50, criteria_unmet)
    checks.add("criteria_unmet", criteria_unmet * recheck, "50")
    ongoing = is_("massage_therapy", "weight_management") & covered & (visit > MAINTENANCE_VISIT)
    checks.add("maintenance_care", np.where(ongoing, np.where(is_("massage_therapy"), 0.20, 0.15), 0.0) * recheck,
               "50")
    # 9. Frequency: toxin no more often than every 12 weeks; one wig a year.
    min_weeks = per_treatment("min_weeks_between", np.nan).astype(float)
    checks.add("too_frequent", np.where(weeks < min_weeks, 0.90, 0.0), "151")  # NaN compares False
    checks.add("wig_within_year", np.where(is_("wig") & (weeks < 52), 0.85, 0.0), "119")
    # 10. Residual medical-necessity review of a covered claim; a prior authorization already
    #     reviewed it, a letter and an ongoing course make it easier.
    necessity = NOT_MEDICALLY_NECESSARY[plan] * recheck * np.where(letter, 0.7, 1.0) * np.where(visit > 1, 0.8, 1.0)
    checks.add("not_medically_necessary", np.where(covered, necessity, 0.0), "50")
    # 11. Missing information and plain payer noise.
    coded_treatment = np.array([bool(catalog[key].procedure_codes) for key in catalog.keys] + [True])[treatment]
    checks.add("procedure_code_missing", np.where(coded_treatment & ~has_code, 0.15, 0.0), "16")
    checks.add("billing_error", BILLING_ERROR, "16")
    return checks.build()


def true_approval_probability(frame: pd.DataFrame) -> np.ndarray:
    """P(outcome in {approved, partial}) for each claim of a clean claims frame."""
    return denial_hazards(frame).approval_probability


def denial_category(carcs) -> np.ndarray:
    """The published category (DENIAL_CATEGORIES, else "other") of each CARC."""
    category = {carc: name for name, codes in DENIAL_CATEGORIES.items() for carc in codes}
    return np.array([category.get(str(carc), OTHER_CATEGORY) for carc in carcs], dtype=object)


def measured_rates(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The published figures measured on a history frame (in_network, outcome, denial_reason):
    the denial rate in and out of network, and the in-network denials' shares by category."""
    denied = (frame["outcome"] == "denied").to_numpy(dtype=bool)
    in_network = frame["in_network"].to_numpy(dtype=bool)
    categories = denial_category(frame["denial_reason"].astype(object).to_numpy()[denied & in_network])
    reasons = {name: float(np.mean(categories == name)) if len(categories) else float("nan")
               for name in PUBLISHED_DENIAL_REASONS}
    return {
        "denial_rates": {"in_network": float(denied[in_network].mean()),
                         "out_of_network": float(denied[~in_network].mean())},
        "denial_reasons": reasons,
        "claims": {"in_network": int(in_network.sum()), "out_of_network": int((~in_network).sum()),
                   "in_network_denied": int(len(categories))},
    }


def decide(rng: np.random.Generator, frame: pd.DataFrame, hazards: Hazards) -> Decision:
    """Draw each claim's outcome, denial reason and paid amount (whole columns at once)."""
    n = len(frame)
    probability = hazards.approval_probability
    approved = rng.random(n) < probability
    # Which check denied it, given that one did: P(k | denied) ~ prod_{j<k}(1 - h_j) * h_k.
    survived = np.cumprod(np.column_stack([np.ones(n), 1.0 - hazards.hazard[:, :-1]]), axis=1)
    cumulative = np.cumsum(survived * hazards.hazard, axis=1)
    draw = rng.random(n) * (1.0 - probability)
    check = np.minimum((cumulative <= draw[:, None]).sum(axis=1), hazards.hazard.shape[1] - 1)
    reason = hazards.carc[np.arange(n), check].astype(np.int64)

    plan = _codes(frame["plan_type"], PLAN_TYPES)
    in_network = frame["in_network"].to_numpy(dtype=bool)
    low = np.where(in_network, ALLOWED_IN_NETWORK[0][plan], ALLOWED_OUT_OF_NETWORK[0][plan])
    high = np.where(in_network, ALLOWED_IN_NETWORK[1][plan], ALLOWED_OUT_OF_NETWORK[1][plan])
    billed = frame["billed_amount"].to_numpy(dtype=float)
    allowed = np.round(billed * (low + (high - low) * rng.random(n)), 2)
    remaining = np.nan_to_num(frame["benefit_limit"].to_numpy(dtype=float), nan=np.inf) \
        - frame["benefit_used"].to_numpy(dtype=float)
    # A cap partly used pays up to what is left; some approvals are paid for fewer units.
    capped = approved & (remaining > 0) & (remaining < billed)
    reduced = approved & ~capped & (rng.random(n) < PARTIAL_SHARE)
    reduced_paid = np.round(allowed * (0.3 + 0.5 * rng.random(n)), 2)

    outcome = np.where(approved, np.where(capped | reduced, OUTCOMES.index("partial"), OUTCOMES.index("approved")),
                       OUTCOMES.index("denied"))
    paid = np.where(capped, np.minimum(allowed, np.round(remaining, 2)), np.where(reduced, reduced_paid, allowed))
    paid = np.where(approved, paid, 0.0)
    carcs = hazards.carcs
    denial_reason = np.where(~approved, reason, np.where(capped, carcs.index("119"),
                                                         np.where(reduced, carcs.index("50"), -1)))
    return Decision(outcome=outcome, paid_amount=paid, denial_reason=denial_reason)
