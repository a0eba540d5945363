"""Every contract field of a raw claims chunk, parsed and checked once per distinct value.

Claims repeat their values (eight plan types, a few thousand dates and code lists), so each
column is factorised, each check runs on its distinct values, and the verdicts are spread back to
the rows by numpy indexing: a million rows cost one factorisation per column plus Python work
per distinct value. Reasons say what a field allows and never quote a value (patient data).
"""
from __future__ import annotations

# Over 400 lines on purpose: every field check of the contract in one place, so a file and a
# request can never be checked differently.

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.catalog import UNLISTED, TreatmentCatalog, TreatmentLookupError, is_composite, load_catalog
from features.claim_facts import join_codes, split_codes
from features.contract import (APPROVED_OUTCOMES, BOOL_FIELDS, CLEAN_COLUMNS, ENUM_VALUES,
                               FACILITY_TYPES, FALSE_STRINGS, MAX_EXACT_INTEGER, NUMBER_BOUNDS,
                               NUMBER_FIELDS, OUTCOME_FIELDS, TARGET, TRUE_STRINGS, VISIT_FIELDS,
                               default_place_of_service, did_you_mean, read_enum)
from features.diagnosis import (DiagnosisCodeError, DiagnosisTable, load_table, looks_like_code,
                                split_joined_codes, validate_codes)
from claims_io.quarantine import Problem

HISTORY_COLUMNS = CLEAN_COLUMNS + OUTCOME_FIELDS + (TARGET,)
# An extra column beside the contract's: when the payer adjudicated a served claim (written by
# `outcomes export-history`, read by training to let the newer outcome of a claim win).
ADJUDICATION_DATE = "adjudication_date"
OUTCOME_INDEX = {name: number for number, name in enumerate(ENUM_VALUES["outcome"])}
NO_VALUE = 0  # the slot of a column's distinct values that stands for null or blank
_DATE_SHAPE = r"\d{4}-\d{2}-\d{2}"
_PLACE_OF_SERVICE_SHAPE = r"\d{2}"
_BOOL_ALLOWED = "true/false, 1/0 or yes/no (any case)"


@dataclass(frozen=True)
class Distinct:
    """A column factorised: `index` maps each row to its entry in `values`.

    `values[0]` stands for "no value" (null, or a blank string); the other entries are the
    distinct values, strings stripped of surrounding blanks.
    """

    index: np.ndarray
    values: np.ndarray  # object
    kind: str  # of the source column: "U" strings only, "O" mixed objects, else the numpy dtype kind

    @classmethod
    def of(cls, column: pd.Series | None, row_count: int) -> Distinct:
        if column is None:  # an optional column the file does not have
            return cls(np.zeros(row_count, dtype=np.intp), np.array([None], dtype=object), "O")
        try:
            codes, uniques = pd.factorize(column)
        except TypeError:  # JSON lists or objects where a scalar belongs: compare their text
            codes, uniques = pd.factorize(column.map(lambda v: repr(v) if isinstance(v, (list, dict)) else v))
        texts = _stripped(uniques)
        merged, values = pd.factorize(texts)  # " ppo" and "ppo" are one value
        slot = merged + 1
        values = np.asarray(values, dtype=object)
        blank = np.flatnonzero(values == "")
        if blank.size:
            slot[merged == blank[0]] = NO_VALUE
        index = np.concatenate([[NO_VALUE], slot]).astype(np.intp)[codes + 1]
        kind = "U" if isinstance(column.dtype, pd.StringDtype) else \
            column.dtype.kind if isinstance(column.dtype, np.dtype) else "O"
        return cls(index, np.concatenate([np.array([None], dtype=object), values]), kind)

    @classmethod
    def per_row(cls, column: pd.Series) -> Distinct:
        """A numeric column (numpy ints or floats) with every row its own entry, NaN as no value:
        its values are nearly all distinct (amounts), and hashing them costs more than checking
        them all. `values` is then a float array (NaN in the "no value" slot)."""
        numbers = column.to_numpy(dtype=np.float64)
        index = np.arange(1, len(numbers) + 1, dtype=np.intp)
        index[np.isnan(numbers)] = NO_VALUE
        return cls(index, np.concatenate([[np.nan], numbers]), "f")

    @property
    def missing(self) -> np.ndarray:
        return self.index == NO_VALUE

    def spread(self, per_value: np.ndarray) -> np.ndarray:
        return per_value[self.index]


def _stripped(uniques: pd.Index) -> np.ndarray:
    if isinstance(uniques.dtype, pd.StringDtype):
        return uniques.str.strip().to_numpy(dtype=object)
    return np.array([value.strip() if isinstance(value, str) else value for value in uniques], dtype=object)


class ProblemList(list):
    """The problems of one chunk, one entry per (field, reason) with the rows that have it."""

    def add(self, field: str, kind: str, reason: str, rows: np.ndarray) -> None:
        positions = np.flatnonzero(rows)
        if positions.size:
            self.append(Problem(field, kind, reason, positions))

    def add_per_value(self, field: str, kind: str, reason: str, bad_values: np.ndarray, column: Distinct) -> None:
        if bad_values.any():
            self.add(field, kind, reason, column.spread(bad_values))


def allowed(field: str, catalog: TreatmentCatalog | None = None) -> str:
    """What a field allows, in the words every reason uses."""
    if field in ENUM_VALUES:
        return f"one of: {', '.join(ENUM_VALUES[field])} (any case)"
    if field in BOOL_FIELDS:
        return _BOOL_ALLOWED
    if field in NUMBER_BOUNDS:
        lower, upper = NUMBER_BOUNDS[field]
        noun = "an integer" if VISIT_FIELDS.get(field, ("number",))[0] == "int" else "a number"
        return f"{noun} from {lower} to {upper}" if upper is not None else f"{noun} >= {lower}"
    if field == "service_date":
        return "a date written YYYY-MM-DD"
    if field == "claim_id":
        return "an id, unique in the file"
    if field == "treatment":
        return f"one of the catalog keys: {', '.join((catalog or load_catalog()).keys)}"
    if field == "place_of_service":
        return "a two-digit CMS place-of-service code such as 11, 22 or 49"
    return "a value"


def unknown_value_reason(field: str, value) -> str:
    """An enumeration's value it does not hold, in the words of a file's reason and the API's
    message alike: what is allowed, and the allowed values close to it, never the value itself."""
    return f"must be {allowed(field)}{did_you_mean(value, ENUM_VALUES[field])}"


class ClaimsChunk:
    """Parses one raw chunk: `parse()` returns the clean columns (every row) and the problems.

    Afterwards `warnings` lists what kept rows should be told (an unlisted code, a code the
    catalog does not list for the given treatment, a shared code left unresolved), as Problems
    that quarantine nothing.
    """

    def __init__(self, raw: pd.DataFrame, *, history: bool, today: pd.Timestamp,
                 catalog: TreatmentCatalog | None = None, table: DiagnosisTable | None = None):
        self.raw = raw
        self.rows = len(raw)
        self.history = history
        self.today = np.datetime64(today.normalize().date(), "us")
        self.catalog = catalog or load_catalog()
        self.table = table or load_table()
        self.problems = ProblemList()
        self.warnings = ProblemList()

    def column(self, field: str) -> Distinct:
        return Distinct.of(self.raw[field] if field in self.raw.columns else None, self.rows)

    def required(self, field: str) -> bool:
        if field in OUTCOME_FIELDS:
            return field != "denial_reason"
        return VISIT_FIELDS[field][1 if self.history else 2]

    def check_present(self, field: str, column: Distinct) -> bool:
        """Flag rows without a value when the field is required; True when it is required."""
        return self.check_rows_present(field, column.missing)

    def check_rows_present(self, field: str, missing: np.ndarray) -> bool:
        """check_present, given the rows without a value."""
        if not self.required(field):
            return False
        self.problems.add(field, "missing value", f"a value is required: {allowed(field, self.catalog)}", missing)
        return True

    def parse(self) -> tuple[pd.DataFrame, ProblemList]:
        out = {}
        out["claim_id"] = self.claim_ids()
        out["service_date"] = self.dates("service_date")
        out["diagnosis_codes"] = self.diagnoses()
        out["treatment"], out["procedure_code"] = self.treatments(out["diagnosis_codes"])
        for field in ("plan_type", "benefit_scope", "facility_type"):
            out[field] = self.enum(field)
        out["place_of_service"] = self.places_of_service(out["facility_type"])
        for field in BOOL_FIELDS:
            out[field] = self.booleans(field)
        for field in NUMBER_FIELDS:
            out[field] = self.numbers(field)
        if self.history:
            out["outcome"] = self.enum("outcome")
            out["paid_amount"] = self.numbers("paid_amount")
            out["denial_reason"] = self.text_category("denial_reason")
            out[TARGET] = np.isin(out["outcome"].codes, [OUTCOME_INDEX[name] for name in APPROVED_OUTCOMES])
        columns = HISTORY_COLUMNS if self.history else CLEAN_COLUMNS
        return pd.DataFrame({name: out[name] for name in columns}), self.problems

    # -- one method per kind of field ---------------------------------------------------------

    def claim_ids(self) -> pd.api.extensions.ExtensionArray:
        given = self.raw["claim_id"] if "claim_id" in self.raw.columns else None
        if given is not None and isinstance(given.dtype, pd.StringDtype):
            # Ids are nearly all distinct, so factorising them buys nothing: strip and test every
            # row in one vectorised pass (the same strip Distinct gives text)
            ids = given.str.strip()
            missing = (ids.isna() | (ids == "")).to_numpy(dtype=bool)
            self.check_rows_present("claim_id", missing)
            return pd.array(ids.mask(missing), dtype="str")
        column = self.column("claim_id")
        self.check_present("claim_id", column)
        return pd.array(column.spread(_as_text(column)), dtype="str")

    def dates(self, field: str) -> np.ndarray:
        column = self.column(field)
        values = _as_dates(column.values)
        malformed = np.isnat(values)
        malformed[NO_VALUE] = False
        self.problems.add_per_value(field, "malformed date", f"must be {allowed(field)}", malformed, column)
        if not self.check_present(field, column):
            values[NO_VALUE] = self.today  # a request without a date is about today
        return column.spread(values)

    def enum(self, field: str) -> pd.Categorical:
        column = self.column(field)
        choices = ENUM_VALUES[field]
        position = {name: number for number, name in enumerate(choices)}
        codes = np.array([position.get(read_enum(field, value), -1) for value in column.values])
        unknown = codes < 0
        unknown[NO_VALUE] = False
        by_reason: dict[str, np.ndarray] = {}  # a suggestion per distinct value, as the API gives it
        for value in np.flatnonzero(unknown):
            reason = unknown_value_reason(field, column.values[value])
            by_reason.setdefault(reason, np.zeros(len(unknown), dtype=bool))[value] = True
        for reason, values in by_reason.items():
            self.problems.add_per_value(field, "unknown value", reason, values, column)
        self.check_present(field, column)
        return pd.Categorical.from_codes(column.spread(codes), categories=list(choices))

    def booleans(self, field: str) -> np.ndarray:
        column = self.column(field)
        states = np.array([_bool_state(value) for value in column.values], dtype=np.int8)
        invalid = states < 0
        invalid[NO_VALUE] = False
        self.problems.add_per_value(field, "not a boolean", f"must be {_BOOL_ALLOWED}", invalid, column)
        if not self.check_present(field, column):
            states[NO_VALUE] = int(bool(VISIT_FIELDS[field][3]))
        return column.spread(states == 1)

    def numbers(self, field: str) -> np.ndarray:
        given = self.raw[field] if field in self.raw.columns else None
        numeric = given is not None and isinstance(given.dtype, np.dtype) and given.dtype.kind in "iuf"
        column = Distinct.per_row(given) if numeric else self.column(field)
        values = _as_numbers(column)
        integer = VISIT_FIELDS.get(field, ("number",))[0] == "int"
        reason = f"must be {allowed(field)}"
        finite = np.isfinite(values)
        not_number = ~finite
        not_number[NO_VALUE] = False
        self.problems.add_per_value(field, "not a number", reason, not_number, column)
        usable = finite
        if integer:
            fractional = finite & ((values != np.floor(values)) | (np.abs(values) > MAX_EXACT_INTEGER))
            self.problems.add_per_value(field, "not an integer", reason, fractional, column)
            usable = finite & ~fractional
        lower, upper = NUMBER_BOUNDS.get(field, (None, None))
        out_of_range = usable & ((values < (-np.inf if lower is None else lower))
                                 | (values > (np.inf if upper is None else upper)))
        self.problems.add_per_value(field, "out of range", reason, out_of_range, column)
        if not self.check_present(field, column):
            default = VISIT_FIELDS[field][3]
            values[NO_VALUE] = np.nan if default is None else default
        if integer:
            return column.spread(np.where(np.isfinite(values), values, 0).astype(np.int64))
        return column.spread(values)

    def text_category(self, field: str) -> pd.Categorical:
        """An optional free-text code (denial_reason): the stripped text, "" when absent."""
        column = self.column(field)
        texts = _as_text(column)
        texts[NO_VALUE] = ""
        index, categories = pd.factorize(texts)
        return _categorical(column.spread(index), categories)

    def treatments(self, diagnoses: pd.Categorical) -> tuple[pd.Categorical, pd.Categorical]:
        """Resolve each distinct (treatment, procedure_code) pair through the catalog once; a shared
        code given alone once per distinct (pair, diagnosis list), as its diagnoses may name it."""
        treatment, code = self.column("treatment"), self.column("procedure_code")
        treatment_texts, code_texts = _as_text(treatment), _as_text(code)
        pair_index, pairs = pd.factorize(treatment.index.astype(np.int64) * len(code.values) + code.index)
        keys = self.catalog.keys + (UNLISTED,) + self.catalog.composite_keys
        key_position = {key: number for number, key in enumerate(keys)}
        pair_keys = np.full(len(pairs), -1, dtype=np.int64)
        pair_codes = np.empty(len(pairs), dtype=object)
        found: dict[tuple[str, str, str], list[int]] = {}
        for number, pair in enumerate(pairs):
            given_treatment = treatment_texts[pair // len(code.values)]
            given_code = code_texts[pair % len(code.values)]
            problems = self._treatment_problems(given_treatment, given_code)
            if problems:
                for problem in problems:
                    found.setdefault(problem, []).append(number)
                pair_codes[number] = ""
                continue
            resolved = self.catalog.resolve(given_treatment, given_code)
            pair_keys[number] = key_position[resolved.key]
            pair_codes[number] = resolved.procedure_code or ""
        for (field, kind, reason), numbers in found.items():
            bad_pairs = np.zeros(len(pairs), dtype=bool)
            bad_pairs[numbers] = True
            self.problems.add(field, kind, reason, bad_pairs[pair_index])
        row_keys = pair_keys[pair_index]
        shared = np.array([key >= 0 and is_composite(keys[key]) for key in pair_keys], dtype=bool)[pair_index]
        if shared.any():
            row_keys[shared] = self._read_from_diagnoses(pair_index[shared], pair_codes, diagnoses[shared],
                                                         key_position)
        code_index, code_values = pd.factorize(pair_codes)
        row_codes = code_index[pair_index]
        self._warn(row_keys, row_codes, keys, code_values)
        return (pd.Categorical.from_codes(row_keys, categories=list(keys)),
                _categorical(row_codes, code_values))

    def _read_from_diagnoses(self, pair_index: np.ndarray, pair_codes: np.ndarray, diagnoses: pd.Categorical,
                             key_position: dict[str, int]) -> np.ndarray:
        """The keys of rows that give only a shared code: resolved once per distinct (code, codes)."""
        categories = diagnoses.categories
        combination_index, combinations = pd.factorize(pair_index.astype(np.int64) * len(categories) + diagnoses.codes)
        keys = np.empty(len(combinations), dtype=np.int64)
        for number, combination in enumerate(combinations):
            pair, codes = divmod(int(combination), len(categories))
            resolved = self.catalog.resolve(None, pair_codes[pair], split_codes(categories[codes]))
            keys[number] = key_position[resolved.key]
        return keys[combination_index]

    def _warn(self, row_keys: np.ndarray, row_codes: np.ndarray, keys: tuple, code_values) -> None:
        """Record the catalog's warnings of the rows' (key, code) combinations, each asked once."""
        combination_index, combinations = pd.factorize(row_keys.astype(np.int64) * (len(code_values) + 1) + row_codes)
        flagged: dict[tuple[str, str, str], np.ndarray] = {}
        for number, combination in enumerate(combinations):
            key, code = divmod(int(combination), len(code_values) + 1)
            if key < 0:  # a quarantined pair has no key to warn about
                continue
            for warning in self.catalog.warnings(keys[key], code_values[code] or None):
                entry = (warning.field, warning.kind, warning.message)
                flagged.setdefault(entry, np.zeros(len(combinations), dtype=bool))[number] = True
        for (field, kind, message), per_combination in flagged.items():
            self.warnings.add(field, kind, message, per_combination[combination_index])

    def _treatment_problems(self, treatment: str | None, code: str | None) -> list[tuple[str, str, str]]:
        """Every problem of one pair, as (field, kind, reason); empty when it resolves."""
        problems = []
        if treatment is not None and treatment not in self.catalog.treatments:
            try:  # the catalog's own words and suggestion, as the API reports them
                self.catalog.resolve(treatment, None)
            except TreatmentLookupError as error:
                problems.append(("treatment", "unknown value", error.message))
        if code is not None:
            try:
                self.catalog.resolve(None, code)
            except TreatmentLookupError as error:
                if error.field == "procedure_code":
                    problems.append(("procedure_code", "malformed code", error.message))
        if treatment is None and code is None:
            problems.append(("treatment", "missing value", "a value is required: one of treatment or procedure_code"))
        return problems

    def diagnoses(self) -> pd.Categorical:
        """Each distinct code list checked once, each distinct code validated once."""
        column = self.column("diagnosis_codes")
        known: dict[str, str | tuple[str, str]] = {}  # raw code -> dotless code, or (kind, reason)
        joined = np.empty(len(column.values), dtype=object)
        found: dict[tuple[str, str], list[int]] = {}
        for number, value in enumerate(column.values):
            if value is None:
                joined[number] = ""
                continue
            if not isinstance(value, str):
                found.setdefault(("not a code list", "diagnosis_codes: must be ICD-10-CM codes joined by ';', "
                                  "or a list of codes"), []).append(number)
                joined[number] = ""
                continue
            codes = []
            for position, raw in enumerate(split_joined_codes(value)):
                if raw not in known:
                    known[raw] = self._diagnosis_verdict(raw)
                verdict = known[raw]
                if isinstance(verdict, tuple):
                    kind, reason = verdict
                    # the position as the API names it (diagnosis_codes[1]); the field is the line's own column
                    found.setdefault((kind, f"the code at [{position}] {reason}"), []).append(number)
                    codes = []
                    break
                codes.append(verdict)
            joined[number] = join_codes(codes)
        for (kind, reason), numbers in found.items():
            bad = np.zeros(len(column.values), dtype=bool)
            bad[numbers] = True
            self.problems.add_per_value("diagnosis_codes", kind, reason, bad, column)
        index, categories = pd.factorize(joined)
        return _categorical(column.spread(index), categories)

    def _diagnosis_verdict(self, raw: str) -> str | tuple[str, str]:
        try:
            return validate_codes([raw], self.table)[0]
        except DiagnosisCodeError as error:  # G43.7-style header codes pass: payers deny them, we learn it
            return ("malformed code" if not looks_like_code(raw) else "unknown code", error.reason)

    def places_of_service(self, facility: pd.Categorical) -> pd.Categorical:
        column = self.column("place_of_service")
        texts = _as_text(column)
        well_formed = pd.Series(texts[1:], dtype="str").str.fullmatch(_PLACE_OF_SERVICE_SHAPE).fillna(False).to_numpy(bool)
        malformed = np.concatenate([[False], ~well_formed])
        field = "place_of_service"
        self.problems.add_per_value(field, "malformed code", f"must be {allowed(field)}", malformed, column)
        defaults = [default_place_of_service(name) for name in FACILITY_TYPES]
        categories = sorted(set(defaults) | set(texts[1:][well_formed]))
        position = {name: number for number, name in enumerate(categories)}
        given = np.array([position.get(text, -1) for text in texts], dtype=np.int64)
        # A missing place follows the facility; code -1 (bad facility) picks the trailing -1.
        from_facility = np.array([position[name] for name in defaults] + [-1], dtype=np.int64)[facility.codes]
        codes = np.where(column.missing, from_facility, column.spread(given))
        return pd.Categorical.from_codes(codes, categories=categories)


def _categorical(codes: np.ndarray, categories) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="str"))


def _as_text(column: Distinct) -> np.ndarray:
    """Distinct values as strings (a Parquet/JSON number 64615 -> "64615"); None stays None."""
    if column.kind == "U":
        return column.values.copy()
    return np.array([_text(value) for value in column.values], dtype=object)


def _text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _bool_state(value) -> int:
    """1 true, 0 false, -1 not a boolean the contract accepts; -2 no value."""
    if value is None:
        return -2
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return int(value) if value in (0, 1) else -1
    if isinstance(value, str):
        text = value.lower()
        return 1 if text in TRUE_STRINGS else 0 if text in FALSE_STRINGS else -1
    return -1


def _as_numbers(column: Distinct) -> np.ndarray:
    """Distinct values as floats; NaN for what is not a number (a boolean is not one)."""
    values = column.values[1:]
    if column.kind in "iuf":
        numbers = values.astype(np.float64)
    elif column.kind == "b" or not values.size:
        numbers = np.full(len(values), np.nan)
    else:
        if column.kind != "U":
            values = np.array([None if isinstance(value, (bool, np.bool_)) or not
                               isinstance(value, (str, int, float, np.integer, np.floating)) else value
                               for value in values], dtype=object)
        numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(np.float64)
    return np.concatenate([[np.nan], numbers])


def _as_dates(values: np.ndarray) -> np.ndarray:
    """Distinct values as datetime64[us]; NaT for what is not a YYYY-MM-DD date."""
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    is_text = np.array([isinstance(value, str) for value in values], dtype=bool)
    if is_text.any():
        texts = pd.Series(values[is_text], dtype="str")
        shaped = texts.where(texts.str.fullmatch(_DATE_SHAPE).fillna(False))
        out[is_text] = pd.to_datetime(shaped, format="%Y-%m-%d", errors="coerce").dt.as_unit("us").to_numpy()
    for number in np.flatnonzero(~is_text):  # Parquet dates and timestamps
        value = values[number]
        if isinstance(value, (dt.date, np.datetime64)):
            stamp = pd.Timestamp(value)
            out[number] = np.datetime64((stamp.tz_localize(None) if stamp.tzinfo else stamp).normalize().date(), "us")
    return out


def duplicate_claim_ids(claim_ids: pd.Series, earlier: pa.Array | None = None) -> Problem | None:
    """Rows whose claim_id appeared before (in this chunk or among `earlier` chunks' ids); the first stays."""
    present = claim_ids.notna().to_numpy()
    repeated = claim_ids.duplicated(keep="first").to_numpy() & present
    if earlier is not None and len(earlier):
        ids = pa.array(claim_ids.to_numpy(dtype=object, na_value=None), type=pa.string())
        repeated |= pc.is_in(ids, value_set=earlier).to_numpy(zero_copy_only=False) & present
    rows = np.flatnonzero(repeated)
    if not rows.size:
        return None
    return Problem("claim_id", "duplicate", "must be unique in the file; an earlier row has the same id", rows)
