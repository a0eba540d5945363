"""A hook call's orders in the claims contract's words (../shared/specs/claims-contract.md).

Each order (a ServiceRequest, MedicationRequest or Appointment) becomes one request claim, read
from the record as follows; what the record cannot say is a note in the answer, never a silent
guess:

| contract field | read from |
|---|---|
| procedure_code (treatment follows, features.catalog) | the order's first CPT or HCPCS coding (ServiceRequest.code, MedicationRequest.medication, Appointment.serviceType) |
| diagnosis_codes | reasonCode's ICD-10-CM codings, then those of the Conditions reasonReference names |
| plan_type | Coverage.type (service.cds_hooks.coverage_types): the order's insurance, else the patient's one active Coverage |
| facility_type, place_of_service | ServiceRequest.locationCode (CMS place of service or RoleCode), else the type of the Location the order or appointment names, else of the ordering role's Location |
| patient_age | Patient.birthDate, on the service date |
| service_date | occurrence (dateTime or period start), Appointment.start; else today (the contract's default) |
| referral, medical_necessity_letter | a current DocumentReference of LOINC type 57133-1 (referral note), 103595-5 (certificate of medical necessity) |
| prior_authorization | a CRD coverage-information extension already on the order with a `satisfied-pa-id` |

Without a billing code, a plan type or the patient's age the order is not assessed (it still gets
its coverage-information, `conditional`). The contract's other required fields are not in a FHIR
order at all and take the stated values of ASSUMED, which every answer lists.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from features.diagnosis import DiagnosisCodeError, validate_codes, with_dot
from service.cds_hooks.coverage_types import (POS_SYSTEMS, ROLE_CODE_SYSTEM, facility_of_place, facility_of_role,
                                              plan_type_of)
from service.cds_hooks.fhir_resources import ResourceIndex

CPT_SYSTEMS = ("http://www.ama-assn.org/go/cpt",)
HCPCS_SYSTEMS = ("https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                 "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                 "https://bluebutton.cms.gov/resources/codesystem/hcpcs")
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC_SYSTEM = "http://loinc.org"
DOCUMENT_TYPES = {"57133-1": "referral", "103595-5": "medical_necessity_letter"}  # LOINC document types
COVERAGE_INFORMATION_URL = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
ORDER_TYPES = ("ServiceRequest", "MedicationRequest", "Appointment")

# The order carries no charge; the model needs a billed amount, so it is scored at this one, said
# in the answer, and the expected payment (which would rest on it) is left out of the card.
ASSUMED_BILLED_AMOUNT = 500.0
# contract field -> (value used, what the answer says)
ASSUMED = {
    "benefit_scope": ("comprehensive", "benefit scope: not in a FHIR Coverage; assumed comprehensive (medical "
                                       "services wherever delivered)"),
    "in_network": (True, "network status: not in the record; assumed in network"),
    "billed_amount": (ASSUMED_BILLED_AMOUNT, f"billed amount: an order carries no charge; scored at "
                                             f"${ASSUMED_BILLED_AMOUNT:,.0f}, and no expected payment is given"),
    "conservative_therapy_documented": (False, "documented first-line therapy: not read from the record; "
                                               "taken as not documented"),
}
DEFAULT_FACILITY = "physician_office"


@dataclass
class MappedOrder:
    """One order of the call: its JSON as sent, and the request claim read from it, or why not."""

    path: str  # where the order sits in the request, e.g. context.draftOrders.entry[0].resource
    resource_json: dict
    resource_type: str
    coverage_reference: str | None = None
    claim: dict | None = None
    treatment: str | None = None  # the catalog key the contract resolved the claim's code to
    satisfied_pa_id: str | None = None  # the authorization an earlier CRD answer recorded on the order
    missing: list[str] = field(default_factory=list)  # essentials not found: the order is not assessed
    notes: list[str] = field(default_factory=list)  # what was read another way, assumed, or left out

    @property
    def label(self) -> str:
        return f"{self.resource_type}/{self.resource_json.get('id', '?')}"


def map_order(path: str, resource_json: dict, order, index: ResourceIndex, context: dict) -> MappedOrder:
    """The request claim of one parsed order (see the module docstring)."""
    kind = order.get_resource_type()
    mapped = MappedOrder(path, resource_json, kind)
    if kind not in ORDER_TYPES:
        mapped.missing.append(f"a {kind} is not assessed: only {', '.join(ORDER_TYPES)} orders are")
        return mapped
    service_date = _service_date(order)
    if service_date is None:
        service_date = date.today()
        mapped.notes.append("service date: none on the order; today is used")
    procedure_code = _billing_code(order, mapped)
    diagnoses = _diagnoses(order, index, mapped)
    coverage = _coverage(order, index, context, mapped)
    plan_type = None
    if coverage is not None:
        mapped.coverage_reference = f"Coverage/{coverage.id}" if coverage.id else None
        kind_of_plan = coverage.type
        plan_type = plan_type_of([(coding.system, coding.code) for coding in (kind_of_plan.coding or ())]
                                 if kind_of_plan else [], kind_of_plan.text if kind_of_plan else None)
        if plan_type is None:
            mapped.missing.append("plan type: Coverage.type names no plan type this service knows (SOPT, ActCode "
                                  "HMO/PPO/POS, or a plan's plain name)")
    age = _age(order, index, context, service_date, mapped)
    facility, place = _place(order, index, mapped)
    documents = _documents(index)
    mapped.satisfied_pa_id = _authorization_on_file(order)
    if mapped.missing:
        return mapped
    claim = {
        "claim_id": mapped.label,
        "service_date": service_date.isoformat(),
        "procedure_code": procedure_code,
        "diagnosis_codes": diagnoses,
        "plan_type": plan_type,
        "facility_type": facility,
        "referral": "referral" in documents,
        "medical_necessity_letter": "medical_necessity_letter" in documents,
        "prior_authorization": mapped.satisfied_pa_id is not None,
        "patient_age": age,
        **{name: value for name, (value, _) in ASSUMED.items()},
    }
    if place:
        claim["place_of_service"] = place
    for name, label in (("referral", "referral note (LOINC 57133-1)"),
                        ("medical_necessity_letter", "certificate of medical necessity (LOINC 103595-5)")):
        if not claim[name]:
            mapped.notes.append(f"{name.replace('_', ' ')}: no current {label} among the documents; taken as none")
    if not claim["prior_authorization"]:
        mapped.notes.append("prior authorization: none recorded on the order (a coverage-information "
                            "satisfied-pa-id); taken as none")
    mapped.notes.extend(note for _, note in ASSUMED.values())
    mapped.claim = claim
    return mapped


def unreadable_order(path: str, resource_json: dict, reason: str) -> MappedOrder:
    """An order that is not valid FHIR R4: not assessed, and the answer says which elements are at fault."""
    return MappedOrder(path, resource_json, resource_json["resourceType"], missing=[f"the order {reason}"])


def _codings(concepts) -> list:
    return [coding for concept in concepts if concept is not None for coding in (concept.coding or ())]


def _service_date(order) -> date | None:
    kind = order.get_resource_type()
    if kind == "Appointment":
        moments = [order.start, *[period.start for period in order.requestedPeriod or ()]]
    elif kind == "ServiceRequest":
        moments = [order.occurrenceDateTime, order.occurrencePeriod.start if order.occurrencePeriod else None]
    else:
        validity = order.dispenseRequest.validityPeriod if order.dispenseRequest else None
        moments = [validity.start if validity else None]
    moment = next((value for value in moments if value is not None), None)
    if isinstance(moment, datetime):
        return moment.date()
    return moment if isinstance(moment, date) else None


def _billing_code(order, mapped: MappedOrder) -> str | None:
    kind = order.get_resource_type()
    concepts = ([order.code] if kind == "ServiceRequest" else list(order.serviceType or ()) if kind == "Appointment"
                else [order.medicationCodeableConcept])
    codes = [coding.code for coding in _codings(concepts)
             if coding.system in CPT_SYSTEMS + HCPCS_SYSTEMS and coding.code]
    if not codes:
        mapped.missing.append("procedure: the order has no CPT or HCPCS coding")
        return None
    if len(set(codes)) > 1:
        mapped.notes.append("procedure: the order has several CPT/HCPCS codings; the first is assessed")
    return codes[0].strip().upper()


def _diagnoses(order, index: ResourceIndex, mapped: MappedOrder) -> list[str]:
    """ICD-10-CM codes of the reasons, primary first, each valid one once; the others noted (not named)."""
    found, other_reasons = [], 0
    concepts = list(order.reasonCode or ())
    for reference in order.reasonReference or ():
        condition = index.resolve(reference.reference, order)
        if condition is None or condition.get_resource_type() != "Condition":
            mapped.notes.append("diagnosis: a reasonReference names a Condition the call did not give or let us "
                                "read; left out")
            continue
        concepts.append(condition.code)
    for concept in concepts:
        icd = [coding.code for coding in (concept.coding or ()) if coding.system == ICD10CM_SYSTEM and coding.code] \
            if concept is not None else []
        if not icd:
            other_reasons += 1
        found.extend(icd[:1])
    if other_reasons:
        mapped.notes.append(f"diagnosis: {other_reasons} reason(s) without an ICD-10-CM coding; left out")
    codes = []
    for position, code in enumerate(found):
        try:
            codes.extend(validate_codes([code]))
        except DiagnosisCodeError:
            mapped.notes.append(f"diagnosis: reason {position + 1} is not an ICD-10-CM code of the release used; "
                                "left out")
    return [with_dot(code) for code in dict.fromkeys(codes)]


def _coverage(order, index: ResourceIndex, context: dict, mapped: MappedOrder):
    for reference in getattr(order, "insurance", None) or ():
        resolved = index.resolve(reference.reference, order)
        if resolved is not None and resolved.get_resource_type() == "Coverage":
            return resolved
    patient = f"Patient/{context.get('patientId')}"
    active = [coverage for coverage in index.of_type("Coverage")
              if coverage.status in (None, "active") and
              (coverage.beneficiary is None or coverage.beneficiary.reference in (None, patient))]
    if len(active) == 1:
        return active[0]
    mapped.missing.append("plan type: no active Coverage given or readable" if not active else
                          "plan type: the patient has several active Coverages and the order names none")
    return None


def _age(order, index: ResourceIndex, context: dict, service_date: date, mapped: MappedOrder) -> int | None:
    # an Appointment names its patient among participants: the context's patientId is the one booked
    subject = getattr(order, "subject", None)
    reference = (subject.reference if subject is not None else None) or f"Patient/{context.get('patientId')}"
    patient = index.resolve(reference)
    if patient is None or patient.get_resource_type() != "Patient" or patient.birthDate is None:
        mapped.missing.append("patient age: no Patient with a birthDate given or readable")
        return None
    born = patient.birthDate
    age = service_date.year - born.year - ((service_date.month, service_date.day) < (born.month, born.day))
    if not 0 <= age <= 120:
        mapped.missing.append("patient age: the birthDate gives an age outside 0-120 on the service date")
        return None
    return age


def _place(order, index: ResourceIndex, mapped: MappedOrder) -> tuple[str, str | None]:
    """The facility type and place-of-service code: from the order's location codes, else a Location's type."""
    codings = _codings(getattr(order, "locationCode", None) or ())
    locations = [index.resolve(reference.reference, order) for reference in getattr(order, "locationReference", None)
                 or ()]
    if order.get_resource_type() == "Appointment":
        locations += [index.resolve(participant.actor.reference, order) for participant in order.participant or ()
                      if participant.actor is not None and (participant.actor.reference or "").startswith("Location")]
    for role in index.of_type("PractitionerRole"):
        locations += [index.resolve(reference.reference, role) for reference in role.location or ()]
    codings += _codings(concept for location in locations
                        if location is not None and location.get_resource_type() == "Location"
                        for concept in location.type or ())
    for coding in codings:
        if coding.system in POS_SYSTEMS and facility_of_place(coding.code):
            return facility_of_place(coding.code), coding.code.strip()
    for coding in codings:
        if coding.system == ROLE_CODE_SYSTEM and facility_of_role(coding.code):
            return facility_of_role(coding.code), None
    mapped.notes.append("place of service: no CMS place-of-service or known RoleCode on the order or its Location; "
                        "assumed a physician's office (11)")
    return DEFAULT_FACILITY, None


def _documents(index: ResourceIndex) -> set[str]:
    return {DOCUMENT_TYPES[coding.code] for document in index.of_type("DocumentReference")
            if document.status == "current"
            for coding in _codings([document.type]) if coding.system == LOINC_SYSTEM and coding.code in DOCUMENT_TYPES}


def _authorization_on_file(order) -> str | None:
    """The satisfied-pa-id of a coverage-information extension already on the order, else None."""
    return next((part.valueString for extension in order.extension or () if extension.url == COVERAGE_INFORMATION_URL
                 for part in extension.extension or () if part.url == "satisfied-pa-id" and part.valueString), None)
