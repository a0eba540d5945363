"""X12 835 remittances read with pyx12: each claim payment's outcome, paid amount and CARC, matched
by CLP01; reversals, invalid segments and envelope faults quarantined by position, never by value."""
from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from service import cli
from service.audit import AuditStore
from service.outcomes.store import claim_outcomes

from service.outcomes.ingest import read_outcome_file
from service.outcomes.records import OutcomeFileError
from service.outcomes.remittance import read_remittance
from tests.service.outcomes.remittances import write_835

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "remittance-sample.835"


def test_the_sample_remittance_maps_each_claim_payment_to_the_contracts_outcome():
    read = read_remittance(SAMPLE)
    assert read.source == "x12-835" and read.items_read == 7
    found = {outcome.claim_id: (outcome.outcome, outcome.paid_amount, outcome.denial_reason)
             for outcome in read.outcomes}
    assert found == {
        "SAMPLE-APPROVED": ("approved", 1200.0, ""),  # CO-45 and PR-3 are routine: no denial reason
        "SAMPLE-PARTIAL": ("partial", 430.0, "119"),
        "SAMPLE-DENIED": ("denied", 0.0, "197"),
        "SAMPLE-ZERO-PAID": ("denied", 0.0, "96"),  # processed, nothing paid, a denial adjustment
        "SAMPLE-LINE-REASON": ("denied", 0.0, "50"),  # the reason is on the service line (loop 2110)
    }
    assert {outcome.adjudication_date for outcome in read.outcomes} == {date(2026, 11, 30)}  # DTM*405
    # each denial keeps the group code (CAS01) its CARC came under; an approved claim has none
    assert {outcome.claim_id: outcome.group_code for outcome in read.outcomes} == {
        "SAMPLE-APPROVED": "", "SAMPLE-PARTIAL": "CO", "SAMPLE-DENIED": "CO", "SAMPLE-ZERO-PAID": "CO",
        "SAMPLE-LINE-REASON": "CO"}


def test_a_denials_group_code_is_the_one_its_carc_came_under(tmp_path):
    path = tmp_path / "patient-liable.835"
    path.write_text(SAMPLE.read_text().replace("CAS*CO*96*250", "CAS*PR*96*250"))
    by_id = {outcome.claim_id: outcome for outcome in read_remittance(path).outcomes}
    assert (by_id["SAMPLE-ZERO-PAID"].denial_reason, by_id["SAMPLE-ZERO-PAID"].group_code) == ("96", "PR")


def test_a_reversal_and_an_invalid_amount_are_quarantined_by_position_without_their_values():
    read = read_remittance(SAMPLE)
    quarantined = {(item.position, item.field): item.reason for item in read.quarantined}
    assert quarantined == {
        ("segment 31 (CLP)", "CLP02"): "status 22 reverses an earlier payment; the corrected claim after it "
                                       "carries the outcome",
        ("segment 33 (CLP)", "CLP"): "CLP04: invalid character in element",
    }
    words = " ".join(f"{item.position} {item.field} {item.reason}" for item in read.quarantined)
    for value in ("SEVENTY", "SAMPLE", "PATIENT", "-1200"):
        assert value not in words


def test_a_file_that_is_not_x12_is_refused_whole(tmp_path):
    not_x12 = tmp_path / "notes.835"
    not_x12.write_text("claim SAMPLE-1 was paid\n")
    with pytest.raises(OutcomeFileError, match="not a readable X12 835 file") as error:
        read_remittance(not_x12)
    assert "SAMPLE" not in str(error.value)


def test_the_test_writer_round_trips_through_the_parser(tmp_path):
    rows = pd.DataFrame({"claim_id": ["A", "B", "C"], "outcome": ["approved", "partial", "denied"],
                         "paid_amount": [100.0, 40.5, 0.0], "denial_reason": ["", "119", "197"]})
    path = write_835(rows, {"A": 150.0, "B": 90.0, "C": 75.0}, tmp_path / "remit.txt", date(2026, 3, 1))
    read = read_outcome_file(path)  # no .835 suffix: recognised by its ISA segment
    assert read.source == "x12-835" and not read.quarantined
    assert [(o.claim_id, o.outcome, o.paid_amount, o.denial_reason) for o in read.outcomes] == \
        list(rows.itertuples(index=False, name=None))


# Each file of issue 25 that once lost claim payments without a word: (label, how the sample is
# changed, the position and the problem the refusal must name).
SEGMENTS = SAMPLE.read_text().split("~\n")


def _changed(index: int, segment: str | None = None, insert: bool = False) -> str:
    """The sample with segment `index` (0-based) replaced, removed (None) or with one inserted before it."""
    segments = list(SEGMENTS)
    if insert:
        segments.insert(index, segment)
    elif segment is None:
        del segments[index]
    else:
        segments[index] = segment
    return "~\n".join(segments)


@pytest.mark.parametrize("label, text, words", [
    ("a 100,000-character NM1 element", _changed(15, "NM1*QC*1*" + "A" * 100_000 + "*PATIENT"),
     "segment 16 is longer than 16,384 characters"),
    ("a 40,000-character segment after the third CLP", _changed(21, "NM1*QC*1*SAMPLE*" + "B" * 40_000, insert=True),
     "segment 22 is longer than 16,384 characters"),
    ("a stray empty segment", _changed(13, "", insert=True), "segment 14 is empty"),
    ("a file cut short", SAMPLE.read_text()[:SAMPLE.read_text().index("CLP*SAMPLE-DENIED") + 20],
     "segment 21 has no terminator: the file ends early"),
    ("a file without its trailers", "~\n".join(SEGMENTS[:30]) + "~\n",
     "segment 3 (ST) opens an envelope the file never closes (no SE)"),
    ("a wrong segment count", SAMPLE.read_text().replace("SE*33*0001", "SE*30*0001"),
     "segment 35 (SE) counts other than the 33 segments of the transaction set opened at segment 3"),
    ("100,000 adjustments in one claim", _changed(14, "~\n".join(["CAS*CO*45*1"] * 100_000), insert=True),
     "segment 13 (CLP) opens a claim payment of more than 20,000 segments"),
], ids=lambda value: value if isinstance(value, str) and " " in value and len(value) < 60 else None)
def test_a_file_the_reader_cannot_take_whole_is_refused_naming_the_position(tmp_path, label, text, words):
    path = tmp_path / "remit.835"
    path.write_text(text)
    started = time.monotonic()
    with pytest.raises(OutcomeFileError, match=re.escape(words)) as error:
        read_remittance(path)
    assert time.monotonic() - started < 10, label  # 100,000 adjustments took 20 s and 570 MB in pyx12
    assert "nothing from it is recorded" in str(error.value)
    assert not any(value in str(error.value) for value in ("SAMPLE", "AAAA", "BBBB", "PATIENT"))


def test_a_claim_payment_pyx12_does_not_read_as_one_refuses_the_file(tmp_path):
    """A CLP where the map has no claim loop (before LX) is counted by the scan, not read by pyx12."""
    path = tmp_path / "remit.835"
    path.write_text(_changed(11, "CLP*SAMPLE-EARLY*1*100*100*0*12*PAYER0009*11*1", insert=True)
                    .replace("SE*33*0001", "SE*34*0001"))
    with pytest.raises(OutcomeFileError, match=r"segment 3 \(ST\) opens a transaction set of 8 claim payments"):
        read_remittance(path)


def test_a_long_element_the_reader_takes_is_still_quarantined_and_the_rest_read(tmp_path):
    path = tmp_path / "remit.835"
    path.write_text(_changed(15, "NM1*QC*1*" + "A" * 10_000 + "*PATIENT"))
    read = read_remittance(path)
    assert read.items_read == 7 and len(read.outcomes) == 4
    assert ("segment 16 (NM1)", "NM1") in {(item.position, item.field) for item in read.quarantined}


def test_ingest_of_a_refused_835_exits_2_and_records_nothing(tmp_path):
    path = tmp_path / "remit.835"
    path.write_text(_changed(21, "NM1*QC*1*SAMPLE*" + "B" * 40_000, insert=True))
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    result = CliRunner().invoke(cli.main, ["outcomes", "ingest", str(path), "--audit-url", audit])
    assert result.exit_code == 2 and "segment 22 is longer" in result.output
    with AuditStore(audit).engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(claim_outcomes)).scalar() == 0
