"""One throwaway PostgreSQL cluster for the session: Debian's server binaries, 127.0.0.1, a free port.

The cluster lives in its own folder under the system temp directory (not pytest's, which only
root may enter): PostgreSQL refuses to run as root, so as root the folder is given to the
`postgres` user and every server command runs through `runuser`. Durability is switched off
(fsync, synchronous commit): the cluster is deleted at the end of the session anyway.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "nexus"


@dataclass(frozen=True)
class Postgres:
    """A running cluster: `database(name)` creates an empty database and gives its SQLAlchemy URL."""

    port: int
    folder: Path

    def database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{name}"


def _server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres():
    bin_dir = _server_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries missing (/usr/lib/postgresql/*/bin): "
                    "bash .ci/install-postgresql installs Debian's 'postgresql' package")
    pytest.importorskip("psycopg", reason="the psycopg driver is missing: pip install -r requirements.lock")
    as_owner: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="nexus-pg-"))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            pytest.skip("running as root without a 'postgres' user: PostgreSQL refuses to run as root")
        shutil.chown(folder, "postgres", "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()

    def run(*cmd: str) -> None:
        done = subprocess.run([*as_owner, *cmd], capture_output=True, text=True, timeout=60)
        log = folder / "log"
        assert done.returncode == 0, (done.stdout + done.stderr)[-2000:] + (
            log.read_text()[-2000:] if log.exists() else "")

    options = (f"-k {folder} -p {port} -c listen_addresses=127.0.0.1 -c max_connections=200 "
               "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w",
            "-t", "60", "start")
        yield Postgres(port, folder)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                            "stop"], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
