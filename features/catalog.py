"""The treatment catalog: one row per treatment key, loaded from a CSV a policy analyst can edit.

Each row names its procedure codes, whether the treatment is cosmetic by default, the ICD-10-CM
codes (exact, or prefixes ending in `*`) under which payers cover it, the conditions they attach,
and the public source. `load_catalog()` validates the file and answers lookups by key or by code.

Billing overlaps, so rows may share a code (17999 is laser hair removal or tattoo removal). A
claim that gives only a shared code is read from its diagnoses when exactly one of the code's
treatments covers one of them; otherwise its treatment stays unresolved, written as the composite
key of every candidate (`laser_hair_removal|tattoo_removal`), and rules, facts and features hold
it only to what all candidates have in common (`candidates`, `shared_traits`).
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from features.contract import did_you_mean
from features.diagnosis import DiagnosisTable, load_table, normalise_code, with_dot

CATALOG_FILE = "treatment_catalog.csv"
UNLISTED = "unlisted"  # the treatment key of a valid code that no catalog row names
# Joins the candidate keys of an unresolved shared code; the rule table's `treatment:a|b` reads alike.
COMPOSITE_SEPARATOR = "|"

# CPT (5 digits, or 4 digits and F/T/U), HCPCS Level II (A-V and 4 digits), CDT (D and 4 digits).
_PROCEDURE_CODE_SHAPE = re.compile(r"^(\d{5}|\d{4}[FTU]|[A-V]\d{4})$")
CATEGORIES = ("injectable", "laser", "skin", "vein", "eyelid", "hair", "therapy", "weight", "dental", "spa")
SETTINGS = ("", "primary_care")
# The facilities that satisfy a row's required_setting (NCD 210.12: a primary-care setting). The
# same facility is where a gatekeeper plan's primary care physician sees the patient, so no
# referral is asked for there.
SETTING_FACILITIES = {"primary_care": ("primary_care_clinic",)}


class CatalogError(ValueError):
    """The catalog file is malformed: the message names the row and column."""


class TreatmentLookupError(ValueError):
    """A claim's treatment / procedure_code cannot be resolved; `field` names the culprit."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        self.message = message  # without the field's name, for whoever names the field beside it
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
        return any(pattern_matches(pattern, code) for pattern in self.covered_diagnoses)

    def may_cover_header(self, header: str) -> bool:
        """Could a more specific code under this header code be a covered one?"""
        return any(pattern.rstrip("*").startswith(header) or pattern_matches(pattern, header)
                   for pattern in self.covered_diagnoses)

    def requirement_met(self, codes) -> bool:
        return not self.covered_requires_also or any(
            pattern_matches(pattern, code) for pattern in self.covered_requires_also for code in codes)

    def covered_by(self, codes) -> bool:
        """Do these dotless codes include one the treatment is covered under, with what it also needs?"""
        return any(self.covers(code) for code in codes) and self.requirement_met(codes)


@dataclass(frozen=True)
class SharedTraits:
    """What every candidate treatment of a key has in common. An unresolved claim may be any of
    them, so it is held only to a requirement each of them imposes: a feature or rule never
    claims a requirement the claim may not have."""

    category: str  # "" when the candidates' categories differ
    cosmetic_by_default: bool
    requires_prior_authorization: bool
    requires_conservative_therapy: bool
    min_weeks_between: float | None  # the least of the candidates' minimums; None when one has none
    min_age: int | None  # likewise
    required_setting: str  # "" unless every candidate requires the same one


@dataclass(frozen=True)
class TreatmentWarning:
    """Something the caller should know about a kept claim; names no value (patient data)."""

    field: str
    kind: str  # short, counted in the load report: "unlisted code"
    message: str  # what it means for the answer


UNLISTED_CODE = TreatmentWarning(
    "procedure_code", "unlisted code",
    "no treatment of the catalog lists this code: it is answered as an unlisted treatment, without the "
    "catalog's coverage conditions")
UNPAIRED_CODE = TreatmentWarning(
    "procedure_code", "not listed for the treatment",
    "the catalog does not list this code for the given treatment: it is answered as the given treatment, "
    "with the code as given")
UNRESOLVED_TREATMENT = TreatmentWarning(
    "treatment", "unresolved shared code",
    "the procedure code is billed for several catalog treatments and no diagnosis tells which: it is answered "
    "as any of them, held only to the conditions they all share")


@dataclass(frozen=True)
class ResolvedTreatment:
    """What a claim's treatment / procedure_code pair resolved to."""

    key: str  # a catalog key, UNLISTED, or the composite key of an unresolved shared code
    procedure_code: str | None
    unlisted: bool

    @property
    def unresolved(self) -> bool:
        return is_composite(self.key)


# treatment keys whose shared traits a catalog keeps (catalog keys and composites are a few dozen;
# the bound keeps a stream of unknown keys from growing it)
MAX_KEPT_TRAITS = 1024


@dataclass(frozen=True)
class TreatmentCatalog:
    treatments: dict[str, Treatment]
    treatments_by_code: dict[str, tuple[str, ...]] = field(repr=False)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.treatments)

    def __getitem__(self, key: str) -> Treatment:
        return self.treatments[key]

    @property
    def composite_keys(self) -> tuple[str, ...]:
        """The composite key of every code that several treatments share, sorted."""
        return tuple(sorted({composite_key(keys) for keys in self.treatments_by_code.values() if len(keys) > 1}))

    def by_code(self, procedure_code: str) -> tuple[Treatment, ...]:
        return tuple(self.treatments[key] for key in self.treatments_by_code.get(procedure_code.strip().upper(), ()))

    def candidates(self, key) -> tuple[Treatment, ...]:
        """The treatments a claim's key may stand for: one for a catalog key, every candidate for a
        composite key, none for UNLISTED or any other value."""
        if not isinstance(key, str):
            return ()
        found = tuple(self.treatments.get(part) for part in key.split(COMPOSITE_SEPARATOR))
        return () if None in found else found

    def shared_traits(self, key) -> SharedTraits | None:
        """What all of the key's candidates have in common; None when it has none (UNLISTED). Kept
        per key: a loaded catalog does not change, and one answer asks for a key's traits often."""
        kept = self.__dict__.setdefault("_kept_traits", {})  # frozen: the memo is not a field
        if isinstance(key, str) and key in kept:
            return kept[key]
        traits = self._traits_of(key)
        if isinstance(key, str) and len(kept) < MAX_KEPT_TRAITS:
            kept[key] = traits
        return traits

    def _traits_of(self, key) -> SharedTraits | None:
        candidates = self.candidates(key)
        if not candidates:
            return None
        return SharedTraits(
            category=_common({t.category for t in candidates}, ""),
            cosmetic_by_default=all(t.cosmetic_by_default for t in candidates),
            requires_prior_authorization=all(t.requires_prior_authorization for t in candidates),
            requires_conservative_therapy=all(t.requires_conservative_therapy for t in candidates),
            min_weeks_between=_least([t.min_weeks_between for t in candidates]),
            min_age=_least([t.min_age for t in candidates]),
            required_setting=_common({t.required_setting for t in candidates}, ""),
        )

    def resolve(self, treatment: str | None, procedure_code: str | None,
                diagnosis_codes=()) -> ResolvedTreatment:
        """Resolve a claim's pair; raise TreatmentLookupError naming the field at fault.

        A given treatment stays the treatment, whatever the code (`warnings` flags a pair the
        catalog does not list). A code alone names its treatment; a code several treatments share
        is read from `diagnosis_codes` (dotless, as features.diagnosis.validate_codes returns them)
        or stays unresolved (a composite key).
        """
        code = procedure_code.strip().upper() if procedure_code else None
        if code is not None and not _PROCEDURE_CODE_SHAPE.match(code):
            raise TreatmentLookupError(
                "procedure_code", "must be a CPT (5 digits, or 4 digits and F/T/U), HCPCS Level II (A-V and 4 digits) or CDT (D and 4 digits) code")
        if treatment:
            if treatment not in self.treatments:
                raise TreatmentLookupError("treatment", f"must be one of the catalog keys{did_you_mean(treatment, self.keys)}: "
                                                        f"{', '.join(self.keys)}")
            return ResolvedTreatment(treatment, code, unlisted=False)
        if code is None:
            raise TreatmentLookupError("treatment", "one of treatment or procedure_code is required")
        owners = self.treatments_by_code.get(code, ())
        if not owners:
            return ResolvedTreatment(UNLISTED, code, unlisted=True)
        return ResolvedTreatment(self._read_from_diagnoses(owners, diagnosis_codes), code, unlisted=False)

    def _read_from_diagnoses(self, owners: tuple[str, ...], diagnosis_codes) -> str:
        """The one owner of a code that a diagnosis of the claim is covered under; else all of them."""
        if len(owners) == 1:
            return owners[0]
        codes = list(diagnosis_codes)
        covering = [key for key in owners if self.treatments[key].covered_by(codes)]
        return covering[0] if len(covering) == 1 else composite_key(owners)

    def warnings(self, key: str, procedure_code: str | None) -> tuple[TreatmentWarning, ...]:
        """What a kept claim of this resolved key and code should be told: an unlisted code, a
        code the catalog does not list for the given treatment, an unresolved shared code."""
        if key == UNLISTED:
            return (UNLISTED_CODE,)
        if is_composite(key):
            return (UNRESOLVED_TREATMENT,)
        treatment = self.treatments.get(key)
        if procedure_code and treatment is not None and procedure_code not in treatment.procedure_codes:
            return (UNPAIRED_CODE,)
        return ()

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


def composite_key(keys) -> str:
    """The key of an unresolved claim: its candidates' keys, sorted, joined by COMPOSITE_SEPARATOR."""
    return COMPOSITE_SEPARATOR.join(sorted(set(keys)))


def is_composite(key) -> bool:
    return isinstance(key, str) and COMPOSITE_SEPARATOR in key


def _common(values: set, otherwise):
    return next(iter(values)) if len(values) == 1 else otherwise


def _least(values: list):
    """The smallest of the values, or None when one of them is None (no requirement there)."""
    return None if any(value is None for value in values) else min(values)


def pattern_matches(pattern: str, code: str) -> bool:
    """A diagnosis pattern of the domain tables (`L57.0`, or `G437*` for a code family) against a code."""
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


def parse_diagnosis_patterns(cell: str, where: str, table: DiagnosisTable) -> tuple[str, ...]:
    """A table cell of `;`-separated diagnosis patterns, each checked to match some ICD-10-CM code."""
    patterns = []
    for raw in _split(cell):
        pattern = normalise_code(raw)
        stem = pattern.rstrip("*")
        known = table.has_code_starting(stem) if pattern.endswith("*") else table.is_known(stem)
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
        if COMPOSITE_SEPARATOR in key:  # it joins the candidates of an unresolved claim
            raise CatalogError(f"{where}: a treatment key may not contain {COMPOSITE_SEPARATOR}")
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
            covered_diagnoses=parse_diagnosis_patterns(row["covered_diagnoses"], f"{where}, covered_diagnoses", table),
            covered_requires_also=parse_diagnosis_patterns(row["covered_requires_also"], f"{where}, covered_requires_also", table),
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
