"""The security headers of every answer, the app's (service.page adds them) and nginx's own refusals
(service.proxy writes them into its config): a CSP with `default-src 'self'` and no inline script
or style, `frame-ancestors 'none'`, no sniffing, no framing, no referrer. A module of its own so
that gunicorn's master can read them for nginx without importing the app.
"""
from __future__ import annotations

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
                           "object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
