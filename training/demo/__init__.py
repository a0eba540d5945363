"""The synthetic demo history: who visits (population), what the payer does (payer), the file
writer (generator). Process and sources: docs/demo-history.md."""
