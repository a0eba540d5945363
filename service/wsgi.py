"""The WSGI entry point for gunicorn: `service.wsgi:app` (each worker builds its own app and model).

Production never runs in debug mode, whatever FLASK_DEBUG or MEDSPA_COVERAGE_DEBUG say: in debug
mode Flask hands an exception its error handlers did not handle to gunicorn, whose log writes the
exception's message (which may quote a claim); otherwise the service's JSON log writes only its
type and stack.
"""
from service.app import create_app

app = create_app({"DEBUG": False})
