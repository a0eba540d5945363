"""The per-key rate limit: requests and claims per minute, one budget for all workers.

Two token buckets per key id, `RATE_LIMIT_PER_MINUTE` requests and `RATE_LIMIT_CLAIMS_PER_MINUTE`
claims, each refilled continuously up to one minute's worth. They live in the audit database
(table `rate_buckets`), the store every gunicorn worker already shares and writes on each answer,
so N workers give a key the configured budget, not N times it, and a restart does not refill it.

- `admit(key_id)`, before the body is read: one UPDATE refills both buckets and takes a request
  token when one is there and the claims bucket is not in debt; otherwise nothing is taken and
  the answer is the seconds to wait (429 + Retry-After).
- `claims_charge(key_id, n)`: the statement (and its values) that takes the answered claims, run in the audit
  write's own transaction (no second commit per request). A batch may take the claims bucket
  below zero once; the key then waits until it is out of debt.

Wall-clock time (shared by processes, unlike the monotonic clock). A setting of 0 turns that
bucket off; both 0, and the database is not touched.
"""
from __future__ import annotations

import math
import time

from sqlalchemy import Column, Float, String, Table, insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from service.audit import metadata

rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("requests", Float, nullable=False),  # tokens at `updated`
    Column("claims", Float, nullable=False),
    Column("updated", Float, nullable=False),  # unix time, seconds
)


def _refilled(column: str, per_minute: int) -> str:
    """SQL: the bucket's tokens at :now, at most one minute's worth (CASE, portable where MIN is not).

    Another worker's clock read may be a little later than ours and already stored in `updated`
    (its UPDATE went first while ours waited for the row): that time counts as no time, not as
    tokens taken back. The budgets are the limiter's own integers, written into the SQL once."""
    value = f"({column} + CASE WHEN :now - updated > 0.0 THEN :now - updated ELSE 0.0 END * {per_minute / 60.0!r})"
    return f"(CASE WHEN {value} > {float(per_minute)!r} THEN {float(per_minute)!r} ELSE {value} END)"


# The later of :now and the stored time, so a bucket's clock never runs backwards.
_LATEST = "CASE WHEN updated > :now THEN updated ELSE :now END"


class SharedRateLimiter:
    def __init__(self, engine: Engine, requests_per_minute: int, claims_per_minute: int, clock=time.time):
        self.engine = engine
        self.requests_per_minute, self.claims_per_minute = requests_per_minute, claims_per_minute
        self._clock = clock  # the table is the audit store's migrations' (service/audit_migrations)
        # The statements are written once, as SQL text with bound values: built per request from
        # SQLAlchemy expressions, they cost more CPU than the answer's own rules (benchmarks/RESULTS.md).
        requests_limit, claims_limit = self._limits()
        requests_now, claims_now = _refilled("requests", requests_limit), _refilled("claims", claims_limit)
        self._take = text(f"UPDATE rate_buckets SET requests = {requests_now} - 1.0, claims = {claims_now}, "
                          f"updated = {_LATEST} WHERE key_id = :key_id AND {requests_now} >= 1.0 "
                          f"AND {claims_now} >= 0.0")
        self._read = text(f"SELECT {requests_now}, {claims_now} FROM rate_buckets WHERE key_id = :key_id")
        self._charge = text("UPDATE rate_buckets SET claims = claims - :claims WHERE key_id = :key_id")

    @property
    def active(self) -> bool:
        return self.requests_per_minute > 0 or self.claims_per_minute > 0

    def _limits(self) -> tuple[int, int]:
        """Per-minute budgets with an unlimited bucket as one that never empties."""
        big = 10**12
        return self.requests_per_minute or big, self.claims_per_minute or big

    def admit(self, key_id: str) -> int:
        """Take a request token: 0 when allowed, else the whole seconds until the key may try again."""
        if not self.active:
            return 0
        requests_limit, claims_limit = self._limits()
        for _ in range(3):
            now = self._clock()
            values = {"key_id": key_id, "now": float(now)}
            with self.engine.begin() as connection:
                if connection.execute(self._take, values).rowcount:
                    return 0
                row = connection.execute(self._read, values).first()
            if row is None:
                try:  # a key's first request: a full bucket less this one
                    with self.engine.begin() as connection:
                        connection.execute(insert(rate_buckets).values(key_id=key_id, requests=requests_limit - 1.0,
                                                                       claims=float(claims_limit), updated=now))
                    return 0
                except IntegrityError:
                    continue  # another worker made the row first: take from it
            if wait := self._wait(row[0], row[1]):
                return wait
            # The row was not there for our UPDATE but is for the SELECT (another worker's first
            # request made it in between) and has tokens: take one the next time round.
        return 1

    def _wait(self, requests: float, claims: float) -> int:
        """Whole seconds until both buckets allow a request; 0 when they do now."""
        requests_limit, claims_limit = self._limits()
        waits = [0.0]
        if requests < 1.0:
            waits.append((1.0 - requests) / (requests_limit / 60.0))
        if claims < 0.0:
            waits.append(-claims / (claims_limit / 60.0))
        longest = max(waits)
        return max(1, math.ceil(longest)) if longest > 0 else 0

    def claims_charge(self, key_id: str, claims: int) -> tuple | None:
        """The UPDATE that takes `claims` tokens and its values, `connection.execute(*charge)` (for
        the audit write's transaction), or None when off."""
        if self.claims_per_minute <= 0 or claims <= 0:
            return None
        return self._charge, {"key_id": key_id, "claims": float(claims)}
