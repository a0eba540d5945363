"""The outcomes table on the audit store's engine: a repeated outcome adds nothing, a later one
supersedes the earlier one, both are kept."""
from __future__ import annotations

from datetime import date

from service.audit import AuditStore
from service.outcomes.records import Outcome
from service.outcomes.store import OutcomeStore

DENIED = Outcome("C1", "denied", 0.0, "50", date(2026, 3, 1))
OVERTURNED = Outcome("C1", "approved", 310.0, "", date(2026, 4, 15))  # the appeal, adjudicated later


def test_the_same_outcome_twice_is_recorded_once(tmp_path):
    store = OutcomeStore(AuditStore(f"sqlite:///{tmp_path / 'audit.db'}").engine)
    assert store.add([DENIED], "csv", "a" * 64) == (1, 0)
    assert store.add([DENIED], "x12-835", "b" * 64) == (0, 1)
    assert store.count() == 1


def test_a_later_outcome_supersedes_the_earlier_one_and_both_are_kept(tmp_path):
    audit = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store = OutcomeStore(audit.engine)
    store.add([OVERTURNED], "csv", "a" * 64)
    store.add([DENIED], "csv", "b" * 64)  # ingested after, adjudicated before: the appeal still wins
    assert store.current() == {"C1": OVERTURNED}
    assert store.count() == 2
    assert OutcomeStore(audit.engine).current() == {"C1": OVERTURNED}  # the table outlives the store object
