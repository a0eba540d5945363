"""`make serve`'s bootstrap: a demo champion when there is none, a dev key printed once (only its
hash kept), then gunicorn with the repo's config."""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from click.testing import CliRunner

from service import bootstrap, cli
from service.proxy import LISTEN_ENV

ROOT = Path(__file__).resolve().parents[2]


def test_a_fresh_store_gets_a_demo_champion_and_an_existing_one_is_kept(tmp_path, quick_training_params):
    uri, history, lines = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "demo" / "claims.parquet", []
    options = dict(history_path=history, rows=3_000, params=quick_training_params(), models_dir=tmp_path / "models",
                   progress=False, echo=lines.append)
    assert bootstrap.ensure_champion(uri, **options) == ("1", True)
    assert history.is_file() and (tmp_path / "models" / "champion").is_symlink()
    assert any("generating 3,000 demo claims" in line for line in lines)
    assert any(line.startswith("training the demo champion on 3,000 claims: about ") for line in lines)
    assert any("version 1 is now champion" in line for line in lines)  # the train stages' own progress
    written = history.stat().st_mtime_ns
    lines.clear()
    assert bootstrap.ensure_champion(uri, **options) == ("1", False)
    assert history.stat().st_mtime_ns == written
    assert lines == ["champion: medspa-coverage version 1 (no training needed)"]


def test_a_dev_key_is_made_once_and_only_its_hash_is_kept(tmp_path):
    hash_file = tmp_path / "var" / "dev-api-key.sha256"
    key = bootstrap.ensure_dev_key(hash_file, environ={})
    assert key and len(key) >= 40
    assert hash_file.read_text() == hashlib.sha256(key.encode()).hexdigest() + "\n"
    assert key not in hash_file.read_text() and oct(hash_file.stat().st_mode & 0o777) == "0o600"
    assert oct(hash_file.parent.stat().st_mode & 0o777) == "0o700"  # the folder it made for it
    assert bootstrap.ensure_dev_key(hash_file, environ={}) is None  # made before: not shown again
    assert bootstrap.service_environment("sqlite:///x.db", hash_file, environ={}) == {
        "MEDSPA_COVERAGE_TRACKING_URI": "sqlite:///x.db", "MEDSPA_COVERAGE_API_KEY_HASHES_FILE": str(hash_file)}


def test_no_dev_key_when_keys_are_configured(tmp_path):
    hash_file = tmp_path / "dev-api-key.sha256"
    for name in bootstrap.KEY_SETTINGS:
        assert bootstrap.ensure_dev_key(hash_file, environ={name: "something"}) is None
    assert not hash_file.exists()
    assert bootstrap.service_environment("sqlite:///x.db", hash_file, environ={}) == {
        "MEDSPA_COVERAGE_TRACKING_URI": "sqlite:///x.db"}


def test_the_service_accepts_the_dev_key_through_the_hash_file(tmp_path):
    from service.app import create_app

    hash_file = tmp_path / "dev-api-key.sha256"
    key = bootstrap.ensure_dev_key(hash_file, environ={})
    app = create_app({"TESTING": True, "API_KEY_HASHES_FILE": str(hash_file), "MODEL_POLL_SECONDS": 0,
                      "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
                      "TRACKING_URI": f"sqlite:///{tmp_path / 'none.db'}"})
    client = app.test_client()
    assert client.get("/v1/treatments", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/v1/treatments", headers={"X-API-Key": "guess"}).status_code == 401


def test_bootstrap_command_prints_the_key_once_then_execs_gunicorn(tmp_path, monkeypatch, trained_store):
    shutil.copyfile(Path(trained_store.uri[len("sqlite:///"):]), tmp_path / "mlflow.db")
    hash_file = tmp_path / "dev-api-key.sha256"
    monkeypatch.setattr(bootstrap, "DEV_KEY_HASH_FILE", hash_file)
    for name in ("MLFLOW_TRACKING_URI", "MEDSPA_COVERAGE_TRACKING_URI", "MEDSPA_COVERAGE_PROXY_LISTEN",
                 *bootstrap.KEY_SETTINGS):
        # set then deleted: recorded, so whatever the command sets is undone
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append((path, argv)))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    first = CliRunner().invoke(cli.main, ["bootstrap", "--tracking-uri", uri])
    assert first.exit_code == 0, first.output
    # the printed key is the one whose hash was stored
    printed = [line.strip() for line in first.output.splitlines() if line.startswith("    ") and "curl" not in line]
    assert len(printed) == 1 and hashlib.sha256(printed[0].encode()).hexdigest() + "\n" == hash_file.read_text()
    assert "no training needed" in first.output
    path, argv = calls[-1]
    assert path == sys.executable and argv[1:5] == ["-m", "gunicorn", "-c", str(ROOT / "service" / "gunicorn_conf.py")]
    assert argv[-1] == "service.wsgi:app"
    assert os.environ["MEDSPA_COVERAGE_PROXY_LISTEN"] == "127.0.0.1:8000"  # the production shape: nginx in front
    assert os.environ["MEDSPA_COVERAGE_API_KEY_HASHES_FILE"] == str(hash_file)
    assert os.environ["MEDSPA_COVERAGE_TRACKING_URI"] == uri  # the service reads the store it checked
    assert "MLFLOW_TRACKING_URI" not in os.environ  # MLflow's own rewrite of it does not leak into the service

    second = CliRunner().invoke(cli.main, ["bootstrap", "--tracking-uri", uri])
    assert second.exit_code == 0 and printed[0] not in second.output and len(calls) == 2


def test_bootstrap_prints_and_serves_the_address_it_was_given(tmp_path, monkeypatch, trained_store):
    shutil.copyfile(Path(trained_store.uri[len("sqlite:///"):]), tmp_path / "mlflow.db")
    monkeypatch.setattr(bootstrap, "DEV_KEY_HASH_FILE", tmp_path / "dev-api-key.sha256")
    for name in ("MLFLOW_TRACKING_URI", "MEDSPA_COVERAGE_TRACKING_URI", "MEDSPA_COVERAGE_BIND", *bootstrap.KEY_SETTINGS):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append(argv))
    monkeypatch.setattr(cli.os, "environ", dict(os.environ))  # serve tells gunicorn's config where nginx listens
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    result = CliRunner().invoke(cli.main, ["bootstrap", "--tracking-uri", uri, "--bind", "127.0.0.1:8123"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/v1/model" in result.output  # the curl line of the new key
    assert "starting nginx on http://127.0.0.1:8123 in front of gunicorn" in result.output
    assert ":8000" not in result.output
    assert "delete" in result.output and "for a new one" in result.output  # how to get a new key
    assert cli.os.environ[LISTEN_ENV] == "127.0.0.1:8123" and "--bind" not in calls[-1]  # gunicorn: loopback

    cli.os.environ["MEDSPA_COVERAGE_BIND"] = "127.0.0.1:8124"  # the variable gunicorn's config reads
    result = CliRunner().invoke(cli.main, ["bootstrap", "--tracking-uri", uri])
    assert "starting nginx on http://127.0.0.1:8124" in result.output
    assert cli.os.environ[LISTEN_ENV] == "127.0.0.1:8124"


def test_the_training_estimate_scales_with_the_claims_the_cores_and_the_load():
    quiet = bootstrap.training_estimate(bootstrap.DEMO_ROWS, cores=2, load=0.0)
    assert f"about {bootstrap.QUIET_TRAINING_SECONDS} s on a quiet machine" in quiet
    assert quiet.endswith(f"about {bootstrap.QUIET_TRAINING_SECONDS} s")
    busy = bootstrap.training_estimate(bootstrap.DEMO_ROWS, cores=2, load=3.0)  # two others per core
    assert busy.endswith(f"about {2 * bootstrap.QUIET_TRAINING_SECONDS} s")
    one_core = bootstrap.training_estimate(bootstrap.DEMO_ROWS // 2, cores=1, load=0.0)
    assert f"about {bootstrap.QUIET_TRAINING_SECONDS} s on a quiet machine" in one_core  # half the claims, half the cores
