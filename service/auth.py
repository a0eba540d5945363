"""API keys and the per-key rate limit, checked before anything reads the request body.

Keys arrive as `Authorization: Bearer <key>` or `X-API-Key: <key>` (or as the page's signed
session, which names a key's id; service.page) and are compared as sha256
digests against `API_KEY_HASHES` in constant time (every configured digest is compared, whatever
matches). A key is known in logs and the audit store only by its key id: the first 8 hex digits
of its digest. The rate limit (requests and claims per key, shared by all workers) is
service.rate_limit's.

Guessing keys is throttled per client address (the socket's, or the one nginx forwards, see
FORWARDED_FOR_HOPS) and key prefix (the presented key's first KEY_PREFIX_CHARS characters, none
for a missing key): after FAILED_KEY_LIMIT requests with a missing or wrong key within
FAILED_KEY_WINDOW_SECONDS, every request from that address whose key starts the same gets 429
until the oldest failure leaves the window, before any key is compared. Counted per address alone,
a guesser locked out everyone behind the same address (a NAT, nginx), the right key included; a
guesser now meets the limit once per prefix (4,096 of them: each window bounds the guesses still),
and a right key is refused only when guesses from its own address began like it. Counted per
worker process.
"""
from __future__ import annotations

import hmac
import logging
import math
import threading
import time
from collections import deque

from flask import Flask, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from service.audit import AuditUnavailable, database_error_reason
from service.errors import APIError
from service.page import CSRF_HEADER, check_csrf_header, signed_in_key_id
from service.rate_limit import SharedRateLimiter
from service.settings import hash_key

KEY_ID_LENGTH = 8
KEY_PREFIX_CHARS = 2  # of a presented key, with the address, name the failed-key throttle's counter
log = logging.getLogger(__name__)


class KeyRing:
    def __init__(self, hashes: list[str]):
        self._hashes = tuple(digest.encode("ascii") for digest in hashes)
        self._key_ids = frozenset(digest[:KEY_ID_LENGTH] for digest in hashes)

    def knows(self, key_id: str) -> bool:
        """Whether a key id (from a page session) still names a configured key."""
        return key_id in self._key_ids

    def key_id(self, presented: str) -> str | None:
        """The key id of a presented key when it is one of ours, else None."""
        digest = hash_key(presented).encode("ascii")
        matched = False
        for known in self._hashes:
            matched |= hmac.compare_digest(digest, known)
        return digest[:KEY_ID_LENGTH].decode("ascii") if matched else None


class FailedKeyThrottle:
    """Failed key checks per client address and key prefix within a sliding window of `window` seconds."""

    MAX_ADDRESSES = 10_000  # memory bound: past it, expired addresses are forgotten, then the longest-known

    def __init__(self, limit: int, window: float, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _counter(address: str, presented: str | None) -> str:
        return f"{address} {(presented or '')[:KEY_PREFIX_CHARS]}"

    def retry_after(self, address: str, presented: str | None = None) -> int:
        """0 when the address may try this key, else the whole seconds until the oldest failure of its
        counter (address and key prefix) expires."""
        if self.limit <= 0:
            return 0
        with self._lock:
            failures = self._failures.get(self._counter(address, presented))
            if failures is None:
                return 0
            self._expire(failures, self._clock())
            if len(failures) < self.limit:
                return 0
            return max(1, math.ceil(failures[0] + self.window - self._clock()))

    def record_failure(self, address: str, presented: str | None = None) -> None:
        if self.limit <= 0:
            return
        address = self._counter(address, presented)
        with self._lock:
            now = self._clock()
            if address not in self._failures and len(self._failures) >= self.MAX_ADDRESSES:
                self._forget_expired(now)
                if len(self._failures) >= self.MAX_ADDRESSES:  # still full: the longest-known address goes
                    del self._failures[next(iter(self._failures))]
            failures = self._failures.setdefault(address, deque(maxlen=self.limit))
            failures.append(now)

    def _expire(self, failures: deque, now: float) -> None:
        while failures and failures[0] <= now - self.window:
            failures.popleft()

    def _forget_expired(self, now: float) -> None:
        for address in list(self._failures):
            self._expire(self._failures[address], now)
            if not self._failures[address]:
                del self._failures[address]


def _presented_key() -> str | None:
    """The Bearer credentials when an Authorization header is sent (whatever X-API-Key says), else X-API-Key."""
    if "Authorization" in request.headers:
        scheme, _, credentials = request.headers["Authorization"].strip().partition(" ")
        return credentials.strip() or None if scheme.lower() == "bearer" else None
    return request.headers.get("X-API-Key", "").strip() or None


def identify_client() -> None:
    """The key check alone (`g.key_id`), before anything reads the request: 401, or 429 from the
    failed-key throttle. The metrics endpoint takes this, without the rate limit (service.metrics).

    A request without a key may instead be signed in on the page (service.page): its session
    names the key id, and a request that changes anything (POST) must also carry the session's
    CSRF token in a header, so that no other site can make a signed-in browser post a claim.
    """
    throttle = current_app.extensions["failed_keys"]
    presented, address = _presented_key(), request.remote_addr or "unknown"
    wait = throttle.retry_after(address, presented)
    if wait:
        raise APIError(429, "too_many_failed_keys",
                       f"more than {throttle.limit} requests with a missing or wrong API key like this one from this "
                       f"address within {throttle.window:g} s; retry after {wait} s",
                       headers={"Retry-After": str(wait)})
    key_id = current_app.extensions["api_keys"].key_id(presented) if presented else None
    if presented is None and (session_key_id := signed_in_key_id()) is not None:
        if request.method not in ("GET", "HEAD") and not check_csrf_header():
            raise APIError(403, "csrf_failed", f"a request signed in by the page must carry its CSRF token in the "
                                               f"{CSRF_HEADER} header; reload the page")
        key_id = session_key_id
    if key_id is None:
        throttle.record_failure(address, presented)
        raise APIError(401, "unauthorized",
                       "a valid API key is required: 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                       headers={"WWW-Authenticate": 'Bearer realm="medspa-coverage"'})
    g.key_id = key_id


def require_api_key() -> None:
    """before_request of the protected blueprint: the key (identify_client), then the rate limit;
    401 or 429 before any validation."""
    identify_client()
    key_id = g.key_id
    try:
        wait = current_app.extensions["rate_limiter"].admit(key_id)
    except SQLAlchemyError as error:  # its buckets are in the audit store, which then takes no answer either
        log.error("rate limit store cannot be written; nothing answered",
                  extra={"detail": database_error_reason(error)})
        raise AuditUnavailable() from None
    if wait:
        config = current_app.config
        raise APIError(429, "rate_limited",
                       f"more than {config['RATE_LIMIT_PER_MINUTE']} requests or "
                       f"{config['RATE_LIMIT_CLAIMS_PER_MINUTE']} claims per minute for this API key "
                       f"(0: no limit); retry after {wait} s", headers={"Retry-After": str(wait)})


def init_app(app: Flask) -> None:
    app.extensions["api_keys"] = KeyRing(app.config["API_KEY_HASHES"])
    app.extensions["rate_limiter"] = SharedRateLimiter(app.extensions["audit_store"].engine,
                                                       app.config["RATE_LIMIT_PER_MINUTE"],
                                                       app.config["RATE_LIMIT_CLAIMS_PER_MINUTE"])
    app.extensions["failed_keys"] = FailedKeyThrottle(app.config["FAILED_KEY_LIMIT"],
                                                      app.config["FAILED_KEY_WINDOW_SECONDS"])
