"""Find or start a PostgreSQL server for the tests, and make a database for this run.

Order: ``CITYOPS_TEST_POSTGRES_URL``; the server this machine runs on 127.0.0.1:5432; else a
throwaway cluster started from the installed binaries as the ``postgres`` user (PostgreSQL
refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass

import psycopg


@dataclass
class PgServer:
    admin_url: str  # a URL to the maintenance database
    stop: object | None = None


def _can_connect(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("select 1")
        return True
    except psycopg.Error:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found and name != "pg_ctl":
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else found


def _start_throwaway() -> PgServer:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("no PostgreSQL server binaries; run `make test` to install them")
    base = tempfile.mkdtemp(prefix="cityops-pg-")
    os.chmod(base, 0o777)
    data = os.path.join(base, "data")
    port = _free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [*as_pg, initdb, "-D", data, "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_pg,
            pg_ctl,
            "-D",
            data,
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-l",
            os.path.join(base, "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run([*as_pg, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)

    return PgServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", stop)


def find_server() -> PgServer:
    given = os.environ.get("CITYOPS_TEST_POSTGRES_URL")
    if given:
        return PgServer(given)
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    if _can_connect(local):
        return PgServer(local)
    server = _start_throwaway()
    for _ in range(50):
        if _can_connect(server.admin_url):
            return server
        time.sleep(0.1)
    raise RuntimeError("throwaway PostgreSQL did not start")


def create_database(admin_url: str, prefix: str = "cityops_test") -> tuple[str, str]:
    """Create a fresh database; return (its URL, its name)."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    return url, name


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
