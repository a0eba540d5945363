"""X12 835 remittances read with pyx12: each claim payment's outcome, paid amount and CARC, matched
by CLP01; reversals, invalid segments and envelope faults quarantined by position, never by value."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

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


def test_a_reversal_and_an_invalid_amount_are_quarantined_by_position_without_their_values():
    read = read_remittance(SAMPLE)
    quarantined = {(item.position, item.field): item.reason for item in read.quarantined}
    assert quarantined == {
        ("segment 31 (CLP)", "CLP02"): "CLP02: 22 reverses an earlier payment; the corrected claim after it "
                                       "carries the outcome",
        ("segment 33 (CLP)", "CLP"): "CLP04: invalid character in element",
    }
    words = " ".join(f"{item.position} {item.field} {item.reason}" for item in read.quarantined)
    for value in ("SEVENTY", "SAMPLE", "PATIENT", "-1200"):
        assert value not in words


def test_a_wrong_segment_count_is_counted_and_the_claims_still_read(tmp_path):
    broken = tmp_path / "broken.835"
    broken.write_text(SAMPLE.read_text().replace("SE*33*0001", "SE*30*0001"))
    read = read_remittance(broken)
    assert len(read.outcomes) == 5
    assert any("transaction set error" in item.reason for item in read.quarantined)


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
