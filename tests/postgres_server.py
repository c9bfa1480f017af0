"""A throwaway PostgreSQL server for the tests: initdb into a temporary folder, listening on 127.0.0.1 only.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user (the Debian
package creates it); its data folder belongs to that user.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/<version>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: [int(part) for part in re.findall(r"\d+", path)])
    if not found:
        raise RuntimeError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `bash install.sh`")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """`with PostgresServer() as server:` a running server; `server.url(name)` a new database's URL.
    Leaving the block stops the server (only the one it started) and deletes its data."""

    user = "postgres"

    def __init__(self):
        self.bin = postgres_bin()
        self.password = secrets.token_hex(8)
        self.folder = Path(tempfile.mkdtemp(prefix="autograder-postgres-"))
        self.data = self.folder / "data"
        self.port = None
        self.started = False

    def _as_owner(self, *command: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=60)

    def __enter__(self) -> "PostgresServer":
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self):
        (self.folder / "password").write_text(self.password + "\n")
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chmod(self.folder, 0o700)
            for path in (self.folder, self.folder / "password"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        done = self._as_owner(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "-E", "UTF8",
                              "--pwfile", str(self.folder / "password"), "--auth-local=trust",
                              "--auth-host=scram-sha-256", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        for attempt in range(3):  # the free port may be taken before the server binds it
            self.port = free_port()
            options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c max_connections=60"
            done = self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                                  "-w", "-t", "30", "-o", options, "start")
            if done.returncode == 0:
                self.started = True
                return
        log = (self.folder / "log").read_text() if (self.folder / "log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start:\n{done.stdout}\n{done.stderr}\n{log[-2000:]}")

    def url(self, database: str) -> str:
        """Create the database `database` and return its URL (with the password)."""
        engine = create_engine(self._url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{database}"'))
        finally:
            engine.dispose()
        return self._url(database)

    def _url(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def __exit__(self, *exc):
        if self.started:
            self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.started = False
        deadline = time.monotonic() + 10
        while (self.data / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.folder, ignore_errors=True)
