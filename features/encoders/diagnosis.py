"""DiagnosisEncoder: the claim's ICD-10-CM codes, alone and against its treatment."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from features.catalog import UNLISTED
from features.claim_facts import CODE_SEPARATOR, FACT_NAMES, DiagnosisFacts, diagnosis_facts
from features.diagnosis import load_table, normalise_code
from features.encoders.base import BaseClaimsEncoder
from features.distinct import distinct_combinations, distinct_values
from features.encoders.values import read_text

ICD10CM_CHAPTERS = tuple(range(1, 23))


class DiagnosisEncoder(BaseClaimsEncoder):
    """The claim's ICD-10-CM codes, alone and against its treatment.

    Outputs: `chapter_01` .. `chapter_22` multi-hot; `category_<ABC>` multi-hot for 3-character
    categories present on at least `min_frequency` claims in fit, then `category_other` (rarer
    categories, and with handle_unknown="ignore" categories never seen in fit); `code_<CODE>`
    multi-hot for full codes (longer than a category) present on at least `min_frequency` claims,
    the `max_codes` most frequent of them; the facts of features.claim_facts (`covered_diagnosis`,
    `primary_diagnosis_covered`, `header_code`, `header_may_be_covered`, `cosmetic_encounter`,
    `diagnosis_count`). No one-hot blocks: a claim may carry several codes.

    Why full codes as well as categories: payers decide on the code, not its category. L74.510
    (axillary hyperhidrosis) and L74.512 (palms) share L74 and are paid differently; a ptosis code
    documents what a dermatochalasis code in the same H02 category does not. The category keeps
    a rare code's claims together; the code tells the frequent ones apart.

    Parameters
    ----------
    min_frequency : int >= 1, default=20
        Claims a category or full code needs in fit to get its own output.
    max_codes : int >= 0, default=256
        The most full-code outputs; the most frequent codes keep theirs.
    handle_unknown : {"ignore", "error"}, default="ignore"
        "ignore": categories unseen in fit count as `category_other`, unseen codes add nothing.
        "error": transform raises on a category unseen in fit.
    columns : mapping or None, default=None
        Where X holds each input, if not under its name; see BaseClaimsEncoder.

    Attributes
    ----------
    categories_ : tuple of str
        The frequent categories, sorted.
    category_index_ : dict of str to int
        Every category seen in fit -> its output among the category outputs.
    codes_ : tuple of str
        The frequent full codes, sorted.
    code_index_ : dict of str to int
        Each of codes_ -> its output among the code outputs.

    Examples
    --------
    >>> import pandas as pd
    >>> from features.encoders import DiagnosisEncoder
    >>> claims = pd.DataFrame({"diagnosis_codes": ["G43709", "Z411;G43709"],
    ...                        "treatment": ["botulinum_toxin", "facial"]})
    >>> encoder = DiagnosisEncoder(min_frequency=2).fit(claims)
    >>> encoder.categories_, encoder.codes_
    (('G43',), ('G43709',))
    >>> names = list(encoder.get_feature_names_out())
    >>> encoder.transform(claims)[:, [names.index("covered_diagnosis"), names.index("diagnosis_count")]].tolist()
    [[1.0, 1.0], [0.0, 2.0]]
    """

    INPUT_COLUMNS = ("diagnosis_codes", "treatment")
    MONOTONIC_INCREASING = ("covered_diagnosis",)
    HANDLE_UNKNOWN = ("ignore", "error")

    def __init__(self, min_frequency=20, max_codes=256, handle_unknown="ignore", columns=None):
        self.min_frequency = min_frequency
        self.max_codes = max_codes
        self.handle_unknown = handle_unknown
        self.columns = columns

    def _check_params(self) -> None:
        self._check_integer_param("min_frequency", minimum=1)
        if not isinstance(self.handle_unknown, str) or self.handle_unknown not in self.HANDLE_UNKNOWN:
            allowed = ", ".join(map(repr, self.HANDLE_UNKNOWN))
            raise ValueError(f"DiagnosisEncoder: handle_unknown must be one of {allowed}, got {self.handle_unknown!r}")
        self._check_integer_param("max_codes", minimum=0)

    def _fit(self, columns: Mapping) -> None:
        uniques, inverse = distinct_values(columns["diagnosis_codes"])
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


def _split_codes(value) -> list[str]:
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
