"""The treatment catalog: one row per treatment key, loaded from a CSV a policy analyst can edit.

Each row names its procedure codes, whether the treatment is cosmetic by default, the ICD-10-CM
codes (exact, or prefixes ending in `*`) under which payers cover it, the conditions they attach,
and the public source. `load_catalog()` validates the file and answers lookups by key or by code.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from features.diagnosis import DiagnosisTable, load_table, normalise_code, with_dot

CATALOG_FILE = "treatment_catalog.csv"
UNLISTED = "unlisted"  # the treatment key of a valid code that no catalog row names

# CPT (5 digits, or 4 digits and F/T/U), HCPCS Level II (A-V and 4 digits), CDT (D and 4 digits).
_PROCEDURE_CODE_SHAPE = re.compile(r"^(\d{5}|\d{4}[FTU]|[A-V]\d{4})$")
CATEGORIES = ("injectable", "laser", "skin", "vein", "eyelid", "hair", "therapy", "weight", "dental", "spa")
SETTINGS = ("", "primary_care")


class CatalogError(ValueError):
    """The catalog file is malformed: the message names the row and column."""


class TreatmentLookupError(ValueError):
    """A claim's treatment / procedure_code cannot be resolved; `field` names the culprit."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


@dataclass(frozen=True)
class Treatment:
    key: str
    category: str
    description: str
    procedure_codes: tuple[str, ...]
    cosmetic_by_default: bool
    covered_diagnoses: tuple[str, ...]  # dotless; a trailing * marks a prefix
    covered_requires_also: tuple[str, ...]  # one of these must also be present, when given
    requires_prior_authorization: bool
    requires_conservative_therapy: bool
    min_weeks_between: float | None
    min_age: int | None
    required_setting: str
    never_covered_carc: str
    conditions: str
    source: str

    @property
    def never_covered(self) -> bool:
        return bool(self.never_covered_carc)

    def covers(self, code: str) -> bool:
        """Is this dotless ICD-10-CM code one under which the treatment is covered?"""
        return any(_pattern_matches(pattern, code) for pattern in self.covered_diagnoses)

    def may_cover_header(self, header: str) -> bool:
        """Could a more specific code under this header code be a covered one?"""
        return any(pattern.rstrip("*").startswith(header) or _pattern_matches(pattern, header)
                   for pattern in self.covered_diagnoses)

    def requirement_met(self, codes) -> bool:
        return not self.covered_requires_also or any(
            _pattern_matches(pattern, code) for pattern in self.covered_requires_also for code in codes)


@dataclass(frozen=True)
class ResolvedTreatment:
    """What a claim's treatment / procedure_code pair resolved to."""

    key: str  # a catalog key, or UNLISTED
    procedure_code: str | None
    unlisted: bool


@dataclass(frozen=True)
class TreatmentCatalog:
    treatments: dict[str, Treatment]
    treatments_by_code: dict[str, tuple[str, ...]] = field(repr=False)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.treatments)

    def __getitem__(self, key: str) -> Treatment:
        return self.treatments[key]

    def by_code(self, procedure_code: str) -> tuple[Treatment, ...]:
        return tuple(self.treatments[key] for key in self.treatments_by_code.get(procedure_code.strip().upper(), ()))

    def resolve(self, treatment: str | None, procedure_code: str | None) -> ResolvedTreatment:
        """Resolve a claim's pair; raise TreatmentLookupError naming the field at fault."""
        code = procedure_code.strip().upper() if procedure_code else None
        if code is not None and not _PROCEDURE_CODE_SHAPE.match(code):
            raise TreatmentLookupError(
                "procedure_code", "must be a CPT (5 digits, or 4 digits and F/T/U), HCPCS Level II (A-V and 4 digits) or CDT (D and 4 digits) code")
        if treatment:
            if treatment not in self.treatments:
                raise TreatmentLookupError("treatment", f"must be one of the catalog keys: {', '.join(self.keys)}")
            if code is not None and code in self.treatments_by_code and treatment not in self.treatments_by_code[code]:
                owners = ", ".join(self.treatments_by_code[code])
                raise TreatmentLookupError("procedure_code", f"belongs to {owners}, which disagrees with the given treatment")
            return ResolvedTreatment(treatment, code, unlisted=False)
        if code is None:
            raise TreatmentLookupError("treatment", "one of treatment or procedure_code is required")
        owners = self.treatments_by_code.get(code, ())
        if len(owners) == 1:
            return ResolvedTreatment(owners[0], code, unlisted=False)
        if len(owners) > 1:
            raise TreatmentLookupError(
                "treatment", f"is required: the procedure code is shared by {', '.join(owners)}")
        return ResolvedTreatment(UNLISTED, code, unlisted=True)

    def to_records(self) -> list[dict]:
        """The catalog as JSON-ready rows (for GET /v1/treatments and reports)."""
        return [
            {
                "treatment": t.key,
                "category": t.category,
                "description": t.description,
                "procedure_codes": list(t.procedure_codes),
                "cosmetic_by_default": t.cosmetic_by_default,
                "covered_diagnoses": [readable_pattern(p) for p in t.covered_diagnoses],
                "conditions": t.conditions,
                "source": t.source,
            }
            for t in self.treatments.values()
        ]


def _pattern_matches(pattern: str, code: str) -> bool:
    if pattern.endswith("*"):
        return code.startswith(pattern[:-1])
    return code == pattern


def readable_pattern(pattern: str) -> str:
    """`G437*` -> `G43.7*`: a covered-diagnosis pattern as people write it."""
    return with_dot(pattern.rstrip("*")) + ("*" if pattern.endswith("*") else "")


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split(";") if part.strip())


def _parse_bool(cell: str, where: str) -> bool:
    if cell.strip().lower() in ("true", "false"):
        return cell.strip().lower() == "true"
    raise CatalogError(f"{where}: expected true or false")


def _parse_diagnosis_patterns(cell: str, where: str, table: DiagnosisTable) -> tuple[str, ...]:
    patterns = []
    for raw in _split(cell):
        pattern = normalise_code(raw)
        stem = pattern.rstrip("*")
        known = any(code.startswith(stem) for code in table.codes) if pattern.endswith("*") else table.is_known(stem)
        if not known:
            raise CatalogError(f"{where}: {raw} matches no ICD-10-CM code")
        patterns.append(pattern)
    return tuple(patterns)


def parse_catalog(rows, table: DiagnosisTable | None = None) -> TreatmentCatalog:
    """Validate catalog rows (dicts of strings) into a TreatmentCatalog."""
    table = table or load_table()
    treatments: dict[str, Treatment] = {}
    by_code: dict[str, list[str]] = {}
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        where = f"{CATALOG_FILE} row {number}"
        key = row["treatment"].strip()
        if not key or key in treatments:
            raise CatalogError(f"{where}: treatment key missing or repeated")
        if row["category"] not in CATEGORIES:
            raise CatalogError(f"{where}, category: must be one of {', '.join(CATEGORIES)}")
        if row["required_setting"] not in SETTINGS:
            raise CatalogError(f"{where}, required_setting: must be empty or one of {', '.join(SETTINGS[1:])}")
        if not row["source"].strip():
            raise CatalogError(f"{where}, source: every row cites a public source")
        codes = _split(row["procedure_codes"])
        for code in codes:
            if not _PROCEDURE_CODE_SHAPE.match(code):
                raise CatalogError(f"{where}, procedure_codes: {code} is not a CPT, HCPCS or CDT code")
            by_code.setdefault(code, []).append(key)
        treatments[key] = Treatment(
            key=key,
            category=row["category"],
            description=row["description"].strip(),
            procedure_codes=codes,
            cosmetic_by_default=_parse_bool(row["cosmetic_by_default"], f"{where}, cosmetic_by_default"),
            covered_diagnoses=_parse_diagnosis_patterns(row["covered_diagnoses"], f"{where}, covered_diagnoses", table),
            covered_requires_also=_parse_diagnosis_patterns(row["covered_requires_also"], f"{where}, covered_requires_also", table),
            requires_prior_authorization=_parse_bool(row["requires_prior_authorization"], f"{where}, requires_prior_authorization"),
            requires_conservative_therapy=_parse_bool(row["requires_conservative_therapy"], f"{where}, requires_conservative_therapy"),
            min_weeks_between=float(row["min_weeks_between"]) if row["min_weeks_between"] else None,
            min_age=int(row["min_age"]) if row["min_age"] else None,
            required_setting=row["required_setting"],
            never_covered_carc=row["never_covered_carc"].strip(),
            conditions=row["conditions"].strip(),
            source=row["source"].strip(),
        )
    return TreatmentCatalog(treatments, {code: tuple(keys) for code, keys in by_code.items()})


@lru_cache(maxsize=1)
def load_catalog() -> TreatmentCatalog:
    """The project's catalog, parsed and validated once per process."""
    with resources.files("features.data").joinpath(CATALOG_FILE).open(encoding="utf-8", newline="") as handle:
        return parse_catalog(list(csv.DictReader(handle)))
