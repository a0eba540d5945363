"""Request claims -> canonical claim dicts: the clean-frame keys and values of features.contract.

`normalise_request_claim` validates one claim (schema types, then the domain tables: treatment
catalog, procedure code, ICD-10-CM) and reports every bad field at once, each with what is allowed
and never with the value sent. `normalise_claims` does a batch claim by claim, so one bad claim
is one rejected entry and the others can still be answered.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from pydantic import ValidationError

from features.catalog import TreatmentLookupError, load_catalog
from features.claim_facts import join_codes
from features.contract import (CLEAN_COLUMNS, COST_SHARING_FIELDS, ENUM_VALUES, TREATMENT_FIELDS, VISIT_FIELDS,
                               default_place_of_service, read_enum)
from features.diagnosis import DiagnosisCodeError, split_joined_codes, validate_codes
from claims_io.fields import unknown_value_reason
from service.errors import APIError, field_error
from service.schemas import ALLOWED, MIDNIGHT_TIMESTAMP_PATTERN, ClaimRequest

UNKNOWN_FIELD = "(unknown field)"
TEXT_FIELDS = {name for name, (kind, *_) in VISIT_FIELDS.items() if kind in ("string", "date", "code", "enum")}
_MIDNIGHT_TIMESTAMP = re.compile(MIDNIGHT_TIMESTAMP_PATTERN)


class ClaimValidationError(ValueError):
    """A claim failed validation; `errors` lists every bad field as {field, message}."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__(f"invalid claim: {', '.join(error['field'] for error in errors)}")


@dataclass
class ClaimResult:
    """One claim of a request after validation: a canonical claim, or the errors that stopped it."""

    index: int
    claim: dict | None = None
    errors: list[dict] = field(default_factory=list)
    claim_id: str | None = None  # the caller's own id, when the claim had one: a rejected entry carries it

    @property
    def ok(self) -> bool:
        return self.claim is not None


def normalise_request_claim(raw: dict) -> dict:
    """Validate one request claim and return its canonical dict (keys: CLEAN_COLUMNS, in order).

    Values: claim_id str|None; service_date pd.Timestamp (today when absent); treatment a catalog
    key, "unlisted", or the composite key of a shared code its diagnoses did not settle
    (features.catalog); procedure_code upper-case str|None; diagnosis_codes dotless upper-case
    codes joined by ";"; place_of_service defaulted from facility_type; visit_number and patient_age int;
    amounts float; weeks_since_last_treatment, benefit_limit and the cost-sharing fields (allowed_amount,
    deductible_remaining, coinsurance_rate, copay) NaN when absent or null.
    Raises ClaimValidationError listing every bad field.
    """
    if not isinstance(raw, dict):
        raise ClaimValidationError([field_error("", "a claim must be a JSON object of the contract's visit fields")])
    raw = read_as_a_file_would(raw)
    errors: list[dict] = []
    try:
        request = ClaimRequest.model_validate(raw)
    except ValidationError as exc:
        request = None
        errors.extend(_schema_errors(exc, raw))
    flagged = {error["field"].split("[")[0] for error in errors}

    codes = None
    if "diagnosis_codes" not in flagged:
        codes, code_errors = _diagnosis_codes(raw.get("diagnosis_codes", []))
        errors.extend(code_errors)
    resolved = None
    if not flagged & {"treatment", "procedure_code"}:
        try:  # a shared code given alone is read from the diagnoses, as in a file
            resolved = load_catalog().resolve(raw.get("treatment"), raw.get("procedure_code"), codes or ())
        except TreatmentLookupError as exc:
            errors.append(field_error(exc.field, exc.message))
    if errors:
        raise ClaimValidationError(errors)

    return {
        "claim_id": request.claim_id,
        "service_date": pd.Timestamp(request.service_date or date.today()),
        "treatment": resolved.key,
        "procedure_code": resolved.procedure_code,
        "diagnosis_codes": join_codes(codes),
        "plan_type": request.plan_type,
        "benefit_scope": request.benefit_scope,
        "facility_type": request.facility_type,
        "place_of_service": request.place_of_service or default_place_of_service(request.facility_type),
        "in_network": request.in_network,
        "referral": request.referral,
        "medical_necessity_letter": request.medical_necessity_letter,
        "prior_authorization": request.prior_authorization,
        "conservative_therapy_documented": request.conservative_therapy_documented,
        "visit_number": request.visit_number,
        "weeks_since_last_treatment": _float_or_nan(request.weeks_since_last_treatment),
        "patient_age": request.patient_age,
        "billed_amount": float(request.billed_amount),
        "benefit_limit": _float_or_nan(request.benefit_limit),
        "benefit_used": float(request.benefit_used),
        **{name: _float_or_nan(getattr(request, name)) for name in COST_SHARING_FIELDS},
    }


def read_as_a_file_would(raw: dict) -> dict:
    """The claim's strings as a claims file reads its cells, so that both paths accept the same
    claims: surrounding blanks stripped, a blank field absent (its default applies, or it is
    reported missing), blank diagnosis codes skipped. Only text fields: a JSON string where the
    contract wants a number or a boolean stays, to be refused as the schema says, and so do
    unknown fields."""
    claim = {}
    for name, value in raw.items():
        if name in TREATMENT_FIELDS and value is None:
            continue  # a null treatment or code was not sent, as an empty cell: the other one is judged alone
        if name in TEXT_FIELDS and isinstance(value, str):
            value = value.strip()
            if not value:
                continue
            if VISIT_FIELDS[name][0] == "enum":  # any case, as a file's cells (features.contract.read_enum)
                value = read_enum(name, value) or value
        elif name == "diagnosis_codes" and isinstance(value, list):
            value = [code.strip() if isinstance(code, str) else code for code in value]
            value = [code for code in value if code != ""]
        claim[name] = value
    return claim


def normalise_claims(raw_claims: list) -> list[ClaimResult]:
    """Validate each claim on its own: one ClaimResult per claim, in order."""
    results = []
    for index, raw in enumerate(raw_claims):
        try:
            results.append(ClaimResult(index, claim=normalise_request_claim(raw)))
        except ClaimValidationError as exc:
            results.append(ClaimResult(index, errors=exc.errors, claim_id=_own_claim_id(raw)))
    return results


def _own_claim_id(raw) -> str | None:
    claim_id = raw.get("claim_id") if isinstance(raw, dict) else None
    return claim_id.strip() or None if isinstance(claim_id, str) else None


def claim_warnings(claim: dict) -> list[dict]:
    """What the caller should know about an accepted claim (the answer carries these): an unlisted
    code, a code the catalog does not list for the given treatment, an unresolved shared code.
    The words are the catalog's, the same a file's load report counts; they name no value."""
    return [field_error(warning.field, warning.message)
            for warning in load_catalog().warnings(claim["treatment"], claim["procedure_code"])]


def claim_from_frame_row(row: dict) -> dict:
    """An MLflow dataframe row -> a request claim: undo pandas' artefacts, nothing more.

    null in a contract field means absent (the contract's default applies), a midnight timestamp
    is its date, and diagnosis_codes may be the CSV form joined by ';'. Unknown fields stay, to be
    refused.
    """
    if not isinstance(row, dict):
        return row  # normalise_request_claim reports it
    claim = {}
    for name, value in row.items():
        if value is None and name in VISIT_FIELDS:
            continue
        if name == "diagnosis_codes" and isinstance(value, str):
            value = split_joined_codes(value)
        elif name == "service_date" and isinstance(value, str) and _MIDNIGHT_TIMESTAMP.match(value):
            value = value[:10]
        claim[name] = value
    return claim


def claim_to_json(claim: dict) -> dict:
    """A canonical claim as JSON-ready values (dates as YYYY-MM-DD, NaN as null)."""
    out = {}
    for name in CLEAN_COLUMNS:
        value = claim[name]
        if isinstance(value, float) and math.isnan(value):
            value = None
        elif isinstance(value, date):  # a pd.Timestamp is a datetime, itself a date
            # The digits themselves: pandas' strftime cost more than the rest of the claim (every audit row
            # writes one); a Timestamp's year has four digits (1677-2262), so this is strftime's "%Y-%m-%d".
            value = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        out[name] = value
    return out


def claim_from_json(kept: dict) -> dict:
    """claim_to_json's inverse: a claim the audit store kept, canonical again, to be scored anew."""
    claim = {name: kept.get(name) for name in CLEAN_COLUMNS}
    claim["service_date"] = pd.Timestamp(claim["service_date"])
    for name in ("weeks_since_last_treatment", "benefit_limit", *COST_SHARING_FIELDS):
        claim[name] = _float_or_nan(claim[name])
    return claim


def _float_or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _diagnosis_codes(raw_codes: list) -> tuple[list[str], list[dict]]:
    codes, errors = [], []
    for position, raw in enumerate(raw_codes):
        try:
            codes.extend(validate_codes([raw]))
        except DiagnosisCodeError as exc:
            errors.append(field_error(f"diagnosis_codes[{position}]", exc.reason))
    return codes, errors


def _schema_errors(exc: ValidationError, raw: dict) -> list[dict]:
    errors, unknown = [], 0
    for error in exc.errors(include_input=False, include_url=False):
        loc = error["loc"]
        name = str(loc[0]) if loc else ""
        if error["type"] == "extra_forbidden":
            unknown += 1
            continue
        if name == "diagnosis_codes" and len(loc) > 1:
            errors.append(field_error(f"diagnosis_codes[{loc[1]}]",
                                      "must be a non-empty ICD-10-CM code string such as 'G43.709'"))
            continue
        allowed = ALLOWED.get(name, "a field of the claims contract")
        if error["type"] == "missing":
            errors.append(field_error(name, f"is required: {allowed}"))
        elif name == "service_date" and error["type"] == "value_error":
            errors.append(field_error(name, "must be a real calendar date written YYYY-MM-DD"))
        elif name in ENUM_VALUES:
            errors.append(field_error(name, unknown_value_reason(name, raw.get(name))))
        else:
            errors.append(field_error(name, f"must be {allowed}"))
    if unknown:
        errors.append(field_error(UNKNOWN_FIELD, (
            f"{unknown} field(s) are not in the claims contract (their names are not repeated back); "
            f"allowed fields: {', '.join(CLEAN_COLUMNS)}")))
    return errors


def read_claim_envelope(body, fields: tuple[str, ...], shape: str) -> tuple[dict | None, list[dict]]:
    """A body that carries a claim beside fields of its own (POST /v1/denials, /v1/letters): the
    canonical claim of its `claim` field and the errors found so far (unknown fields, and the
    claim's own, named `claim.<field>`). A body that is no object is a 422 naming `shape`."""
    if not isinstance(body, dict):
        raise APIError(422, "invalid_request", "the body must be a JSON object", [field_error("", f"must be {shape}")])
    errors = []
    if set(body) - set(fields):
        errors.append(field_error(UNKNOWN_FIELD, f"allowed fields: {', '.join(fields)}"))
    if not isinstance(body.get("claim"), dict):
        errors.append(field_error("claim", "is required: an object of the claims contract's visit fields"))
        return None, errors
    try:
        return normalise_request_claim(body["claim"]), errors
    except ClaimValidationError as exc:
        errors.extend(field_error(f"claim.{error['field']}" if error["field"] else "claim", error["message"])
                      for error in exc.errors)
        return None, errors
