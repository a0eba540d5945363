"""The served model and nothing that trains: CoverageModel and its params, the advice and
explanations, the compiled tree scorer, the training-data profile, where MLflow keeps models
(mlflow_store) and the one way a model is stored, verified and loaded (artifacts)."""
