"""A real nats-server with JetStream for the bus tests.

``CITYOPS_TEST_NATS_URL`` points at a running server; otherwise the fixtures start the installed
``nats-server`` on a free port with its store in a temporary directory. Under ``CI=true`` a
missing server is an error, never a skip (``scripts/ensure-services.sh`` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cityops.settings import Settings

IN_CI = os.environ.get("CI", "").lower() == "true"


def nats_binary() -> str | None:
    return shutil.which("nats-server") or next(
        (p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if Path(p).exists()), None
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """A nats-server child process (JetStream on, file store under ``store``)."""

    def __init__(self, binary: str, store: Path) -> None:
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(tmp: Path) -> NatsServer:
    binary = nats_binary()
    if binary is None:
        message = "nats-server is not installed (scripts/ensure-services.sh installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return NatsServer(binary, tmp)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a NATS server with JetStream for this test run."""
    url = os.environ.get("CITYOPS_TEST_NATS_URL")
    if url:
        yield url
        return
    server = start_server(tmp_path_factory.mktemp("nats"))
    yield server.url
    server.stop()


@pytest.fixture
def bus_settings(nats_url: str, tmp_path: Path) -> Callable[..., Settings]:
    """Settings on the test server with this test's own subjects and stream; overrides as kwargs."""
    tag = uuid.uuid4().hex[:10]

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "bus_url": nats_url,
            "bus_prefix": f"t{tag}",
            "bus_stream": f"T{tag}",
            "bus_partitions": 4,
            "bus_publish_timeout": 5.0,
            "database_url": f"sqlite:///{tmp_path / 'bus.db'}",
            **overrides,
        }
        return Settings(**values)  # type: ignore[arg-type]

    return make
