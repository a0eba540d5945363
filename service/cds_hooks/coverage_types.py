"""What a FHIR Coverage and a place of service say in the claims contract's words.

The tables are interoperability facts, each with its source; a code outside them is not mapped
(the answer says so) rather than read as the nearest plan type.

- Coverage.type in US Core's payer type, the Source of Payment Typology (SOPT, PHDSC/NAHDO,
  version 9; US Core Coverage binds `http://terminology.hl7.org/ValueSet/payer-type`, system
  `urn:oid:2.16.840.1.113883.3.221.5`). A category code that does not say which kind of plan it is
  (`1` Medicare, `5` private insurance) is not mapped: traditional Medicare and Medicare Advantage
  are judged by different rules (prior authorization, ABNs), so the difference is never guessed.
  SOPT has no high-deductible code; HDHP comes only from ActCode or the text.
- HL7 v3 ActCode's managed-care policy codes (`http://terminology.hl7.org/CodeSystem/v3-ActCode`).
- Coverage.type.text, when it is exactly one plan's usual name (case and blanks aside).
- The place of service: CMS place-of-service codes (`https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set`),
  the contract's own (features.contract.DEFAULT_PLACE_OF_SERVICE read backwards, with the office
  as the office's facility), and HL7 v3 RoleCode service delivery location types.
"""
from __future__ import annotations

from features.contract import DEFAULT_PLACE_OF_SERVICE, PLAN_TYPES

SOPT_SYSTEMS = ("urn:oid:2.16.840.1.113883.3.221.5", "https://nahdo.org/sopt")
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
POS_SYSTEMS = ("https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
               "http://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set")
ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

# SOPT code -> plan type (the codes a med-spa order meets; the rest stay unmapped)
SOPT_PLAN_TYPES = {
    "11": "medicare_advantage", "111": "medicare_advantage", "112": "medicare_advantage",
    "113": "medicare_advantage", "119": "medicare_advantage",  # Medicare (managed care): Part C
    "12": "medicare", "121": "medicare", "129": "medicare",  # Medicare (non-managed care): fee-for-service
    "2": "medicaid", "21": "medicaid", "211": "medicaid", "212": "medicaid", "213": "medicaid", "219": "medicaid",
    "22": "medicaid", "23": "medicaid", "25": "medicaid", "29": "medicaid",
    "511": "hmo", "512": "ppo", "513": "pos", "514": "epo",  # commercial managed care
}
ACT_CODE_PLAN_TYPES = {"HMO": "hmo", "PPO": "ppo", "POS": "pos"}
TEXT_PLAN_TYPES = {
    "medicare": "medicare", "original medicare": "medicare", "traditional medicare": "medicare",
    "medicare fee-for-service": "medicare", "medicare advantage": "medicare_advantage",
    "medicare part c": "medicare_advantage", "medicaid": "medicaid", "hmo": "hmo", "ppo": "ppo", "pos": "pos",
    "epo": "epo", "hdhp": "hdhp", "high deductible health plan": "hdhp", "high-deductible health plan": "hdhp",
}
assert set(SOPT_PLAN_TYPES.values()) | set(ACT_CODE_PLAN_TYPES.values()) | set(TEXT_PLAN_TYPES.values()) \
    <= set(PLAN_TYPES)

# CMS place-of-service code -> facility type: the contract's defaults read backwards; 11 (office)
# is a physician's office (a med spa bills as an office too: the contract cannot tell them apart
# from the code, and the answer says the facility came from the code)
OFFICE_FACILITY = "physician_office"
POS_FACILITIES = {"11": OFFICE_FACILITY, "19": "hospital_outpatient",
                  **{code: facility for facility, code in DEFAULT_PLACE_OF_SERVICE.items() if code != "11"}}
# HL7 v3 RoleCode service delivery locations -> facility type
ROLE_CODE_FACILITIES = {"DERM": "dermatology_clinic", "PC": "primary_care_clinic", "FMC": "primary_care_clinic",
                        "GIM": "primary_care_clinic"}


def plan_type_of(codings: list[tuple[str | None, str | None]], text: str | None) -> str | None:
    """The plan type a Coverage.type names through (system, code) pairs or its text, else None.
    Codes win over text; two codes naming different plan types name none."""
    found = {SOPT_PLAN_TYPES.get(code or "") if system in SOPT_SYSTEMS else
             ACT_CODE_PLAN_TYPES.get(code or "") if system == ACT_CODE_SYSTEM else None
             for system, code in codings} - {None}
    if found:
        return found.pop() if len(found) == 1 else None
    return TEXT_PLAN_TYPES.get(" ".join((text or "").lower().split()))


def facility_of_place(code: str | None) -> str | None:
    return POS_FACILITIES.get((code or "").strip())


def facility_of_role(code: str | None) -> str | None:
    return ROLE_CODE_FACILITIES.get((code or "").strip().upper())
