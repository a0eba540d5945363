"""The MLflow pyfunc wrapper, for MLflow's own consumers (`mlflow models serve`, `spark_udf`,
`mlflow.pyfunc.load_model`). Our own code never loads a model through it: it uses
scoring.artifacts.load_model.

The wrapper holds no fitted state: the CoverageModel travels as the logged model's
`coverage_model` artifact, the folder `CoverageModel.save()` wrote (skops file + metadata.json),
and `load_context` reads it with skops' type allow-list. Importing this module does nothing.
It imports only scoring, training.data and features, which travel with the logged model
in its `code/` folder (scoring.model_environment), so it loads where this repository is not
installed.

Input: a DataFrame of claims in the contract's request form (one row per claim line, diagnosis
codes `;`-joined as in CSV). Output: one row per claim with SCORE_COLUMNS. A claim that breaks
the contract raises an error naming its row and field (values are never echoed: patient data).
"""
from __future__ import annotations

import pandas as pd
from mlflow.pyfunc import PythonModel

from claims_io.requests import InvalidClaimsError, clean_request_frame
from scoring.artifacts import ARTIFACT_KEY
from scoring.coverage_model import SCORE_COLUMNS, CoverageModel


class CoverageModelPyfunc(PythonModel):
    """Rules + calibrated classifier + denial reasons behind the pyfunc `predict` interface."""

    coverage_model = None

    def load_context(self, context) -> None:
        self.coverage_model = CoverageModel.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        claims, rejected = clean_request_frame(frame)
        if len(rejected):
            first = rejected.iloc[0]
            raise InvalidClaimsError(
                f"{len(rejected)} problem(s) in the input; first: row {int(first['row_number'])}, "
                f"{first['field']}: {first['reason']}")
        scored = self.coverage_model.score_frame(claims)
        return scored.loc[:, list(SCORE_COLUMNS)].reset_index(drop=True)
