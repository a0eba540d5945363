"""ICD-10-CM diagnosis codes: normalise, validate, and describe them from a compact table.

The table is derived once from the ICD-10-CM release shipped in `simple-icd-10-cm`
(`python -m features.diagnosis --rebuild`) and committed as a small gzip file, because importing
that package costs seconds and a large share of a worker's memory per process (docs/model.md, "Domain
data"): too much for every service worker.
`tests/features/test_diagnosis.py` proves the committed table still equals the package's.

The descriptions live in a second file of their own, read only on the first look-up
(`search_diagnoses`, behind GET /v1/diagnoses): validating codes, which every worker does from
its start, never pays for them.
"""
from __future__ import annotations

import gzip
import re
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources

ICD10CM_RELEASE = "2026-04 (simple-icd-10-cm 1.5.0)"
TABLE_FILE = "icd10cm_codes.tsv.gz"
DESCRIPTIONS_FILE = "icd10cm_descriptions.tsv.gz"  # code<TAB>description, in the table's order
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

    def has_code_starting(self, stem: str) -> bool:
        """Whether some code starts with `stem` (a pattern such as G437*): a binary search, where a
        scan of every code for each pattern of the catalog was most of a process's first catalog load."""
        at = bisect_left(self._sorted_codes, stem)
        return at < len(self._sorted_codes) and self._sorted_codes[at].startswith(stem)

    @cached_property
    def _sorted_codes(self) -> list[str]:
        return sorted(self.codes)

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
    """The committed compact table, loaded once per process."""
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


class DiagnosisDescriptions:
    """Every code's description, for look-ups by code prefix or by words.

    Kept compact because a worker holds it once asked (docs/page.md says what it costs): the
    descriptions are one string, one description per line in the table's order, beside its
    lower-cased twin and an array of line starts; the codes are the table's own strings.
    """

    def __init__(self, codes: tuple[str, ...], text: str):
        self.codes = codes
        self._text = text
        self._folded = text.lower()
        if len(self._folded) != len(text):  # offsets into one must be offsets into the other
            raise ValueError("a description changes length when lower-cased")
        self._starts = array("I", [0])
        position = text.find("\n")
        while position >= 0:
            self._starts.append(position + 1)
            position = text.find("\n", position + 1)
        self._starts.append(len(text) + 1)
        if len(self._starts) != len(codes) + 1:
            raise ValueError(f"{DESCRIPTIONS_FILE} does not describe every code of {TABLE_FILE}")

    def description(self, index: int) -> str:
        return self._text[self._starts[index]:self._starts[index + 1] - 1]

    def describe(self, code: str) -> str | None:
        """The description of one dotless code, or None when the release has no such code."""
        order = self._code_order()
        at = bisect_left(order, code, key=self.codes.__getitem__)
        return self.description(order[at]) if at < len(order) and self.codes[order[at]] == code else None

    def _code_order(self) -> array:
        # The release lists codes in its own order, not sorted: an array of indexes sorted by code
        # finds one by bisection (400 KB, against some 7 MB for a dict of 98,000 codes).
        if getattr(self, "_order", None) is None:
            self._order = array("I", sorted(range(len(self.codes)), key=self.codes.__getitem__))
        return self._order

    def search(self, query: str, limit: int) -> list[dict]:
        """Codes starting with the query when it reads as a code (a letter then a digit: `G43`,
        `g43.7`), else codes whose description holds every word of it, in the release's order."""
        query = query.strip()
        if _CODE_PREFIX.match(query):
            prefix = normalise_code(query)
            hits = (index for index, code in enumerate(self.codes) if code.startswith(prefix))
        else:
            hits = self._lines_with_words(query.lower().split())
        table = load_table()
        found = []
        for index in hits:
            if len(found) == limit:
                break
            code = self.codes[index]
            found.append({"code": with_dot(code), "description": self.description(index),
                          "billable": table.is_billable(code)})
        return found

    def _lines_with_words(self, words: list[str]):
        """Indexes of the lines holding every word at the start of one of theirs ("aging" finds
        "Aging" and "age-related" does not, nor "imaging"): each place the longest word occurs, once
        per line."""
        if not words or any("\n" in word for word in words):
            return
        anchor = max(words, key=len)
        starting = [re.compile(_WORD_START + re.escape(word)) for word in words]
        folded, starts = self._folded, self._starts
        position = folded.find(anchor)
        while position >= 0:
            index = bisect_right(starts, position) - 1
            line = folded[starts[index]:starts[index + 1] - 1]
            if all(pattern.search(line) for pattern in starting):
                yield index
            position = folded.find(anchor, starts[index + 1])


_WORD_START = r"(?<![0-9a-z])"  # a word starts the line or follows a space, a dash, a bracket...
_CODE_PREFIX = re.compile(r"^[A-Za-z][0-9][0-9A-Za-z]?(\.?[0-9A-Za-z]{0,4})?$")


@lru_cache(maxsize=1)
def load_descriptions() -> DiagnosisDescriptions:
    """The committed descriptions, loaded on the first look-up: a served worker makes that look-up in
    its warm-up (service.model_extension), a batch job that names no code in words never does."""
    codes = tuple(load_table().codes)  # the table's strings, in the same order as the file
    with resources.files("features.data").joinpath(DESCRIPTIONS_FILE).open("rb") as raw:
        lines = gzip.decompress(raw.read()).decode("utf-8").split("\n")
    if [line.partition("\t")[0] for line in lines] != list(codes):
        raise ValueError(f"{DESCRIPTIONS_FILE} does not list the codes of {TABLE_FILE} in its order")
    return DiagnosisDescriptions(codes, "\n".join(line.partition("\t")[2] for line in lines))


def search_diagnoses(query: str, limit: int) -> list[dict]:
    return load_descriptions().search(query, limit)


def describe_code(code: str) -> str:
    """A dotless or dotted code's description ("" for a code the release does not have)."""
    return load_descriptions().describe(normalise_code(code)) or ""


def split_joined_codes(joined: str | None) -> list[str]:
    """The CSV form `G43.709;Z68.35` -> its raw parts (empty string -> no codes)."""
    if joined is None or joined != joined or not str(joined).strip():  # None or NaN
        return []
    return [part for part in str(joined).split(";") if part.strip()]


def rebuild_table() -> str:
    """Write the compact table and its descriptions from the simple-icd-10-cm package; return the
    table's path."""
    import simple_icd_10_cm as icd  # slow and large to import: only here, never in a worker

    lines, described = [], []
    # A category that is also a one-category block (B20, Z68) is listed twice, once as the block
    # and once as the category, and is_block says yes to its name: so keep what is a category or
    # subcategory, once, rather than drop what is a block.
    for code in dict.fromkeys(icd.get_all_codes(with_dots=False)):
        if not icd.is_category_or_subcategory(code):
            continue
        billable = icd.is_valid_item(code) and icd.is_leaf(code)
        chapter = int(icd.get_ancestors(code)[-1])
        lines.append(f"{code}\t{int(billable)}\t{chapter}")
        described.append(f"{code}\t{' '.join(icd.get_description(code).split())}")
    data = resources.files("features.data")
    with open(str(data.joinpath(DESCRIPTIONS_FILE)), "wb") as out:
        out.write(gzip.compress("\n".join(described).encode("utf-8"), mtime=0))
    path = data.joinpath(TABLE_FILE)
    with open(str(path), "wb") as out:
        out.write(gzip.compress("\n".join(lines).encode("ascii"), mtime=0))
    return str(path)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--rebuild"]:
        print(rebuild_table())
    else:
        print("usage: python -m features.diagnosis --rebuild")
