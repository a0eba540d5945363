"""The medspa-coverage REST service. Importing the package does nothing: the app is built by
`service.app.create_app`.

Local work: `flask --app service.app run`; production: `gunicorn -c service/gunicorn_conf.py
service.wsgi:app` (or `medspa-coverage serve`). Settings: the table in service/settings.py.
"""
