"""The MLflow model, logged as code ("models from code"): MLflow copies this file into the model
and runs it on load; it declares the model with `mlflow.models.set_model` (that call at import
is the point of this file, so nothing but MLflow should import it).

The fitted CoverageModel is not pickled: it travels as the model's `coverage_model` artifact,
the directory written by `CoverageModel.save()` (skops file + metadata.json), and is loaded with
skops' type allow-list. The Python code comes from the installed medspa-coverage package.

Input: a DataFrame of claims in the contract's request form (one row per claim line, diagnosis
codes `;`-joined as in CSV). Output: one row per claim with OUTPUT_COLUMNS. A claim that breaks
the contract raises an error naming its row and field (values are never echoed: patient data).
"""
from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

ARTIFACT_KEY = "coverage_model"
OUTPUT_COLUMNS = ("approval_probability", "model_probability", "decision", "excluded", "rule_ids",
                  "top_denial_reason")


class CoverageModelPyfunc(PythonModel):
    """Rules + calibrated classifier + denial reasons behind the pyfunc `predict` interface."""

    coverage_model = None

    def load_context(self, context) -> None:
        from training.coverage_model import CoverageModel

        self.coverage_model = CoverageModel.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from training.batch import InvalidClaimsError, clean_request_frame

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        claims, rejected = clean_request_frame(frame)
        if len(rejected):
            first = rejected.iloc[0]
            raise InvalidClaimsError(
                f"{len(rejected)} problem(s) in the input; first: row {int(first['row_number'])}, "
                f"{first['field']}: {first['reason']}")
        scored = self.coverage_model.score_frame(claims)
        return scored.loc[:, list(OUTPUT_COLUMNS)].reset_index(drop=True)


mlflow.models.set_model(CoverageModelPyfunc())
