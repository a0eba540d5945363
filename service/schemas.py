"""Request and response schemas (pydantic v2): they validate requests and generate the OpenAPI document.

Requests are strict: JSON types are not coerced (`"true"` is not a boolean, `1.0` is not an
integer), unknown fields are refused, enum values come from features.contract. `null` is accepted
only where the contract gives it a meaning (`weeks_since_last_treatment`, `benefit_limit`, and the
v1.1 cost-sharing fields, where it means unknown); an
optional field is otherwise simply left out. Checks that need the domain tables (treatment key,
procedure code, ICD-10-CM codes) run in service.claims on top of these schemas.
"""
from __future__ import annotations

# Over 400 lines on purpose: every request and answer model the OpenAPI document is generated
# from, in one module, so the document and the validation cannot drift apart.

import copy
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from features.contract import (BENEFIT_SCOPES, EXAMPLE_CLAIM, FACILITY_TYPES, NUMBER_BOUNDS, PLAN_TYPES,
                               integer_bounds)
from claims_io.fields import allowed
from features.denial_playbook import FIXES, GROUP_CODES, STEPS
from scoring.decisions import DECISION_BANDS

# Every bound a request is checked against is the contract's (features.contract), the same a
# claims file is loaded with: no length or count of our own, as the contract sets none there.

# JSON-Schema patterns (no flags there, so both cases are spelled out); the authoritative checks
# are features.catalog.resolve and features.diagnosis.validate_codes, with their own messages.
# blank allowed: a blank procedure code is absent (service.claims.read_as_a_file_would)
PROCEDURE_CODE_PATTERN = r"^\s*([0-9]{5}|[0-9]{4}[FTUftu]|[A-Va-v][0-9]{4})?\s*$"
# blank allowed: a blank code in the list is skipped, as a blank cell of a file
DIAGNOSIS_CODE_PATTERN = r"^\s*([A-Za-z][0-9][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?)?\s*$"
_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MIDNIGHT_TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]00:00:00(\.0+)?Z?$"

# field -> what is allowed, in words: the JSON-Schema description and the validation messages.
ALLOWED = {
    "claim_id": "a string, echoed back",
    "service_date": "a date written YYYY-MM-DD (default: today)",
    "treatment": "a key of the treatment catalog (GET /v1/treatments); one of treatment or procedure_code is required",
    "procedure_code": ("a CPT (5 digits, or 4 digits and F/T/U), HCPCS Level II (A-V and 4 digits) or CDT "
                       "(D and 4 digits) code; one of treatment or procedure_code is required"),
    "diagnosis_codes": "a list of ICD-10-CM code strings, primary first, dots optional, such as ['G43.709']",
    # an enumeration's words are a claims file's too (claims_io.fields.allowed)
    "plan_type": allowed("plan_type"),
    "benefit_scope": allowed("benefit_scope"),
    "facility_type": allowed("facility_type"),
    "place_of_service": "a two-digit CMS place-of-service code such as '11' (default follows facility_type)",
    "in_network": "true or false (a JSON boolean)",
    "referral": "true or false (a JSON boolean): a physician referral is on file",
    "medical_necessity_letter": "true or false (a JSON boolean): a letter of medical necessity is attached",
    "prior_authorization": "true or false (a JSON boolean): prior authorization was obtained",
    "conservative_therapy_documented": "true or false (a JSON boolean; default false)",
    "visit_number": "an integer from {} to {} (default 1; 1 = initial visit of a course)".format(
        *integer_bounds("visit_number")),
    "weeks_since_last_treatment": "a number >= 0, or null when there was no earlier treatment (default null)",
    "patient_age": "an integer from {} to {}".format(*integer_bounds("patient_age")),
    "billed_amount": "a finite number >= 0 (USD)",
    "benefit_limit": "a finite number >= 0 (USD), or null when the plan sets no limit (default null)",
    "benefit_used": "a finite number >= 0 (USD already paid against the limit; default 0)",
    # v1.1: what the patient will owe (patient_cost), never an input of the approval model
    "allowed_amount": ("a finite number >= 0 (USD the plan allows for this service: its fee schedule or contract "
                       "rate), or null when unknown (default null: taken as the billed amount)"),
    "deductible_remaining": ("a finite number >= 0 (USD of the patient's deductible not yet met this year), or null "
                             "when unknown (default null)"),
    "coinsurance_rate": ("a finite number from 0 to 1 (the patient's share of the allowed amount after the "
                         "deductible: 0.2 = 20%), or null when unknown (default null)"),
    "copay": ("a finite number >= 0 (USD the patient pays for this visit instead of coinsurance), or null when "
              "unknown (default null)"),
}


def _iso_date(value: str) -> date:
    if not _DATE_SHAPE.match(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return date.fromisoformat(value)


def _integral_number(value: Any) -> Any:
    # JSON has one number type: 42.0 is the integer 42 (as in JSON Schema); 42.5 and "42" stay wrong.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _described(name: str, **kwargs) -> Any:
    return Field(description=ALLOWED[name], **kwargs)


def _integer_range(name: str) -> dict:
    lower, upper = integer_bounds(name)
    return {"ge": lower, "le": upper}


def _number_range(name: str) -> Any:
    """A finite float within the contract's bounds of the field (None: no bound that side)."""
    lower, upper = NUMBER_BOUNDS[name]
    return Annotated[float, Field(ge=lower, le=upper, allow_inf_nan=False)]


JsonInt = Annotated[int, BeforeValidator(_integral_number)]
# a pattern, not `format: date`: blanks around the date are stripped and a blank date is absent
# (today), as in a file (service.claims.read_as_a_file_would); an impossible date is still refused
DATE_PATTERN = r"^\s*([0-9]{4}-[0-9]{2}-[0-9]{2})?\s*$"
DateString = Annotated[str, AfterValidator(_iso_date), WithJsonSchema({"type": "string", "pattern": DATE_PATTERN})]
DiagnosisCode = Annotated[str, Field(json_schema_extra={"pattern": DIAGNOSIS_CODE_PATTERN})]


def _drop_null_defaults(schema: dict) -> None:
    """Optional fields that refuse null: their Python default None means "absent", not JSON null."""
    for prop in schema["properties"].values():
        if prop.get("default", ...) is None and "anyOf" not in prop:
            del prop["default"]


def any_case_pattern(values) -> str:
    """A JSON-Schema pattern (ECMA 262 has no case-insensitive flag) for these values in any case,
    with the surrounding blanks a request may carry (service.claims.read_as_a_file_would)."""
    def letters(value: str) -> str:
        return "".join(f"[{char.lower()}{char.upper()}]" if char.isalpha() else re.escape(char) for char in value)
    return rf"^\s*(?:{'|'.join(letters(value) for value in values)})\s*$"


def _claim_schema_extra(schema: dict) -> None:
    from features.catalog import load_catalog  # the catalog is data: read when the schema is built

    _drop_null_defaults(schema)
    for name, values in (("plan_type", PLAN_TYPES), ("benefit_scope", BENEFIT_SCOPES),
                         ("facility_type", FACILITY_TYPES)):
        prop = schema["properties"][name]
        prop.pop("enum", None)
        prop["pattern"] = any_case_pattern(values)
        prop["examples"] = list(values)
    # a catalog key, with the blanks a request may carry (a blank treatment is absent)
    schema["properties"]["treatment"]["pattern"] = rf"^\s*(?:{'|'.join(map(re.escape, load_catalog().keys))})?\s*$"
    schema["properties"]["treatment"]["examples"] = list(load_catalog().keys)
    schema["anyOf"] = [{"required": ["treatment"]}, {"required": ["procedure_code"]}]
    schema["examples"] = [EXAMPLE_CLAIM]


class ClaimRequest(BaseModel):
    """One claim line: the visit fields of the claims contract (v1.1)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_claim_schema_extra)

    claim_id: str = _described("claim_id", default=None)
    service_date: DateString = _described("service_date", default=None)
    # a blank or null one never gets here: it is absent (service.claims.read_as_a_file_would)
    treatment: str | None = _described("treatment", default=None)
    procedure_code: str | None = _described("procedure_code", default=None,
                                     json_schema_extra={"pattern": PROCEDURE_CODE_PATTERN})
    diagnosis_codes: list[DiagnosisCode] = _described("diagnosis_codes", default=[])
    # Literal after read_as_a_file_would (service.claims) lower-cased and stripped the value; the
    # published schema says "any case" with a pattern (_claim_schema_extra)
    plan_type: Literal[PLAN_TYPES] = _described("plan_type")
    benefit_scope: Literal[BENEFIT_SCOPES] = _described("benefit_scope")
    facility_type: Literal[FACILITY_TYPES] = _described("facility_type")
    # blanks around it are stripped and a blank one is absent (service.claims.read_as_a_file_would)
    place_of_service: str = _described("place_of_service", default=None, pattern=r"^\s*([0-9]{2})?\s*$")
    in_network: bool = _described("in_network")
    referral: bool = _described("referral")
    medical_necessity_letter: bool = _described("medical_necessity_letter")
    prior_authorization: bool = _described("prior_authorization")
    conservative_therapy_documented: bool = _described("conservative_therapy_documented", default=False)
    visit_number: JsonInt = _described("visit_number", default=1, **_integer_range("visit_number"))
    weeks_since_last_treatment: _number_range("weeks_since_last_treatment") | None = _described(
        "weeks_since_last_treatment", default=None)
    patient_age: JsonInt = _described("patient_age", **_integer_range("patient_age"))
    billed_amount: _number_range("billed_amount") = _described("billed_amount")
    benefit_limit: _number_range("benefit_limit") | None = _described("benefit_limit", default=None)
    benefit_used: _number_range("benefit_used") = _described("benefit_used", default=0.0)
    allowed_amount: _number_range("allowed_amount") | None = _described("allowed_amount", default=None)
    deductible_remaining: _number_range("deductible_remaining") | None = _described("deductible_remaining",
                                                                                   default=None)
    coinsurance_rate: _number_range("coinsurance_rate") | None = _described("coinsurance_rate", default=None)
    copay: _number_range("copay") | None = _described("copay", default=None)


class BatchRequest(BaseModel):
    """Several claims in one request; each is validated and answered on its own."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # Any object is taken: one that is not a valid ClaimRequest gets its own error entry in the answer.
    claims: list[ClaimRequest | dict[str, Any]] = Field(
        min_length=1, description="the claims (each a ClaimRequest), validated and answered one by one, in order")


class DataframeSplit(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_drop_null_defaults)

    columns: list[str] = Field(description="visit field names")
    data: list[list[Any]] = Field(min_length=1, description="one row per claim, values in the order of columns")
    index: list[Any] = Field(default=None, description="ignored")


def frame_claim_schema(claim_schema: dict) -> dict:
    """ClaimRequest's JSON Schema as a dataframe row: what service.claims.claim_from_frame_row undoes."""
    schema = copy.deepcopy(claim_schema)
    schema["title"] = "FrameClaim"
    schema["description"] = "A claim as a dataframe row: like ClaimRequest, with pandas' artefacts accepted."
    schema.pop("examples", None)
    required = set(schema.get("required", ()))
    properties = schema["properties"]
    properties["service_date"] = {"anyOf": [properties["service_date"],
                                            {"type": "string", "pattern": MIDNIGHT_TIMESTAMP_PATTERN}]}
    properties["diagnosis_codes"] = {"anyOf": [properties["diagnosis_codes"],
                                               {"type": "string", "description": "codes joined by ';'"}]}
    for name, prop in properties.items():
        if name not in required and not any(part.get("type") == "null" for part in prop.get("anyOf", ())):
            properties[name] = {"anyOf": [prop, {"type": "null"}]}
    return schema


def _invocations_schema_extra(schema: dict) -> None:
    _drop_null_defaults(schema)
    schema["oneOf"] = [{"required": ["dataframe_records"]}, {"required": ["dataframe_split"]}]


class InvocationsRequest(BaseModel):
    """The MLflow scoring protocol: exactly one of dataframe_records or dataframe_split.

    Rows are claims (FrameClaim) with pandas' artefacts accepted: null means absent, a midnight
    timestamp is its date, and diagnosis_codes may be the CSV form `G43.709;Z68.35`.
    """

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_invocations_schema_extra)

    dataframe_records: list[dict[str, Any]] = Field(default=None, min_length=1, description="one object per claim")
    dataframe_split: DataframeSplit = Field(default=None, description="columns and rows, as pandas' split orient")
    params: dict[str, Any] = Field(default=None, description="accepted and ignored")


# -- responses ------------------------------------------------------------------------------------

class FieldError(BaseModel):
    field: str = Field(description="the field at fault (`diagnosis_codes[1]`, `claims`, ...)")
    message: str = Field(description="what is wrong and what is allowed; never the value sent")


class ErrorBody(BaseModel):
    """Every error response, whatever the status."""

    code: str = Field(description="machine-readable: invalid_claim, unauthorized, model_unavailable, ...")
    message: str
    errors: list[FieldError] = Field(default=[])


class ClaimWarning(BaseModel):
    field: str
    message: str


class _Answer(BaseModel):
    """Response parts: exactly these fields (a test validates real answers against them)."""

    model_config = ConfigDict(extra="forbid")


Probability = Annotated[float, Field(ge=0, le=1)]
Decision = Literal[DECISION_BANDS]  # a tuple subscript is the same as listing its values


class RuleHistory(_Answer):
    """What the model's training history said about the rule for claims like this one."""

    level: Literal["rule", "treatment", "treatment and diagnosis category"] = Field(
        description="the most specific group of training claims measured: the rule, the rule for this treatment, "
                    "or for this treatment and the primary diagnosis code's 3-character category")
    claims: int = Field(description="training claims of that group the rule fired on")
    paid: int = Field(description="how many of them the payer paid")
    paid_share: Probability | None = None
    interval: list[Probability] | None = Field(default=None, description="95% Wilson interval of the paid share")
    decision: Literal["hard", "learned"] = Field(
        description="hard: the rule excludes the claim; learned: the history contradicts the rule here, so the "
                    "classifier decides, reading the rule as an input")
    evidence: str = Field(description="contradicted, confirmed, too few claims (the level above decides) or no history")


class ExcludedBy(_Answer):
    id: str = Field(description="the exclusion rule (features/data/exclusion_rules.csv)")
    reason: str
    carc: str = Field(description="X12 claim adjustment reason code")
    group_code: str | None = Field(default=None, description="X12 claim adjustment group code: PR, the patient "
                                                             "pays; CO, the provider writes it off")
    rule_class: str = Field(description="the kind of edit: dental, personal_comfort, cosmetic, benefit_limit, coding, "
                                        "benefit_absent, investigational, age, place_of_service")
    source: str = Field(description="the public policy the rule follows")
    history: RuleHistory


class DenialReason(_Answer):
    carc: str = Field(description="X12 claim adjustment reason code, or `other` for the rare ones pooled")
    description: str
    group_code: Literal["CO", "PR"] | None = Field(description="who pays when the claim is denied for this reason: "
                                                               "PR, the patient; CO, the provider (null for `other`)")
    probability: Probability = Field(description="probability that the claim is denied for this reason")


class Factor(_Answer):
    """One claim input's share of the classifier's score (TreeSHAP). The factors of an answer add up:
    `explanation.baseline_log_odds` + the sum of `log_odds` = `explanation.log_odds`, and
    `explanation.baseline_probability` + the sum of `effect` = `explanation.classifier_probability`
    (within the rounding to 4 decimals)."""

    input: str = Field(description="the claim input (prior_authorization, facility_type, diagnosis_codes, ...; "
                                   "benefit_remaining stands for benefit_limit and benefit_used together)")
    log_odds: float = Field(description="this input's contribution to the classifier's log-odds, from the baseline")
    effect: float = Field(description="the same contribution in probability points: log_odds scaled by how far the "
                                      "calibrated probability moves between the baseline and this claim's score "
                                      "per log-odds point (what changing an input would do: the recommendations)")
    direction: Literal["raises", "lowers"]
    description: str = Field(description="the input of this claim, in words")


class Explanation(_Answer):
    """What the factors add up to (method tree_shap), or the rules that decide instead (method rule)."""

    model_config = ConfigDict(json_schema_extra=_drop_null_defaults)

    method: Literal["tree_shap", "rule"] = Field(
        description="tree_shap: the classifier decides and the factors are its additive explanation; rule: a hard "
                    "rule excludes the claim (see excluded_by: reason, source, history); there are no factors")
    rule_ids: list[str] = Field(description="method rule: the rules that decide the claim")
    baseline_log_odds: float = Field(default=None, description="the classifier's expected log-odds over its "
                                                               "training claims, where the factors start")
    log_odds: float = Field(default=None, description="the classifier's log-odds for this claim")
    baseline_probability: Probability = Field(default=None, description="the calibrated probability of the baseline")
    classifier_probability: Probability = Field(default=None, description="the calibrated probability of log_odds "
                                                                          "(model_probability)")
    floor_added: float = Field(default=None, ge=0, description="what the floors add to the classifier (never below "
                                                               "the claim's excluded twin, nor below the same claim "
                                                               "at a medical spa): approval_probability - "
                                                               "classifier_probability")


class PersonReason(_Answer):
    input: str = Field(description="the claim input (as in factors), `rule` for the hard rule that decides, or "
                                   "`floor` for what the floors add")
    text: str = Field(description="the reason in plain words, without a direction verb: the sign is the points'")
    points: float = Field(description="its effect in percentage points, to one decimal")


class PersonReasons(_Answer):
    """The explanation for a person: from a starting chance, at most five plain reasons and everything
    else summed, adding up exactly (to one decimal) to the answer's chance:
    `start_percent + sum(items.points) + everything_else_points = end_percent`. Built from the factors
    (or the rule that decides); the patient's age, the billed amount, the service date and the
    place-of-service code are named only when their effect is 10 points or more, effects under a point
    never, and prior authorization not where the plan does not ask for it."""

    start: str = Field(description="the starting chance in words: a typical claim in this history that no rule "
                                   "excludes (the classifier's baseline)")
    start_percent: float = Field(ge=0, le=100)
    items: list[PersonReason] = Field(max_length=5, description="largest effect first; the floor last")
    everything_else_points: float = Field(description="what the other inputs add, rounding included")
    everything_else_inputs: list[str] = Field(description="the inputs everything else holds (with an effect that "
                                                          "shows at one decimal)")
    end_percent: float = Field(ge=0, le=100, description="the answer's chance: approval_probability in percent, to one "
                                                         "decimal")


class NamedCode(_Answer):
    code: str = Field(description="an ICD-10-CM code (a trailing * stands for the code's children)")
    description: str = Field(description="its ICD-10-CM description (of the code the * follows)")


class NamedDocument(_Answer):
    text: str = Field(description="what the policy asks the chart to show (features/data/documentation.csv)")
    source: str = Field(description="the public policy it follows")


class Recommendation(_Answer):
    model_config = ConfigDict(json_schema_extra=_drop_null_defaults)

    action: str = Field(description="what to change: obtain_prior_authorization, obtain_referral, "
                                    "attach_medical_necessity_letter, document_conservative_therapy, "
                                    "see_physician_office, use_in_network_provider, bill_specific_diagnosis_code, "
                                    "all_of_the_above (every listed change together, when that gains more "
                                    "than the best one alone), document_covered_diagnosis (the conditions a "
                                    "treatment is covered under: for a cosmetic exclusion, or a treatment such as "
                                    "obesity counselling billed without its BMI code), or wait_for_repeat_interval "
                                    "(a repeat session sooner than the catalog's interval: the earliest covered "
                                    "date)")
    description: str
    probability_after: Probability | None = Field(description="approval probability after the change (null "
                                                              "for document_covered_diagnosis and "
                                                              "wait_for_repeat_interval, which are looked up, not "
                                                              "scored)")
    gain: float | None = Field(description="probability_after minus the claim's approval probability")
    covered_diagnoses: list[str] = Field(default=None, description="document_covered_diagnosis: the ICD-10-CM "
                                                                   "codes (a trailing * covers the code's children) "
                                                                   "under which the treatment is covered")
    covered_conditions: list[NamedCode] = Field(
        default=None, description="document_covered_diagnosis: those of covered_diagnoses the claim has no code of, "
                                  "described: conditions the patient must have documented, never codes to bill")
    billable_codes: list[NamedCode] = Field(
        default=None, description="bill_specific_diagnosis_code: billable codes under the claim's header codes (those "
                                  "the treatment is covered under first), described: the chart says which applies")
    documents: list[NamedDocument] = Field(
        default=None, description="attach_medical_necessity_letter, document_conservative_therapy: what the policy "
                                  "asks the chart to show for this treatment and diagnosis")
    date: str = Field(default=None, description="wait_for_repeat_interval: the earliest date (ISO) the session is "
                                                "within the catalog's minimum interval")
    conditions: str = Field(default=None, description="document_covered_diagnosis: the payer conditions")
    source: str = Field(default=None, description="document_covered_diagnosis: the public policy it follows")
    diagnosis_codes: list[str] = Field(default=None, description="bill_specific_diagnosis_code: the claim's "
                                                                 "ICD-10-CM codes with each header code replaced by "
                                                                 "a billable one, primary first")
    facility_type: str = Field(default=None, description="see_physician_office: the medical setting to be seen "
                                                         "at instead (physician_office, dermatology_clinic or "
                                                         "primary_care_clinic), the one that fits the treatment "
                                                         "and the plan; the description names it in words")


class CoverageInformation(_Answer):
    """Da Vinci CRD coverage-information vocabulary."""

    covered: Literal["covered", "not-covered", "conditional"]
    pa_needed: Literal["auth-needed", "no-auth", "satisfied", "performpa", "conditional"] | None = Field(
        description="from the plan's prior-authorization table (plan, setting, service); null when a hard rule "
                    "excludes the claim, which no authorization makes covered")
    doc_needed: Literal["clinical", "admin", "both", "conditional"] | None
    info_needed: list[Literal["performer", "location", "timeframe", "contract", "detail-code", "option-code",
                              "other"]] = Field(description="what else the payer needs to know")
    sources: "CoverageSources" = Field(description="where pa_needed and doc_needed come from")


class CoverageSources(_Answer):
    pa_needed: Literal["prior_authorization_table"] | None = Field(
        description="prior_authorization_table: the plan-and-setting table (features/data/prior_authorization.csv); "
                    "null when a hard rule excludes the claim")
    pa_basis: str | None = Field(description="the table row's source: the policy pa_needed rests on")
    payer_history: str | None = Field(
        description="set where the plan does not ask for prior authorization but the payer's history pays such claims "
                    "clearly less often without one (the model's what-if gains at least 5 points): a statement beside "
                    "pa_needed, never a requirement")
    doc_needed: Literal["catalog", "plan_type", "catalog and plan_type"] | None = Field(
        description="catalog: clinical documents the treatment asks for; plan_type: a referral the plan type asks for")


class Liability(_Answer):
    """Who pays if the claim is denied (coverage-facts.md, "Who pays when a claim is denied")."""

    group_code: Literal["CO", "PR"] | None = Field(
        description="of the rule that excludes the claim, or of its likeliest denial reason (null when it is likely "
                    "paid): PR, the patient pays; CO, the provider writes it off")
    modifier: Literal["GY", "GA"] | None = Field(
        description="traditional Medicare only: GY, excluded or not a Medicare benefit (the patient is liable); GA, "
                    "an Advance Beneficiary Notice is on file for a likely medical-necessity denial")
    modifier_without_notice: Literal["GZ"] | None = Field(
        description="traditional Medicare only: the modifier when no notice was signed (the provider is liable)")
    abn: Literal["advised", "not_needed"] | None = Field(
        description="traditional Medicare only: whether the patient should sign an Advance Beneficiary Notice "
                    "(CMS-R-131) before the visit; null for every other plan")
    description: str


class ExpectedPayment(_Answer):
    """What the plan is expected to pay (scoring.patient_cost). Since contract v1.1 (issue 26) the plan's
    payment is worked out from its allowed amount after the patient's cost sharing, no longer the
    billed amount: amount was approval probability x billed amount (capped by the benefit left)."""

    amount: float = Field(ge=0, description="the plan's expected payment: approval_probability x "
                                            "payable_if_approved")
    payable_if_approved: float = Field(ge=0, description="what the plan pays if it approves: the allowed amount "
                                                         "(the billed amount when unknown, never above it), less the "
                                                         "deductible left and the coinsurance or copay, up to what is "
                                                         "left of the benefit limit")
    billed_amount: float = Field(ge=0)
    benefit_remaining: float | None = Field(ge=0, description="benefit limit minus benefit used; null without a "
                                                              "limit")
    currency: Literal["USD"]


Dollars = Annotated[float, Field(ge=0)]


class CostIfApproved(_Answer):
    """Who pays what of an approved claim; plan_pays + patient_pays + provider_writes_off = billed_amount."""

    plan_pays: Dollars = Field(description="= expected_payment.payable_if_approved")
    patient_pays: Dollars = Field(description="deductible + coinsurance + copay + above_benefit_limit + "
                                              "balance_billing")
    deductible: Dollars = Field(description="the part of the allowed amount that meets the deductible left")
    coinsurance: Dollars = Field(description="coinsurance_rate x (allowed amount - deductible), when no copay")
    copay: Dollars = Field(description="the copay, at most what is left of the allowed amount after the deductible")
    above_benefit_limit: Dollars = Field(description="what the plan would pay beyond what is left of the benefit "
                                                     "limit: the patient's")
    balance_billing: Dollars = Field(description="out of network: billed amount - allowed amount, which the "
                                                 "provider may bill the patient")
    provider_writes_off: Dollars = Field(description="in network: billed amount - allowed amount (the contract "
                                                     "keeps the provider from billing the patient for it)")


class CostIfDenied(_Answer):
    group_code: Literal["CO", "PR"] = Field(description="of the likely denial (liability, else the likeliest denial "
                                                        "reason; CO when neither says): PR, the patient pays the "
                                                        "billed amount; CO, the provider writes it off")
    patient_pays: Dollars
    provider_writes_off: Dollars


class ExpectedCost(_Answer):
    """Probability-weighted over approval (approval_probability) and denial."""

    plan_pays: Dollars = Field(description="= expected_payment.amount")
    patient_pays: Dollars
    provider_writes_off: Dollars


class CostAssumption(_Answer):
    code: Literal["allowed_amount_taken_as_billed", "no_deductible_known", "no_coinsurance_or_copay_known",
                  "denial_group_code_unknown"] = Field(description="which figure is assumed")
    fields: list[str] = Field(description="the contract's fields whose absence made it (none for the group code)")
    description: str = Field(description="what was taken instead, and what it means for the figures")


class PatientCost(_Answer):
    """What the patient will owe (contract v1.1: allowed_amount, deductible_remaining, coinsurance_rate, copay;
    docs/patient-cost.md): the plan's payment and the patient's share if approved, the patient's share if
    denied, and both probability-weighted. An unknown field is taken at a stated value, listed in assumptions."""

    billed_amount: Dollars
    allowed_amount: Dollars = Field(description="the plan's allowed amount as used: the claim's (never above the "
                                                "billed amount), else the billed amount")
    if_approved: CostIfApproved
    if_denied: CostIfDenied
    expected: ExpectedCost
    assumptions: list[CostAssumption] = Field(description="every figure taken at an assumed value because a field "
                                                          "was not sent (empty when all are known)")
    description: str = Field(description="the same in one or two sentences a front desk can read aloud")
    currency: Literal["USD"]


class ModelRef(_Answer):
    name: str
    version: str
    alias: str | None


class ClaimAnswer(_Answer):
    """The answer for one claim."""

    model_config = ConfigDict(json_schema_extra=_drop_null_defaults)

    claim_id: str | None = Field(description="echoed from the request")
    decision: Decision
    summary: str = Field(description="one plain sentence a front desk can read aloud: the decision, the one or two "
                                     "things that decide it, and the best next step with the chance after it")
    reasons: PersonReasons = Field(default=None, description=(
        "the explanation for a person, built from the factors: absent, with them, when the request asked "
        "explain=false"))
    approval_probability: Probability = Field(
        description="of the whole system: when a hard rule excludes the claim, the rule's smoothed paid share in "
                    "the training history")
    model_probability: Probability = Field(description="of the calibrated classifier alone, ignoring the rules")
    excluded_by: list[ExcludedBy] = Field(description="every hard rule that fired")
    rules_learned_from_history: list[ExcludedBy] = Field(
        default=[], description="rules that fired but which the training history contradicts for claims like this "
                                "one: they do not exclude it; the classifier weighs them")
    likely_denial_reasons: list[DenialReason] = Field(description="the top 3 denial reasons")
    explanation: Explanation
    factors: list[Factor] = Field(default=None, description=(
        "every input whose contribution to the classifier's score shows at 4 decimals, largest first; they add up "
        "(see Factor and explanation); absent when the request asked explain=false"))
    recommendations: list[Recommendation] = Field(description="changes that raise the chance, by gain")
    coverage_information: CoverageInformation
    liability: Liability
    expected_payment: ExpectedPayment
    patient_cost: PatientCost
    model: ModelRef
    rules_version: str
    request_id: str
    warnings: list[ClaimWarning] = Field(default=[], description=(
        "what the caller should know about the answer: a procedure code no catalog row names, a code the catalog "
        "does not list for the given treatment, or a code several treatments share that no diagnosis settles"))


class AnsweredClaim(BaseModel):
    index: int = Field(description="position of the claim in the request")
    answer: ClaimAnswer


class RejectedClaim(BaseModel):
    model_config = ConfigDict(json_schema_extra=_drop_null_defaults)

    index: int = Field(description="position of the claim in the request")
    claim_id: str = Field(default=None, description="the claim's own claim_id, when it had one (no other value of "
                                                    "the claim is repeated)")
    error: ErrorBody


class BatchAnswer(BaseModel):
    request_id: str
    answered: int
    rejected: int
    results: list[AnsweredClaim | RejectedClaim] = Field(description="one entry per claim, in request order")


class ScoredClaim(_Answer):
    """One row of the batch-scoring output: the columns of the logged MLflow model and of
    `medspa-coverage predict`."""

    approval_probability: Probability
    model_probability: Probability | None = Field(description="the classifier alone; null when a rule excludes "
                                                              "the claim and the classifier was not consulted")
    decision: Decision
    excluded: bool
    rule_ids: str = Field(description="the exclusion rules that fired, joined by ';' (empty when none)")
    top_denial_reason: str = Field(description="the most likely denial CARC (the first fired rule's when excluded)")


class InvocationsResponse(BaseModel):
    predictions: list[ScoredClaim] = Field(description="one row per input row, in row order")


FILE_JOB_STATUSES = ("queued", "running", "done", "failed")


class RejectedReason(BaseModel):
    field: str = Field(description="the column at fault ('(row)' for a fault of the row as a whole)")
    reason: str = Field(description="what the column allows; never a value of the file")
    rows: int = Field(description="rejected lines with this fault (a row with two faults counts under both)")


class FileSummary(BaseModel):
    """What a scored file holds, counted as it is scored (final once the job is done)."""

    answered: int = Field(description="rows scored: the scored file's rows")
    rejected: int = Field(description="rows left out: the rejected file lists each with its faults")
    rejected_by_reason: list[RejectedReason] = Field(description="the most frequent faults first (at most 20; the "
                                                                 "rejected file lists every one)")
    decisions: dict[str, int] = Field(description=f"answered rows per decision: {', '.join(DECISION_BANDS)}")


class FileDownloads(BaseModel):
    scored: str | None = Field(description="where to download the scored file once the job is done; null before, "
                                           "and after its one download (it is then deleted)")
    rejected: str | None = Field(description="where to download the rejected rows (CSV: row_number, claim_id, field, "
                                             "reason); null as for scored")


class FileJobError(BaseModel):
    code: str = Field(description="invalid_file, audit_unavailable, interrupted, internal_error")
    message: str


class FileJob(BaseModel):
    """A claims file being scored: POST /v1/files starts one, GET /v1/files/{job_id} follows it."""

    job_id: str = Field(description="32 hex digits; only the API key (or page session) that uploaded the file "
                                    "can see the job")
    status: Literal[FILE_JOB_STATUSES] = Field(description="queued, running, done or failed")
    format: Literal["csv", "parquet"] = Field(description="the uploaded file's format, and the scored file's")
    created_at: str = Field(description="when the file was uploaded (ISO 8601, UTC)")
    expires_at: str = Field(description="when the job and its files are deleted, downloaded or not")
    rows_total: int = Field(description="data rows in the uploaded file")
    rows_read: int = Field(description="data rows scored or rejected so far")
    progress: float = Field(ge=0, le=1, description="rows_read / rows_total (1 for an empty file once done)")
    summary: FileSummary
    error: FileJobError | None = Field(description="why the job failed; null otherwise")
    downloads: FileDownloads


class FileJobList(BaseModel):
    """GET /v1/files: the caller's file jobs, newest first (another key's are never listed)."""

    jobs: list[FileJob] = Field(description="every job of this API key not deleted or expired yet, newest first")


class TreatmentRecord(BaseModel):
    treatment: str
    category: str
    description: str
    procedure_codes: list[str]
    cosmetic_by_default: bool
    covered_diagnoses: list[str]
    conditions: str
    source: str


class TreatmentList(BaseModel):
    treatments: list[TreatmentRecord]


class Diagnosis(BaseModel):
    code: str = Field(description="the ICD-10-CM code, with its dot")
    description: str
    billable: bool = Field(description="a code a claim may carry; a header code (false) is denied, CARC 146")


class DiagnosisList(BaseModel):
    """ICD-10-CM codes found by GET /v1/diagnoses, in the release's order."""

    release: str = Field(description="the ICD-10-CM release looked up")
    diagnoses: list[Diagnosis]


class ModelInfo(BaseModel):
    """The served model, and how its last load or source check went (other keys may follow)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_drop_null_defaults)

    ready: bool
    name: str | None = None
    version: str | None = None
    alias: str | None = Field(default=None, description="the registry alias (or bundle link) it was loaded by")
    run_id: str | None = Field(default=None, description="the MLflow run that trained it")
    manifest_sha256: str | None = Field(
        default=None, description="sha256 of its model_manifest tag: with name, store and run, what it is "
                                  "(a version number repeats across tracking stores)")
    trained_at: str | None = None
    metrics: dict[str, float] = Field(default=None, description="test metrics of its training run")
    rules_version: str | None = Field(default=None, description="the exclusion rules applied to every answer")
    prior_authorization_version: str | None = Field(
        default=None, description="the prior-authorization table (plan, setting, service) applied to every answer")
    trained_with_rules_version: str | None = None
    thresholds: dict[str, float] = Field(default=None, description="likely_approved and likely_denied")
    rule_decisions: list[dict] = Field(
        default=None, description="each exclusion rule measured on the training history: per rule, per rule and "
                                  "treatment, and every learned cell (fired, paid, paid share, interval, hard or learned)")
    source: Literal["registry", "bundle"] = Field(default=None)
    model_uri: str = Field(default=None, description="registry source: models:/<name>/<version>")
    bundle: str = Field(default=None, description="bundle source: the bundle folder's name")
    model_sha256: str = Field(default=None, description="sha256 of the model file that was loaded")
    integrity: str = Field(default=None, description="how that file was checked before loading")
    loaded_at: str | None = None
    last_load_error: str = Field(default=None, description="the last load failed (the model above keeps serving)")
    last_load_failed_at: str = Field(default=None)
    last_poll_error: str = Field(default=None, description="the last check of the model source failed")


class HealthStatus(BaseModel):
    status: Literal["live", "ready"]


# POST /v1/denials (service.denials): a claim as billed, what came back, and the playbook's answer.
CARC_PATTERN = r"^\s*[0-9]{1,3}\s*$"
RARC_PATTERN = r"^\s*([A-Za-z]{1,2}[0-9]{1,4})?\s*$"
GROUP_CODE_VALUES = tuple(GROUP_CODES)


class DenialRequest(BaseModel):
    """A denied claim line: the claim as it was billed and the adjustment that came back."""

    model_config = ConfigDict(extra="forbid", strict=True)

    claim: ClaimRequest = Field(description="the claim as it was billed (the claims contract's visit fields)")
    carc: str = Field(pattern=CARC_PATTERN, description="the X12 claim adjustment reason code of the denial; one of "
                                                        "features/data/carc_codes.csv")
    group_code: Literal[GROUP_CODE_VALUES] = Field(description="the X12 claim adjustment group code")
    rarc: str = Field(default=None, pattern=RARC_PATTERN, description="the remittance advice remark code, if any "
                                                                       "(N130, M127, ...)")
    paid_amount: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        default=0.0, description="USD the payer paid on the line (a partial denial pays some)")
    denial_date: DateString = Field(default=None, description="the date of the remittance, YYYY-MM-DD "
                                                               "(default: today); deadlines count from it")


class DenialLiability(_Answer):
    """Who carries a denial the payer sent, by its group code (the answer's own Liability is the likely one)."""

    group_code: Literal[GROUP_CODE_VALUES]
    party: Literal["provider", "patient"] = Field(description="who carries the denied amount")
    meaning: str
    source: str


class ClaimFix(_Answer):
    model_config = ConfigDict(json_schema_extra=_drop_null_defaults)

    action: Literal[FIXES] = Field(description="the change to the claim before it goes back")
    description: str
    diagnosis_codes: list[str] = Field(default=None, description="the diagnosis codes of the corrected claim, "
                                                                 "primary first (diagnosis fixes)")


class Resubmission(_Answer):
    approval_probability: Probability = Field(description="the served model's probability that the fixed claim "
                                                          "is paid")
    decision: Decision


class Deadline(_Answer):
    kind: Literal["appeal", "corrected_claim"]
    due_date: str | None = Field(description="YYYY-MM-DD, or null when the payer's contract sets it")
    rule: str = Field(description="the general rule, to check against the payer's contract")
    source: str


class DenialPlaybook(_Answer):
    """What to do about one denied claim line."""

    claim_id: str | None
    carc: str
    description: str = Field(description="what the CARC means")
    rarc: str | None
    liability: DenialLiability
    step: Literal[STEPS] = Field(description="the next step")
    instruction: str
    appeal: bool = Field(description="the step asks the payer to reconsider (never for a patient-liable "
                                     "exclusion)")
    fix: ClaimFix | None = Field(description="the change to the claim, when it goes back to the payer changed")
    resubmission: Resubmission | None = Field(description="the fixed claim scored again, for steps that go back "
                                                          "to the payer")
    amount_at_stake: float = Field(ge=0, description="USD: what the payer would pay on the fixed claim, less "
                                                     "paid_amount")
    expected_recovery: float = Field(ge=0, description="USD: resubmission probability x amount_at_stake (0 for "
                                                       "steps that collect nothing from the payer)")
    deadlines: list[Deadline]
    source: str = Field(description="where the step comes from")
    request_id: str


# POST /v1/letters (service.letters): a draft letter of medical necessity.
class LetterRequest(BaseModel):
    """A claim on a covered pathway, and optionally who signs the letter."""

    model_config = ConfigDict(extra="forbid", strict=True)

    claim: ClaimRequest = Field(description="the claim the letter supports (the claims contract's visit fields)")
    provider_name: str = Field(default=None, min_length=1, max_length=200, pattern=r"\S",
                               description="the signing clinician (a placeholder when absent)")
    practice_name: str = Field(default=None, min_length=1, max_length=200, pattern=r"\S",
                               description="the practice (a placeholder when absent)")


class DescribedDiagnosis(_Answer):
    code: str
    description: str = Field(description="the ICD-10-CM description")


class LetterCriterion(_Answer):
    text: str = Field(description="what the chart must show; the clinician confirms or strikes it")
    source: str = Field(description="the policy that lists it")


class LetterDraft(_Answer):
    """A draft the clinic completes: patient identity and signature are placeholders."""

    claim_id: str | None
    treatment: str
    treatment_description: str
    procedure_code: str | None
    service_date: str
    diagnoses: list[DescribedDiagnosis]
    criteria: list[LetterCriterion] = Field(description="features/data/documentation.csv for the treatment and "
                                                        "diagnoses")
    citations: list[str] = Field(description="the policies the treatment catalog cites")
    placeholders: list[str] = Field(description="what the clinic fills in: patient name, date of birth, member id, "
                                                "signature (and provider or practice when not given)")
    markdown: str
    html: str = Field(description="the same letter as a standalone HTML page with a print stylesheet")
    request_id: str


# POST /v1/estimates (service.estimates): a Good Faith Estimate for a self-pay or not-covered visit.
class EstimateRequest(BaseModel):
    """A scheduled visit the patient pays: self-pay, or a service the plan does not cover."""

    model_config = ConfigDict(extra="forbid", strict=True)

    claim: ClaimRequest = Field(description="the scheduled visit (the claims contract's visit fields); its "
                                            "billed_amount is the expected charge")
    self_pay: bool = Field(default=False, description="the patient will not file a claim with a plan (or has none); "
                                                      "when false, an estimate is offered only for a visit a hard "
                                                      "rule excludes (covered: not-covered)")
    provider_name: str = Field(default=None, min_length=1, max_length=200, pattern=r"\S",
                               description="the provider giving the service (a placeholder when absent)")
    practice_name: str = Field(default=None, min_length=1, max_length=200, pattern=r"\S",
                               description="the practice or facility (a placeholder when absent)")


class EstimateService(_Answer):
    treatment: str = Field(description="the catalog key the claim resolved to")
    description: str = Field(description="the service in plain words (the catalog's)")
    procedure_code: str | None


class EstimateItem(_Answer):
    provider: str = Field(description="provider and practice or facility (placeholders when not given)")
    description: str
    procedure_code: str = Field(description="the expected service code, or [SERVICE CODE] when the claim has none")
    diagnosis_codes: list[str]
    quantity: int
    expected_charge: Dollars = Field(description="the claim's billed amount")


class GoodFaithEstimate(_Answer):
    """What 45 CFR 149.610(c) asks a Good Faith Estimate to hold; the patient's name and date of birth, the
    provider's NPI, TIN and location are placeholders the clinic fills in (never asked for, never kept)."""

    claim_id: str | None
    kind: Literal["self_pay", "not_covered"] = Field(description="self_pay: the body said so; not_covered: a hard "
                                                                 "rule excludes the visit")
    issued_on: str = Field(description="YYYY-MM-DD")
    service_date: str = Field(description="the scheduled date of service, YYYY-MM-DD")
    service: EstimateService
    diagnoses: list[DescribedDiagnosis]
    items: list[EstimateItem]
    total_expected_charge: Dollars
    dispute_threshold: Dollars = Field(description="total_expected_charge + 400: a bill this high or higher may be "
                                                   "disputed (patient-provider dispute resolution, 45 CFR 149.620)")
    disclaimers: list[str] = Field(description="45 CFR 149.610(c)(1)(vii)-(x) in plain words: more items may be "
                                               "scheduled separately, only an estimate, the right to dispute, not a "
                                               "contract")
    placeholders: list[str] = Field(description="what the clinic fills in")
    legal_basis: list[str]
    currency: Literal["USD"]
    html: str = Field(description="the same estimate as a standalone HTML page with a print stylesheet")


# GET /v1/worklist (service.worklist_api): the calling key's denial worklist.
class WorklistRow(_Answer):
    """One denied claim through the playbook (service.outcomes.worklist.WORKLIST_COLUMNS)."""

    rank: int = Field(ge=1, description="1 is the most expected recovery")
    claim_id: str
    service_date: str
    treatment: str
    procedure_code: str | None
    carc: str
    description: str
    group_code: Literal[GROUP_CODE_VALUES]
    group_code_from: Literal["payer", "rule", "default"] = Field(
        description="the payer's remittance or outcome file; else the exclusion rule's group code; else CO")
    step: Literal[STEPS]
    instruction: str
    fix: str
    resubmission_probability: Probability | None
    amount_at_stake: float = Field(ge=0)
    expected_recovery: float = Field(ge=0)
    next_deadline: str | None = Field(description="YYYY-MM-DD, the nearest general deadline of the step")
    deadline_rule: str
    letter: str = Field(description="for an appeal with a letter: the letter of medical necessity drafted as "
                                    "POST /v1/letters drafts it (Markdown), or why none is offered; else empty")
    model_version: str | None = Field(description="the model version that answered the claim when it was served")


class Worklist(_Answer):
    """The denied claims served to this key that the outcomes loop recorded, by expected recovery."""

    rows: list[WorklistRow]
    denied_claims: int = Field(ge=0)
    expected_recovery: float = Field(ge=0, description="USD: the sum of the rows' expected recovery")
    unlisted_carc: int = Field(ge=0, description="denied claims whose CARC the playbook does not list (left out)")
    max_claims: int = Field(description="the most denied claims one request scores (422 worklist_too_large beyond)")
    request_id: str
