"""The app factory: `create_app` builds the Flask app; nothing happens at import.

Its imports sit inside the function so that importing this module, as `flask --app service.app`
and gunicorn's `service.wsgi` do, costs nothing until the app is built.
"""
from __future__ import annotations


def create_app(config: dict | None = None):
    """Build the app: defaults, then MEDSPA_COVERAGE_* environment, then `config` (tests)."""
    import logging
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    from flask import Flask, g, redirect, request
    from werkzeug.routing import RequestRedirect

    from features.catalog import load_catalog
    from service import (api, auth, denials, errors, estimates, files, health, letters, metrics, monitoring, openapi,
                         page, retention, worklist_api)
    from service.cds_hooks import routes as cds_hooks
    from service.audit import AuditStore
    from service.logging import configure_logging
    from service.model_extension import CoverageModelExtension
    from service.settings import ENV_PREFIX, default_settings, finish_settings

    app = Flask(__name__, static_folder=None)  # no route serves files: no path a request names reaches the disk
    # Werkzeug answers `//` in a path with a redirect to an absolute URL built from the Host header
    # (`GET /v1//model` with `Host: evil.example` went to http://evil.example/v1/model): a path
    # that is not a route's is a 404, and every redirect the service makes is relative.
    app.url_map.merge_slashes = False
    app.config.update(default_settings())
    app.config.from_prefixed_env(ENV_PREFIX)
    if config:
        app.config.update(config)
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False  # no CORS here: OPTIONS is a 405 like any other method
    finish_settings(app.config)
    app.json.sort_keys = False
    if app.config["FORWARDED_FOR_HOPS"]:  # behind nginx (`serve`): the client's address is the one it forwards
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["FORWARDED_FOR_HOPS"], x_proto=0, x_host=0,
                                x_port=0, x_prefix=0)

    @app.before_request
    def _assign_request_id():
        g.request_id = uuid.uuid4().hex

    @app.before_request
    def _relative_redirect():
        """Werkzeug's own redirects (a path it normalises, such as `//`) point at the path alone, with
        one leading slash (`//host` would name a host), never at a host taken from the request. Flask
        sends routing redirects past the error handlers, so they are answered here, before dispatch."""
        error = request.routing_exception
        if isinstance(error, RequestRedirect):
            parts = urlsplit(error.new_url)
            return redirect(urlunsplit(("", "", "/" + parts.path.lstrip("/"), parts.query, "")), error.code)
        return None

    @app.after_request
    def _send_request_id(response):
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        return response

    configure_logging(app)
    errors.init_app(app)
    app.extensions["audit_store"] = AuditStore(app.config["AUDIT_DATABASE_URL"], app.config["AUDIT_SQLITE_SYNCHRONOUS"])
    auth.init_app(app)  # the rate limit keeps its buckets in the audit database
    load_catalog()  # a broken catalog stops the start, not the first request
    health.init_app(app)
    api.init_app(app)
    denials.init_app(app)  # POST /v1/denials: the playbook after a denial
    letters.init_app(app)  # POST /v1/letters: a draft letter of medical necessity
    estimates.init_app(app)  # POST /v1/estimates: a Good Faith Estimate for a self-pay or not-covered visit
    worklist_api.init_app(app)  # GET /v1/worklist: a key's own denial worklist
    cds_hooks.init_app(app)  # CDS Hooks / Da Vinci CRD: its JWT's jti ledger is in the audit database too
    page.init_app(app)
    openapi.init_app(app)
    metrics.init_app(app)  # before the model extension, which reports its loads there
    CoverageModelExtension(app)
    files.init_app(app)  # its background runner scores with the model extension's model
    monitoring.init_app(app)
    retention.init_app(app)
    if not app.config["API_KEY_HASHES"]:
        logging.getLogger("service.auth").warning(
            "no API keys configured: every /v1 request will get 401",
            extra={"detail": "set MEDSPA_COVERAGE_API_KEY_HASHES (or MEDSPA_COVERAGE_API_KEYS for tools)"})
    return app
