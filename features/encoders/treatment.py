"""TreatmentEncoder: the treatment as the catalog describes it, and its procedure code."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from features.catalog import CATEGORIES, UNLISTED, load_catalog
from features.encoders.base import BaseClaimsEncoder
from features.encoders.columns import distinct_values, rows_per_combination
from features.encoders.values import one_hot, read_text


class TreatmentEncoder(BaseClaimsEncoder):
    """The treatment as the catalog describes it, and its procedure code.

    Outputs: one column per catalog key plus `unlisted` (any other value); `category_<c>`;
    `cosmetic_by_default`, `requires_prior_authorization`, `requires_conservative_therapy`;
    `procedure_code_<code>` for codes seen on at least `min_frequency` claims in fit, then
    `procedure_code_other` and `procedure_code_none` (no code given).

    Parameters
    ----------
    min_frequency : int >= 1, default=20
        Claims a procedure code needs in fit to get its own output.
    columns : mapping or None, default=None
        Where X holds each input, if not under its name; see BaseClaimsEncoder.

    Attributes
    ----------
    treatment_keys_ : tuple of str
        The catalog's keys at fit, then `unlisted`.
    categories_ : tuple of str
        The catalog's categories.
    treatment_table_ : ndarray of shape (len(treatment_keys_), n_treatment_outputs)
        The outputs before the procedure codes, one row per key.
    procedure_codes_ : tuple of str
        The frequent procedure codes, sorted.

    Examples
    --------
    >>> import pandas as pd
    >>> from features.encoders import TreatmentEncoder
    >>> claims = pd.DataFrame({"treatment": ["botulinum_toxin", "botulinum_toxin", "wig"],
    ...                        "procedure_code": ["64615", "64615", "A9282"]})
    >>> encoder = TreatmentEncoder(min_frequency=2).fit(claims)
    >>> names = list(encoder.get_feature_names_out())
    >>> names[-3:]
    ['procedure_code_64615', 'procedure_code_other', 'procedure_code_none']
    >>> encoder.transform(claims)[:, names.index("procedure_code_other")].tolist()
    [0.0, 0.0, 1.0]
    """

    INPUT_COLUMNS = ("treatment", "procedure_code")
    _FLAGS = ("cosmetic_by_default", "requires_prior_authorization", "requires_conservative_therapy")

    def __init__(self, min_frequency=20, columns=None):
        self.min_frequency = min_frequency
        self.columns = columns

    def _check_params(self) -> None:
        self._check_integer_param("min_frequency", minimum=1)

    def _fit(self, columns: Mapping) -> None:
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
        uniques, inverse = distinct_values(columns["procedure_code"])
        counts = Counter()
        for value, count in zip(uniques, np.bincount(inverse, minlength=len(uniques))):
            code = read_text(value)
            if code is not None:
                counts[code.upper()] += int(count)
        self.procedure_codes_ = tuple(sorted(code for code, count in counts.items() if count >= self.min_frequency))

    def encode_columns(self, columns: Mapping) -> np.ndarray:
        """{treatment, procedure_code: 1-D arrays} -> (n, k) float32."""
        width = self.treatment_table_.shape[1] + len(self.procedure_codes_) + 2
        return rows_per_combination(self._row, width, columns["treatment"], columns["procedure_code"])

    def _row(self, treatment, procedure_code) -> list[float]:
        key = read_text(treatment)
        key_row = self.treatment_keys_.index(key) if key in self.treatment_keys_ else len(self.treatment_keys_) - 1
        code = read_text(procedure_code)
        if code is None:
            codes = [0.0] * (len(self.procedure_codes_) + 1) + [1.0]  # procedure_code_none
        else:
            codes = one_hot(self.procedure_codes_, code.upper(), other=True) + [0.0]
        return [*self.treatment_table_[key_row].tolist(), *codes]

    def one_hot_groups(self) -> dict[str, list[str]]:
        return {"treatment": list(self.treatment_keys_),
                "procedure_code": [name for name in self._output_names() if name.startswith("procedure_code_")]}

    def _output_names(self) -> list[str]:
        return [*self.treatment_keys_, *(f"category_{c}" for c in self.categories_), *self._FLAGS,
                *(f"procedure_code_{code}" for code in self.procedure_codes_),
                "procedure_code_other", "procedure_code_none"]
