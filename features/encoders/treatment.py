"""TreatmentEncoder: the treatment as the catalog describes it, and its procedure code."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from features.catalog import CATEGORIES, UNLISTED, is_composite, load_catalog
from features.encoders.base import BaseClaimsEncoder
from features.distinct import distinct_values
from features.encoders.columns import rows_per_combination
from features.encoders.values import one_hot, read_text


UNRESOLVED = "unresolved"  # the output that marks a composite key


class TreatmentEncoder(BaseClaimsEncoder):
    """The treatment as the catalog describes it, and its procedure code.

    Outputs: one column per catalog key, `unlisted` (any other value) and `unresolved` (a
    composite key: a code several treatments share, which the diagnoses did not settle);
    `category_<c>`; `cosmetic_by_default`, `requires_prior_authorization`,
    `requires_conservative_therapy`; `procedure_code_<code>` for codes seen on at least
    `min_frequency` claims in fit, then `procedure_code_other` and `procedure_code_none` (no code
    given).

    An unresolved claim is marked `unresolved` rather than spread over its candidates because
    the treatment block is read as one category (the position of its 1) by the teachers of the
    classifier: a spread would read as the first candidate. The procedure code columns still tell
    the composites apart (17999, 11900, 96567), and the category and flags are what every
    candidate shares (catalog.shared_traits), so no output claims what the claim may not be.

    Parameters
    ----------
    min_frequency : int >= 1, default=20
        Claims a procedure code needs in fit to get its own output.
    columns : mapping or None, default=None
        Where X holds each input, if not under its name; see BaseClaimsEncoder.

    Attributes
    ----------
    treatment_keys_ : tuple of str
        The outputs of the treatment block: the catalog's keys at fit, `unlisted`, `unresolved`.
    categories_ : tuple of str
        The catalog's categories.
    treatment_rows_ : dict of str to int
        Each catalog key and composite key at fit -> its row of treatment_table_; any other value
        takes the `unlisted` row.
    treatment_table_ : ndarray of shape (n_keys, n_treatment_outputs)
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
        self.treatment_keys_ = catalog.keys + (UNLISTED, UNRESOLVED)
        self.categories_ = CATEGORIES
        keys = catalog.keys + (UNLISTED,) + catalog.composite_keys
        self.treatment_rows_ = {key: row for row, key in enumerate(keys)}
        self.treatment_table_ = np.array([self._key_row(key, catalog) for key in keys], dtype=np.float32)
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

    def _key_row(self, key: str, catalog) -> list[float]:
        """The treatment outputs of one key: its one-hot, then what all its candidates share."""
        row = one_hot(self.treatment_keys_, UNRESOLVED if is_composite(key) else key)
        traits = catalog.shared_traits(key)
        if traits is None:  # unlisted
            return row + [0.0] * (len(CATEGORIES) + len(self._FLAGS))
        return row + one_hot(CATEGORIES, traits.category) + [float(getattr(traits, flag)) for flag in self._FLAGS]

    def _table_row(self, key: str | None) -> int:
        rows = getattr(self, "treatment_rows_", None)
        if rows is None:  # fitted before composite keys: rows follow treatment_keys_, unlisted last
            return self.treatment_keys_.index(key) if key in self.treatment_keys_ else len(self.treatment_keys_) - 1
        return rows.get(key, rows[UNLISTED])

    def _row(self, treatment, procedure_code) -> list[float]:
        code = read_text(procedure_code)
        if code is None:
            codes = [0.0] * (len(self.procedure_codes_) + 1) + [1.0]  # procedure_code_none
        else:
            codes = one_hot(self.procedure_codes_, code.upper(), other=True) + [0.0]
        return [*self.treatment_table_[self._table_row(read_text(treatment))].tolist(), *codes]

    def one_hot_groups(self) -> dict[str, list[str]]:
        return {"treatment": list(self.treatment_keys_),
                "procedure_code": [name for name in self._output_names() if name.startswith("procedure_code_")]}

    def _output_names(self) -> list[str]:
        return [*self.treatment_keys_, *(f"category_{c}" for c in self.categories_), *self._FLAGS,
                *(f"procedure_code_{code}" for code in self.procedure_codes_),
                "procedure_code_other", "procedure_code_none"]
