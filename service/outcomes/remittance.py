"""Outcomes from an X12 835 remittance (health care claim payment/advice, 005010X221A1), read with
pyx12: its reader walks the file against the 835 map, so loops (2100 claim payment, 2110 service
line) arrive as trees and every segment is validated against the implementation guide.

One claim payment (CLP, loop 2100) is one outcome, matched by CLP01, the claim id the provider
submitted (the `claim_id` the service was sent):

- CLP02 `4` (denied), or nothing paid (CLP04 0) with a denial adjustment: `denied`, paid 0;
- something paid with a denial adjustment: `partial`; without one: `approved`, paid CLP04;
- nothing paid and only patient-responsibility adjustments (a deductible): `approved`, paid 0;
- `denial_reason`: the CARC of the claim's largest denial adjustment (CAS of the claim and of its
  service lines), where a denial adjustment is any but the routine ones (`ROUTINE_CARCS`:
  contractual fee-schedule reduction, deductible, coinsurance, copay, prior payer, sequestration);
- `group_code`: the group code (CAS01: CO, PR, OA, PI) under which that CARC carries the most:
  who the payer says carries the denial, which the worklist's step follows;
- `adjudication_date`: the remittance's production date (DTM*405), else the payment date (BPR16).

The file is read whole or refused: service.outcomes.x12_segments reads every segment first (a
segment too long, an empty one, a file that ends early, a transaction set whose SE count is wrong,
a claim payment of too many segments: exit 2, the position named, nothing recorded), because
pyx12's own reader stops silently at those; pyx12 then walks the checked file for its structure
and validation, and the claim payments it found in each transaction set must be the CLP segments
the scan counted there.

Quarantined, with the segment's position in the file and a reason (never a value: the file names
patients): a reversal (CLP02 22: the corrected claim after it carries the outcome), a claim
forwarded as not the payer's (23), an unknown status, a claim whose segments fail the map's
validation (a non-numeric amount, a missing required element), a zero payment with no adjustment
to tell a denial from a deductible; and any envelope or header segment the map refuses.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

from service.outcomes.records import OutcomeFileError, Outcome, Quarantined, ReadOutcomes, check_outcome
from service.outcomes.x12_segments import SegmentStream, scan

PROCESSED_STATUSES = frozenset({"1", "2", "3", "19", "20", "21"})  # processed as primary, secondary, ...
DENIED_STATUS = "4"
STATUS_REASONS = {
    "22": "status 22 reverses an earlier payment; the corrected claim after it carries the outcome",
    "23": "status 23 is a claim the payer forwarded as not its own; it carries no outcome",
}
# Adjustments that are part of paying a covered claim, not a denial: fee schedule (45), deductible (1),
# coinsurance (2), copay (3), a prior payer's adjudication (23), sequestration (253).
ROUTINE_CARCS = frozenset({"1", "2", "3", "23", "45", "253"})
CLAIM_LOOP = "2100"
ENVELOPES = {"isa": "interchange", "gs": "functional group", "st": "transaction set"}
# X12 IK3 / IK4 error codes (what pyx12 reports) in words: pyx12's own messages quote the values.
SEGMENT_ERRORS = {"1": "unrecognised segment", "2": "unexpected segment", "3": "required segment missing",
                  "4": "loop occurs more often than allowed", "5": "segment occurs more often than allowed",
                  "6": "segment not in the transaction set", "7": "segment out of sequence",
                  "8": "segment has data element errors"}
ELEMENT_ERRORS = {"1": "required element missing", "2": "conditionally required element missing",
                  "3": "too many elements", "4": "element too short", "5": "element too long",
                  "6": "invalid character in element", "7": "invalid code value", "8": "invalid date",
                  "9": "invalid time", "10": "element not allowed here"}


class _PositionedErrors:
    """A pyx12 error handler that keeps where each error is and its X12 code, never its message or
    value (pyx12's messages quote the bad value, which may be patient data)."""

    def __init__(self):
        self.by_line: dict[int, list[str]] = defaultdict(list)
        self.envelope: list[tuple[int, str]] = []  # interchange, group and transaction set errors
        self.segment_ids: dict[int, str] = {}
        self._line = 0
        self._element = ""

    def _at(self, seg_data, src) -> None:
        self._line = src.get_cur_line()
        self.segment_ids[self._line] = seg_data.get_seg_id()

    def add_isa_loop(self, seg_data, src):
        self._at(seg_data, src)

    add_gs_loop = add_st_loop = add_isa_loop

    def add_seg(self, map_node, seg_data, seg_count, cur_line, ls_id):
        self._line = cur_line
        self.segment_ids[cur_line] = seg_data.get_seg_id()

    def add_ele(self, map_node):
        self._element = getattr(map_node, "id", "") or ""

    def handle_errors(self, err_list):
        for err_type, err_cde, _words, _value, src_line in err_list:
            if err_type == "seg":
                self.seg_error(err_cde, None, None, src_line)
            else:
                self.envelope.append((src_line or self._line, f"{ENVELOPES.get(err_type, err_type)} error {err_cde}"))

    def isa_error(self, err_cde, err_str):
        self.envelope.append((self._line, f"interchange error {err_cde}"))

    def gs_error(self, err_cde, err_str):
        self.envelope.append((self._line, f"functional group error {err_cde}"))

    def st_error(self, err_cde, err_str):
        self.envelope.append((self._line, f"transaction set error {err_cde} (its segment count or control number)"))

    def seg_error(self, err_cde, err_str, err_value=None, src_line=None):
        self.by_line[src_line or self._line].append(SEGMENT_ERRORS.get(str(err_cde), f"segment error {err_cde}"))

    def ele_error(self, err_cde, err_str, bad_value, refdes=None):
        where = refdes or self._element
        self.by_line[self._line].append(f"{where}: {ELEMENT_ERRORS.get(str(err_cde), f'element error {err_cde}')}")

    def close_isa_loop(self, *args):
        pass

    close_gs_loop = close_st_loop = close_isa_loop

    def take(self, lines: set[int]) -> list[tuple[int, str]]:
        """The errors on these segment lines, removed from the handler."""
        return [(line, reason) for line in sorted(lines) for reason in self.by_line.pop(line, [])]


def read_remittance(path: Path) -> ReadOutcomes:
    """The outcomes of every claim payment in an 835 file (see the module docstring)."""
    import pyx12.error_handler  # noqa: F401  (pyx12's modules import each other through the package)
    import pyx12.errors
    import pyx12.params
    import pyx12.x12context

    envelope = scan(path)
    result = ReadOutcomes("x12-835")
    errors = _PositionedErrors()
    produced: date | None = None
    paid_on: date | None = None
    claims_per_set: list[int] = []
    try:
        with SegmentStream(path, envelope.terminator) as handle, \
                pyx12.x12context.X12ContextReader(pyx12.params.params(), errors, handle) as reader:
            for node in reader.iter_segments(CLAIM_LOOP):
                if node.id == "ST":
                    produced = paid_on = None
                    claims_per_set.append(0)
                elif node.id == "BPR":
                    paid_on = _x12_date(node.get_value("BPR16"))
                elif node.id == "DTM" and node.get_value("DTM01") == "405" and "/HEADER/" in node.cur_path:
                    produced = _x12_date(node.get_value("DTM02"))
                elif node.id == CLAIM_LOOP:
                    result.items_read += 1
                    if claims_per_set:
                        claims_per_set[-1] += 1
                    _read_claim(node, produced or paid_on, errors, result)
    except (pyx12.errors.X12Error, pyx12.errors.EngineError, UnicodeError) as error:
        raise OutcomeFileError(f"{path.name}: not a readable X12 835 file ({type(error).__name__})") from None
    _check_claims_read(path, envelope.claims_per_set, claims_per_set)
    if not result.items_read and not errors.segment_ids:
        raise OutcomeFileError(f"{path.name}: no X12 interchange found (an 835 starts with ISA)")
    # header and envelope problems: the claims read stand, the file's faults are counted beside them
    for line, reason in [*errors.take(set(errors.by_line)), *errors.envelope]:
        result.quarantined.append(Quarantined(_position(line, errors), errors.segment_ids.get(line, ""), reason))
    return result


def _check_claims_read(path: Path, counted: list[tuple[int, int]], read: list[int]) -> None:
    """Every transaction set's claim payments were read: as many as its CLP segments."""
    for index, (opened, clps) in enumerate(counted):
        found = read[index] if index < len(read) else 0
        if found != clps:
            raise OutcomeFileError(f"{path.name}: segment {opened} (ST) opens a transaction set of {clps} claim "
                                   f"payments (CLP), of which {found} could be read; the file is refused whole "
                                   "and nothing from it is recorded")


def _read_claim(loop, adjudicated: date | None, errors: _PositionedErrors, result: ReadOutcomes) -> None:
    clp_line = loop.cur_line_number
    position = _position(clp_line, errors)
    invalid = errors.take(set(_segment_lines(loop)))
    if invalid:
        result.quarantined += [Quarantined(_position(line, errors), errors.segment_ids.get(line, ""), reason)
                               for line, reason in invalid]
        return
    claim_id = (loop.get_value("CLP01") or "").strip()
    status = loop.get_value("CLP02") or ""
    if status in STATUS_REASONS or (status not in PROCESSED_STATUSES and status != DENIED_STATUS):
        result.quarantined.append(Quarantined(position, "CLP02", STATUS_REASONS.get(
            status, "not a claim status code this reader maps (1-4, 19-21 are)")))
        return
    paid = _amount(loop.get_value("CLP04"))
    denials = _denial_adjustments(loop)
    reason = max(denials, key=lambda code: sum(denials[code].values())) if denials else ""
    if status == DENIED_STATUS or (paid == 0 and denials):
        outcome, paid = "denied", 0.0
    elif paid is not None and paid > 0:
        outcome = "partial" if denials else "approved"
    elif paid == 0 and _has_adjustments(loop):
        outcome = "approved"  # covered, with the whole amount left to the patient (a deductible)
    else:
        result.quarantined.append(Quarantined(position, "CLP04", "nothing paid and no adjustment reason: "
                                                                 "cannot tell a denial from a deductible"))
        return
    denied = outcome != "approved"
    group = max(denials[reason], key=denials[reason].get) if denied and reason else ""
    values = (claim_id, outcome, paid, reason if denied else "", adjudicated, group)
    problems = check_outcome(*values)
    if problems:
        fields = {"claim_id": "CLP01", "paid_amount": "CLP04", "denial_reason": "CAS", "group_code": "CAS01",
                  "adjudication_date": "DTM*405/BPR16"}
        result.quarantined += [Quarantined(position, fields.get(name, name), why) for name, why in problems]
        return
    result.outcomes.append(Outcome(*values))


def _adjustments(loop):
    """(group, CARC, amount) of every CAS in the claim and its service lines (six triplets a segment)."""
    for cas in [*loop.select("CAS"), *loop.select("2110/CAS")]:
        group = cas.get_value("CAS01") or ""
        for first in range(2, 20, 3):
            code = (cas.get_value(f"CAS{first:02d}") or "").strip()
            if code:
                yield group, code, _amount(cas.get_value(f"CAS{first + 1:02d}")) or 0.0


def _denial_adjustments(loop) -> dict[str, dict[str, float]]:
    """CARC -> group code -> the amount it adjusted, for every denial adjustment of the claim."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for group, code, amount in _adjustments(loop):
        if code not in ROUTINE_CARCS:
            totals[code][group.strip()] += abs(amount)
    return {code: dict(groups) for code, groups in totals.items()}


def _has_adjustments(loop) -> bool:
    return any(True for _ in _adjustments(loop))


def _segment_lines(node) -> list[int]:
    lines = [node.cur_line_number] if node.seg_data is not None and node.cur_line_number else []
    for child in getattr(node, "children", []):
        lines += _segment_lines(child)
    return lines


def _position(line: int, errors: _PositionedErrors) -> str:
    segment = errors.segment_ids.get(line)
    return f"segment {line}" + (f" ({segment})" if segment else "")


def _amount(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _x12_date(text: str | None) -> date | None:
    """CCYYMMDD."""
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if text and len(text) == 8 else None
    except ValueError:
        return None
