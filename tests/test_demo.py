"""``cityops demo --headless``: seeds synthetic Chongqing, serves the API, cases flow, exits 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx


def test_headless_demo_serves_and_cases_flow(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CITYOPS_DEMO_PASSWORD": "demo-pass-123",
        "CITYOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cityops.cli",
            "demo",
            "--headless",
            "--duration",
            "30",  # long enough that a slow machine's first login still finds it serving
            "--port",
            "0",
            "--rate",
            "20",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    url = None
    lines: list[str] = []
    deadline = time.monotonic() + 240
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"demo at (http://127\.0\.0\.1:\d+)", line)
        url = m.group(1) if m else None
    assert url, "".join(lines)
    token = httpx.post(
        f"{url}/api/v1/auth/token",
        data={"username": "dispatcher", "password": "demo-pass-123"},
        timeout=90,
    ).json()["access_token"]
    time.sleep(4)
    page = httpx.get(
        f"{url}/api/v1/cases", headers={"Authorization": f"Bearer {token}"}, timeout=90
    ).json()
    assert page["items"], "no cases in the dispatcher's district after a few seconds"
    assert all(c["district_code"] == "500107" for c in page["items"])
    # Not communicate(): it reads the pipe's file descriptor and drops what readline() above had
    # already buffered (the accounts line, when it arrived in the same chunk as the URL).
    out = proc.stdout.read()
    proc.wait(timeout=120)
    text = "".join(lines) + out
    assert proc.returncode == 0, text
    flat = " ".join(text.split())  # the console may wrap long lines
    assert "admin, dispatcher, worker, inspector, resident" in flat and "demo-pass-123" in flat
    assert re.search(r"demo finished: \d+ case events", flat)
    # A second run reuses the seeded database and prints a fresh password that works.
    env.pop("CITYOPS_DEMO_PASSWORD")
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "cityops.cli",
            "demo",
            "--headless",
            "--duration",
            "1",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "seeded:" not in again.stdout and "password:" in again.stdout
