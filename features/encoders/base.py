"""BaseClaimsEncoder: what every claims encoder shares, after category_encoders' BaseEncoder."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from features.distinct import column_array
from features.encoding.base import ClaimsEncoding


class BaseClaimsEncoder(TransformerMixin, ClaimsEncoding, BaseEstimator):
    """The scikit-learn half of a claims encoder; a subclass writes only its own fitting, and its
    core (features.encoding), which it lists first among its bases, its encoding.

    The base owns `fit` (checks the parameters, reads the columns, calls `_fit`), `transform`
    (checks it is fitted, reads the columns, calls `encode_columns`), `get_feature_names_out`
    and the sklearn tags. A subclass stores its parameters in `__init__` (`columns` among them)
    and writes `_check_params` and `_fit`; its core declares `INPUT_COLUMNS` and writes
    `encode_columns`, `_output_names` and, when it has one-hot blocks, `one_hot_groups`, so that
    a served model applies the fitted state without scikit-learn (scoring.served_form).

    `encode_columns` rather than a private `_transform` is the step `transform` calls because it
    is public: the service calls it directly (features.pipeline.encode_claims).

    Parameters
    ----------
    columns : mapping or None, default=None
        Every encoder's parameter: input name -> the column of X that holds it, by name or by
        position; an input not in the mapping is read from the column of its own name. Positions
        are how sklearn's estimator checks feed the encoders plain arrays.

    Attributes
    ----------
    n_features_in_ : int
        Columns of X in fit.
    feature_names_in_ : ndarray of str
        Column names of X in fit, when X was a DataFrame.
    """

    def fit(self, X, y=None):
        """Check the parameters, learn what the encoding needs from X; returns self."""
        self._check_params()
        self._check_columns_param()
        self._fit(self._read_columns(X, reset=True))
        return self

    def transform(self, X):
        """X's claims as an (n, k) float32 matrix, one column per output name."""
        check_is_fitted(self)
        return self.encode_columns(self._read_columns(X, reset=False))

    def get_feature_names_out(self, input_features=None):
        """The output names, in the order of transform's columns."""
        check_is_fitted(self)
        if input_features is not None:
            if len(input_features) != self.n_features_in_:
                raise ValueError(f"input_features should have length equal to number of features "
                                 f"({self.n_features_in_}), got {len(input_features)}")
            if hasattr(self, "feature_names_in_") and not np.array_equal(self.feature_names_in_, input_features):
                raise ValueError("input_features is not equal to feature_names_in_")
        return np.asarray(self._output_names(), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Inputs are claim columns: category and string columns (keys, codes, enums) next to numbers.
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        # Missing numbers carry information (no earlier treatment, no benefit limit): NaN passes through.
        tags.input_tags.allow_nan = True
        # The output is float32 (the training matrix's dtype) whatever the input's dtype.
        tags.transformer_tags.preserves_dtype = []
        return tags

    # -- written by each encoder ----------------------------------------------------------------

    def _check_params(self) -> None:
        """Raise ValueError for a bad value of the encoder's own parameters."""

    def _fit(self, columns: Mapping) -> None:
        """Learn the fitted attributes from {each of INPUT_COLUMNS: 1-D array}."""
        raise NotImplementedError

    # -- shared by the encoders -----------------------------------------------------------------

    def _check_integer_param(self, name: str, minimum: int) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{type(self).__name__}: {name} must be an integer >= {minimum}, got {value!r}")

    def _check_columns_param(self) -> None:
        name = type(self).__name__
        if self.columns is None:
            return
        if not isinstance(self.columns, Mapping):
            raise ValueError(f"{name}: columns must be None or a mapping from input to column, "
                             f"got {type(self.columns).__name__}")
        unknown = [key for key in self.columns if key not in self.INPUT_COLUMNS]
        if unknown:
            raise ValueError(f"{name}: columns names unknown input(s) {unknown}; "
                             f"the inputs are {', '.join(self.INPUT_COLUMNS)}")
        for key, spec in self.columns.items():
            if isinstance(spec, bool) or not isinstance(spec, (str, int, np.integer)):
                raise ValueError(f"{name}: columns[{key!r}] must be a column name (str) or position (int), "
                                 f"got {spec!r}")

    def _read_columns(self, X, reset: bool) -> dict:
        """Validate X against what fit saw and return {input name: 1-D array}."""
        name = type(self).__name__
        specs = {key: (self.columns or {}).get(key, key) for key in self.INPUT_COLUMNS}
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, skip_check_array=True, reset=reset)
            if X.shape[1] == 0:
                raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
            if reset and X.shape[0] == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
            missing = [spec for spec in specs.values() if isinstance(spec, str) and spec not in X.columns]
            if missing:
                raise ValueError(f"{name}: X lacks the column(s) {', '.join(missing)}")
            read = lambda spec: column_array(X[spec] if isinstance(spec, str) else X.iloc[:, spec])
        else:
            X = validate_data(self, X, dtype=None, ensure_all_finite=False, reset=reset)
            by_name = [spec for spec in specs.values() if isinstance(spec, str)]
            if by_name:
                raise ValueError(f"{name} reads the columns {', '.join(by_name)} by name: pass a DataFrame, "
                                 "or map them to positions with the columns parameter")
            read = lambda spec: X[:, spec]
        for key, spec in specs.items():
            if not isinstance(spec, str) and not -X.shape[1] <= spec < X.shape[1]:
                raise ValueError(f"{name}: columns[{key!r}] is position {spec}, but X has {X.shape[1]} feature(s)")
        return {key: read(spec) for key, spec in specs.items()}
