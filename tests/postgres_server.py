"""PostgreSQL servers of the tests' own: initdb into a private folder, served on a free loopback
port with trust auth, so one can be stopped and started again (its data kept) without touching
the machine's shared server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.processes import free_port, wait_for

_OS_USER = "postgres"  # postgres refuses to run as root; as root, its tools run as this user


def _tool(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"no PostgreSQL {name} under /usr/lib/postgresql/*/bin")
    return found[-1]


class PostgresServer:
    """One postgres on one port and one data folder; stop() and start() keep the data.

    The folder is a fresh one under the system temp folder (a test's tmp_path sits below a
    folder only root may enter), owned by the `postgres` user when the tests run as root.
    """

    def __init__(self, database: str = "firebreak") -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="firebreak-postgres-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.database = database
        self._created = False
        if os.geteuid() == 0:
            shutil.chown(self.folder, _OS_USER)

    @property
    def url(self) -> str:
        return self._url_for(self.database)

    @property
    def log(self) -> str:
        path = self.folder / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> str:
        """Start the server (initialising its folder and database the first time); its URL."""
        if not self._created:
            self._run(
                _tool("initdb"), "-D", str(self.data), "-U", _OS_USER, "-A", "trust", "--no-sync"
            )
        options = f"-p {self.port} -h 127.0.0.1 -k {self.folder} -F"
        self._pg_ctl(
            "start", "-w", "-t", "30", "-l", str(self.folder / "postgres.log"), "-o", options
        )
        wait_for(self._answers, timeout_s=30)
        if not self._created:
            with psycopg.connect(self._url_for("postgres"), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.database}"')
            self._created = True
        return self.url

    def stop(self) -> None:
        """Fast shutdown: open sessions are cut, as a restarting server cuts them."""
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-w", "-t", "30", "-m", "fast")

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _pg_ctl(self, *args: str) -> None:
        self._run(_tool("pg_ctl"), "-D", str(self.data), *args)

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", _OS_USER, "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *command], capture_output=True, timeout=60, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{output}")

    def _url_for(self, database: str) -> str:
        return f"postgresql://{_OS_USER}@127.0.0.1:{self.port}/{database}"

    def _answers(self) -> bool:
        try:
            with psycopg.connect(self._url_for("postgres"), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False
