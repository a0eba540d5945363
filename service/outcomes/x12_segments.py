"""An X12 file's segments read whole, or the file refused: the envelope checks pyx12 does not make.

pyx12's raw reader takes 8 KB at a time and, when that holds no segment terminator, or a segment
is empty (`~~`), or the file ends without one, stops without a word: every claim payment after
that point was lost, and the ingest said it had read the file. So the file is first read here,
segment by segment, in one streaming pass that keeps only counters:

- every segment ends with the interchange's terminator, is not empty, and is at most
  MAX_SEGMENT_CHARS long (the longest 835 segment is a few hundred characters);
- every transaction set (ST) closes (SE) before the next opens, with SE01 equal to its segments,
  ST and SE included; every group (GS) and interchange (ISA) closes (GE, IEA);
- a claim payment (CLP to the next CLP, LX, PLB or SE) has at most MAX_CLAIM_SEGMENTS segments:
  pyx12 holds a claim's loop whole, and 100,000 adjustments in one claim took 570 MB.

Any fault is an OutcomeFileError naming the segment's position (never its content): the file is
refused whole, and nothing from it is recorded. pyx12 then reads the checked file for its
structure and validation through SegmentStream, which ends each read at a segment's end, and the
claim payments it found in each transaction set are checked against the CLP segments counted here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from service.outcomes.records import OutcomeFileError

ISA_LENGTH = 106  # the interchange header's fixed length; its last character is the terminator
MAX_SEGMENT_CHARS = 16_384
MAX_CLAIM_SEGMENTS = 20_000
_CLAIM_ENDS = frozenset({"CLP", "LX", "PLB", "SE"})
_READ_CHARS = 1 << 16


@dataclass
class Envelope:
    """What the scan counted: the terminator, and each transaction set's ST position and CLPs."""

    terminator: str
    element_separator: str
    claims_per_set: list[tuple[int, int]] = field(default_factory=list)


def read_header(path: Path) -> str:
    """The ISA segment (its fixed 106 characters); OutcomeFileError when the file has none."""
    with open(path, encoding="ascii", errors="replace", newline="") as handle:
        header = handle.read(ISA_LENGTH)
    if not header.startswith("ISA") or len(header) < ISA_LENGTH:
        raise OutcomeFileError(f"{path.name}: not a readable X12 835 file (it does not start with an ISA segment)")
    return header


def scan(path: Path) -> Envelope:
    """Check every segment and envelope of the file (see the module docstring)."""
    header = read_header(path)
    envelope = Envelope(terminator=header[-1], element_separator=header[3])
    checker = _Checker(path, envelope)
    pending = ""
    with open(path, encoding="ascii", errors="replace", newline="") as handle:
        while block := handle.read(_READ_CHARS):
            *segments, pending = (pending + block).split(envelope.terminator)
            for segment in segments:
                checker.take(segment)
            if len(pending) > MAX_SEGMENT_CHARS:
                checker.refuse(checker.number + 1, f"is longer than {MAX_SEGMENT_CHARS:,} characters")
    if pending.strip():
        checker.refuse(checker.number + 1, "has no terminator: the file ends early")
    checker.finish()
    return envelope


class _Checker:
    def __init__(self, path: Path, envelope: Envelope):
        self.path, self.envelope = path, envelope
        self.number = 0  # segments so far: the position pyx12 and the quarantine use
        self.open: dict[str, int] = {}  # ISA / GS / ST -> the position it opened at
        self.set_segments = self.set_claims = self.claim_segments = 0
        self.claim_at = 0

    def refuse(self, number: int, problem: str, segment_id: str = "") -> None:
        named = f" ({segment_id})" if segment_id else ""
        raise OutcomeFileError(f"{self.path.name}: segment {number}{named} {problem}; the file is refused whole "
                               "and nothing from it is recorded")

    def take(self, segment: str) -> None:
        self.number += 1
        segment = segment.strip("\r\n")
        if not segment:
            self.refuse(self.number, "is empty (two terminators in a row)")
        if len(segment) > MAX_SEGMENT_CHARS:
            self.refuse(self.number, f"is longer than {MAX_SEGMENT_CHARS:,} characters")
        segment_id = segment.split(self.envelope.element_separator, 1)[0].strip()
        if self.claim_at and segment_id in _CLAIM_ENDS:
            self.claim_at = 0
        if segment_id in ("ISA", "GS", "ST"):
            self._opens(segment_id)
        if "ST" in self.open:
            self.set_segments += 1
        if segment_id == "CLP":
            self.set_claims += 1
            self.claim_at, self.claim_segments = self.number, 0
        if self.claim_at:
            self.claim_segments += 1
            if self.claim_segments > MAX_CLAIM_SEGMENTS:
                self.refuse(self.claim_at, f"opens a claim payment of more than {MAX_CLAIM_SEGMENTS:,} segments", "CLP")
        closes = {"SE": "ST", "GE": "GS", "IEA": "ISA"}.get(segment_id)
        if closes:
            self._closes(segment_id, closes, segment)

    def _opens(self, segment_id: str) -> None:
        if segment_id in self.open:
            self.refuse(self.number, f"opens before the {segment_id} at segment {self.open[segment_id]} closed",
                        segment_id)
        self.open[segment_id] = self.number
        if segment_id == "ST":
            self.set_segments = self.set_claims = 0

    def _closes(self, segment_id: str, opener: str, segment: str) -> None:
        if opener not in self.open:
            self.refuse(self.number, f"closes no open {opener}", segment_id)
        opened = self.open.pop(opener)
        if segment_id == "SE":
            counted = segment.split(self.envelope.element_separator)[1:2]
            if counted != [str(self.set_segments)]:
                self.refuse(self.number, f"counts other than the {self.set_segments} segments of the transaction "
                                         f"set opened at segment {opened}", segment_id)
            self.envelope.claims_per_set.append((opened, self.set_claims))

    def finish(self) -> None:
        for segment_id, opened in reversed(self.open.items()):  # the innermost first: where it stopped
            closer = {"ST": "SE", "GS": "GE", "ISA": "IEA"}[segment_id]
            self.refuse(opened, f"opens an envelope the file never closes (no {closer}): the file ends early",
                        segment_id)


class SegmentStream:
    """The checked file for pyx12, each read ending at a segment's end, so pyx12's 8 KB read-ahead
    always holds a whole segment (the scan bounded every one)."""

    def __init__(self, path: Path, terminator: str):
        self._handle = open(path, encoding="ascii", errors="replace", newline="")
        self._terminator = terminator
        self._rest = ""

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def read(self, size: int = -1) -> str:
        data, self._rest = self._rest + self._handle.read(max(size - len(self._rest), 0) if size >= 0 else -1), ""
        while data and not data.endswith(self._terminator):
            more = self._handle.read(256)
            if not more:
                break
            end = more.find(self._terminator)
            if end == -1:
                data += more
            else:
                data, self._rest = data + more[:end + 1], more[end + 1:]
        return data

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "SegmentStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
