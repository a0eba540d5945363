"""The coverage domain as data plus small code: contract, catalog, diagnoses, rules, features."""
