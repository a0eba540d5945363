"""The page's sign-ins, kept server-side so that ending one ends it everywhere.

The session cookie (service.page) is signed, so nobody can forge one, but a signed cookie alone
cannot be taken back: a copy replayed after sign-out, or after a restart with the same
SESSION_SECRET, would still be good until its own end. So each sign-in draws a random session id,
carried in the cookie and kept here, in the audit database every worker and host already shares
(table `page_sessions`, as service.rate_limit keeps its buckets); a cookie is honoured only while
its id is here and unexpired. Sign-out deletes the row; a session found naming a key that is no
longer configured, or past its end, is deleted when it is presented; sign-ins prune the expired.
Only the sha256 of the id is stored: a reader of the database learns no live cookie value.
"""
from __future__ import annotations

import hashlib
import secrets
import time

from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import Column, Float, String, Table, delete, insert, select
from sqlalchemy.engine import Engine

from service.audit import metadata

page_sessions = Table(
    "page_sessions",
    metadata,
    Column("session_digest", String(64), primary_key=True),  # sha256 hex of the cookie's session id
    Column("key_id", String(16), nullable=False),
    Column("until", Float, nullable=False),  # unix time the session ends
)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class SessionStore:
    """Live page sessions in the shared store (the table is the audit migrations')."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def start(self, key_id: str, until: float) -> str:
        """A new live session of `key_id` until `until`; returns its id, for the cookie."""
        session_id = secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            connection.execute(delete(page_sessions).where(page_sessions.c.until <= time.time()))
            connection.execute(insert(page_sessions).values(session_digest=_digest(session_id), key_id=key_id,
                                                            until=float(until)))
        return session_id

    def live_key_id(self, session_id: str) -> str | None:
        """The key id of the live session `session_id`, else None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(page_sessions.c.key_id, page_sessions.c.until)
                                     .where(page_sessions.c.session_digest == _digest(session_id))).first()
        if row is None:
            return None
        if row.until <= time.time():  # ended: removed now, so no clock set back revives it
            self.end(session_id)
            return None
        return row.key_id

    def end(self, session_id: str) -> None:
        """Revoke the session: its cookie is refused from now on, by every worker and host."""
        with self.engine.begin() as connection:
            connection.execute(delete(page_sessions).where(page_sessions.c.session_digest == _digest(session_id)))


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that a request without the cookie (every API call
    with a key) gets its empty session without Flask building the cookie's signer first: on the
    answer's path that signer cost more than the request's audit insert (benchmarks/RESULTS.md)."""

    def open_session(self, app, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)
