"""The front desk's page at `/`: sign in with an API key, ask about a visit, read the answer.

The page holds no logic of its own about claims: its script calls the same /v1 endpoints as any
client, with the session instead of a key (service.auth accepts either). What lives here:

- sign in / sign out. A right key becomes a signed, HttpOnly, SameSite=Strict Flask session
  cookie holding the key's id (never the key), an absolute end (`SESSION_MINUTES`) and a session
  id kept server-side (service.sessions): sign-out, the key's removal and the session's end
  revoke it there, so a copy of the cookie is refused afterwards, across restarts too; a wrong
  key counts against the address like a wrong key on /v1 (FAILED_KEY_LIMIT).
- a CSRF token (Flask-WTF) on both forms, and in the `X-CSRFToken` header of the script's
  POSTs (and DELETEs), checked by service.auth whenever the session is what authenticates.
- the limits of a claims file to score (service.files), stated on the page as the API enforces them.
- the static files, each a route of its own (no path parameter: no request names a file), and
  the security headers of every response: a CSP with `default-src 'self'` and no inline script
  or style, `frame-ancestors 'none'`.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flask import (Blueprint, Flask, Response, current_app, redirect, render_template, request, send_file,
                   session)
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy.exc import SQLAlchemyError
from wtforms.validators import ValidationError

from features.contract import BENEFIT_SCOPES, EXAMPLE_CLAIM, FACILITY_TYPES, PLAN_TYPES
from features.diagnosis import ICD10CM_RELEASE
from scoring.decisions import DECISION_LEADS, EXCLUDED
from service.audit import AuditUnavailable
from service.file_jobs import limits_text
from service.security_headers import SECURITY_HEADERS
from service.sessions import CookieSessions, SessionStore

STATIC_DIR = Path(__file__).parent / "static"
# name -> content type: every file the page serves, each at /static/<name> by a route of its own
STATIC_FILES = {"page.css": "text/css", "page.js": "text/javascript", "cost.js": "text/javascript",
                "favicon.svg": "image/svg+xml", "worklist.js": "text/javascript", "worklist.css": "text/css"}
PAGE_ROUTES = ("/", "/sign-in", "/sign-out", *(f"/static/{name}" for name in STATIC_FILES))
CSRF_HEADER = "X-CSRFToken"
SESSIONS = "page_sessions"  # app.extensions key of the SessionStore

# How the page words each decision, in DECISION_BANDS' order; rendered into the page (data-decisions),
# so its script holds no decision value of its own.
DECISION_LABELS = {**DECISION_LEADS, EXCLUDED: f"{DECISION_LEADS[EXCLUDED]}: excluded by a rule"}

bp = Blueprint("page", __name__, template_folder="templates")


def signed_in_key_id() -> str | None:
    """The key id of a live session whose key is still configured, else None. A session past its
    end or naming a removed key is revoked server-side, so it stays refused if the key returns."""
    key_id, until, session_id = session.get("key_id"), session.get("until"), session.get("sid")
    if not key_id or not isinstance(until, (int, float)) or not isinstance(session_id, str):
        return None
    with _session_store() as sessions:
        live = sessions.live_key_id(session_id) == key_id
        if live and time.time() < until and current_app.extensions["api_keys"].knows(key_id):
            return key_id
        if live:
            sessions.end(session_id)
    return None


@contextmanager
def _session_store() -> Iterator[SessionStore]:
    """The shared session store; 503 audit_unavailable when it cannot be reached (it is the audit
    database, and nothing is answered unaudited)."""
    try:
        yield current_app.extensions[SESSIONS]
    except SQLAlchemyError:
        raise AuditUnavailable() from None


def check_csrf_header() -> bool:
    """Whether the request carries the session's CSRF token in its header."""
    try:
        validate_csrf(request.headers.get(CSRF_HEADER, ""))
    except (ValidationError, CSRFError):
        return False
    return True


@bp.get("/")
def index():
    if signed_in_key_id() is None:
        return _sign_in_page()
    config = current_app.config
    return render_template(
        "page.html", csrf_token=generate_csrf(), plan_types=PLAN_TYPES, benefit_scopes=BENEFIT_SCOPES,
        facility_types=FACILITY_TYPES, example=EXAMPLE_CLAIM, icd_release=ICD10CM_RELEASE,
        approved_threshold=config["LIKELY_APPROVED_THRESHOLD"], denied_threshold=config["LIKELY_DENIED_THRESHOLD"],
        decision_labels=list(DECISION_LABELS.items()),  # pairs: tojson sorts an object's keys
        session_minutes=config["SESSION_MINUTES"], file_limits=limits_text(config),
        file_keep_minutes=config["FILE_KEEP_MINUTES"])


@bp.post("/sign-in")
def sign_in():
    if not _form_csrf_ok():
        return _sign_in_page("The sign-in form had expired. Please enter the key again.", 400)
    throttle = current_app.extensions["failed_keys"]
    presented, address = request.form.get("api_key", "").strip(), request.remote_addr or "unknown"
    wait = throttle.retry_after(address, presented)
    if wait:
        return _sign_in_page(f"Too many wrong keys from this computer. Please wait {wait} seconds and try again.",
                             429, {"Retry-After": str(wait)})
    key_id = current_app.extensions["api_keys"].key_id(presented) if presented else None
    if key_id is None:
        throttle.record_failure(address, presented)
        return _sign_in_page("That key is not one this service accepts. Check it and try again.", 401)
    session.clear()  # a fresh session at each sign-in: nothing set before it survives
    session.permanent = True
    until = int(time.time()) + 60 * current_app.config["SESSION_MINUTES"]
    with _session_store() as sessions:
        session["sid"] = sessions.start(key_id, until)
    session["key_id"] = key_id
    session["until"] = until
    return redirect("/", 303)


@bp.post("/sign-out")
def sign_out():
    if _form_csrf_ok():
        if isinstance(session_id := session.get("sid"), str):
            with _session_store() as sessions:
                sessions.end(session_id)
        session.clear()
    return redirect("/", 303)


def _form_csrf_ok() -> bool:
    try:
        validate_csrf(request.form.get("csrf_token", ""))
    except (ValidationError, CSRFError):
        return False
    return True


def _sign_in_page(message: str | None = None, status: int = 200, headers: dict | None = None):
    body = render_template("sign_in.html", csrf_token=generate_csrf(), message=message)
    return Response(body, status, headers or {}, mimetype="text/html")


def _static_view(name: str, mimetype: str):
    def view():
        return send_file(STATIC_DIR / name, mimetype=mimetype, max_age=0)

    view.__name__ = "static_" + name.replace(".", "_")
    return view


for _name, _mimetype in STATIC_FILES.items():
    bp.add_url_rule(f"/static/{_name}", view_func=_static_view(_name, _mimetype), methods=["GET"])


def _add_security_headers(response):
    for header, value in SECURITY_HEADERS.items():
        if header == "Content-Security-Policy" and request.blueprint == "docs":
            continue  # the development docs page (off in production) styles itself inline
        response.headers.setdefault(header, value)
    return response


def init_app(app: Flask) -> None:
    app.config.update(SESSION_COOKIE_NAME="medspa_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_REFRESH_EACH_REQUEST=False,
                      PERMANENT_SESSION_LIFETIME=60 * app.config["SESSION_MINUTES"],
                      WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, whose end is checked here
                      WTF_CSRF_FIELD_NAME="csrf_token", SECRET_KEY=app.config["SESSION_SECRET"])
    app.extensions[SESSIONS] = SessionStore(app.extensions["audit_store"].engine)
    app.session_interface = CookieSessions()
    app.register_blueprint(bp)
    app.after_request(_add_security_headers)
