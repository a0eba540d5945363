"""Hook calls written from the CRD and CDS Hooks specifications' examples (CDS Hooks 2.0 "order-sign"
and "appointment-book" examples; CRD STU 2 example ServiceRequest, Coverage and Patient, with US Core
payer types), for three med-spa visits:

- `toxin_for_chronic_migraine`: order-sign, botulinum toxin by the migraine protocol (CPT 64615) for
  chronic migraine (G43.709, a Condition the order cites), Medicare Advantage (SOPT 111), in an office
  (POS 11), a referral note on file;
- `cosmetic_filler_appointment`: appointment-book, a dermal filler visit (HCPCS G0429) for a cosmetic
  encounter (Z41.1), a commercial PPO (SOPT 512), at a Location typed office (POS 11);
- `blepharoplasty_in_hospital_outpatient`: order-sign, upper-eyelid blepharoplasty (CPT 15823) for
  dermatochalasis with a visual-field defect, traditional Medicare (SOPT 121), hospital outpatient
  department (POS 22).

Each also comes as the claim the contract would carry for it, to compare with POST /v1/predict.
"""
from __future__ import annotations

import copy

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SOPT = "urn:oid:2.16.840.1.113883.3.221.5"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
LOINC = "http://loinc.org"
COVERAGE_INFORMATION = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
PATIENT_NAME = "Amy Shaw"  # the CDS Hooks examples' patient: must never reach the audit store


def patient(patient_id: str, birth_date: str) -> dict:
    return {"resourceType": "Patient", "id": patient_id, "name": [{"family": "Shaw", "given": ["Amy"],
                                                                   "text": PATIENT_NAME}],
            "gender": "female", "birthDate": birth_date}


def coverage(coverage_id: str, patient_id: str, sopt: str, display: str) -> dict:
    return {"resourceType": "Coverage", "id": coverage_id, "status": "active",
            "type": {"coding": [{"system": SOPT, "code": sopt, "display": display}]},
            "subscriberId": "10A3D58WH456", "beneficiary": {"reference": f"Patient/{patient_id}"},
            "payor": [{"reference": "Organization/example-payer"}]}


def condition(condition_id: str, patient_id: str, code: str) -> dict:
    return {"resourceType": "Condition", "id": condition_id, "subject": {"reference": f"Patient/{patient_id}"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": ICD10CM, "code": code}]}}


def bundle(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"resource": resource} for resource in resources]}


def referral_note(patient_id: str) -> dict:
    return {"resourceType": "DocumentReference", "id": "doc-referral", "status": "current",
            "type": {"coding": [{"system": LOINC, "code": "57133-1", "display": "Referral note"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "content": [{"attachment": {"contentType": "application/pdf", "url": "Binary/referral-1"}}]}


def order_sign(patient_id: str, orders: list[dict], prefetch: dict) -> dict:
    return {"hook": "order-sign", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "PractitionerRole/example", "patientId": patient_id,
                        "draftOrders": bundle(*orders)},
            "prefetch": prefetch}


def toxin_for_chronic_migraine() -> dict:
    order = {"resourceType": "ServiceRequest", "id": "sr-toxin", "status": "draft", "intent": "original-order",
             "code": {"coding": [{"system": CPT, "code": "64615", "display": "Chemodenervation for chronic migraine"}]},
             "subject": {"reference": "Patient/pat-migraine"}, "occurrenceDateTime": "2026-03-02",
             "requester": {"reference": "PractitionerRole/example"},
             "reasonReference": [{"reference": "Condition/cond-migraine"}],
             "insurance": [{"reference": "Coverage/cov-ma"}],
             "locationCode": [{"coding": [{"system": POS, "code": "11", "display": "Office"}]}]}
    return order_sign("pat-migraine", [order], {
        "patient": patient("pat-migraine", "1981-04-02"),
        "coverage": bundle(coverage("cov-ma", "pat-migraine", "111", "Medicare HMO")),
        "conditions": bundle(condition("cond-migraine", "pat-migraine", "G43.709")),
        "documents": bundle(referral_note("pat-migraine")),
    })


TOXIN_CLAIM = {"claim_id": "ServiceRequest/sr-toxin", "service_date": "2026-03-02", "procedure_code": "64615",
               "diagnosis_codes": ["G43.709"], "plan_type": "medicare_advantage", "benefit_scope": "comprehensive",
               "facility_type": "physician_office", "place_of_service": "11", "in_network": True, "referral": True,
               "medical_necessity_letter": False, "prior_authorization": False,
               "conservative_therapy_documented": False, "patient_age": 44, "billed_amount": 500.0}


def cosmetic_filler_appointment() -> dict:
    appointment = {"resourceType": "Appointment", "id": "apt-filler", "status": "proposed",
                   "serviceType": [{"coding": [{"system": HCPCS, "code": "G0429", "display": "Dermal filler"}]}],
                   "reasonCode": [{"coding": [{"system": ICD10CM, "code": "Z41.1"}]}],
                   "start": "2026-04-10T10:00:00-05:00", "end": "2026-04-10T10:45:00-05:00",
                   "participant": [{"actor": {"reference": "Patient/pat-filler"}, "status": "accepted"},
                                   {"actor": {"reference": "Location/loc-spa"}, "status": "accepted"}]}
    location = {"resourceType": "Location", "id": "loc-spa", "name": "Aesthetic studio",
                "type": [{"coding": [{"system": POS, "code": "11", "display": "Office"}]}]}
    return {"hook": "appointment-book", "hookInstance": "2a7bd0f6-3b8c-4b9f-8f8a-0e5d8d5f1b7c",
            "context": {"userId": "PractitionerRole/example", "patientId": "pat-filler",
                        "appointments": bundle(appointment)},
            "prefetch": {"patient": patient("pat-filler", "1990-07-15"),
                         "coverage": bundle(coverage("cov-ppo", "pat-filler", "512", "Commercial Managed Care - PPO")),
                         "practitionerRole": bundle(location)}}


FILLER_CLAIM = {"claim_id": "Appointment/apt-filler", "service_date": "2026-04-10", "procedure_code": "G0429",
                "diagnosis_codes": ["Z41.1"], "plan_type": "ppo", "benefit_scope": "comprehensive",
                "facility_type": "physician_office", "place_of_service": "11", "in_network": True, "referral": False,
                "medical_necessity_letter": False, "prior_authorization": False,
                "conservative_therapy_documented": False, "patient_age": 35, "billed_amount": 500.0}


def blepharoplasty_in_hospital_outpatient(pa_id: str | None = None) -> dict:
    order = {"resourceType": "ServiceRequest", "id": "sr-bleph", "status": "draft", "intent": "original-order",
             "code": {"coding": [{"system": CPT, "code": "15823", "display": "Upper eyelid blepharoplasty"}]},
             "subject": {"reference": "Patient/pat-bleph"}, "occurrenceDateTime": "2026-05-20",
             "reasonCode": [{"coding": [{"system": ICD10CM, "code": "H02.834"}]},
                            {"coding": [{"system": ICD10CM, "code": "H53.453"}]}],
             "insurance": [{"reference": "Coverage/cov-medicare"}],
             "locationCode": [{"coding": [{"system": POS, "code": "22", "display": "On Campus-Outpatient Hospital"}]}]}
    if pa_id:  # an earlier CRD answer recorded the authorization on the order
        order["extension"] = [{"url": COVERAGE_INFORMATION, "extension": [
            {"url": "coverage", "valueReference": {"reference": "Coverage/cov-medicare"}},
            {"url": "covered", "valueCode": "covered"}, {"url": "pa-needed", "valueCode": "satisfied"},
            {"url": "date", "valueDate": "2026-05-01"}, {"url": "coverage-assertion-id", "valueString": "earlier"},
            {"url": "satisfied-pa-id", "valueString": pa_id}]}]
    return order_sign("pat-bleph", [order], {
        "patient": patient("pat-bleph", "1953-11-30"),
        "coverage": bundle(coverage("cov-medicare", "pat-bleph", "121", "Medicare FFS")),
    })


BLEPHAROPLASTY_CLAIM = {"claim_id": "ServiceRequest/sr-bleph", "service_date": "2026-05-20", "procedure_code": "15823",
                        "diagnosis_codes": ["H02.834", "H53.453"], "plan_type": "medicare",
                        "benefit_scope": "comprehensive", "facility_type": "hospital_outpatient",
                        "place_of_service": "22", "in_network": True, "referral": False,
                        "medical_necessity_letter": False, "prior_authorization": False,
                        "conservative_therapy_documented": False, "patient_age": 72, "billed_amount": 500.0}


def without_prefetch(call: dict, fhir_server: str, token: str) -> dict:
    """The same call with no prefetch: the service reads it all from the FHIR server."""
    call = copy.deepcopy(call)
    call.pop("prefetch")
    call["fhirServer"] = fhir_server
    call["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                 "scope": "user/Patient.read user/Coverage.read user/Condition.read "
                                          "user/DocumentReference.read", "subject": "cds-service"}
    return call
