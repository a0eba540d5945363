"""What the payer's policy asks the chart to show for a treatment (features/data/documentation.csv):
the criteria a letter of medical necessity lists, each as a line the clinician confirms or strikes.

A row names a catalog treatment, the diagnoses it applies to (ICD-10-CM patterns as the catalog
writes them, a trailing * for a code's children, `*` alone for every covered diagnosis) and its
public source. Treatments a plan never covers (dental, comfort) have no rows: no letter is written
for them.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from features.catalog import parse_diagnosis_patterns, pattern_matches, load_catalog
from features.diagnosis import load_table

DOCUMENTATION_FILE = "documentation.csv"
EVERY_DIAGNOSIS = "*"


class DocumentationError(ValueError):
    """The documentation table is malformed; the message names the line and column."""


@dataclass(frozen=True)
class Criterion:
    treatment: str
    diagnoses: tuple[str, ...]  # dotless patterns; empty: every covered diagnosis
    text: str
    source: str

    def applies_to(self, codes) -> bool:
        return not self.diagnoses or any(pattern_matches(pattern, code) for pattern in self.diagnoses
                                         for code in codes)


@lru_cache(maxsize=1)
def load_documentation() -> tuple[Criterion, ...]:
    catalog, table, criteria = load_catalog(), load_table(), []
    with resources.files("features.data").joinpath(DOCUMENTATION_FILE).open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            where = f"{DOCUMENTATION_FILE} line {line}"
            if row["treatment"] not in catalog.keys or catalog[row["treatment"]].never_covered:
                raise DocumentationError(f"{where}: treatment must be a catalog key a plan may cover")
            if not row["criterion"].strip() or not row["source"].strip():
                raise DocumentationError(f"{where}: criterion and source are required")
            diagnoses = () if row["diagnoses"].strip() == EVERY_DIAGNOSIS else parse_diagnosis_patterns(
                row["diagnoses"], where, table)
            criteria.append(Criterion(row["treatment"], diagnoses, row["criterion"].strip(), row["source"].strip()))
    return tuple(criteria)


def criteria_for(treatment: str, codes) -> list[Criterion]:
    """The criteria the policy lists for this treatment and these dotless diagnosis codes, in table order."""
    return [criterion for criterion in load_documentation()
            if criterion.treatment == treatment and criterion.applies_to(codes)]
