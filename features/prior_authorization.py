"""Prior authorization as a fact of the plan, the setting and the service.

The table (features/data/prior_authorization.csv) is read top down and the first row that matches
a claim decides: its plan types, treatments, procedure codes and places of service (`*` or empty:
any), and `requires`: `yes`, `no`, or `catalog` (the treatment catalog's requires_prior_authorization,
which is what Medicare Advantage, commercial plans and Medicaid ask for these treatments). Every
row names its source. `requirement(...)` is the one function that applies it (`required_for`
many claims at once): the features, the advice and `coverage_information`, and the demo world's
visits and payer all ask it.

The version that travels with the model info is the declared version plus a hash of the table,
as for the exclusion rules.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from features.catalog import TreatmentCatalog, load_catalog
from features.contract import FACILITY_TYPES, PLAN_TYPES, default_place_of_service
from features.tables import read_table, table_version

TABLE_FILE = "prior_authorization.csv"
VERSION_FILE = "prior_authorization_version.txt"
ANY = "*"
REQUIRES = ("yes", "no", "catalog")


class AuthorizationTableError(ValueError):
    """The table is malformed: the message names the row and column."""


@dataclass(frozen=True)
class Requirement:
    """Whether the plan asks for prior authorization of this claim: True, False, or None when it
    depends on which treatment an unresolved shared code is (or the treatment is unlisted)."""

    required: bool | None
    source: str


@dataclass(frozen=True)
class AuthorizationRow:
    plan_types: frozenset
    treatments: frozenset
    procedure_codes: frozenset
    places_of_service: frozenset
    requires: str
    source: str

    def matches(self, plan_type: str, treatment: str, procedure_code: str, place_of_service: str) -> bool:
        # An unresolved claim (a composite key) matches a treatment row only when every candidate is listed.
        return (_within(self.plan_types, {plan_type}) and _within(self.treatments, set(treatment.split("|")))
                and _within(self.procedure_codes, {procedure_code}) and _within(self.places_of_service, {place_of_service}))


@dataclass(frozen=True)
class AuthorizationTable:
    rows: tuple[AuthorizationRow, ...]
    version: str

    def requirement(self, plan_type, treatment, procedure_code, place_of_service, facility_type=None) -> Requirement:
        """The first matching row's answer for one claim; a blank place of service follows the facility."""
        place = _text(place_of_service) or (default_place_of_service(_text(facility_type))
                                            if _text(facility_type) in FACILITY_TYPES else "")
        return _requirement(self, _text(plan_type), _text(treatment), _text(procedure_code).upper(), place)


def required_for(plan_types, treatments, procedure_codes, places_of_service, facility_types,
                 table: AuthorizationTable | None = None) -> np.ndarray:
    """Bool per claim: the plan asks for prior authorization (True, not None). Aligned arrays of
    text; worked out once per distinct combination, so a million claims cost a few hundred lookups."""
    table = table or load_authorization_table()
    keys = pd.MultiIndex.from_arrays([pd.Series(np.asarray(values, dtype=object)).fillna("").astype(str)
                                      for values in (plan_types, treatments, procedure_codes, places_of_service,
                                                     facility_types)])
    index, distinct = pd.factorize(keys)
    answers = np.array([table.requirement(*values).required is True for values in distinct] + [False])
    return answers[index]


def _text(value) -> str:
    """A claim's text value as the table writes it: "" for a missing one (None, NaN)."""
    return value.strip() if isinstance(value, str) else ""


def _within(allowed: frozenset, values: set) -> bool:
    return not allowed or values <= allowed


@lru_cache(maxsize=4096)
def _requirement(table: AuthorizationTable, plan_type: str, treatment: str, code: str, place: str) -> Requirement:
    for row in table.rows:
        if not row.matches(plan_type, treatment, code, place):
            continue
        if row.requires != "catalog":
            return Requirement(row.requires == "yes", row.source)
        candidates = load_catalog().candidates(treatment)
        if not candidates:
            return Requirement(None, row.source)
        asks = {candidate.requires_prior_authorization for candidate in candidates}
        return Requirement(asks.pop() if len(asks) == 1 else None, row.source)
    return Requirement(False, "no row of the prior-authorization table matches")


def _cell(cell: str, where: str, allowed=None) -> frozenset:
    values = frozenset(part.strip() for part in (cell or "").split(";") if part.strip())
    if values == {ANY}:
        return frozenset()
    if ANY in values:
        raise AuthorizationTableError(f"{where}: {ANY} stands alone")
    if allowed is not None and not values <= set(allowed):
        raise AuthorizationTableError(f"{where}: must be {ANY} or among {', '.join(sorted(allowed))}")
    return values


def parse_table(rows, declared_version: str, table_text: str,
                catalog: TreatmentCatalog | None = None) -> AuthorizationTable:
    catalog = catalog or load_catalog()
    parsed = []
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        where = f"{TABLE_FILE} row {number}"
        requires = (row.get("requires") or "").strip()
        if requires not in REQUIRES:
            raise AuthorizationTableError(f"{where}, requires: must be one of {', '.join(REQUIRES)}")
        if not (row.get("source") or "").strip():
            raise AuthorizationTableError(f"{where}, source: every row cites a public source")
        parsed.append(AuthorizationRow(
            plan_types=_cell(row["plan_types"], f"{where}, plan_types", PLAN_TYPES),
            treatments=_cell(row["treatments"], f"{where}, treatments", catalog.keys),
            procedure_codes=frozenset(code.upper() for code in _cell(row["procedure_codes"], f"{where}, procedure_codes")),
            places_of_service=_cell(row["places_of_service"], f"{where}, places_of_service"),
            requires=requires, source=row["source"].strip()))
    if not parsed or any(parsed[-1].plan_types | parsed[-1].treatments | parsed[-1].procedure_codes
                         | parsed[-1].places_of_service):
        raise AuthorizationTableError(f"{TABLE_FILE}: the last row must match every claim (* everywhere)")
    return AuthorizationTable(tuple(parsed), table_version(declared_version, table_text))


@lru_cache(maxsize=1)
def load_authorization_table() -> AuthorizationTable:
    """The project's prior-authorization table, validated once per process."""
    return parse_table(*read_table(TABLE_FILE, VERSION_FILE))
