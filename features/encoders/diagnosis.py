"""DiagnosisEncoder: the claim's ICD-10-CM codes, alone and against its treatment."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from features.distinct import distinct_values
from features.encoders.base import BaseClaimsEncoder
from features.encoding.diagnosis import DiagnosisEncoding, split_codes


class DiagnosisEncoder(DiagnosisEncoding, BaseClaimsEncoder):
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
            codes = set(split_codes(value))
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
