"""alembic's entry point for the audit store: the connection the service passes (its lock held,
service/audit_migrations/__init__.py), or, when alembic is run by hand, the database of
MEDSPA_COVERAGE_AUDIT_DATABASE_URL (else the service's default)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text


def _run(connection) -> None:
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from service.audit_migrations import ADVISORY_LOCK_KEY
    from service.monitoring import default_audit_url

    with create_engine(default_audit_url()).begin() as by_hand:
        if by_hand.dialect.name == "postgresql":  # the same lock the service's processes take
            by_hand.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        _run(by_hand)
