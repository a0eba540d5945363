"""The fitted encoders' cores: a fitted state applied to claim columns, without scikit-learn.

Each class here holds what an encoder of features.encoders learned in fit (its parameters and
its attributes ending in `_`) and `encode_columns`, which applies it. The scikit-learn
estimators in features.encoders subclass these and add only what fitting needs (parameter
checks, `fit`, `transform`'s validation). The split lets a served model (scoring.served_form)
rebuild the cores from plain arrays and JSON and encode claims without importing scikit-learn,
whose import costs more than the rest of a `predict` run's start-up.
"""
