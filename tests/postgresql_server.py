"""A real PostgreSQL server for the tests: one per test session, started and stopped by the tests.

Debian's server binaries (`postgresql`, which `make test` installs when missing) in a temporary
data folder, listening on a free loopback port (and a Unix socket in that folder), with fsync off:
the tests measure behaviour, not durability. initdb refuses to run as root, which CI is: then the
server runs as the `postgres` user the package creates (through runuser), in a folder it owns.
Each test takes a fresh database (`PostgresServer.create_database`), so tests share the server and
nothing else.
"""
from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.service.service_testing import free_port

BINARIES = "/usr/lib/postgresql/*/bin"
SUPERUSER = "medspa"
START_SECONDS = 30


class PostgresUnavailable(RuntimeError):
    """No server binaries here: the message says how to get them."""


def server_binaries() -> Path:
    found = sorted(glob.glob(f"{BINARIES}/initdb"), key=lambda path: int(Path(path).parts[-3]))
    if not found:
        raise PostgresUnavailable("PostgreSQL's server binaries are not installed (no /usr/lib/postgresql/*/bin/"
                                  "initdb): `make test` installs Debian's postgresql package, or run "
                                  "`apt-get install postgresql`")
    return Path(found[-1]).parent


@dataclass
class PostgresServer:
    folder: Path
    port: int
    binaries: Path
    run_as: str | None  # the system user the server runs as when the tests run as root
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{next(self._names)}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-D", str(self.folder / "data"), "-m", "immediate", "-w", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.binaries / program), *arguments]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=START_SECONDS)


def start_server() -> PostgresServer:
    """initdb in a new temporary folder and start the server on a free loopback port."""
    binaries = server_binaries()
    run_as = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="medspa-postgres-"))
    if run_as:
        shutil.chown(folder, user=run_as)
    server = PostgresServer(folder, free_port(), binaries, run_as)
    try:
        server._run("initdb", "-D", str(folder / "data"), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                    "--no-sync", "--no-instructions")
        options = (f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        server._run("pg_ctl", "start", "-D", str(folder / "data"), "-l", str(folder / "server.log"), "-w",
                    "-t", str(START_SECONDS), "-o", options)
    except subprocess.SubprocessError as error:
        log = (folder / "server.log").read_text(errors="replace")[-2000:] if (folder / "server.log").exists() else ""
        output = getattr(error, "stdout", "") or ""
        server.stop()
        raise PostgresUnavailable(f"the test PostgreSQL server did not start: {output[-2000:]}{log}") from None
    return server
