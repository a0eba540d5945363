"""TreatmentEncoding: the fitted core of features.encoders.TreatmentEncoder."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from features.catalog import UNLISTED
from features.encoding.base import ClaimsEncoding
from features.encoding.columns import rows_per_combination
from features.encoding.values import one_hot, read_text

UNRESOLVED = "unresolved"  # the output that marks a composite key


class TreatmentEncoding(ClaimsEncoding):
    """The treatment block from `treatment_table_`, then the procedure code one-hot over
    `procedure_codes_` (see TreatmentEncoder for the outputs and the fitted attributes)."""

    INPUT_COLUMNS = ("treatment", "procedure_code")
    _FLAGS = ("cosmetic_by_default", "requires_prior_authorization", "requires_conservative_therapy")

    def encode_columns(self, columns: Mapping) -> np.ndarray:
        """{treatment, procedure_code: 1-D arrays} -> (n, k) float32."""
        width = self.treatment_table_.shape[1] + len(self.procedure_codes_) + 2
        return rows_per_combination(self._row, width, columns["treatment"], columns["procedure_code"])

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
