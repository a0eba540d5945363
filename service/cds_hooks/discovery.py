"""The services this CDS Hooks server offers (GET /cds-services), one per CRD primary hook.

Prefetch templates follow CDS Hooks 2.0 (prefetch tokens `{{context.*}}` and
`{{userPractitionerRoleId}}`) and the CRD guide's advice to prefetch what the coverage answer
reads: the patient (age on the service date), the active coverages (plan type), the ordering
practitioner's role with its location and organization (place of service), the patient's active
conditions (the diagnoses an order cites by reference), and the documents on file (a referral, a
letter of medical necessity). A key the client cannot fill is fetched from `fhirServer`
(service.cds_hooks.fhir_client) or, without one, said to be missing in the answer.
"""
from __future__ import annotations

from dataclasses import dataclass

ORDER_SIGN, ORDER_SELECT, APPOINTMENT_BOOK = "order-sign", "order-select", "appointment-book"

COMMON_PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "coverage": "Coverage?patient={{context.patientId}}&status=active",
    "practitionerRole": ("PractitionerRole?_id={{userPractitionerRoleId}}&_include=PractitionerRole:organization"
                         "&_include=PractitionerRole:practitioner&_include=PractitionerRole:location"),
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
    "documents": "DocumentReference?patient={{context.patientId}}&status=current",
}
USAGE = ("Calls carry a JWT signed by a trusted client (RS384 or ES384; CDS Hooks 2.0 security). Orders are "
         "ServiceRequests with a CPT or HCPCS code, reasons as ICD-10-CM codes or Conditions; the plan from "
         "Coverage.type (SOPT, ActCode or plain text); what cannot be read from the record is said in the answer.")


@dataclass(frozen=True)
class HookService:
    id: str
    hook: str
    title: str
    description: str

    def to_json(self) -> dict:
        return {"hook": self.hook, "id": self.id, "title": self.title, "description": self.description,
                "prefetch": dict(COMMON_PREFETCH), "usageRequirements": USAGE}


def service_path(service_id: str) -> str:
    return f"/cds-services/{service_id}"


SERVICES = {service.id: service for service in (
    HookService("medspa-coverage-order-sign", ORDER_SIGN, "Med-spa coverage (order-sign)",
                "Coverage Requirements Discovery for a signed order: will the plan pay, with the probability, "
                "the likely denial reasons and what would raise the chance"),
    HookService("medspa-coverage-order-select", ORDER_SELECT, "Med-spa coverage (order-select)",
                "The same coverage answer for the orders just selected, before they are signed"),
    HookService("medspa-coverage-appointment-book", APPOINTMENT_BOOK, "Med-spa coverage (appointment-book)",
                "Coverage Requirements Discovery for a visit being booked, from the appointment's service type "
                "and reasons"),
)}
