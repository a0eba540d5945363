"""TreatmentEncoder: the treatment as the catalog describes it, and its procedure code."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from features.catalog import CATEGORIES, UNLISTED, is_composite, load_catalog
from features.distinct import distinct_values
from features.encoders.base import BaseClaimsEncoder
from features.encoding.treatment import UNRESOLVED, TreatmentEncoding
from features.encoding.values import one_hot, read_text


class TreatmentEncoder(TreatmentEncoding, BaseClaimsEncoder):
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

    def _key_row(self, key: str, catalog) -> list[float]:
        """The treatment outputs of one key: its one-hot, then what all its candidates share."""
        row = one_hot(self.treatment_keys_, UNRESOLVED if is_composite(key) else key)
        traits = catalog.shared_traits(key)
        if traits is None:  # unlisted
            return row + [0.0] * (len(CATEGORIES) + len(self._FLAGS))
        return row + one_hot(CATEGORIES, traits.category) + [float(getattr(traits, flag)) for flag in self._FLAGS]
