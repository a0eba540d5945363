"""The WSGI entry point for gunicorn: `service.wsgi:app` (each worker builds its own app and model)."""
from service import create_app

app = create_app()
