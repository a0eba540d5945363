"""DiagnosisEncoding: the fitted core of features.encoders.DiagnosisEncoder."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from features.catalog import UNLISTED
from features.claim_facts import CODE_SEPARATOR, FACT_NAMES, DiagnosisFacts, diagnosis_facts
from features.diagnosis import load_table, normalise_code
from features.distinct import distinct_combinations, distinct_values
from features.encoding.base import ClaimsEncoding
from features.encoding.values import read_text

ICD10CM_CHAPTERS = tuple(range(1, 23))


class DiagnosisEncoding(ClaimsEncoding):
    """Chapters, frequent categories (`category_index_`) and codes (`code_index_`) multi-hot, then
    the diagnosis facts (see DiagnosisEncoder)."""

    INPUT_COLUMNS = ("diagnosis_codes", "treatment")
    MONOTONIC_INCREASING = ("covered_diagnosis",)

    def encode_columns(self, columns: Mapping, facts: DiagnosisFacts | None = None) -> np.ndarray:
        """{diagnosis_codes (joined, dotless), treatment: 1-D arrays} -> (n, k) float32.

        facts: optionally, `diagnosis_facts(columns["treatment"], columns["diagnosis_codes"])` for
        these same rows, as the exclusion rules computed them; reused instead of computed again
        when they fit (see _facts_fit), so the output is the same either way.
        """
        codes_table = load_table().codes
        uniques, inverse = distinct_values(columns["diagnosis_codes"])
        n_chapters, other = len(ICD10CM_CHAPTERS), len(self.categories_)
        code_index = self.code_index_
        first_code = n_chapters + other + 1
        table = np.zeros((len(uniques), first_code + len(code_index)), dtype=np.float32)
        unknown = np.zeros(len(uniques), dtype=bool)
        joined = np.empty(len(uniques), dtype=object)
        for row, value in enumerate(uniques):
            codes = split_codes(value)
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
        treatments, treatment_inverse = distinct_values(columns["treatment"])
        keys = np.array([read_text(value) or UNLISTED for value in treatments], dtype=object)
        if _facts_fit(facts, len(inverse), zip(treatments, keys), zip(uniques, joined)):
            return _with_facts(table[inverse], facts)
        # The facts depend on the (treatment, codes) pair: ask for each distinct pair once.
        pair_inverse, (pair_treatment, pair_codes) = distinct_combinations([(treatment_inverse, len(treatments)),
                                                                            (inverse, len(uniques))])
        pair_facts = diagnosis_facts(keys[pair_treatment], joined[pair_codes])
        return _with_facts(table[pair_codes], pair_facts)[pair_inverse]

    def _output_names(self) -> list[str]:
        return [*(f"chapter_{number:02d}" for number in ICD10CM_CHAPTERS),
                *(f"category_{c}" for c in self.categories_), "category_other",
                *(f"code_{code}" for code in self.codes_), *FACT_NAMES]


def split_codes(value) -> list[str]:
    text = read_text(value)
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
