"""The page's server side (service/page.py) through the real app: sign in and out, the session
cookie's flags and end, CSRF on the forms and on the API when the session authenticates, the
security headers, and the static files. In a browser: test_page_browser.py."""
from __future__ import annotations

import html as html_text
import json
import re
import time

import pytest

from scoring.decisions import DECISION_BANDS
from service.page import DECISION_LABELS, STATIC_FILES
from service.security_headers import CONTENT_SECURITY_POLICY
from tests.service.service_testing import API_KEY, SENTINEL, body_of, example_claim


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _sign_in(client, key=API_KEY):
    token = _token(client.get("/").get_data(as_text=True))
    return client.post("/sign-in", data={"api_key": key, "csrf_token": token})


def _page_token(client) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)


def test_the_page_asks_for_a_key_until_signed_in(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'name="api_key"' in html and "visit-form" not in html
    assert client.get("/v1/treatments").status_code == 401


def test_a_right_key_signs_in_with_a_strict_httponly_expiring_cookie(client):
    response = _sign_in(client)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("medspa_session=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Expires=" in cookie and API_KEY not in cookie
    assert "visit-form" in client.get("/").get_data(as_text=True)
    assert body_of(client.get("/v1/diagnoses?q=migraine&limit=1"))["diagnoses"][0]["code"] == "G43"


def test_a_wrong_key_gets_a_plain_message_and_repeated_ones_are_throttled(make_app):
    client = make_app(FAILED_KEY_LIMIT=2).test_client()
    wrong = _sign_in(client, "not-a-key")
    assert wrong.status_code == 401 and "not one this service accepts" in wrong.get_data(as_text=True)
    assert _sign_in(client, "not-" + SENTINEL).status_code == 401
    throttled = _sign_in(client, "not-either")  # a key like those: no longer compared
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert "Too many wrong keys" in throttled.get_data(as_text=True)
    assert SENTINEL not in throttled.get_data(as_text=True)
    assert _sign_in(client, API_KEY).status_code == 303  # the right key from the same computer still signs in


def test_sign_in_and_sign_out_need_the_forms_csrf_token(client):
    assert client.post("/sign-in", data={"api_key": API_KEY}).status_code == 400
    assert client.get("/v1/treatments").status_code == 401
    _sign_in(client)
    assert client.post("/sign-out").status_code == 303
    assert client.get("/v1/treatments").status_code == 200  # still signed in: the token was missing
    client.post("/sign-out", data={"csrf_token": _page_token(client)})
    assert client.get("/v1/treatments").status_code == 401


def test_a_post_signed_in_by_the_session_needs_the_csrf_header(served_app):
    client = served_app.test_client()
    _sign_in(client)
    refused = client.post("/v1/predict", json=example_claim())
    assert refused.status_code == 403 and body_of(refused)["code"] == "csrf_failed"
    answered = client.post("/v1/predict", json=example_claim(), headers={"X-CSRFToken": _page_token(client)})
    assert answered.status_code == 200 and body_of(answered)["decision"]
    forged = client.post("/v1/predict", json=example_claim(), headers={"X-CSRFToken": "forged." + "x" * 40})
    assert forged.status_code == 403


def test_a_session_ends_at_its_time_and_with_its_key(make_app, monkeypatch):
    app = make_app(SESSION_MINUTES=1)
    client = app.test_client()
    _sign_in(client)
    assert client.get("/v1/treatments").status_code == 200
    later = time.time() + 61
    monkeypatch.setattr("service.page.time.time", lambda: later)
    assert client.get("/v1/treatments").status_code == 401
    assert 'name="api_key"' in client.get("/").get_data(as_text=True)


def test_a_session_of_a_key_no_longer_configured_is_refused(make_app):
    signed = make_app(SESSION_SECRET="s" * 40).test_client()
    _sign_in(signed)
    cookie = signed.get_cookie("medspa_session").value
    other = make_app(SESSION_SECRET="s" * 40, API_KEYS=["another-key-000000"]).test_client()
    other.set_cookie("medspa_session", cookie)
    assert other.get("/v1/treatments").status_code == 401


def _signed_in_cookie(client) -> tuple[str, str]:
    """Sign in; the session cookie's value and the page's CSRF token, as an attacker would copy them."""
    _sign_in(client)
    token = _page_token(client)  # the page puts its CSRF token in the session: the cookie after it
    return client.get_cookie("medspa_session").value, token


def _replayed(app, cookie: str, token: str) -> dict[str, int]:
    """The copied cookie replayed from a fresh client: the page, a GET and a POST with the token."""
    client = app.test_client()
    client.set_cookie("medspa_session", cookie)
    page = client.get("/").get_data(as_text=True)
    return {"page": 200 if "visit-form" in page else 401, "get": client.get("/v1/treatments").status_code,
            "predict": client.post("/v1/predict", json=example_claim(), headers={"X-CSRFToken": token}).status_code}


def test_sign_out_revokes_the_session_so_a_replayed_cookie_is_refused_even_after_a_restart(make_served_app,
                                                                                             tmp_path):
    settings = {"SESSION_SECRET": "s" * 40, "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'shared-audit.db'}"}
    app = make_served_app(**settings)
    client = app.test_client()
    cookie, token = _signed_in_cookie(client)
    assert _replayed(app, cookie, token) == {"page": 200, "get": 200, "predict": 200}
    client.post("/sign-out", data={"csrf_token": token})
    assert _replayed(app, cookie, token) == {"page": 401, "get": 401, "predict": 401}
    restarted = make_served_app(**settings)  # the same secret and shared store: the revocation holds
    assert _replayed(restarted, cookie, token) == {"page": 401, "get": 401, "predict": 401}


def test_a_session_whose_key_was_removed_stays_revoked_when_the_key_returns(make_app, tmp_path):
    settings = {"SESSION_SECRET": "s" * 40, "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'shared-audit.db'}"}
    cookie, token = _signed_in_cookie(make_app(**settings).test_client())
    without_the_key = make_app(**settings, API_KEYS=["another-key-000000"])
    assert _replayed(without_the_key, cookie, token)["get"] == 401
    assert _replayed(make_app(**settings), cookie, token)["get"] == 401  # the key is back; the session is not


def test_a_key_header_still_works_beside_a_session(client, auth):
    assert client.post("/v1/predict", json={}, headers=auth).status_code == 422  # a key: no CSRF token asked


@pytest.mark.parametrize("path", ["/", "/static/page.js", "/v1/treatments", "/healthz/live"])
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"


def test_the_page_has_no_inline_script_or_style_and_no_other_origin(client):
    _sign_in(client)
    html = client.get("/").get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>", html)  # only the listed static scripts, each a file of its own
    assert {'<script src="/static/page.js" defer>', '<script src="/static/cost.js" defer>',
            '<script src="/static/worklist.js" defer>'} <= set(scripts)
    assert all((found := re.fullmatch(r'<script src="/static/([\w.]+\.js)" defer>', tag)) and found.group(1) in STATIC_FILES
               for tag in scripts)
    assert "<style" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)
    assert not re.search(r"(src|href|action)=\"(https?:)?//", html)
    for name in STATIC_FILES:
        assert "http://" not in client.get(f"/static/{name}").get_data(as_text=True).replace(
            "http://www.w3.org", "")


def test_the_page_gets_every_decision_and_its_words_from_the_server_in_band_order(client):
    _sign_in(client)
    found = re.search(r"data-decisions='([^']*)'", client.get("/").get_data(as_text=True))
    pairs = json.loads(html_text.unescape(found.group(1)))
    assert [decision for decision, _ in pairs] == list(DECISION_BANDS)
    assert dict(pairs) == DECISION_LABELS and all(words for _, words in pairs)


def test_static_files_are_the_listed_ones_only(client):
    for name, mimetype in STATIC_FILES.items():
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and response.mimetype == mimetype
    for path in ("/static/", "/static/page.py", "/static/../page.py", "/static/%2e%2e/page.py", "/templates/page.html"):
        assert client.get(path).status_code == 404
