"""A throwaway Mosquitto for tests and the bench: the installed binary on a free port.

The config raises two limits that would otherwise lose or throttle QoS 1 messages:
``max_queued_messages`` (default 1,000: a slow or absent consumer's further messages are
dropped) and ``max_inflight_messages`` (default 20 unacknowledged messages per client: the
consumer acknowledges only after its batch is stored, so it needs thousands in flight).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO = os.environ.get("CITYOPS_MOSQUITTO", "/usr/sbin/mosquitto")


def broker_config(port: int, *, inflight: int = 20_000, queued: int = 2_000_000) -> str:
    return (
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        f"max_inflight_messages {inflight}\n"
        f"max_queued_messages {queued}\n"
        "max_queued_bytes 0\n"
        "log_type error\n"
        "log_type warning\n"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str | None:
    if Path(MOSQUITTO).exists():
        return MOSQUITTO
    return shutil.which("mosquitto")


@dataclass
class Broker:
    """A running broker; ``restart`` keeps the port (persistent sessions die with it)."""

    binary: str
    workdir: Path
    port: int
    config: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config)
        log = (self.workdir / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited: {(self.workdir / 'mosquitto.log').read_text()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not open its port within 10 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cpu_seconds(self) -> float:
        """User + system CPU the broker has used (from /proc)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_broker(workdir: Path, **limits: int) -> Broker:
    binary = mosquitto_binary()
    if binary is None:
        raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
    port = free_port()
    broker = Broker(binary, workdir, port, broker_config(port, **limits))
    broker.start()
    return broker
