"""Facts about a claim's diagnoses relative to its treatment, computed for many claims at once.

Rules and features both need "is a covered diagnosis for this treatment present?". Claims repeat
the same (treatment, diagnosis list) pairs, so the facts are worked out once per distinct pair and
broadcast back: a million claims cost a few thousand Python-level checks, and one claim costs one.
Inputs are plain arrays (one entry per claim), so the service can call this without a DataFrame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.catalog import TreatmentCatalog, load_catalog
from features.contract import CLEAN_COLUMNS
from features.diagnosis import COSMETIC_ENCOUNTER_CODE, DiagnosisTable, load_table
from features.distinct import column_array, distinct_combinations, distinct_values

CODE_SEPARATOR = ";"
FACT_NAMES = (
    "covered_diagnosis",  # a code under which the catalog covers this treatment is present
    "primary_diagnosis_covered",  # ... and it is the first (primary) code
    "header_code",  # a valid but non-billable header code is present (payers deny: CARC 146)
    "header_may_be_covered",  # a header code whose specific children include a covered one
    "cosmetic_encounter",  # Z41.1 is present
    "diagnosis_count",
)


@dataclass(frozen=True)
class DiagnosisFacts:
    """One array per fact name, aligned with the input claims."""

    arrays: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


def join_codes(codes) -> str:
    """Normalised codes -> the one-string form claims frames carry (`G43709;Z6835`)."""
    return CODE_SEPARATOR.join(codes)


def split_codes(joined: str) -> list[str]:
    return joined.split(CODE_SEPARATOR) if joined else []


def facts_for_pair(treatment_key: str, codes: list[str], catalog: TreatmentCatalog, table: DiagnosisTable) -> tuple:
    """The facts of one (treatment, normalised code list) pair, in FACT_NAMES order.

    An unresolved key (a shared code the diagnoses did not settle) may be any of its candidates,
    so a diagnosis counts as covered when it is covered under one of them.
    """
    candidates = catalog.candidates(treatment_key)
    billable = [table.codes[code][0] if code in table.codes else True for code in codes]
    headers = [code for code, is_billable in zip(codes, billable) if not is_billable]
    primary = codes[:1]
    return (
        any(treatment.covered_by(codes) for treatment in candidates),
        any(treatment.covers(code) and treatment.requirement_met(codes) for treatment in candidates for code in primary),
        bool(headers),
        any(treatment.may_cover_header(code) for treatment in candidates for code in headers),
        COSMETIC_ENCOUNTER_CODE in codes,
        len(codes),
    )


def diagnosis_facts(treatment_keys, joined_codes, catalog: TreatmentCatalog | None = None,
                    table: DiagnosisTable | None = None) -> DiagnosisFacts:
    """Facts for aligned arrays of treatment keys and joined, normalised diagnosis codes."""
    catalog = catalog or load_catalog()
    table = table or load_table()
    if len(treatment_keys) == 1:  # the service's single claim: skip the factorising
        row = facts_for_pair(treatment_keys[0], split_codes(joined_codes[0]), catalog, table)
        return DiagnosisFacts({name: np.array([value]) for name, value in zip(FACT_NAMES, row)})
    treatment_values, treatment_index = distinct_values(treatment_keys)
    codes_values, codes_index = distinct_values(joined_codes)
    inverse, (pair_treatment, pair_codes) = distinct_combinations([(treatment_index, len(treatment_values)),
                                                                   (codes_index, len(codes_values))])
    rows = [facts_for_pair(treatment_values[treatment], split_codes(codes_values[codes]), catalog, table)
            for treatment, codes in zip(pair_treatment, pair_codes)]
    table_of_pairs = np.array(rows, dtype=np.int64).reshape(len(rows), len(FACT_NAMES))
    arrays = {}
    for column, name in enumerate(FACT_NAMES):
        values = table_of_pairs[inverse, column]
        arrays[name] = values if name == "diagnosis_count" else values.astype(bool)
    return DiagnosisFacts(arrays)


def frame_to_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """A clean claims frame as the arrays rules and encoders read, one per contract column. A
    category column stays a pd.Categorical (column_array): every reader factorises it by its
    codes, where `.to_numpy()` made a million Python strings that each reader hashed again."""
    return {name: column_array(frame[name]) for name in CLEAN_COLUMNS if name in frame.columns}


def columns_facts(columns: dict[str, np.ndarray]) -> DiagnosisFacts:
    """The diagnosis facts of claims given as columns: what the rules read, and the features reuse."""
    return diagnosis_facts(columns["treatment"], columns["diagnosis_codes"])


def facts_of_rows(facts: DiagnosisFacts, rows: np.ndarray) -> DiagnosisFacts:
    """The facts of the given rows, in that order (aligned with `columns[name][rows]`)."""
    return DiagnosisFacts({name: values[rows] for name, values in facts.arrays.items()})


def joined_facts(first: DiagnosisFacts, then: DiagnosisFacts) -> DiagnosisFacts:
    """The facts of `first`'s claims followed by `then`'s (aligned with their columns joined)."""
    return DiagnosisFacts({name: np.concatenate([values, then.arrays[name]]) for name, values in first.arrays.items()})
