"""Claims files in (CSV, Parquet, JSON lines), clean frames and the quarantine out; the checks
for prediction requests read from files; the time-ordered split."""
