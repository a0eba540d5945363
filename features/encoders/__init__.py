"""Encoders that turn the clean claims frame (features.contract) into a float32 feature matrix.

One encoder per concern, one module each: the treatment, the policy, the diagnoses, the visit's
circumstances, the service date. They share `BaseClaimsEncoder` (base), which gives each
two doors onto the same code:

- `transform(X)`, the scikit-learn door: a frame (or any 2-D array), feature-name checks,
  `set_output`. It reads the columns and calls `encode_columns`.
- `encode_columns(columns)`, the core: a mapping of clean-frame column name -> 1-D array in
  (numpy arrays; pandas arrays and Series work too), an (n, k) float32 array out. The service
  calls it for one claim (through `features.pipeline.encode_claims`) without building a
  DataFrame or paying sklearn's checks.

Categorical inputs are encoded once per distinct value and broadcast back (columns), so the
Python-level work grows with the distinct values, not with the rows. Domain tables (catalog
keys and flags, contract enums) are copied into the encoder at fit, so a fitted encoder's
columns keep their meaning when the catalog gains a row.

Input columns are the clean frame's names, unless the `columns` parameter maps them elsewhere.

Each encoder here is the scikit-learn half (parameters, fit, validation); what it learned is
applied by its core in features.encoding, which it subclasses and which imports no scikit-learn.
"""
from features.encoders.circumstance import COMMON_PLACES_OF_SERVICE, CircumstanceEncoder
from features.encoders.diagnosis import DiagnosisEncoder
from features.encoders.policy import PolicyEncoder
from features.encoders.service_date import ServiceDateEncoder
from features.encoders.treatment import TreatmentEncoder
from features.encoding.columns import factorise_object_columns

__all__ = [
    "COMMON_PLACES_OF_SERVICE",
    "CircumstanceEncoder",
    "DiagnosisEncoder",
    "PolicyEncoder",
    "ServiceDateEncoder",
    "TreatmentEncoder",
    "factorise_object_columns",
]
