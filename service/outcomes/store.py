"""The outcomes table: every adjudicated outcome ingested for a served claim, in the audit
database beside the served claims it judges (one of the audit store's tables, `service.audit.metadata`;
created by the audit schema's migration 0002, which opening the AuditStore applies).

One row per distinct outcome (`outcome_key`: the sha256 of claim id, outcome, paid amount, denial
reason and adjudication date, unique), so ingesting a file again adds nothing. A later outcome for
the same claim (an appeal overturned) is a new row; both are kept, and the claim's current
outcome is the one with the latest adjudication date (then the latest ingested).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import BigInteger, Column, Date, DateTime, Float, Index, Integer, String, Table, func, select
from sqlalchemy.engine import Engine

from service.audit import metadata
from service.outcomes.records import MAX_CLAIM_ID_LENGTH, Outcome

claim_outcomes = Table(
    "claim_outcomes",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("outcome_key", String(64), nullable=False, unique=True),
    Column("claim_id", String(MAX_CLAIM_ID_LENGTH), nullable=False),
    Column("outcome", String(16), nullable=False),  # approved | partial | denied
    Column("paid_amount", Float, nullable=False),
    Column("denial_reason", String(8), nullable=False),  # CARC, "" when approved
    # X12 group code of the denial (CO, PR, OA, PI), "" when approved or not given; migration 0006
    Column("group_code", String(2), nullable=False, server_default=""),
    Column("adjudication_date", Date, nullable=False),
    Column("source", String(16), nullable=False),  # csv | parquet | x12-835
    Column("source_sha256", String(64), nullable=False),  # the file it came from
    Column("ingested_at", DateTime, nullable=False),  # UTC
)
Index("ix_claim_outcomes_claim_id", claim_outcomes.c.claim_id)


class OutcomeStore:
    """The outcomes table on an opened audit store's engine (AuditStore migrated it)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, outcomes: Iterable[Outcome], source: str, source_sha256: str) -> tuple[int, int]:
        """Record the outcomes not recorded yet, in one transaction; (added, already recorded)."""
        by_key = {outcome.key: outcome for outcome in outcomes}
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        with self.engine.begin() as connection:
            known = set()
            keys = list(by_key)
            for start in range(0, len(keys), 500):  # bound the IN list
                known.update(connection.execute(select(claim_outcomes.c.outcome_key).where(
                    claim_outcomes.c.outcome_key.in_(keys[start:start + 500]))).scalars())
            rows = [{"outcome_key": key, "claim_id": outcome.claim_id, "outcome": outcome.outcome,
                     "paid_amount": outcome.paid_amount, "denial_reason": outcome.denial_reason,
                     "group_code": outcome.group_code, "adjudication_date": outcome.adjudication_date, "source": source,
                     "source_sha256": source_sha256, "ingested_at": now}
                    for key, outcome in by_key.items() if key not in known]
            if rows:
                connection.execute(claim_outcomes.insert(), rows)
        return len(rows), len(by_key) - len(rows)

    def current(self) -> dict[str, Outcome]:
        """claim_id -> its current outcome: the latest adjudication date, then the latest ingested."""
        query = select(claim_outcomes).order_by(claim_outcomes.c.adjudication_date, claim_outcomes.c.id)
        current = {}
        with self.engine.connect() as connection:
            for row in connection.execute(query).mappings():
                current[row["claim_id"]] = _outcome(row)  # later rows replace earlier ones
        return current

    def count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(claim_outcomes)).scalar_one()


def _outcome(row) -> Outcome:
    return Outcome(claim_id=row["claim_id"], outcome=row["outcome"], paid_amount=row["paid_amount"],
                   denial_reason=row["denial_reason"], adjudication_date=row["adjudication_date"],
                   group_code=row["group_code"])
