"""Reading claims files (CSV, Parquet, JSON lines) into the clean claims frame of the contract:
the room below both training and scoring, which read claims files alike."""
