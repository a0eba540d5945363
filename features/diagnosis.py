"""ICD-10-CM diagnosis codes: normalise, validate, and describe them from a compact table.

The table is derived once from the ICD-10-CM release shipped in `simple-icd-10-cm`
(`python -m features.diagnosis --rebuild`) and committed as a small gzip file, because importing
that package costs about 2 s and 190 MB per process: too much for every service worker.
`tests/features/test_diagnosis.py` proves the committed table still equals the package's.
"""
from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

ICD10CM_RELEASE = "2026-04 (simple-icd-10-cm 1.5.0)"
TABLE_FILE = "icd10cm_codes.tsv.gz"
COSMETIC_ENCOUNTER_CODE = "Z411"  # Z41.1, encounter for cosmetic surgery

# Letter, digit, alphanumeric, then up to four more alphanumerics; the dot is optional.
_CODE_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")


class DiagnosisCodeError(ValueError):
    """A diagnosis code that is malformed or not in ICD-10-CM. The message names no code value
    by default, because codes are patient data; `position` says which list entry is wrong."""

    def __init__(self, position: int, reason: str):
        self.position = position
        self.reason = reason
        super().__init__(f"diagnosis_codes[{position}]: {reason}")


@dataclass(frozen=True)
class DiagnosisTable:
    """Every ICD-10-CM code (dotless) mapped to (billable, chapter number)."""

    codes: dict[str, tuple[bool, int]]

    def is_known(self, code: str) -> bool:
        return code in self.codes

    def is_billable(self, code: str) -> bool:
        return self.codes[code][0]

    def chapter(self, code: str) -> int:
        return self.codes[code][1]


def normalise_code(raw: str) -> str:
    """`g43.709 ` -> `G43709`: the dotless upper-case form every table here uses."""
    return raw.strip().upper().replace(".", "")


def with_dot(code: str) -> str:
    """`G43709` -> `G43.709`, the form people read."""
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def looks_like_code(raw: str) -> bool:
    return bool(_CODE_SHAPE.match(raw.strip().upper()))


@lru_cache(maxsize=1)
def load_table() -> DiagnosisTable:
    """The committed compact table, loaded once per process (about 60 ms, 15 MB)."""
    with resources.files("features.data").joinpath(TABLE_FILE).open("rb") as raw:
        text = gzip.decompress(raw.read()).decode("ascii")
    codes = {}
    for line in text.splitlines():
        code, billable, chapter = line.split("\t")
        codes[code] = (billable == "1", int(chapter))
    return DiagnosisTable(codes)


def validate_codes(raw_codes, table: DiagnosisTable | None = None) -> list[str]:
    """Normalise a list of codes; raise DiagnosisCodeError naming the first bad position.

    A valid non-billable header code (G43.7) is kept: payers deny it (CARC 146), so it is a
    feature and a rule hit, not an input error.
    """
    table = table or load_table()
    codes = []
    for position, raw in enumerate(raw_codes):
        if not isinstance(raw, str) or not raw.strip():
            raise DiagnosisCodeError(position, "must be a non-empty ICD-10-CM code string such as 'G43.709'")
        if not looks_like_code(raw):
            raise DiagnosisCodeError(position, "is not shaped like an ICD-10-CM code (letter, digit, character, optional dot, up to 4 more)")
        code = normalise_code(raw)
        if not table.is_known(code):
            raise DiagnosisCodeError(position, f"is not a code of the ICD-10-CM release {ICD10CM_RELEASE}")
        codes.append(code)
    return codes


def split_joined_codes(joined: str | None) -> list[str]:
    """The CSV form `G43.709;Z68.35` -> its raw parts (empty string -> no codes)."""
    if joined is None or joined != joined or not str(joined).strip():  # None or NaN
        return []
    return [part for part in str(joined).split(";") if part.strip()]


def rebuild_table() -> str:
    """Write the compact table from the simple-icd-10-cm package; return its path."""
    import simple_icd_10_cm as icd  # 2 s, 190 MB: only here, never in a worker

    lines = []
    # A category that is also a one-category block (B20, Z68) is listed twice, once as the block
    # and once as the category, and is_block says yes to its name: so keep what is a category or
    # subcategory, once, rather than drop what is a block.
    for code in dict.fromkeys(icd.get_all_codes(with_dots=False)):
        if not icd.is_category_or_subcategory(code):
            continue
        billable = icd.is_valid_item(code) and icd.is_leaf(code)
        chapter = int(icd.get_ancestors(code)[-1])
        lines.append(f"{code}\t{int(billable)}\t{chapter}")
    path = resources.files("features.data").joinpath(TABLE_FILE)
    with open(str(path), "wb") as out:
        out.write(gzip.compress("\n".join(lines).encode("ascii"), mtime=0))
    return str(path)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--rebuild"]:
        print(rebuild_table())
    else:
        print("usage: python -m features.diagnosis --rebuild")
