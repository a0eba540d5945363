"""Answers for the service: why (rules, factors, likely denial reasons) and what would help.

For each claim we build what-if variants (flip prior authorization, move to a doctor's office,
bill a specific code instead of a header...), then score the claims and all their variants in
ONE encode + predict call: scoring variants one by one would cost a model call each.
Factors are the probability the claim would lose (or gain) without each input; recommendations
are the variants a patient or provider can act on, with the probability after the change.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from features.carc import describe_carc
from features.catalog import UNLISTED, load_catalog, readable_pattern
from features.claim_facts import columns_facts
from features.contract import OFFICE_FACILITIES, default_place_of_service
from features.diagnosis import load_table
from features.pipeline import claims_to_columns
from features.rules import load_rules
from training.model.rule_evidence import ANY

FIXABLE_RULES = {"CODING-001"}  # rules a claim can be corrected out of
MIN_GAIN = 0.01  # advice that moves the probability less than a point is noise
MIN_FACTOR_EFFECT = 0.005
TOP_FACTORS = 5
TOP_REASONS = 3

BOOLEAN_INPUTS = {
    # field: (text when true, text when false, action id, advice text)
    "prior_authorization": ("Prior authorization was obtained", "No prior authorization",
                            "obtain_prior_authorization", "Obtain prior authorization from the plan before the visit"),
    "referral": ("A physician referral is on file", "No physician referral",
                 "obtain_referral", "Get a referral from the patient's physician (HMO and POS plans usually require one)"),
    "medical_necessity_letter": ("A letter of medical necessity is attached", "No letter of medical necessity",
                                 "attach_medical_necessity_letter", "Attach a letter of medical necessity from the treating physician"),
    "conservative_therapy_documented": ("Failed first-line therapy is documented", "No documented first-line therapy",
                                        "document_conservative_therapy", "Document the first-line therapy that was tried and failed"),
    "in_network": ("The provider is in network", "The provider is out of network",
                   "use_in_network_provider", "Be seen by an in-network provider"),
}


@dataclass(frozen=True)
class ClaimTreatment:
    """What the advice knows of a claim's treatment: its catalog candidates (one for a catalog key,
    several for a composite key such as `laser_hair_removal|tattoo_removal`, none for an unlisted
    one) and the requirements they all share. A composite claim is advised only on what holds
    whichever candidate it is (features.catalog.SharedTraits)."""

    candidates: tuple
    traits: object  # SharedTraits, or None when there is no candidate

    @classmethod
    def of(cls, catalog, key) -> "ClaimTreatment":
        return cls(catalog.candidates(key), catalog.shared_traits(key))

    def covers(self, code: str) -> bool:
        return any(candidate.covers(code) for candidate in self.candidates)

    def some_require_prior_authorization(self) -> bool:
        return any(candidate.requires_prior_authorization for candidate in self.candidates)


@dataclass(frozen=True)
class Variant:
    claim_index: int
    kind: str  # "factor" or "action" (an action is also read as a factor)
    name: str
    claim: dict


def answer_claims(model, claims: list[dict], likely_approved=None, likely_denied=None) -> list[dict]:
    catalog = load_catalog()
    variants = [variant for index, claim in enumerate(claims) for variant in _variants(index, claim, catalog)]
    everything = list(claims) + [variant.claim for variant in variants]
    columns = claims_to_columns(everything)
    # Variants may change the diagnosis codes (diagnosis_specificity, diagnosis_codes), so the
    # facts are per row of `everything`, never copied from a claim to its variants.
    judged = model.judge(columns, columns_facts(columns))
    features = model.encode(columns, judged.facts, judged.fired)
    model_probability = model.probability_from_features(features)
    unfixable = np.array([rule.rule_id not in FIXABLE_RULES for rule in load_rules().rules])
    system_probability = model.system_probability(judged, model_probability, columns)
    evidence = model.evidence()

    n = len(claims)
    decisions = model.decide(system_probability[:n], judged.excluded[:n], likely_approved, likely_denied)
    reasons = model.denial_reason_matrix(features[:n])
    by_claim: dict[int, list[tuple[Variant, float]]] = {}
    for offset, variant in enumerate(variants):
        by_claim.setdefault(variant.claim_index, []).append((variant, float(system_probability[n + offset])))

    answers = []
    for index, claim in enumerate(claims):
        probability = float(system_probability[index])
        fired_rules = load_rules().fired_rules(judged.hard[index])
        learned_rules = load_rules().fired_rules(judged.fired[index] & ~judged.hard[index])
        treatment = ClaimTreatment.of(catalog, claim["treatment"])
        hard_excluded = bool((judged.hard[index] & unfixable).any())
        scored = by_claim.get(index, [])
        category = str(judged.categories[index])
        answers.append({
            "decision": str(decisions[index]),
            "approval_probability": round(probability, 4),
            "model_probability": round(float(model_probability[index]), 4),
            "excluded_by": _with_history(fired_rules, evidence, claim["treatment"], category),
            "rules_learned_from_history": _with_history(learned_rules, evidence, claim["treatment"], category),
            "likely_denial_reasons": _denial_reasons(fired_rules, model.denial_classes, reasons[index], probability),
            "factors": [] if hard_excluded else _factors(claim, probability, scored),
            "recommendations": _recommendations(claim, treatment, probability, scored, hard_excluded, fired_rules),
            "coverage_information": _coverage_information(claim, treatment, probability, fired_rules,
                                                          model.params.likely_approved_threshold
                                                          if likely_approved is None else likely_approved),
            "expected_payment": _expected_payment(claim, probability),
        })
    return answers


# -- variants --------------------------------------------------------------------------------
def _variants(index: int, claim: dict, catalog) -> list[Variant]:
    treatment = ClaimTreatment.of(catalog, claim["treatment"])
    variants = []
    for name in BOOLEAN_INPUTS:
        kind = "action" if not claim[name] and _action_makes_sense(name, treatment) else "factor"
        variants.append(Variant(index, kind, name, {**claim, name: not claim[name]}))
    office = _better_facility(claim, treatment)
    if office:
        variants.append(Variant(index, "action", "facility_type",
                                {**claim, "facility_type": office, "place_of_service": default_place_of_service(office)}))
    elif claim["facility_type"] in OFFICE_FACILITIES:
        variants.append(Variant(index, "factor", "facility_type", {**claim, "facility_type": "medical_spa",
                                                                     "place_of_service": "11"}))
    specific = _specific_codes(claim, treatment)
    if specific is not None:
        variants.append(Variant(index, "action", "diagnosis_specificity", {**claim, "diagnosis_codes": specific}))
    if claim["diagnosis_codes"]:
        variants.append(Variant(index, "factor", "diagnosis_codes", {**claim, "diagnosis_codes": ""}))
    if claim.get("benefit_limit") is not None and claim["benefit_limit"] == claim["benefit_limit"]:
        variants.append(Variant(index, "factor", "benefit_remaining", {**claim, "benefit_limit": None}))
    if claim["visit_number"] > 1:
        variants.append(Variant(index, "factor", "visit_number",
                                {**claim, "visit_number": 1, "weeks_since_last_treatment": None}))
    actions = [variant for variant in variants if variant.kind == "action"]
    if len(actions) > 1:
        # Payers check each requirement separately, so missing two of them costs more than the
        # sum of each: the gain of doing everything is worth its own line.
        combined = dict(claim)
        for action in actions:
            combined.update({key: value for key, value in action.claim.items() if claim.get(key) != value})
        variants.append(Variant(index, "combined", "all_actions", combined))
    return variants


def _action_makes_sense(name: str, treatment: ClaimTreatment) -> bool:
    if name == "conservative_therapy_documented":
        return bool(treatment.traits and treatment.traits.requires_conservative_therapy)
    return True


def _better_facility(claim: dict, treatment: ClaimTreatment) -> str | None:
    """A doctor's office when the benefit covers only office services or the treatment needs
    primary care, and the claim is not already there."""
    needs_primary_care = bool(treatment.traits and treatment.traits.required_setting == "primary_care")
    if needs_primary_care and claim["facility_type"] not in ("primary_care_clinic", "physician_office"):
        return "primary_care_clinic"
    if claim["benefit_scope"] == "office_only" and claim["facility_type"] not in OFFICE_FACILITIES:
        return "physician_office"
    return None


@lru_cache(maxsize=1)
def _sorted_billable_codes() -> list[str]:
    return sorted(code for code, (billable, _) in load_table().codes.items() if billable)


def _specific_codes(claim: dict, treatment: ClaimTreatment) -> str | None:
    """The claim's codes with each header code replaced by a billable child (a covered one when
    the treatment has one), or None when there is no header code."""
    codes = claim["diagnosis_codes"].split(";") if claim["diagnosis_codes"] else []
    table = load_table()
    if not any(code in table.codes and not table.codes[code][0] for code in codes):
        return None
    billable = _sorted_billable_codes()
    replaced = []
    for code in codes:
        if table.codes.get(code, (True,))[0]:
            replaced.append(code)
            continue
        start = bisect.bisect_left(billable, code)
        children = []
        for candidate in billable[start:]:
            if not candidate.startswith(code):
                break
            children.append(candidate)
        covered = [child for child in children if treatment.covers(child)]
        replaced.append((covered or children or [code])[0])
    return ";".join(replaced)


# -- explanation -----------------------------------------------------------------------------
def _factors(claim: dict, probability: float, scored) -> list[dict]:
    factors = []
    for variant, variant_probability in scored:
        if variant.kind == "combined":
            continue
        effect = probability - variant_probability  # what this input is worth to the claim
        if abs(effect) < MIN_FACTOR_EFFECT:
            continue
        factors.append({"input": variant.name, "effect": round(effect, 4),
                        "direction": "raises" if effect > 0 else "lowers",
                        "description": _describe_input(variant.name, claim)})
    return sorted(factors, key=lambda factor: -abs(factor["effect"]))[:TOP_FACTORS]


def _describe_input(name: str, claim: dict) -> str:
    if name in BOOLEAN_INPUTS:
        return BOOLEAN_INPUTS[name][0] if claim[name] else BOOLEAN_INPUTS[name][1]
    return {
        "facility_type": f"Seen at a {claim['facility_type'].replace('_', ' ')}",
        "diagnosis_codes": "The diagnosis codes billed with the treatment",
        "diagnosis_specificity": "A non-billable header diagnosis code",
        "benefit_remaining": "What is left of the plan's benefit limit",
        "visit_number": "An ongoing course rather than an initial visit",
    }[name]


def _recommendations(claim, treatment, probability, scored, hard_excluded, fired_rules) -> list[dict]:
    if hard_excluded:
        return _coverage_conditions_advice(treatment, fired_rules)
    advice, combined = [], None
    for variant, after in scored:
        if variant.kind == "combined":
            combined = after
        if variant.kind != "action" or after - probability < MIN_GAIN:
            continue
        advice.append({"action": _action_id(variant, claim), "description": _action_text(variant, claim),
                       "probability_after": round(after, 4), "gain": round(after - probability, 4)})
    advice.sort(key=lambda item: -item["gain"])
    if combined is not None and len(advice) > 1 and combined - probability >= advice[0]["gain"] + MIN_GAIN:
        steps = "; ".join(item["description"][0].lower() + item["description"][1:] for item in advice)
        advice.insert(0, {"action": "all_of_the_above", "description": f"Do all of these: {steps}",
                          "probability_after": round(combined, 4), "gain": round(combined - probability, 4)})
    return advice


def _action_id(variant: Variant, claim: dict) -> str:
    if variant.name in BOOLEAN_INPUTS:
        return BOOLEAN_INPUTS[variant.name][2]
    if variant.name == "facility_type":
        return "see_physician_office"
    return "bill_specific_diagnosis_code"


def _action_text(variant: Variant, claim: dict) -> str:
    if variant.name in BOOLEAN_INPUTS:
        return BOOLEAN_INPUTS[variant.name][3]
    if variant.name == "facility_type":
        place = variant.claim["facility_type"].replace("_", " ")
        return f"Be seen at a {place} rather than a {claim['facility_type'].replace('_', ' ')}"
    return "Bill the most specific (billable) diagnosis code instead of the header code"


def _coverage_conditions_advice(treatment: ClaimTreatment, fired_rules) -> list[dict]:
    """The one advice that can change a cosmetic exclusion: when this treatment is covered (for a
    composite claim, when each candidate that can be covered is)."""
    if not any(rule.carc == "96" for rule in fired_rules):
        return []
    return [_covered_diagnosis_advice(candidate) for candidate in treatment.candidates
            if candidate.covered_diagnoses and not candidate.never_covered]


def _covered_diagnosis_advice(treatment) -> dict:
    patterns = [readable_pattern(pattern) for pattern in treatment.covered_diagnoses]
    return {
        "action": "document_covered_diagnosis",
        "description": (f"{treatment.description} is covered only with one of these diagnoses documented "
                        f"and coded: {', '.join(patterns)}. {treatment.conditions}."),
        "covered_diagnoses": patterns,
        "conditions": treatment.conditions,
        "source": treatment.source,
        "probability_after": None,
        "gain": None,
    }


def _with_history(rules, evidence, treatment: str, category: str) -> list[dict]:
    return [{**rule.to_dict(), "history": _rule_record(evidence, rule, treatment, category)} for rule in rules]


def _rule_record(evidence, rule, treatment: str, category: str) -> dict:
    """What the training history said about this rule for claims like this one: the most specific
    cell it measured (training.model.rule_evidence), and the decision it implies."""
    cell = evidence.cell_for(rule.rule_id, str(treatment), category)
    if cell is None:
        return {"level": "rule", "claims": 0, "paid": 0, "paid_share": None, "interval": None,
                "decision": "hard", "evidence": "no history"}
    level = "rule" if cell.treatment == ANY else "treatment" if cell.category == ANY else "treatment and diagnosis category"
    return {"level": level, "claims": cell.fired, "paid": cell.paid,
            "paid_share": round(cell.paid_share, 4) if cell.fired else None,
            "interval": [round(cell.ci_low, 4), round(cell.ci_high, 4)] if cell.fired else None,
            "decision": cell.decision, "evidence": cell.evidence}


def _denial_reasons(fired_rules, classes, shares: np.ndarray, probability: float) -> list[dict]:
    if fired_rules:
        seen, reasons = set(), []
        for rule in fired_rules:
            if rule.carc not in seen:
                seen.add(rule.carc)
                reasons.append({"carc": rule.carc, "description": describe_carc(rule.carc),
                                "probability": round(1.0 - probability, 4)})
        return reasons[:TOP_REASONS]
    top = np.argsort(-shares)[:TOP_REASONS]
    return [{"carc": classes[i], "description": describe_carc(classes[i]) if classes[i] != "other" else "Other reasons",
             "probability": round(float(shares[i]) * (1.0 - probability), 4)} for i in top]


def _coverage_information(claim, treatment, probability, fired_rules, likely_approved) -> dict:
    """The Da Vinci CRD vocabulary: covered, pa_needed, doc_needed, info_needed."""
    hard = [rule for rule in fired_rules if rule.rule_id not in FIXABLE_RULES]
    covered = "not-covered" if hard else ("covered" if probability >= likely_approved and not fired_rules
                                         else "conditional")
    traits = treatment.traits
    if traits is None or claim["treatment"] == UNLISTED:
        pa_needed = "conditional"
    elif traits.requires_prior_authorization:
        pa_needed = "satisfied" if claim["prior_authorization"] else "auth-needed"
    elif treatment.some_require_prior_authorization():  # a composite: it depends on which treatment it is
        pa_needed = "satisfied" if claim["prior_authorization"] else "conditional"
    else:
        pa_needed = "no-auth"
    clinical = bool(traits and not hard and (
        (traits.requires_conservative_therapy and not claim["conservative_therapy_documented"])
        or (traits.cosmetic_by_default and not claim["medical_necessity_letter"])))
    admin = (claim["plan_type"] in ("hmo", "pos") and not claim["referral"]) and not hard
    doc_needed = "both" if clinical and admin else "clinical" if clinical else "admin" if admin else None
    info_needed = []
    if _better_facility(claim, treatment) and not hard:
        info_needed.append("location")
    weeks = claim.get("weeks_since_last_treatment")
    if traits and traits.min_weeks_between and weeks is not None and weeks == weeks \
            and weeks < traits.min_weeks_between and not hard:
        info_needed.append("timeframe")
    return {"covered": covered, "pa_needed": pa_needed, "doc_needed": doc_needed, "info_needed": info_needed}


def payable_if_approved(billed, benefit_limit, benefit_used):
    """The most the plan pays on approval: the bill, capped by the benefit left when the plan
    has a limit (None or NaN: no limit). Works on scalars and arrays alike."""
    billed = np.asarray(billed, dtype=float)
    limit = np.asarray(benefit_limit, dtype=float)
    remaining = np.maximum(limit - np.nan_to_num(np.asarray(benefit_used, dtype=float)), 0.0)
    return np.where(np.isnan(limit), billed, np.minimum(billed, remaining))


def _expected_payment(claim: dict, probability: float) -> dict:
    billed = float(claim["billed_amount"])
    limit = claim.get("benefit_limit")
    remaining = None if limit is None or limit != limit else max(float(limit) - float(claim.get("benefit_used") or 0.0), 0.0)
    payable = float(payable_if_approved(billed, limit, claim.get("benefit_used")))
    return {"amount": round(probability * payable, 2), "payable_if_approved": round(payable, 2),
            "billed_amount": round(billed, 2), "benefit_remaining": None if remaining is None else round(remaining, 2),
            "currency": "USD"}
