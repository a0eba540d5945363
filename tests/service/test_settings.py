"""Settings: one documented table; defaults, then environment, then test overrides; bad values stop the start."""
from __future__ import annotations

import pytest

from service import settings
from service.settings import SettingsError, default_settings


def test_every_setting_is_in_the_settings_table():
    table = settings.__doc__
    for name in [*default_settings(), "API_KEYS", "MAX_CONTENT_LENGTH"]:
        assert f"| `{name}` |" in table, name


def test_defaults(app, tmp_path):
    config = app.config
    assert (config["MAX_BATCH_CLAIMS"], config["LIKELY_APPROVED_THRESHOLD"], config["LIKELY_DENIED_THRESHOLD"]) == \
        (1000, 0.7, 0.3)
    assert (config["MODEL_SOURCE"], config["MODEL_NAME"], config["MODEL_ALIAS"]) == ("registry", "medspa-coverage",
                                                                                     "champion")
    defaults = default_settings()
    assert defaults["AUDIT_DATABASE_URL"].endswith("/var/audit.db")
    assert defaults["MODEL_BUNDLE_PATH"].endswith("/models")


def test_tracking_uri_follows_mlflow_env(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/elsewhere.db")
    assert default_settings()["TRACKING_URI"] == "sqlite:////tmp/elsewhere.db"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert default_settings()["TRACKING_URI"].endswith("/var/mlflow.db")


def test_environment_then_overrides(make_app, monkeypatch):
    monkeypatch.setenv("MEDSPA_COVERAGE_MAX_BATCH_CLAIMS", "25")
    monkeypatch.setenv("MEDSPA_COVERAGE_DOCS_ENABLED", "false")
    monkeypatch.setenv("MEDSPA_COVERAGE_LIKELY_APPROVED_THRESHOLD", "0.8")
    app = make_app(LIKELY_APPROVED_THRESHOLD=0.9)
    assert app.config["MAX_BATCH_CLAIMS"] == 25 and app.config["DOCS_ENABLED"] is False
    assert app.config["LIKELY_APPROVED_THRESHOLD"] == 0.9


@pytest.mark.parametrize("overrides, named", [
    ({"LIKELY_APPROVED_THRESHOLD": 0.2}, "THRESHOLD"),
    ({"LIKELY_DENIED_THRESHOLD": -0.1}, "THRESHOLD"),
    ({"MODEL_SOURCE": "s3"}, "MODEL_SOURCE"),
    ({"MAX_BATCH_CLAIMS": 0}, "MAX_BATCH_CLAIMS"),
    ({"RATE_LIMIT_PER_MINUTE": "many"}, "RATE_LIMIT_PER_MINUTE"),
    ({"DOCS_ENABLED": "yes"}, "DOCS_ENABLED"),
    ({"AUDIT_SQLITE_SYNCHRONOUS": "OFF"}, "AUDIT_SQLITE_SYNCHRONOUS"),
])
def test_bad_settings_stop_the_start_naming_the_setting(make_app, overrides, named):
    with pytest.raises(SettingsError, match=named):
        make_app(**overrides)


def test_importing_the_package_does_no_work():
    import subprocess
    import sys

    code = ("import sys, service; "
            "print(any(m in sys.modules for m in ('flask', 'pandas', 'sklearn', 'mlflow', 'sqlalchemy')))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
