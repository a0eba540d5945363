"""X12 claim adjustment reason codes (CARC) this domain meets, with our short descriptions and the
group code a denial with each usually carries (coverage-facts.md, "Who pays when a claim is
denied": PR, the patient pays; CO, the provider writes it off)."""
from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

CARC_FILE = "carc_codes.csv"


@lru_cache(maxsize=1)
def _carc_rows() -> dict[str, dict[str, str]]:
    with resources.files("features.data").joinpath(CARC_FILE).open(encoding="utf-8", newline="") as handle:
        return {row["carc"]: row for row in csv.DictReader(handle)}


def carc_descriptions() -> dict[str, str]:
    """CARC code -> a one-line description (unknown codes describe themselves)."""
    return {code: row["description"] for code, row in _carc_rows().items()}


def describe_carc(code: str) -> str:
    row = _carc_rows().get(code)
    return row["description"] if row else f"Claim adjustment reason code {code}"


def carc_group_code(code: str) -> str | None:
    """The group code a denial with this CARC carries (CO or PR); None for a code the table lacks."""
    row = _carc_rows().get(code)
    return row["group_code"] if row else None
