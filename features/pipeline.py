"""The feature pipeline: clean claims frame -> float32 matrix, with readable feature names.

`build_feature_pipeline()` returns an unfitted ColumnTransformer of the five encoders in
features.encoders; the training code fits it. A ColumnTransformer rather than a FeatureUnion
because each encoder reads only its own columns: a frame scored later may lack the outcome
columns the training frame had, or carry extra ones, and still fit the fitted pipeline.

Output names are `<encoder>__<feature>`: `treatment__botulinum_toxin`,
`circumstance__prior_authorization`, `diagnosis__covered_diagnosis`, `policy__plan_type_hmo`.
`one_hot_groups(fitted)` says which outputs are one-hot blocks of the same input.

The service scores one claim without a DataFrame: `claims_to_columns(claims)` makes arrays from
canonical claim dicts, and `encode_claims(fitted, columns)` runs the fitted encoders'
cores on them and returns the same row `fitted.transform(frame)` would. The diagnosis facts the
exclusion rules computed for those claims may be passed along, so they are not worked out twice.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from features.claim_facts import DiagnosisFacts, join_codes
from features.contract import BENEFIT_REMAINING, CLEAN_COLUMNS, VISIT_FIELDS
from features.diagnosis import normalise_code
from features.encoding.circumstance import COMMON_PLACES_OF_SERVICE, CircumstanceEncoding
from features.encoding.columns import factorise_object_columns
from features.encoding.diagnosis import DiagnosisEncoding
from features.encoding.policy import PolicyEncoding
from features.encoding.service_date import ServiceDateEncoding
from features.encoding.treatment import TreatmentEncoding

# (step name, encoder core): the step name is the prefix of its output names. The cores, not the
# scikit-learn encoders that subclass them: what is read here (inputs, monotonic outputs) and what
# encode_claims runs is theirs, and scoring a claim then never imports scikit-learn.
ENCODERS = (
    ("treatment", TreatmentEncoding),
    ("policy", PolicyEncoding),
    ("diagnosis", DiagnosisEncoding),
    ("circumstance", CircumstanceEncoding),
    ("time", ServiceDateEncoding),
)
# Clean-frame columns the pipeline reads, in first-use order; the text ones among them.
FEATURE_INPUT_COLUMNS = tuple(dict.fromkeys(c for _, encoder in ENCODERS for c in encoder.INPUT_COLUMNS))
TEXT_INPUT_COLUMNS = tuple(c for c in FEATURE_INPUT_COLUMNS if VISIT_FIELDS[c][0] in ("string", "code", "codes", "enum"))
# The outputs training gives monotonic +1 (-1) constraints, named as the pipeline prefixes them.
MONOTONIC_INCREASING_FEATURES = tuple(f"{step}__{output}" for step, encoder in ENCODERS
                                      for output in encoder.MONOTONIC_INCREASING)
MONOTONIC_DECREASING_FEATURES = tuple(f"{step}__{output}" for step, encoder in ENCODERS
                                      for output in encoder.MONOTONIC_DECREASING)


def build_feature_pipeline(*, procedure_code_min_frequency: int = 20, diagnosis_min_frequency: int = 20,
                           handle_unknown: str = "ignore",
                           place_of_service_codes: tuple[str, ...] = COMMON_PLACES_OF_SERVICE):
    """An unfitted ColumnTransformer of the five encoders; parameters go to the encoder they name."""
    # Fitting's imports, here rather than at the top: scoring with a fitted pipeline needs none of them.
    from sklearn.compose import ColumnTransformer

    from features.encoders import (CircumstanceEncoder, DiagnosisEncoder, PolicyEncoder, ServiceDateEncoder,
                                   TreatmentEncoder)

    encoders = {
        "treatment": TreatmentEncoder(min_frequency=procedure_code_min_frequency),
        "policy": PolicyEncoder(),
        "diagnosis": DiagnosisEncoder(min_frequency=diagnosis_min_frequency, handle_unknown=handle_unknown),
        "circumstance": CircumstanceEncoder(place_of_service_codes=place_of_service_codes),
        "time": ServiceDateEncoder(),
    }
    return ColumnTransformer(
        [(step, encoders[step], list(encoder.INPUT_COLUMNS)) for step, encoder in ENCODERS],
        remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True)


def _fitted_encoders(fitted) -> list:
    if hasattr(fitted, "encode_columns"):  # a single fitted encoder
        return [fitted]
    if not hasattr(fitted, "transformers_"):
        from sklearn.exceptions import NotFittedError  # here: scoring a fitted pipeline never reaches it

        raise NotFittedError("encode_claims needs a fitted pipeline from build_feature_pipeline()")
    encoders = []
    for step, transformer, _ in fitted.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        if not hasattr(transformer, "encode_columns"):
            raise TypeError(f"encode_claims: step {step!r} has no encode_columns core")
        encoders.append(transformer)
    return encoders


def one_hot_groups(fitted_pipeline) -> dict[str, np.ndarray]:
    """{"<step>__<input>": positions in the pipeline's output} for each one-hot block (at most one 1
    per claim): the treatment, procedure code, plan type, benefit scope, facility type, place of
    service. A model that splits on categories natively reads each block as one column."""
    position = {name: at for at, name in enumerate(fitted_pipeline.get_feature_names_out())}
    groups = {}
    for step, encoder, _ in fitted_pipeline.transformers_:
        if isinstance(encoder, str):  # "drop"
            continue
        for source, outputs in encoder.one_hot_groups().items():
            groups[f"{step}__{source}"] = np.array([position[f"{step}__{output}"] for output in outputs], dtype=np.intp)
    return groups


# The claim input each pipeline output is read from, by the output's name without its step: an
# explanation sums the outputs of one input (features: tree_shap's contributions per column).
# Outputs read from several inputs go to the one a person would change: the facility's fit to
# the benefit scope and the treatment's setting go to facility_type, a covered diagnosis to
# diagnosis_codes. `benefit_remaining` is the limit less what is used: benefit_limit and
# benefit_used together. The two "where required" outputs are claim-dependent (explanation code).
_OUTPUT_INPUTS = (  # (step, output name or prefix ending in "_" / "*", input)
    ("treatment", "procedure_code_*", "procedure_code"),
    ("treatment", "*", "treatment"),
    ("policy", "plan_type_*", "plan_type"),
    ("policy", "benefit_scope_*", "benefit_scope"),
    ("policy", "in_network", "in_network"),
    ("diagnosis", "*", "diagnosis_codes"),
    ("circumstance", "prior_authorization_where_required", "prior_authorization"),
    ("circumstance", "prior_authorization_required", "plan_type"),  # the plan's table (and setting) asks
    ("circumstance", "conservative_therapy_where_required", "conservative_therapy_documented"),
    ("circumstance", "initial_visit", "visit_number"),
    ("circumstance", "has_prior_treatment", "weeks_since_last_treatment"),
    ("circumstance", "below_min_weeks_between", "weeks_since_last_treatment"),
    ("circumstance", "facility_*", "facility_type"),
    ("circumstance", "setting_fits_treatment", "facility_type"),
    ("circumstance", "place_of_service_*", "place_of_service"),
    ("circumstance", "benefit_*", BENEFIT_REMAINING),
    ("circumstance", "billed_amount_log1p", "billed_amount"),
    ("circumstance", "below_min_age", "patient_age"),
    ("circumstance", "*", None),  # the rest of the circumstance outputs carry their input's name
    ("time", "*", "service_date"),
)


def output_input(name: str) -> str:
    """The claim input a pipeline output (`<step>__<output>`) is read from.

    >>> [output_input(n) for n in ("policy__plan_type_hmo", "circumstance__referral", "time__service_year")]
    ['plan_type', 'referral', 'service_date']
    """
    step, _, output = name.partition("__")
    for rule_step, pattern, source in _OUTPUT_INPUTS:
        if rule_step != step:
            continue
        matches = output == pattern or pattern == "*" or (pattern.endswith("*") and output.startswith(pattern[:-1]))
        if matches:
            return source if source is not None else output
    raise KeyError(f"no claim input is known for the pipeline output {name!r}")


def encode_claims(fitted_pipeline, columns: Mapping[str, np.ndarray],
                  facts: DiagnosisFacts | None = None) -> np.ndarray:
    """The fitted pipeline's output for claims given as {clean-frame column: 1-D array}.

    Equal to `fitted_pipeline.transform(frame)` for the same claims, without sklearn's per-call
    validation or a DataFrame: the service's path for one claim. For many claims from a frame,
    `frame[column].array` (or the Series) is cheaper than `.to_numpy()`, which turns category
    columns into Python strings.

    facts: the diagnosis facts of these same claims, when the caller computed them for the
    exclusion rules; the diagnosis encoder then reuses them (DiagnosisEncoder.encode_columns).
    """
    encoders = _fitted_encoders(fitted_pipeline)
    columns = factorise_object_columns(columns, TEXT_INPUT_COLUMNS)
    return np.concatenate([_encode(encoder, columns, facts) for encoder in encoders], axis=1)


def encode_claims_into(fitted_pipeline, columns: Mapping[str, np.ndarray], facts: DiagnosisFacts | None = None,
                       trailing: int = 0) -> np.ndarray:
    """encode_claims(fitted_pipeline, columns, facts) in the first columns of an (n, outputs +
    `trailing`) float32 array, the trailing columns left for the caller to fill (the model's rule
    inputs): each encoder's block is written in place, where encode_claims' concatenation and the
    caller's appending each copied every row again (a batch chunk's matrix is tens of MB)."""
    blocks = _encoder_blocks(fitted_pipeline)
    columns = factorise_object_columns(columns, TEXT_INPUT_COLUMNS)
    out = np.empty((len(columns["treatment"]), (blocks[-1][1].stop if blocks else 0) + trailing), dtype=np.float32)
    for encoder, block in blocks:
        out[:, block] = _encode(encoder, columns, facts)
    return out


def outputs_reading(fitted_pipeline, changed: tuple[str, ...]) -> np.ndarray:
    """Positions in the pipeline's output of every output of an encoder that reads one of the
    columns `changed`: the outputs two claims differing in those columns alone may differ in."""
    return np.array([at for encoder, block in _encoder_blocks(fitted_pipeline)
                     if any(name in changed for name in encoder.INPUT_COLUMNS) for at in range(block.start, block.stop)],
                    dtype=np.int64)


def encode_changed_claims(fitted_pipeline, columns: Mapping[str, np.ndarray], encoded: np.ndarray,
                          rows: np.ndarray, changed: tuple[str, ...]) -> np.ndarray:
    """encode_claims(fitted_pipeline, columns) for claims that differ from the rows `rows` of
    `encoded` (encode_claims rows, one per claim of `columns`) in the columns `changed` alone: those
    rows copied, with the outputs of the encoders that read a changed column encoded again (a spa
    twin of a claim differs in its facility, which the circumstance encoder alone reads). Columns
    of `encoded` past the pipeline's outputs are copied as they are."""
    out = np.asarray(encoded, dtype=np.float32)[rows]  # a copy: the claims' own rows stay as they were
    columns = factorise_object_columns(columns, TEXT_INPUT_COLUMNS)
    for encoder, block in _encoder_blocks(fitted_pipeline):
        if any(name in changed for name in encoder.INPUT_COLUMNS):
            out[:, block] = encoder.encode_columns(columns)
    return out


def _encoder_blocks(fitted_pipeline) -> list[tuple]:
    """(fitted encoder, the slice of the pipeline's output it writes), in output order."""
    blocks, at = [], 0
    for encoder in _fitted_encoders(fitted_pipeline):
        width = len(encoder._output_names())
        blocks.append((encoder, slice(at, at + width)))
        at += width
    return blocks


def _encode(encoder, columns: Mapping, facts: DiagnosisFacts | None) -> np.ndarray:
    if facts is not None and isinstance(encoder, DiagnosisEncoding):  # the one encoder that reads the facts
        return encoder.encode_columns(columns, facts=facts)
    return encoder.encode_columns(columns)


def _value(value, kind: str, default):
    """One field of a canonical claim as the column array holds it (absent -> the contract's default)."""
    if value is None:
        value = default
    if kind == "bool":
        return bool(value)
    if kind in ("int", "number"):
        return np.nan if value is None else float(value)
    if kind == "codes" and not isinstance(value, str):  # a list of codes rather than the joined form
        return join_codes(normalise_code(code) for code in value)
    return value


def claims_to_columns(claims) -> dict[str, np.ndarray]:
    """Canonical claims (clean-frame keys) -> {column: array} for encode_claims and the rules,
    without pandas: the service's path for a claim and its what-if variants.

    Absent fields take the contract's defaults; diagnosis_codes may be the joined string or a list.
    """
    columns = {}
    for name, kind, default, dtype in _COLUMN_KINDS:
        if kind in _AS_GIVEN:  # most columns: the value as given (None for a number: NaN), else the default
            values = [value if (value := claim.get(name)) is not None else default for claim in claims]
        else:
            values = [_value(claim.get(name), kind, default) for claim in claims]
        columns[name] = np.array(values, dtype=dtype)
    return columns


def _column_kind(name: str) -> tuple:
    """(name, how claims_to_columns reads the field, its default, the column's dtype)."""
    kind, _, _, default = VISIT_FIELDS[name]
    dtype = bool if kind == "bool" else float if kind in ("int", "number") else object
    return name, "text" if dtype is object and kind != "codes" else kind, default, dtype


# columns np.array reads as _value would: text as it is; a number as float(), with None as NaN
_AS_GIVEN = ("text", "int", "number")
# each column's reading, worked out once (claims_to_columns runs for every answer)
_COLUMN_KINDS = tuple(_column_kind(name) for name in CLEAN_COLUMNS)
