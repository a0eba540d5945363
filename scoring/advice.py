"""Answers for the service: why (rules, factors, likely denial reasons) and what would help.

Factors are additive: each claim input's contribution to the classifier's log-odds (TreeSHAP,
scoring.explanation), with the baseline they add up from and their share in probability
points. A claim a hard rule excludes is explained by the rule instead. Recommendations are what-if
variants a patient or provider can act on (obtain prior authorization, move to a doctor's office,
bill a specific code instead of a header...), each with the probability after the change; the
claims and all their variants are scored in ONE encode + predict call: scoring variants one by one
would cost a model call each.
"""
from __future__ import annotations

# Over 400 lines on purpose: why and what would help are worked out from one scoring of a claim
# and all its what-if variants, which every part of an answer reads.

from dataclasses import dataclass

import numpy as np

from features.carc import carc_group_code, describe_carc
from features.catalog import load_catalog
from features.contract import REFERRAL_PLANS, default_place_of_service
from features.diagnosis import load_table, with_dot
from features.pipeline import claims_to_columns
from features.prior_authorization import Requirement, load_authorization_table
from features.rules import MOVABLE_CLASSES, load_rules
from scoring.liability import liability
from scoring.next_steps import (billable_children, covered_conditions_steps, missing_condition_step, name_the_steps,
                                repeat_session_step)
from scoring.places import better_setting, move_text, referral_asked
from scoring.reasons import article, explain_for_a_person, unknown, words
from scoring.rule_evidence import ANY
from scoring.summary import summarise

MIN_GAIN = 0.01  # advice that moves the probability less than a point is noise
# A payer's history is worth a statement beside the plan's table only when an authorization moves
# the answer clearly: a one-point what-if is the model's noise, not the payer's policy.
HISTORY_STATEMENT_GAIN = 0.05
# The primary-care clinic is where a gatekeeper plan's primary care physician sees the patient:
# no referral is asked for there.
TOP_REASONS = 3
DIGITS = 4  # every number of an answer is rounded to this many decimals

BOOLEAN_INPUTS = {
    # field: (text when true, text when false, action id, advice text)
    "prior_authorization": ("Prior authorization was obtained", "No prior authorization",
                            "obtain_prior_authorization", "Obtain prior authorization from the plan before the visit"),
    "referral": ("A physician referral is on file", "No physician referral",
                 "obtain_referral", "Get a referral from the patient's physician"),  # + the plan's rule
    "medical_necessity_letter": ("A letter of medical necessity is attached", "No letter of medical necessity",
                                 "attach_medical_necessity_letter", "Attach a letter of medical necessity from the treating physician"),
    "conservative_therapy_documented": ("Failed first-line therapy is documented", "No documented first-line therapy",
                                        "document_conservative_therapy", "Document the first-line therapy that was tried and failed"),
    "in_network": ("The provider is in network", "The provider is out of network",
                   "use_in_network_provider", "Be seen by an in-network provider"),
}
# recommendation action -> the claim input it changes (the summary says "with it" when they match)
ACTION_INPUTS = {**{texts[2]: name for name, texts in BOOLEAN_INPUTS.items()},
                 "see_physician_office": "facility_type", "bill_specific_diagnosis_code": "diagnosis_codes"}


@dataclass(frozen=True)
class ClaimTreatment:
    """What the advice knows of a claim's treatment: its catalog candidates (one for a catalog key,
    several for a composite key such as `laser_hair_removal|tattoo_removal`, none for an unlisted
    one) and the requirements they all share. A composite claim is advised only on what holds
    whichever candidate it is (features.catalog.SharedTraits)."""

    candidates: tuple
    traits: object  # SharedTraits, or None when there is no candidate
    authorization: Requirement  # does the plan ask for prior authorization, here (features.prior_authorization)

    @classmethod
    def of(cls, catalog, claim: dict) -> "ClaimTreatment":
        key = claim["treatment"]
        authorization = load_authorization_table().requirement(
            claim["plan_type"], key, claim.get("procedure_code"), claim.get("place_of_service"), claim["facility_type"])
        return cls(catalog.candidates(key), catalog.shared_traits(key), authorization)

    def covers(self, code: str) -> bool:
        return any(candidate.covers(code) for candidate in self.candidates)


@dataclass(frozen=True)
class Variant:
    claim_index: int
    # "action"; "combined" (every action of the claim at once); "probe" (scored, never advised:
    # prior authorization the plan does not ask for, to see whether the payer's history does)
    kind: str
    name: str
    claim: dict


def answer_claims(model, claims: list[dict], likely_approved=None, likely_denied=None, explain=True) -> list[dict]:
    """The answers; explain=False leaves out `factors` (the exact TreeSHAP contributions, the
    costliest part: KServe's and Vertex AI's convention of explanations as the costlier call) and
    the `reasons` built from them; the explanation's scores and the summary's decision and next step stay."""
    catalog = load_catalog()
    treatments = [ClaimTreatment.of(catalog, claim) for claim in claims]  # once a claim: every part reads it
    # The claims are judged before their what-ifs are made: a claim a rule excludes for good has none
    # that its answer reads (most of the demo history's claims), so none is made, judged or scored.
    columns = claims_to_columns(claims)
    leading = model.judge(columns)
    unfixable, movable = _rule_masks(load_rules())
    variants = [variant for index, (claim, treatment) in enumerate(zip(claims, treatments))
                if _what_ifs_read(leading.hard[index], unfixable, movable)
                for variant in _variants(index, claim, treatment)]
    # Variants may change the diagnosis codes (diagnosis_specificity, diagnosis_codes), so the
    # facts are per row of the claims and their variants, never copied from a claim to its variants.
    if variants:
        columns = claims_to_columns(list(claims) + [variant.claim for variant in variants])
    scored_rows = model.score_rows(columns, leading)
    judged, features = scored_rows.judged, scored_rows.features
    model_probability, system_probability = scored_rows.model_probability, scored_rows.system_probability
    evidence = model.evidence()

    n = len(claims)
    decisions = model.decide(system_probability[:n], judged.excluded[:n], likely_approved, likely_denied)
    # the classifier's denial reasons are read only where no rule fires (_denial_reasons)
    reasons = model.denial_reason_matrix(features[:n]) if not judged.excluded[:n].all() else [None] * n
    explained = (_explain(model, claims, treatments, features[:n], judged.excluded[:n]) if explain
                 else _scores_only(model, scored_rows.raw[:n], judged.excluded[:n]))
    by_claim: dict[int, list[tuple[Variant, float]]] = {}
    for offset, variant in enumerate(variants):
        by_claim.setdefault(variant.claim_index, []).append((variant, float(system_probability[n + offset])))

    answers = []
    for index, claim in enumerate(claims):
        probability = float(system_probability[index])
        fired_rules = load_rules().fired_rules(judged.hard[index])
        learned_rules = load_rules().fired_rules(judged.fired[index] & ~judged.hard[index])
        treatment = treatments[index]
        hard_excluded = bool((judged.hard[index] & unfixable).any())
        scored = by_claim.get(index, [])
        category = str(judged.categories[index])
        denial_reasons = _denial_reasons(fired_rules, model.denial_classes, reasons[index], probability)
        recommendations = _named_recommendations(claim, treatment, probability, scored, hard_excluded, fired_rules)
        for_a_person = explain_for_a_person(
            claim, _effects(explained.get(index)), model.explainer().baseline_probability, probability,
            float(model_probability[index]), fired_rules if index not in explained else [],
            treatment.authorization.required)
        answers.append({
            "decision": str(decisions[index]),
            "summary": summarise(str(decisions[index]), for_a_person, recommendations, fired_rules, ACTION_INPUTS),
            **({"reasons": for_a_person} if explain else {}),  # built from the factors: left out with them
            "approval_probability": round(probability, 4),
            "model_probability": round(float(model_probability[index]), 4),
            "excluded_by": _with_history(fired_rules, evidence, claim["treatment"], category),
            "rules_learned_from_history": _with_history(learned_rules, evidence, claim["treatment"], category),
            "likely_denial_reasons": denial_reasons,
            "explanation": _explanation(explained.get(index), probability, float(model_probability[index]),
                                        fired_rules),
            **({"factors": _factors(claim, explained.get(index))} if explain else {}),
            "recommendations": recommendations,
            "coverage_information": _coverage_information(claim, treatment, probability, fired_rules,
                                                          model.params.likely_approved_threshold
                                                          if likely_approved is None else likely_approved,
                                                          _gain_of(scored, "prior_authorization", probability)),
            "liability": liability(claim["plan_type"], fired_rules,
                                   denial_reasons[0]["carc"] if denial_reasons else None,
                                   str(decisions[index]) == "likely_approved"),
        })
    return answers


# -- variants --------------------------------------------------------------------------------
_RULE_MASKS: dict = {}


def _rule_masks(rules) -> tuple[np.ndarray, np.ndarray]:
    """(which rules no step fixes, which a move to another setting escapes), per rule of the table;
    worked out once per table, not per answer."""
    found = _RULE_MASKS.get(id(rules))
    if found is None or found[0] is not rules:
        found = _RULE_MASKS[id(rules)] = (rules, np.array([not rule.fixable for rule in rules.rules], dtype=bool),
                                          np.array([rule.rule_class in MOVABLE_CLASSES for rule in rules.rules],
                                                   dtype=bool))
    return found[1], found[2]


def _what_ifs_read(hard: np.ndarray, unfixable: np.ndarray, movable: np.ndarray) -> bool:
    """Whether a claim's answer reads its what-ifs' scores, from the hard rules that fire on it. Of a
    claim a rule no step fixes excludes, it reads none (its advice is the conditions a treatment is
    covered under), unless every such rule is a setting's, which the same visit elsewhere escapes
    (_moves_past_a_setting_rule); its coverage information asks for nothing (_coverage_information)."""
    if not (hard & unfixable).any():
        return True
    return bool(movable[hard].all())


def _variants(index: int, claim: dict, treatment: ClaimTreatment) -> list[Variant]:
    variants, probes = [], []
    for name in BOOLEAN_INPUTS:
        if not claim[name] and _action_makes_sense(name, treatment, claim):
            variants.append(Variant(index, "action", name, {**claim, name: True}))
        elif not claim[name] and name == "prior_authorization":
            probes.append(Variant(index, "probe", name, {**claim, name: True}))
    office = better_setting(claim, treatment.traits)
    if office:
        variants.append(Variant(index, "action", "facility_type",
                                {**claim, "facility_type": office, "place_of_service": default_place_of_service(office)}))
    specific = _specific_codes(claim, treatment)
    if specific is not None:
        variants.append(Variant(index, "action", "diagnosis_specificity", {**claim, "diagnosis_codes": specific}))
    actions = list(variants)
    if len(actions) > 1:
        # Payers check each requirement separately, so missing two of them costs more than the
        # sum of each: the gain of doing everything is worth its own line.
        combined = dict(claim)
        for action in actions:
            combined.update({key: value for key, value in action.claim.items() if claim.get(key) != value})
        variants.append(Variant(index, "combined", "all_actions", combined))
    return variants + probes


def _action_makes_sense(name: str, treatment: ClaimTreatment, claim: dict) -> bool:
    """Whether the change applies to this claim at all (the model then says whether it helps)."""
    if name == "referral":  # only plans with a gatekeeper ask for one, and not at the primary-care clinic itself
        return referral_asked(claim)
    if name == "prior_authorization":  # advice only where the plan asks for it (or may, by treatment)
        return treatment.authorization.required is not False
    if name == "conservative_therapy_documented":
        return bool(treatment.traits and treatment.traits.requires_conservative_therapy)
    return True


def _specific_codes(claim: dict, treatment: ClaimTreatment) -> str | None:
    """The claim's codes with each header code replaced by a billable child (a covered one when
    the treatment has one), or None when there is no header code."""
    codes = claim["diagnosis_codes"].split(";") if claim["diagnosis_codes"] else []
    table = load_table()
    if not any(code in table.codes and not table.codes[code][0] for code in codes):
        return None
    replaced = []
    for code in codes:
        if table.codes.get(code, (True,))[0]:
            replaced.append(code)
            continue
        children = billable_children(code)
        covered = [child for child in children if treatment.covers(child)]
        replaced.append((covered or children or [code])[0])
    return ";".join(replaced)


# -- explanation -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ClaimExplanation:
    """One scored claim's additive explanation (scoring.explanation)."""

    contributions: dict  # input -> log-odds
    baseline: float
    score: float
    baseline_probability: float
    scale: float  # probability points per log-odds point, for this claim


def _explain(model, claims, treatments, features: np.ndarray, excluded: np.ndarray) -> dict[int, ClaimExplanation]:
    """The additive explanation of every claim no hard rule excludes (the others are the rule's)."""
    scored = np.flatnonzero(~excluded)
    if not len(scored):
        return {}
    explainer = model.explainer()
    explained = explainer.contributions(
        features[scored], [claims[index]["treatment"] for index in scored],
        [treatments[index].authorization.required is True for index in scored])
    scale = explainer.probability_scale(explained.score)
    return {int(index): ClaimExplanation(dict(zip(explained.inputs, explained.log_odds[row].tolist())),
                                         explained.baseline, float(explained.score[row]),
                                         explainer.baseline_probability, float(scale[row]))
            for row, index in enumerate(scored)}


def _scores_only(model, raw: np.ndarray, excluded: np.ndarray) -> dict[int, ClaimExplanation]:
    """What the explanation says without the factors: the score and the baseline it is read against."""
    explainer = model.explainer()
    return {int(index): ClaimExplanation({}, explainer.baseline, float(raw[index]), explainer.baseline_probability,
                                         float("nan"))
            for index in np.flatnonzero(~excluded)}


def _explanation(explained: ClaimExplanation | None, probability: float, model_probability: float,
                 fired_rules) -> dict:
    if explained is None:
        return {"method": "rule", "rule_ids": [rule.rule_id for rule in fired_rules]}
    return {"method": "tree_shap", "rule_ids": [],
            "baseline_log_odds": round(explained.baseline, DIGITS), "log_odds": round(explained.score, DIGITS),
            "baseline_probability": round(explained.baseline_probability, DIGITS),
            "classifier_probability": round(model_probability, DIGITS),
            # from the rounded numbers, so that classifier_probability + floor_added = approval_probability as shown
            "floor_added": round(round(probability, DIGITS) - round(model_probability, DIGITS), DIGITS)}


def _factors(claim: dict, explained: ClaimExplanation | None) -> list[dict]:
    """Every input whose contribution shows at DIGITS, largest first."""
    if explained is None:
        return []
    factors = []
    for name, log_odds in explained.contributions.items():
        shown = round(log_odds, DIGITS)
        if shown == 0:
            continue
        factors.append({"input": name, "log_odds": shown,
                        "effect": round(log_odds * explained.scale, DIGITS),
                        "direction": "raises" if log_odds > 0 else "lowers",
                        "description": _describe_input(name, claim)})
    return sorted(factors, key=lambda factor: -abs(factor["log_odds"]))


def _describe_input(name: str, claim: dict) -> str:
    if name in BOOLEAN_INPUTS:
        return BOOLEAN_INPUTS[name][0] if claim[name] else BOOLEAN_INPUTS[name][1]
    return _FACTOR_TEXTS[name](claim)


# input -> its factor's description; each worded only when asked for (an answer describes a few
# inputs of every claim, and a batch request many claims)
_FACTOR_TEXTS = {
    "treatment": lambda claim: f"The treatment ({words(claim['treatment'])})",
    "procedure_code": lambda claim: "The procedure code billed",
    "plan_type": lambda claim: f"The plan type ({words(claim['plan_type'])})",
    "benefit_scope": lambda claim: f"The benefit scope ({words(claim['benefit_scope'])})",
    "facility_type": lambda claim: f"Seen at {article(words(claim['facility_type']))}",
    "place_of_service": lambda claim: "The place-of-service code billed",
    "diagnosis_codes": lambda claim: "The diagnosis codes billed with the treatment" if claim["diagnosis_codes"]
    else "No diagnosis code billed",
    "visit_number": lambda claim: "An initial visit" if claim["visit_number"] <= 1
    else "An ongoing course rather than an initial visit",
    "weeks_since_last_treatment": lambda claim: "No earlier treatment"
    if unknown(claim.get("weeks_since_last_treatment")) else "The time since the last treatment",
    "benefit_remaining": lambda claim: "The plan sets no benefit limit" if unknown(claim.get("benefit_limit"))
    else "What is left of the plan's benefit limit",
    "billed_amount": lambda claim: "The billed amount",
    "patient_age": lambda claim: "The patient's age",
    "service_date": lambda claim: "The service date (payers change their rules over time)",
}


def _effects(explained: ClaimExplanation | None) -> dict | None:
    """Each input's effect in probability (the factors' `effect`, unrounded), or None for a claim a rule decides."""
    if explained is None:
        return None
    return {name: log_odds * explained.scale for name, log_odds in explained.contributions.items()}


def _named_recommendations(claim, treatment, probability, scored, hard_excluded, fired_rules) -> list[dict]:
    """What would help, naming the codes, documents and dates (scoring.next_steps): the steps
    that are looked up rather than scored (a repeat session's date, the conditions a treatment is
    covered under) first, since no other change pays the claim without them."""
    looked_up = [step for step in (repeat_session_step(claim, treatment, hard_excluded),
                                   missing_condition_step(treatment, claim, hard_excluded)) if step]
    scored_steps = _recommendations(claim, treatment, probability, scored, hard_excluded, fired_rules)
    return looked_up + name_the_steps(scored_steps, claim, treatment)


def _recommendations(claim, treatment, probability, scored, hard_excluded, fired_rules) -> list[dict]:
    if hard_excluded:
        return covered_conditions_steps(treatment, claim, fired_rules) + _moves_past_a_setting_rule(
            claim, treatment, probability, scored, fired_rules)
    advice, combined = [], None
    for variant, after in scored:
        if variant.kind == "combined":
            combined = after
        if variant.kind != "action" or after - probability < MIN_GAIN:
            continue
        advice.append(_advice_item(variant, after, probability, claim, treatment))
    advice.sort(key=lambda item: -item["gain"])
    if combined is not None and len(advice) > 1 and combined - probability >= advice[0]["gain"] + MIN_GAIN:
        steps = "; ".join(item["description"][0].lower() + item["description"][1:] for item in advice)
        advice.insert(0, {"action": "all_of_the_above", "description": f"Do all of these: {steps}",
                          "probability_after": round(combined, 4), "gain": round(combined - probability, 4)})
    return advice


def _moves_past_a_setting_rule(claim, treatment, probability, scored, fired_rules) -> list[dict]:
    """On a claim only place-of-service rules exclude (G0447 at a spa under Medicare, SETTING-001),
    the one change that pays it: the same visit where the rule asks for it, named and scored. No
    authorization or paperwork helps such a claim, but the front desk can book the visit there."""
    if not fired_rules or any(rule.rule_class not in MOVABLE_CLASSES for rule in fired_rules):
        return []
    return [_advice_item(variant, after, probability, claim, treatment) for variant, after in scored
            if variant.kind == "action" and variant.name == "facility_type" and after - probability >= MIN_GAIN]


def _advice_item(variant: Variant, after: float, probability: float, claim: dict, treatment: ClaimTreatment) -> dict:
    """One scored action as a recommendation: what to do, in words, and the chance after it."""
    item = {"action": _action_id(variant, claim), "description": _action_text(variant, claim, treatment),
            "probability_after": round(after, 4), "gain": round(after - probability, 4)}
    if variant.name == "diagnosis_specificity":  # the concrete change: the codes to bill (an EHR can apply them)
        item["diagnosis_codes"] = [with_dot(code) for code in variant.claim["diagnosis_codes"].split(";")]
    if variant.name == "facility_type":  # the concrete change: the place (the page applies it)
        item["facility_type"] = variant.claim["facility_type"]
    return item


def _action_id(variant: Variant, claim: dict) -> str:
    if variant.name in BOOLEAN_INPUTS:
        return BOOLEAN_INPUTS[variant.name][2]
    if variant.name == "facility_type":
        return "see_physician_office"
    return "bill_specific_diagnosis_code"


def _action_text(variant: Variant, claim: dict, treatment: ClaimTreatment) -> str:
    if variant.name == "referral":
        return f"{BOOLEAN_INPUTS['referral'][3]} ({REFERRAL_PLANS[claim['plan_type']]})"
    if variant.name == "prior_authorization" and treatment.authorization.required is None:
        return (f"{BOOLEAN_INPUTS['prior_authorization'][3]} (the plan asks for it for some of the treatments this "
                "code is billed for)")
    if variant.name in BOOLEAN_INPUTS:
        return BOOLEAN_INPUTS[variant.name][3]
    if variant.name == "facility_type":
        return move_text(claim, variant.claim["facility_type"])
    return "Bill the most specific (billable) diagnosis code instead of the header code"


def _with_history(rules, evidence, treatment: str, category: str) -> list[dict]:
    return [{**rule.to_dict(), "history": _rule_record(evidence, rule, treatment, category)} for rule in rules]


def _rule_record(evidence, rule, treatment: str, category: str) -> dict:
    """What the training history said about this rule for claims like this one: the most specific
    cell it measured (scoring.rule_evidence), and the decision it implies."""
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
                                "group_code": rule.group_code, "probability": round(1.0 - probability, 4)})
        return reasons[:TOP_REASONS]
    top = np.argsort(-shares)[:TOP_REASONS]
    return [{"carc": classes[i], "description": describe_carc(classes[i]) if classes[i] != "other" else "Other reasons",
             "group_code": carc_group_code(classes[i]), "probability": round(float(shares[i]) * (1.0 - probability), 4)}
            for i in top]


def _gain_of(scored, name: str, probability: float) -> float | None:
    """What the claim's what-if of this change gains (an action or a probe), or None when it has none."""
    return next((after - probability for variant, after in scored
                 if variant.kind in ("action", "probe") and variant.name == name), None)


def _coverage_information(claim, treatment, probability, fired_rules, likely_approved, authorization_gain) -> dict:
    """The Da Vinci CRD vocabulary: covered, pa_needed, doc_needed, info_needed; and `sources`,
    which says where pa_needed and doc_needed come from. Prior authorization is needed where the
    plan asks for it (features.prior_authorization: plan, setting, service), and of a claim a hard
    rule excludes nothing is asked (no authorization makes it covered). Where the plan does not
    ask but the payer's history pays such claims clearly less often without one, `sources.
    payer_history` says so: a statement, not a requirement."""
    hard = [rule for rule in fired_rules if not rule.fixable]
    covered = "not-covered" if hard else ("covered" if probability >= likely_approved and not fired_rules
                                         else "conditional")
    traits = treatment.traits
    required = treatment.authorization.required
    if hard:
        pa_needed = None
    elif required is None:
        pa_needed = "satisfied" if claim["prior_authorization"] else "conditional"
    elif required:
        pa_needed = "satisfied" if claim["prior_authorization"] else "auth-needed"
    else:
        pa_needed = "no-auth"
    history = None
    if (not hard and required is False and not claim["prior_authorization"]
            and authorization_gain is not None and authorization_gain >= HISTORY_STATEMENT_GAIN):
        history = (f"The plan does not ask for prior authorization here, but this payer's history pays such claims "
                   f"less often without one (with one on file: +{round(100 * authorization_gain)} points)")
    clinical = bool(traits and not hard and (
        (traits.requires_conservative_therapy and not claim["conservative_therapy_documented"])
        or (traits.cosmetic_by_default and not claim["medical_necessity_letter"])))
    admin = _action_makes_sense("referral", treatment, claim) and not claim["referral"] and not hard
    doc_needed = "both" if clinical and admin else "clinical" if clinical else "admin" if admin else None
    doc_source = {"both": "catalog and plan_type", "clinical": "catalog", "admin": "plan_type"}.get(doc_needed)
    info_needed = []
    if better_setting(claim, treatment.traits) and not hard:
        info_needed.append("location")
    weeks = claim.get("weeks_since_last_treatment")
    if traits and traits.min_weeks_between and weeks is not None and weeks == weeks \
            and weeks < traits.min_weeks_between and not hard:
        info_needed.append("timeframe")
    return {"covered": covered, "pa_needed": pa_needed, "doc_needed": doc_needed, "info_needed": info_needed,
            "sources": {"pa_needed": None if hard else "prior_authorization_table",
                        "pa_basis": None if hard else treatment.authorization.source,
                        "payer_history": history, "doc_needed": doc_source}}
