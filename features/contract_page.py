"""The claims data contract as a page for people: `docs/contract.md`, written from the tables of
`features.contract` (and the catalog's treatment keys), so the page a data team reads and the
checks a file meets cannot drift apart. `python -m service.docs_pages` writes it; a test fails
when the committed page differs from what the code says.

The words of each field are the contract's own (../shared/specs/claims-contract.md); the types,
requirements, defaults, bounds and allowed values come from the code.
"""
from __future__ import annotations

from features import contract
from features.catalog import load_catalog

# What each field means, in the contract's words. The page refuses to render a field without one.
FIELD_NOTES = {
    "claim_id": "opaque id, echoed back; unique in a history",
    "service_date": "used for time-ordered splits; a request without one is for today",
    "treatment": "key of the treatment catalog (below); one of `treatment` / `procedure_code` is required",
    "procedure_code": "CPT, HCPCS Level II or CDT code: `64615`, `J0585`, `G0447`, `D9972`, `17999`; "
                      "one of `treatment` / `procedure_code` is required",
    "diagnosis_codes": "ICD-10-CM codes, primary first; dots optional (`G43.709` = `G43709`); "
                       "CSV: one string joined by `;`; may be empty",
    "plan_type": "the plan's type",
    "benefit_scope": "`comprehensive` (medical services wherever delivered) or `office_only` "
                     "(only services at a doctor's office)",
    "facility_type": "where the service is delivered",
    "place_of_service": "two-digit CMS place-of-service code (`11`, `49`, `19`, `22`, `24`); "
                        "default follows `facility_type`",
    "in_network": "the provider is in the plan's network",
    "referral": "a physician referral is on file",
    "medical_necessity_letter": "a letter of medical necessity is attached",
    "prior_authorization": "prior authorization was obtained",
    "conservative_therapy_documented": "failed first-line therapy is documented (topicals, compression, ...)",
    "visit_number": "1 = initial visit of a course; more than 1 = ongoing treatment",
    "weeks_since_last_treatment": "empty when there was no earlier treatment",
    "patient_age": "years",
    "billed_amount": "USD",
    "benefit_limit": "the plan's dollar limit for this benefit category; empty = no limit",
    "benefit_used": "USD already paid against that limit",
    "allowed_amount": "USD the plan allows for this service (its fee schedule or contract rate); "
                      "the plan pays from it, not from the billed amount; empty = unknown",
    "deductible_remaining": "USD of the patient's deductible not yet met this year; empty = unknown",
    "coinsurance_rate": "the patient's share of the allowed amount after the deductible (0.2 = 20%); "
                        "empty = unknown",
    "copay": "a fixed amount the patient pays for this visit instead of coinsurance; empty = unknown",
}
OUTCOME_NOTES = {
    "outcome": ("string", ", ".join(f"`{value}`" for value in contract.OUTCOMES)),
    "paid_amount": ("number >= 0", "USD paid by the plan"),
    "denial_reason": ("string", "X12 CARC code when denied or partial (`50`, `96`, `197`, `119`, `11`, ...); "
                                "empty when approved"),
}
# What each version of the contract changed, newest last.
CHANGES = (
    ("v1", "the visit and outcome fields"),
    ("v1.1", "four optional patient-cost fields (`allowed_amount`, `deductible_remaining`, `coinsurance_rate`, "
             "`copay`): a v1 file is a valid v1.1 file; they say what the patient will owe and are not "
             "needed to predict approval"),
)
KIND_WORDS = {"string": "text", "date": "date `YYYY-MM-DD`", "code": "code", "codes": "list of codes",
              "enum": "one of a list", "bool": "true / false", "int": "integer", "number": "number"}


def _required(history: bool, request: bool) -> str:
    if history and request:
        return "yes"
    return "history: yes; request: no" if history else "no"


def _values(name: str, kind: str) -> str:
    if name in contract.ENUM_VALUES:
        return ", ".join(f"`{value}`" for value in contract.ENUM_VALUES[name])
    if name in contract.NUMBER_BOUNDS:
        lower, upper = contract.NUMBER_BOUNDS[name]
        return f"{lower} to {upper}" if upper is not None else f">= {lower}"
    return ""


def _default(default) -> str:
    if default is None or default == ():
        return ""
    return f"`{str(default).lower()}`" if isinstance(default, bool) else f"`{default}`"


def field_rows() -> list[str]:
    missing = [name for name in contract.VISIT_FIELDS if name not in FIELD_NOTES]
    if missing:
        raise KeyError(f"features.contract_page.FIELD_NOTES has no words for {', '.join(missing)}")
    rows = ["| field | type | required | values | default | meaning |", "|---|---|---|---|---|---|"]
    for name, (kind, history, request, default) in contract.VISIT_FIELDS.items():
        rows.append(f"| `{name}` | {KIND_WORDS[kind]} | {_required(history, request)} | {_values(name, kind)} "
                    f"| {_default(default)} | {FIELD_NOTES[name]} |")
    return rows


def render() -> str:
    """The whole of docs/contract.md."""
    catalog = load_catalog()
    true_words = " / ".join(f"`{word}`" for word in sorted(contract.TRUE_STRINGS))
    false_words = " / ".join(f"`{word}`" for word in sorted(contract.FALSE_STRINGS))
    lines = [
        f"# The claims data contract ({contract.CONTRACT_VERSION})",
        "",
        "<!-- Generated by `python -m service.docs_pages` from features/contract.py; edit those, not this page. -->",
        "",
        "One row of a CSV or Parquet file, or one JSON object of a request, is one claim line: one procedure",
        "for one patient visit. The same fields describe a historical claim (a training file) and a",
        "prediction request; the outcome fields exist only in history. Files are checked against exactly",
        "these tables: a row that breaks them is quarantined and counted with its reason, never dropped",
        "silently; a request that breaks them gets a 422 naming the field and what is allowed.",
        "",
        "## Visit fields (history and requests)",
        "",
        *field_rows(),
        "",
        "## Treatment keys",
        "",
        "A file may name any of these keys in `treatment` (more may be added, none renamed); a",
        "`procedure_code` alone is looked up in the same catalog.",
        "",
        "| key | what it is |",
        "|---|---|",
        *(f"| `{key}` | {treatment.description} |" for key, treatment in catalog.treatments.items()),
        "",
        "## Conventions",
        "",
        f"- CSV booleans accept {true_words} and {false_words}, in any case.",
        "- Unknown extra columns are ignored (and reported), never used as features.",
        "- Enumerations are read in any case (`PPO` = `ppo`); a value close to an allowed one gets a",
        "  \"did you mean\" in its error.",
        "",
        "## Outcome fields (history only)",
        "",
        "| field | type | values |",
        "|---|---|---|",
        *(f"| `{name}` | {kind} | {values} |" for name, (kind, values) in OUTCOME_NOTES.items()),
        "",
        f"The classifier's target is approval: `outcome` in {{{', '.join(contract.APPROVED_OUTCOMES)}}}.",
        "",
        "## Versions",
        "",
        *(f"- **{version}**: {change}" for version, change in CHANGES),
        "",
    ]
    return "\n".join(lines)
