"""X12 claim adjustment reason codes (CARC) this domain meets, with our short descriptions."""
from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

CARC_FILE = "carc_codes.csv"


@lru_cache(maxsize=1)
def carc_descriptions() -> dict[str, str]:
    """CARC code -> a one-line description (unknown codes describe themselves)."""
    with resources.files("features.data").joinpath(CARC_FILE).open(encoding="utf-8", newline="") as handle:
        return {row["carc"]: row["description"] for row in csv.DictReader(handle)}


def describe_carc(code: str) -> str:
    return carc_descriptions().get(code, f"Claim adjustment reason code {code}")
