"""Encoders that turn the clean claims frame (features.contract) into a float32 feature matrix.

One encoder per concern: the treatment, the policy, the diagnoses, the visit's circumstances.
Each has two doors onto the same code:

- `transform(X)`, the scikit-learn door: a frame (or any 2-D array), feature-name checks,
  `set_output`. It reads the columns and calls `encode_columns`.
- `encode_columns(columns)`, the core: a mapping of clean-frame column name -> 1-D array in (numpy
  arrays; pandas arrays and Series work too), an (n, k) float32 array out. The service calls it for one claim (through
  `features.pipeline.encode_claims`) without building a DataFrame or paying sklearn's checks.

Claims repeat a few values, so categorical inputs are factorised, their features worked out once
per distinct value and broadcast back by the factorisation's codes: a million rows cost a few
hundred Python-level lookups, one claim costs one. Domain tables (catalog keys and flags,
contract enums) are copied into the encoder at fit, so a fitted encoder's columns keep their
meaning when the catalog gains a row.

Input columns are the clean frame's names. The `columns` parameter maps an input to another name,
or to a position, which is how sklearn's estimator checks feed these encoders plain arrays.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from features.catalog import CATEGORIES, UNLISTED, load_catalog
from features.claim_facts import CODE_SEPARATOR, FACT_NAMES, DiagnosisFacts, diagnosis_facts
from features.contract import (
    BENEFIT_SCOPES,
    FACILITY_TYPES,
    OFFICE_FACILITIES,
    PLAN_TYPES,
    TRUE_STRINGS,
)
from features.diagnosis import load_table, normalise_code

ICD10CM_CHAPTERS = tuple(range(1, 23))
# The facilities that satisfy a catalog row's required_setting.
SETTING_FACILITIES = {"primary_care": ("primary_care_clinic",)}
# CMS place-of-service codes common at med spas and their alternatives (office, off- and
# on-campus hospital outpatient, ambulatory surgery center, independent clinic).
COMMON_PLACES_OF_SERVICE = ("11", "19", "22", "24", "49")

_FIRST_ROW = np.zeros(1, dtype=np.intp)
_FIRST_ROW.setflags(write=False)  # shared by every single-claim call
_SMALL = 64  # up to this many rows, distinct values are found with a dict

# Output names, as build_feature_pipeline (features.pipeline) prefixes them with the encoder's
# step, of single 0/1 columns the approval probability may only rise with: training gives them
# monotonic +1 constraints.
MONOTONIC_INCREASING_FEATURES = (
    "circumstance__prior_authorization",
    "circumstance__referral",
    "circumstance__medical_necessity_letter",
    "circumstance__conservative_therapy_documented",
    "policy__in_network",
    "diagnosis__covered_diagnosis",
    "circumstance__prior_authorization_where_required",
    "circumstance__conservative_therapy_where_required",
)


# ---------------------------------------------------------------------------------------------
# Reading columns


def _factorize(values) -> tuple[list, np.ndarray]:
    """(distinct values, each row's index into them). Missing values (None, NaN) share an index
    on the large path and may not on the small one; either way they encode alike."""
    if len(values) <= _SMALL:  # the service's few claims: a dict beats pandas' set-up cost
        index = {}
        codes = np.fromiter((index.setdefault(value, len(index)) for value in values), dtype=np.intp,
                            count=len(values))
        return list(index), codes
    codes, uniques = pd.factorize(values)  # faster than use_na_sentinel=False on Python objects
    uniques = list(uniques)
    if len(codes) and codes.min() < 0:
        codes = np.where(codes < 0, len(uniques), codes)
        uniques.append(None)
    return uniques, codes


def factorise_object_columns(columns: Mapping, names) -> Mapping:
    """The columns, with large object arrays among `names` turned into Categoricals once, so that
    encoders reading the same column factorise it by its codes rather than each hashing its
    Python strings again (encode_claims on `frame[c].to_numpy()` columns)."""
    shared = columns
    for name in names:
        values = columns[name]
        if isinstance(values, np.ndarray) and values.dtype == object and len(values) > _SMALL:
            codes, uniques = pd.factorize(values)
            shared = dict(shared) if shared is columns else shared
            shared[name] = pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))
    return shared


def _distinct(values) -> tuple[list, np.ndarray]:
    """_factorize, with a shortcut for the single claim."""
    if isinstance(values, pd.Series):
        values = _column_values(values)
    if len(values) == 1:
        return [values[0]], _FIRST_ROW
    return _factorize(values)


def _combine(parts: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Distinct combinations of several factorised columns, given as (row codes, n distinct).

    Returns each row's combination and, per column, each combination's code in that column, so a
    table built per combination is gathered into the output in one step.
    """
    if len(parts[0][0]) == 1:
        return _FIRST_ROW, [codes for codes, _ in parts]
    key, bound = np.zeros(len(parts[0][0]), dtype=np.int64), 1
    for codes, size in parts:
        if bound * size >= 2**62:  # keep the mixed-radix key inside int64: renumber what is there
            distinct, key = _factorize(key)
            key, bound = key.astype(np.int64), len(distinct)
        key, bound = key * size + codes, bound * size
    distinct, inverse = _factorize(key)
    representative = np.empty(len(distinct), dtype=np.intp)  # one row holding each combination
    representative[inverse] = np.arange(len(inverse))
    return inverse, [codes[representative] for codes, _ in parts]


def _text(value) -> str | None:
    """A categorical value as the text the tables use; None when missing."""
    if isinstance(value, str):
        return value.strip() or None
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)):
        if value != value:
            return None
        if float(value).is_integer():  # a code read as a number: 11.0 -> "11"
            return str(int(value))
    return str(value)


def _one_hot(vocabulary: tuple, text: str | None, other: bool = False) -> list[float]:
    """One-hot of a text over the vocabulary; outside it all zero, or hot in a last "other"
    column when other=True."""
    row = [0.0] * (len(vocabulary) + other)
    if text in vocabulary:
        row[vocabulary.index(text)] = 1.0
    elif other:
        row[-1] = 1.0
    return row


def _rows_per_combination(row, width: int, *columns) -> np.ndarray:
    """(n, width) float32: row(*values) for each claim's values of the columns, worked out once
    per distinct combination and broadcast."""
    distinct = [_distinct(values) for values in columns]
    inverse, per_column = _combine([(codes, len(uniques)) for uniques, codes in distinct])
    table = np.array([row(*(uniques[index] for (uniques, _), index in zip(distinct, combination)))
                      for combination in zip(*per_column)], dtype=np.float32).reshape(-1, width)
    return table[inverse]


def _flag_value(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in TRUE_STRINGS
    if value is None or value is pd.NA or value != value:
        return False
    return bool(value)


def _flags(values) -> np.ndarray:
    """0/1 float32; missing counts as 0 (the contract's default for optional flags)."""
    array = np.asarray(values)
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if array.dtype.kind in "iuf":
        return ((array != 0) & ~np.isnan(array)).astype(np.float32)
    uniques, inverse = _distinct(array)
    return np.array([_flag_value(value) for value in uniques], dtype=np.float32)[inverse]


# The contract bounds weeks and dollar amounts below only. Past float32's range (3.4e38) a value
# would become inf in the matrix: the tree fit refuses inf and the linear denial model's logits turn
# NaN. Capped here, such a value is past every split the trees learned, as before, and stays finite.
LARGEST_AMOUNT = 1e12


def _numbers(values) -> np.ndarray:
    """float64, NaN for missing."""
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array.astype(np.float64, copy=False)
    return np.where(pd.isna(array), np.nan, array).astype(np.float64)


def _column_values(series: pd.Series):
    """A frame column as the 1-D array the encoders read, without needless conversion."""
    dtype = series.dtype
    if isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype)):
        return series.array  # factorises from its codes / Arrow dictionary, no Python strings
    if isinstance(dtype, np.dtype):
        return series.to_numpy()
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)  # nullable Int64, Float64, boolean
    return series.to_numpy()


def _check_columns_param(encoder) -> None:
    name = type(encoder).__name__
    if encoder.columns is None:
        return
    if not isinstance(encoder.columns, Mapping):
        raise ValueError(f"{name}: columns must be None or a mapping from input to column, "
                         f"got {type(encoder.columns).__name__}")
    unknown = [key for key in encoder.columns if key not in encoder.INPUT_COLUMNS]
    if unknown:
        raise ValueError(f"{name}: columns names unknown input(s) {unknown}; "
                         f"the inputs are {', '.join(encoder.INPUT_COLUMNS)}")
    for key, spec in encoder.columns.items():
        if isinstance(spec, bool) or not isinstance(spec, (str, int, np.integer)):
            raise ValueError(f"{name}: columns[{key!r}] must be a column name (str) or position (int), "
                             f"got {spec!r}")


def _read_columns(encoder, X, reset: bool) -> dict:
    """Validate X against what fit saw and return {input name: 1-D array}."""
    name = type(encoder).__name__
    specs = {key: (encoder.columns or {}).get(key, key) for key in encoder.INPUT_COLUMNS}
    if isinstance(X, pd.DataFrame):
        validate_data(encoder, X, skip_check_array=True, reset=reset)
        if X.shape[1] == 0:
            raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
        if reset and X.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
        missing = [spec for spec in specs.values() if isinstance(spec, str) and spec not in X.columns]
        if missing:
            raise ValueError(f"{name}: X lacks the column(s) {', '.join(missing)}")
        read = lambda spec: _column_values(X[spec] if isinstance(spec, str) else X.iloc[:, spec])
    else:
        X = validate_data(encoder, X, dtype=None, ensure_all_finite=False, reset=reset)
        by_name = [spec for spec in specs.values() if isinstance(spec, str)]
        if by_name:
            raise ValueError(f"{name} reads the columns {', '.join(by_name)} by name: pass a DataFrame, "
                             "or map them to positions with the columns parameter")
        read = lambda spec: X[:, spec]
    for key, spec in specs.items():
        if not isinstance(spec, str) and not -X.shape[1] <= spec < X.shape[1]:
            raise ValueError(f"{name}: columns[{key!r}] is position {spec}, but X has {X.shape[1]} feature(s)")
    return {key: read(spec) for key, spec in specs.items()}


def _names_out(encoder, input_features) -> np.ndarray:
    check_is_fitted(encoder)
    if input_features is not None:
        if len(input_features) != encoder.n_features_in_:
            raise ValueError(f"input_features should have length equal to number of features "
                             f"({encoder.n_features_in_}), got {len(input_features)}")
        if hasattr(encoder, "feature_names_in_") and not np.array_equal(encoder.feature_names_in_, input_features):
            raise ValueError("input_features is not equal to feature_names_in_")
    return np.asarray(encoder._output_names(), dtype=object)


def _encoder_tags(tags):
    # Inputs are claim columns: category and string columns (keys, codes, enums) next to numbers.
    tags.input_tags.categorical = True
    tags.input_tags.string = True
    # Missing numbers carry information (no earlier treatment, no benefit limit): NaN passes through.
    tags.input_tags.allow_nan = True
    # The output is float32 (the training matrix's dtype) whatever the input's dtype.
    tags.transformer_tags.preserves_dtype = []
    return tags


def _check_min_frequency(encoder) -> None:
    value = encoder.min_frequency
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{type(encoder).__name__}: min_frequency must be an integer >= 1, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Encoders


class TreatmentEncoder(TransformerMixin, BaseEstimator):
    """The treatment as the catalog describes it, and its procedure code.

    Outputs: one column per catalog key plus `unlisted` (any other value); `category_<c>`;
    `cosmetic_by_default`, `requires_prior_authorization`, `requires_conservative_therapy`;
    `procedure_code_<code>` for codes seen on at least `min_frequency` claims in fit, then
    `procedure_code_other` and `procedure_code_none` (no code given).

    Parameters: min_frequency (int >= 1); columns (None, or input name -> column name/position).
    Fitted: treatment_keys_, categories_, treatment_table_ (one row of outputs per key),
    procedure_codes_, n_features_in_, feature_names_in_ (frames only).
    """

    INPUT_COLUMNS = ("treatment", "procedure_code")
    _FLAGS = ("cosmetic_by_default", "requires_prior_authorization", "requires_conservative_therapy")

    def __init__(self, min_frequency=20, columns=None):
        self.min_frequency = min_frequency
        self.columns = columns

    def fit(self, X, y=None):
        _check_min_frequency(self)
        _check_columns_param(self)
        columns = _read_columns(self, X, reset=True)
        catalog = load_catalog()
        self.treatment_keys_ = catalog.keys + (UNLISTED,)
        self.categories_ = CATEGORIES
        table = np.zeros((len(self.treatment_keys_), len(self.treatment_keys_) + len(CATEGORIES) + 3), np.float32)
        for row, key in enumerate(self.treatment_keys_):
            table[row, row] = 1.0
            if key == UNLISTED:
                continue
            treatment = catalog[key]
            table[row, len(self.treatment_keys_) + CATEGORIES.index(treatment.category)] = 1.0
            table[row, -3:] = [treatment.cosmetic_by_default, treatment.requires_prior_authorization,
                               treatment.requires_conservative_therapy]
        self.treatment_table_ = table
        uniques, inverse = _distinct(columns["procedure_code"])
        counts = Counter()
        for value, count in zip(uniques, np.bincount(inverse, minlength=len(uniques))):
            code = _text(value)
            if code is not None:
                counts[code.upper()] += int(count)
        self.procedure_codes_ = tuple(sorted(code for code, count in counts.items() if count >= self.min_frequency))
        return self

    def transform(self, X):
        check_is_fitted(self)
        return self.encode_columns(_read_columns(self, X, reset=False))

    def encode_columns(self, columns: Mapping) -> np.ndarray:
        """{treatment, procedure_code: 1-D arrays} -> (n, k) float32."""
        width = self.treatment_table_.shape[1] + len(self.procedure_codes_) + 2
        return _rows_per_combination(self._row, width, columns["treatment"], columns["procedure_code"])

    def _row(self, treatment, procedure_code) -> list[float]:
        key = _text(treatment)
        key_row = self.treatment_keys_.index(key) if key in self.treatment_keys_ else len(self.treatment_keys_) - 1
        code = _text(procedure_code)
        if code is None:
            codes = [0.0] * (len(self.procedure_codes_) + 1) + [1.0]  # procedure_code_none
        else:
            codes = _one_hot(self.procedure_codes_, code.upper(), other=True) + [0.0]
        return [*self.treatment_table_[key_row].tolist(), *codes]

    def one_hot_groups(self) -> dict[str, list[str]]:
        """{input: its block of outputs}, for blocks of which at most one output is 1 on a claim."""
        return {"treatment": list(self.treatment_keys_),
                "procedure_code": [name for name in self._output_names() if name.startswith("procedure_code_")]}

    def _output_names(self) -> list[str]:
        return [*self.treatment_keys_, *(f"category_{c}" for c in self.categories_), *self._FLAGS,
                *(f"procedure_code_{code}" for code in self.procedure_codes_),
                "procedure_code_other", "procedure_code_none"]

    def get_feature_names_out(self, input_features=None):
        return _names_out(self, input_features)

    def __sklearn_tags__(self):
        return _encoder_tags(super().__sklearn_tags__())


class PolicyEncoder(TransformerMixin, BaseEstimator):
    """The plan: `plan_type_<p>` and `benefit_scope_<s>` one-hot (an unknown value is all zero),
    `in_network` 0/1.

    Parameters: columns (None, or input name -> column name/position).
    Fitted: plan_types_, benefit_scopes_, n_features_in_, feature_names_in_ (frames only).
    """

    INPUT_COLUMNS = ("plan_type", "benefit_scope", "in_network")

    def __init__(self, columns=None):
        self.columns = columns

    def fit(self, X, y=None):
        _check_columns_param(self)
        _read_columns(self, X, reset=True)
        self.plan_types_ = PLAN_TYPES
        self.benefit_scopes_ = BENEFIT_SCOPES
        return self

    def transform(self, X):
        check_is_fitted(self)
        return self.encode_columns(_read_columns(self, X, reset=False))

    def encode_columns(self, columns: Mapping) -> np.ndarray:
        """{plan_type, benefit_scope, in_network: 1-D arrays} -> (n, k) float32."""
        width = len(self.plan_types_) + len(self.benefit_scopes_) + 1
        return _rows_per_combination(self._row, width, columns["plan_type"], columns["benefit_scope"],
                                     columns["in_network"])

    def _row(self, plan_type, benefit_scope, in_network) -> list[float]:
        return [*_one_hot(self.plan_types_, _text(plan_type)), *_one_hot(self.benefit_scopes_, _text(benefit_scope)),
                float(_flag_value(in_network))]

    def one_hot_groups(self) -> dict[str, list[str]]:
        """{input: its block of outputs}, for blocks of which at most one output is 1 on a claim."""
        return {"plan_type": [f"plan_type_{p}" for p in self.plan_types_],
                "benefit_scope": [f"benefit_scope_{s}" for s in self.benefit_scopes_]}

    def _output_names(self) -> list[str]:
        groups = self.one_hot_groups()
        return [*groups["plan_type"], *groups["benefit_scope"], "in_network"]

    def get_feature_names_out(self, input_features=None):
        return _names_out(self, input_features)

    def __sklearn_tags__(self):
        return _encoder_tags(super().__sklearn_tags__())


def _split_codes(value) -> list[str]:
    text = _text(value)
    return [normalise_code(part) for part in text.split(CODE_SEPARATOR) if part.strip()] if text else []


def _facts_fit(facts: DiagnosisFacts | None, rows: int, *read_and_normalised) -> bool:
    """Whether facts computed by a caller stand for the ones the encoder would compute: one per row,
    and computed from the same values. The caller (the rules) computed them from the raw columns,
    the encoder asks about normalised ones (stripped treatment, dotless upper-case codes); when
    every distinct raw value already is its normalised form, the two agree row by row."""
    if facts is None or any(len(facts[name]) != rows for name in FACT_NAMES):
        return False
    return all(isinstance(raw, str) and raw == normalised
               for pairs in read_and_normalised for raw, normalised in pairs)


def _with_facts(table: np.ndarray, facts: DiagnosisFacts) -> np.ndarray:
    """The rows of `table` followed by one float32 column per fact, aligned with those rows."""
    out = np.empty((len(table), table.shape[1] + len(FACT_NAMES)), dtype=np.float32)
    out[:, :table.shape[1]] = table
    for column, name in enumerate(FACT_NAMES, start=table.shape[1]):
        out[:, column] = facts[name]
    return out


class DiagnosisEncoder(TransformerMixin, BaseEstimator):
    """The claim's ICD-10-CM codes, alone and against its treatment.

    Outputs: `chapter_01` .. `chapter_22` multi-hot; `category_<ABC>` multi-hot for 3-character
    categories present on at least `min_frequency` claims in fit, then `category_other` (rarer
    categories, and with handle_unknown="ignore" categories never seen in fit); `code_<CODE>`
    multi-hot for full codes (longer than a category) present on at least `min_frequency` claims,
    the `max_codes` most frequent of them; the facts of features.claim_facts (`covered_diagnosis`,
    `primary_diagnosis_covered`, `header_code`, `header_may_be_covered`, `cosmetic_encounter`,
    `diagnosis_count`).

    Why full codes as well as categories: payers decide on the code, not its category. L74.510
    (axillary hyperhidrosis) and L74.512 (palms) share L74 and are paid differently; a ptosis code
    documents what a dermatochalasis code in the same H02 category does not. The category keeps
    a rare code's claims together; the code tells the frequent ones apart.

    Parameters: min_frequency (int >= 1); max_codes (int >= 0, cap on full-code outputs);
    handle_unknown ("ignore": unseen categories count as other, unseen codes add nothing;
    "error": transform raises on an unseen category); columns (None, or input name -> column
    name/position).
    Fitted: categories_ (frequent, sorted), category_index_ (every category seen in fit -> its
    column among the category outputs), codes_ (frequent full codes, sorted), code_index_ (code ->
    its column among the code outputs), n_features_in_, feature_names_in_ (frames only).
    """

    INPUT_COLUMNS = ("diagnosis_codes", "treatment")
    HANDLE_UNKNOWN = ("ignore", "error")

    def __init__(self, min_frequency=20, max_codes=256, handle_unknown="ignore", columns=None):
        self.min_frequency = min_frequency
        self.max_codes = max_codes
        self.handle_unknown = handle_unknown
        self.columns = columns

    def fit(self, X, y=None):
        _check_min_frequency(self)
        if not isinstance(self.handle_unknown, str) or self.handle_unknown not in self.HANDLE_UNKNOWN:
            allowed = ", ".join(map(repr, self.HANDLE_UNKNOWN))
            raise ValueError(f"DiagnosisEncoder: handle_unknown must be one of {allowed}, got {self.handle_unknown!r}")
        _check_columns_param(self)
        if isinstance(self.max_codes, bool) or not isinstance(self.max_codes, (int, np.integer)) or self.max_codes < 0:
            raise ValueError(f"DiagnosisEncoder: max_codes must be an integer >= 0, got {self.max_codes!r}")
        columns = _read_columns(self, X, reset=True)
        uniques, inverse = _distinct(columns["diagnosis_codes"])
        claims_with, claims_with_code = Counter(), Counter()
        for value, count in zip(uniques, np.bincount(inverse, minlength=len(uniques))):
            codes = set(_split_codes(value))
            for category in {code[:3] for code in codes}:
                claims_with[category] += int(count)
            for code in codes:
                if len(code) > 3:
                    claims_with_code[code] += int(count)
        self.categories_ = tuple(sorted(c for c, count in claims_with.items() if count >= self.min_frequency))
        other = len(self.categories_)
        self.category_index_ = {c: (self.categories_.index(c) if c in self.categories_ else other)
                                for c in sorted(claims_with)}
        # Most frequent first, ties by code, so the cap keeps the same codes on every run.
        frequent = sorted((code for code, count in claims_with_code.items() if count >= self.min_frequency),
                          key=lambda code: (-claims_with_code[code], code))
        self.codes_ = tuple(sorted(frequent[:self.max_codes]))
        self.code_index_ = {code: column for column, code in enumerate(self.codes_)}
        return self

    def transform(self, X):
        check_is_fitted(self)
        return self.encode_columns(_read_columns(self, X, reset=False))

    def encode_columns(self, columns: Mapping, facts: DiagnosisFacts | None = None) -> np.ndarray:
        """{diagnosis_codes (joined, dotless), treatment: 1-D arrays} -> (n, k) float32.

        facts: optionally, `diagnosis_facts(columns["treatment"], columns["diagnosis_codes"])` for
        these same rows, as the exclusion rules computed them; reused instead of computed again
        when they fit (see _facts_fit), so the output is the same either way.
        """
        codes_table = load_table().codes
        uniques, inverse = _distinct(columns["diagnosis_codes"])
        n_chapters, other = len(ICD10CM_CHAPTERS), len(self.categories_)
        code_index = getattr(self, "code_index_", {})  # models fitted before full codes had none
        first_code = n_chapters + other + 1
        table = np.zeros((len(uniques), first_code + len(code_index)), dtype=np.float32)
        unknown = np.zeros(len(uniques), dtype=bool)
        joined = np.empty(len(uniques), dtype=object)
        for row, value in enumerate(uniques):
            codes = _split_codes(value)
            joined[row] = CODE_SEPARATOR.join(codes)
            for code in codes:
                entry = codes_table.get(code)
                if entry is not None:
                    table[row, entry[1] - 1] = 1.0
                column = self.category_index_.get(code[:3])
                if column is None:
                    unknown[row] = True
                    column = other
                table[row, n_chapters + column] = 1.0
                code_column = code_index.get(code)
                if code_column is not None:
                    table[row, first_code + code_column] = 1.0
        if self.handle_unknown == "error" and unknown.any():
            # The message names no code: diagnosis codes are patient data.
            raise ValueError(f"DiagnosisEncoder: {int(unknown[inverse].sum())} claim(s) carry an ICD-10-CM category "
                             "not seen in fit; handle_unknown='ignore' counts such categories as category_other")
        treatments, treatment_inverse = _distinct(columns["treatment"])
        keys = np.array([_text(value) or UNLISTED for value in treatments], dtype=object)
        if _facts_fit(facts, len(inverse), zip(treatments, keys), zip(uniques, joined)):
            return _with_facts(table[inverse], facts)
        # The facts depend on the (treatment, codes) pair: ask for each distinct pair once.
        pair_inverse, (pair_treatment, pair_codes) = _combine([(treatment_inverse, len(treatments)),
                                                               (inverse, len(uniques))])
        pair_facts = diagnosis_facts(keys[pair_treatment], joined[pair_codes])
        return _with_facts(table[pair_codes], pair_facts)[pair_inverse]

    def one_hot_groups(self) -> dict[str, list[str]]:
        """None: a claim may carry several codes, so several chapters, categories and codes are 1."""
        return {}

    def _output_names(self) -> list[str]:
        return [*(f"chapter_{number:02d}" for number in ICD10CM_CHAPTERS),
                *(f"category_{c}" for c in self.categories_), "category_other",
                *(f"code_{code}" for code in getattr(self, "codes_", ())), *FACT_NAMES]

    def get_feature_names_out(self, input_features=None):
        return _names_out(self, input_features)

    def __sklearn_tags__(self):
        return _encoder_tags(super().__sklearn_tags__())


class CircumstanceEncoder(TransformerMixin, BaseEstimator):
    """What surrounds the visit: documents, course of treatment, place, money, patient.

    Outputs, in order: `referral`, `medical_necessity_letter`, `prior_authorization`,
    `conservative_therapy_documented` (0/1); `prior_authorization_where_required`,
    `conservative_therapy_where_required` (the document is there and the catalog's row for the
    treatment asks for it: without these a tree must find the treatment, then the flag, before
    the requirement shows, and its monotonic bounds make that slow to learn); `visit_number`, `initial_visit`,
    `weeks_since_last_treatment` (NaN when no earlier treatment), `has_prior_treatment`,
    `below_min_weeks_between` (sooner than the catalog allows); `facility_type_<f>`,
    `facility_is_office`, `facility_fits_benefit_scope` (office_only needs an office;
    comprehensive fits all), `setting_fits_treatment` (the catalog's required_setting);
    `place_of_service_<code>` for `place_of_service_codes`, `place_of_service_other`;
    `benefit_remaining` (limit - used, at least 0; NaN when no limit),
    `benefit_remaining_fraction` (of the billed amount, clipped to 0..1; 1 when no limit),
    `benefit_exhausted`; `billed_amount_log1p`; `patient_age`, `below_min_age`.

    Parameters: place_of_service_codes (tuple of CMS codes given their own column);
    columns (None, or input name -> column name/position).
    Fitted: treatment_keys_, treatment_limits_ (per key, then unlisted: min weeks between, min
    age; NaN for none), treatment_requirements_ (per key, then unlisted: requires prior
    authorization, requires conservative therapy; 0/1), setting_facilities_ (key -> facilities its required setting accepts),
    facility_types_, office_facilities_, place_of_service_codes_, n_features_in_,
    feature_names_in_ (frames only).
    """

    INPUT_COLUMNS = (
        "treatment", "benefit_scope", "facility_type", "place_of_service",
        "referral", "medical_necessity_letter", "prior_authorization", "conservative_therapy_documented",
        "visit_number", "weeks_since_last_treatment", "patient_age",
        "billed_amount", "benefit_limit", "benefit_used",
    )
    DOCUMENTS = ("referral", "medical_necessity_letter", "prior_authorization", "conservative_therapy_documented")
    # (output, document, the catalog attribute that says the treatment asks for it)
    REQUIRED_DOCUMENTS = (
        ("prior_authorization_where_required", "prior_authorization", "requires_prior_authorization"),
        ("conservative_therapy_where_required", "conservative_therapy_documented", "requires_conservative_therapy"),
    )
    _VISIT = ("visit_number", "initial_visit", "weeks_since_last_treatment", "has_prior_treatment",
              "below_min_weeks_between")
    _PLACE_FLAGS = ("facility_is_office", "facility_fits_benefit_scope", "setting_fits_treatment")
    _MONEY_AND_AGE = ("benefit_remaining", "benefit_remaining_fraction", "benefit_exhausted", "billed_amount_log1p",
                      "patient_age", "below_min_age")

    def __init__(self, place_of_service_codes=COMMON_PLACES_OF_SERVICE, columns=None):
        self.place_of_service_codes = place_of_service_codes
        self.columns = columns

    def fit(self, X, y=None):
        codes = self.place_of_service_codes
        if (isinstance(codes, str) or not isinstance(codes, (tuple, list))
                or not all(isinstance(code, str) and code.strip() for code in codes) or len(set(codes)) != len(codes)):
            raise ValueError("CircumstanceEncoder: place_of_service_codes must be a tuple of distinct non-empty "
                             f"code strings such as {COMMON_PLACES_OF_SERVICE}, got {codes!r}")
        _check_columns_param(self)
        _read_columns(self, X, reset=True)
        catalog = load_catalog()
        self.treatment_keys_ = catalog.keys
        self.facility_types_ = FACILITY_TYPES
        self.office_facilities_ = OFFICE_FACILITIES
        self.place_of_service_codes_ = tuple(code.strip() for code in codes)
        limits = np.full((len(catalog.keys) + 1, 2), np.nan)  # the last row: unlisted or unknown
        for row, treatment in enumerate(catalog.treatments.values()):
            limits[row] = [np.nan if treatment.min_weeks_between is None else treatment.min_weeks_between,
                           np.nan if treatment.min_age is None else treatment.min_age]
        self.treatment_limits_ = limits
        requirements = np.zeros((len(catalog.keys) + 1, len(self.REQUIRED_DOCUMENTS)))
        for row, treatment in enumerate(catalog.treatments.values()):
            requirements[row] = [bool(getattr(treatment, attribute)) for _, _, attribute in self.REQUIRED_DOCUMENTS]
        self.treatment_requirements_ = requirements
        self.setting_facilities_ = {key: SETTING_FACILITIES[t.required_setting]
                                    for key, t in catalog.treatments.items() if t.required_setting}
        return self

    def transform(self, X):
        check_is_fitted(self)
        return self.encode_columns(_read_columns(self, X, reset=False))

    def encode_columns(self, columns: Mapping) -> np.ndarray:
        """{each of INPUT_COLUMNS: 1-D array} -> (n, k) float32."""
        place_width = len(self.facility_types_) + len(self._PLACE_FLAGS) + len(self.place_of_service_codes_) + 1
        required = self._required_documents()
        # the place block, then the treatment's document requirements, minimum weeks between and minimum age
        place = _rows_per_combination(self._place_row, place_width + len(required) + 2, columns["treatment"],
                                      columns["facility_type"], columns["benefit_scope"], columns["place_of_service"])
        visit = _numbers(columns["visit_number"])
        weeks = _numbers(columns["weeks_since_last_treatment"])
        age = _numbers(columns["patient_age"])
        billed = _numbers(columns["billed_amount"])
        limit = _numbers(columns["benefit_limit"])  # NaN: no limit
        used = np.fmax(_numbers(columns["benefit_used"]), 0.0)  # missing: 0, the contract's default
        remaining = np.minimum(np.maximum(limit - used, 0.0), LARGEST_AMOUNT)  # NaN when there is no limit

        out = np.empty((len(visit), len(self.DOCUMENTS) + len(required) + len(self._VISIT) + place_width
                        + len(self._MONEY_AND_AGE)), dtype=np.float32)
        for column, name in enumerate(self.DOCUMENTS):
            out[:, column] = _flags(columns[name])
        at = len(self.DOCUMENTS)
        for offset, (_, document, _) in enumerate(required):
            out[:, at + offset] = out[:, self.DOCUMENTS.index(document)] * place[:, place_width + offset]
        at += len(required)
        out[:, at] = visit
        out[:, at + 1] = visit <= 1
        out[:, at + 2] = np.minimum(weeks, LARGEST_AMOUNT)  # NaN stays NaN
        out[:, at + 3] = weeks == weeks  # not NaN
        out[:, at + 4] = weeks < place[:, -2]  # NaN (no earlier treatment, no minimum) compares False
        at += len(self._VISIT)
        out[:, at:at + place_width] = place[:, :place_width]
        at += place_width
        out[:, at] = remaining
        # of the billed amount; fmin turns "no limit" (NaN) into 1, and a zero bill divides by a tiny one
        out[:, at + 1] = np.fmin(remaining / np.fmax(billed, 1e-9), 1.0)
        out[:, at + 2] = used >= limit
        out[:, at + 3] = np.log1p(np.maximum(billed, 0.0))
        out[:, at + 4] = age
        out[:, at + 5] = age < place[:, -1]
        return out

    def _place_row(self, treatment, facility_type, benefit_scope, place_of_service) -> list[float]:
        key, facility, scope = _text(treatment), _text(facility_type), _text(benefit_scope)
        is_office = facility in self.office_facilities_
        allowed = self.setting_facilities_.get(key)
        row = self.treatment_keys_.index(key) if key in self.treatment_keys_ else -1
        requirements = self.treatment_requirements_[row].tolist() if self._required_documents() else []
        return [*_one_hot(self.facility_types_, facility), is_office,
                scope == "comprehensive" or (scope == "office_only" and is_office),
                allowed is None or facility in allowed,
                *_one_hot(self.place_of_service_codes_, _text(place_of_service), other=True),
                *requirements, *self.treatment_limits_[row].tolist()]

    def _required_documents(self) -> tuple:
        """REQUIRED_DOCUMENTS, or none for an encoder fitted before they existed (its model lacks them)."""
        return self.REQUIRED_DOCUMENTS if hasattr(self, "treatment_requirements_") else ()

    def one_hot_groups(self) -> dict[str, list[str]]:
        """{input: its block of outputs}, for blocks of which at most one output is 1 on a claim."""
        return {"facility_type": [f"facility_type_{f}" for f in self.facility_types_],
                "place_of_service": [*(f"place_of_service_{code}" for code in self.place_of_service_codes_),
                                     "place_of_service_other"]}

    def _output_names(self) -> list[str]:
        groups = self.one_hot_groups()
        return [*self.DOCUMENTS, *(name for name, _, _ in self._required_documents()), *self._VISIT,
                *groups["facility_type"], *self._PLACE_FLAGS, *groups["place_of_service"], *self._MONEY_AND_AGE]

    def get_feature_names_out(self, input_features=None):
        return _names_out(self, input_features)

    def __sklearn_tags__(self):
        return _encoder_tags(super().__sklearn_tags__())


def _years(values) -> np.ndarray:
    """Dates -> fractional calendar years (2025-07-02 -> ~2025.5); numbers pass as years; NaN when missing."""
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    if array.dtype.kind != "M":
        if len(array) <= _SMALL and all(isinstance(v, pd.Timestamp) for v in array):  # the service's claims
            return np.array([v.year + (v.day_of_year - 1) / 365.25 for v in array], dtype=np.float64)
        array = pd.to_datetime(pd.Series(array, dtype=object), errors="coerce").to_numpy()
    days = array.astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    fraction = (days - years.astype("datetime64[D]")).astype(np.float64) / 365.25
    result = years.astype(np.int64).astype(np.float64) + 1970.0 + fraction
    return np.where(np.isnat(days), np.nan, result)


class ServiceDateEncoder(TransformerMixin, BaseEstimator):
    """The service date as a fractional year, `service_year`.

    Payers change their rules (a plan starts asking for prior authorization on a service it did
    not before), so the same claim is judged differently over time. Trees split on this column
    where the policy changed, and a future date falls into the most recent regime, which is what
    a prediction for today should assume. Not monotonic.

    Parameters: columns (None, or input name -> column name/position).
    Fitted: first_year_, last_year_ (the training range, for reports), n_features_in_.
    """

    INPUT_COLUMNS = ("service_date",)

    def __init__(self, columns=None):
        self.columns = columns

    def fit(self, X, y=None):
        _check_columns_param(self)
        years = _years(_read_columns(self, X, reset=True)["service_date"])
        finite = years[np.isfinite(years)]
        self.first_year_ = float(finite.min()) if len(finite) else float("nan")
        self.last_year_ = float(finite.max()) if len(finite) else float("nan")
        return self

    def transform(self, X):
        check_is_fitted(self)
        return self.encode_columns(_read_columns(self, X, reset=False))

    def encode_columns(self, columns: Mapping) -> np.ndarray:
        """{service_date: 1-D array} -> (n, 1) float32."""
        return _years(columns["service_date"]).astype(np.float32).reshape(-1, 1)

    def one_hot_groups(self) -> dict[str, list[str]]:
        """None: the one output is a number."""
        return {}

    def _output_names(self) -> list[str]:
        return ["service_year"]

    def get_feature_names_out(self, input_features=None):
        return _names_out(self, input_features)

    def __sklearn_tags__(self):
        return _encoder_tags(super().__sklearn_tags__())
