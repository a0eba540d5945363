"""The outcomes loop: adjudicated outcomes in (`ingest`: CSV, Parquet or an X12 835 remittance),
realised accuracy per served model version out (`report`, a run of the `serving-outcomes`
experiment), and the served claims with their outcomes back into training (`history`).

Outcomes live in the audit database (`store`), beside the served claims they judge.
"""
