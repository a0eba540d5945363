"""Request and response schemas (pydantic v2): they validate requests and generate the OpenAPI document.

Requests are strict: JSON types are not coerced (`"true"` is not a boolean, `1.0` is not an
integer), unknown fields are refused, enum values come from features.contract. `null` is accepted
only where the contract gives it a meaning (`weeks_since_last_treatment`, `benefit_limit`); an
optional field is otherwise simply left out. Checks that need the domain tables (treatment key,
procedure code, ICD-10-CM codes) run in service.claims on top of these schemas.
"""
from __future__ import annotations

import copy
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from features.contract import BENEFIT_SCOPES, FACILITY_TYPES, MAX_PATIENT_AGE, PLAN_TYPES

MAX_DIAGNOSIS_CODES = 12  # an 837P claim carries at most 12 diagnosis codes
MAX_VISIT_NUMBER = 1000  # a sanity bound the contract leaves open; keeps arrays in int64
MAX_STRING_LENGTH = 128
# JSON-Schema patterns (no flags there, so both cases are spelled out); the authoritative checks
# are features.catalog.resolve and features.diagnosis.validate_codes, with their own messages.
PROCEDURE_CODE_PATTERN = r"^\s*([0-9]{5}|[0-9]{4}[FTUftu]|[A-Va-v][0-9]{4})\s*$"
DIAGNOSIS_CODE_PATTERN = r"^\s*[A-Za-z][0-9][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?\s*$"
_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MIDNIGHT_TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]00:00:00(\.0+)?Z?$"

# field -> what is allowed, in words: the JSON-Schema description and the validation messages.
ALLOWED = {
    "claim_id": f"a string of at most {MAX_STRING_LENGTH} characters, echoed back",
    "service_date": "a date written YYYY-MM-DD (default: today)",
    "treatment": "a key of the treatment catalog (GET /v1/treatments); one of treatment or procedure_code is required",
    "procedure_code": ("a CPT (5 digits, or 4 digits and F/T/U), HCPCS Level II (A-V and 4 digits) or CDT "
                       "(D and 4 digits) code; one of treatment or procedure_code is required"),
    "diagnosis_codes": (f"a list of at most {MAX_DIAGNOSIS_CODES} ICD-10-CM code strings, primary first, dots "
                        "optional, such as ['G43.709']"),
    "plan_type": f"one of: {', '.join(PLAN_TYPES)}",
    "benefit_scope": f"one of: {', '.join(BENEFIT_SCOPES)}",
    "facility_type": f"one of: {', '.join(FACILITY_TYPES)}",
    "place_of_service": "a two-digit CMS place-of-service code such as '11' (default follows facility_type)",
    "in_network": "true or false (a JSON boolean)",
    "referral": "true or false (a JSON boolean): a physician referral is on file",
    "medical_necessity_letter": "true or false (a JSON boolean): a letter of medical necessity is attached",
    "prior_authorization": "true or false (a JSON boolean): prior authorization was obtained",
    "conservative_therapy_documented": "true or false (a JSON boolean; default false)",
    "visit_number": f"an integer from 1 to {MAX_VISIT_NUMBER} (default 1; 1 = initial visit of a course)",
    "weeks_since_last_treatment": "a number >= 0, or null when there was no earlier treatment (default null)",
    "patient_age": f"an integer from 0 to {MAX_PATIENT_AGE}",
    "billed_amount": "a finite number >= 0 (USD)",
    "benefit_limit": "a finite number >= 0 (USD), or null when the plan sets no limit (default null)",
    "benefit_used": "a finite number >= 0 (USD already paid against the limit; default 0)",
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


Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]
JsonInt = Annotated[int, BeforeValidator(_integral_number)]
DateString = Annotated[str, AfterValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})]
DiagnosisCode = Annotated[str, Field(max_length=16, json_schema_extra={"pattern": DIAGNOSIS_CODE_PATTERN})]


def _drop_null_defaults(schema: dict) -> None:
    """Optional fields that refuse null: their Python default None means "absent", not JSON null."""
    for prop in schema["properties"].values():
        if prop.get("default", ...) is None and "anyOf" not in prop:
            del prop["default"]


def _claim_schema_extra(schema: dict) -> None:
    from features.catalog import load_catalog  # the catalog is data: read when the schema is built

    _drop_null_defaults(schema)
    schema["properties"]["treatment"]["enum"] = list(load_catalog().keys)
    schema["anyOf"] = [{"required": ["treatment"]}, {"required": ["procedure_code"]}]
    schema["examples"] = [EXAMPLE_CLAIM]


class ClaimRequest(BaseModel):
    """One claim line: the visit fields of the claims contract (v1)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_claim_schema_extra)

    claim_id: str = _described("claim_id", default=None, min_length=1, max_length=MAX_STRING_LENGTH)
    service_date: DateString = _described("service_date", default=None)
    treatment: str = _described("treatment", default=None, min_length=1, max_length=64)
    procedure_code: str = _described("procedure_code", default=None, min_length=1, max_length=16,
                                     json_schema_extra={"pattern": PROCEDURE_CODE_PATTERN})
    diagnosis_codes: list[DiagnosisCode] = _described("diagnosis_codes", default=[], max_length=MAX_DIAGNOSIS_CODES)
    plan_type: Literal[PLAN_TYPES] = _described("plan_type")
    benefit_scope: Literal[BENEFIT_SCOPES] = _described("benefit_scope")
    facility_type: Literal[FACILITY_TYPES] = _described("facility_type")
    place_of_service: str = _described("place_of_service", default=None, pattern=r"^[0-9]{2}$")
    in_network: bool = _described("in_network")
    referral: bool = _described("referral")
    medical_necessity_letter: bool = _described("medical_necessity_letter")
    prior_authorization: bool = _described("prior_authorization")
    conservative_therapy_documented: bool = _described("conservative_therapy_documented", default=False)
    visit_number: JsonInt = _described("visit_number", default=1, ge=1, le=MAX_VISIT_NUMBER)
    weeks_since_last_treatment: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = _described(
        "weeks_since_last_treatment", default=None)
    patient_age: JsonInt = _described("patient_age", ge=0, le=MAX_PATIENT_AGE)
    billed_amount: Money = _described("billed_amount")
    benefit_limit: Money | None = _described("benefit_limit", default=None)
    benefit_used: Money = _described("benefit_used", default=0.0)


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


class ExcludedBy(BaseModel):
    id: str
    reason: str
    carc: str = Field(description="X12 claim adjustment reason code")
    group_code: str | None = None
    source: str


class DenialReason(BaseModel):
    carc: str
    description: str
    probability: float = Field(ge=0, le=1)


class Factor(BaseModel):
    feature: str
    direction: Literal["raises", "lowers"]
    effect: float = Field(description="change in approval probability attributed to this input")


class Recommendation(BaseModel):
    action: str = Field(description="what to change, e.g. obtain_prior_authorization")
    message: str
    probability_after: float | None = Field(default=None, ge=0, le=1)
    gain: float | None = None
    covered_diagnoses: list[str] = Field(default=[], description="for cosmetic exclusions: the diagnoses under "
                                                                 "which this treatment is covered")


class CoverageInformation(BaseModel):
    """Da Vinci CRD coverage-information vocabulary."""

    covered: Literal["covered", "not-covered", "conditional"]
    pa_needed: Literal["auth-needed", "no-auth", "satisfied", "performpa", "conditional"] | None = None
    doc_needed: Literal["clinical", "admin", "both", "conditional"] | None = None


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str | None = None


class ClaimAnswer(BaseModel):
    """The answer for one claim."""

    request_id: str
    claim_id: str | None = None
    decision: Literal["excluded", "likely_approved", "uncertain", "likely_denied"]
    approval_probability: float = Field(ge=0, le=1)
    excluded_by: list[ExcludedBy] = Field(default=[])
    likely_denial_reasons: list[DenialReason] = Field(default=[])
    factors: list[Factor] = Field(default=[])
    recommendations: list[Recommendation] = Field(default=[])
    coverage_information: CoverageInformation | None = None
    expected_payment: float | None = Field(default=None, description="USD the plan is expected to pay")
    model: ModelRef
    rules_version: str
    warnings: list[ClaimWarning] = Field(default=[], description="e.g. a procedure code no catalog row names")


class AnsweredClaim(BaseModel):
    index: int = Field(description="position of the claim in the request")
    answer: ClaimAnswer


class RejectedClaim(BaseModel):
    index: int = Field(description="position of the claim in the request")
    error: ErrorBody


class BatchAnswer(BaseModel):
    request_id: str
    answered: int
    rejected: int
    results: list[AnsweredClaim | RejectedClaim] = Field(description="one entry per claim, in request order")


class InvocationsResponse(BaseModel):
    predictions: list[ClaimAnswer] = Field(description="one answer per row, in row order")


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


class ModelInfo(BaseModel):
    """The served model; phase-specific details (metrics, training date, reload status) are extra keys."""

    model_config = ConfigDict(extra="allow")

    ready: bool
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    rules_version: str | None = None


class HealthStatus(BaseModel):
    status: Literal["live", "ready"]
