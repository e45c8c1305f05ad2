"""The schedulers' loop: a pass that fails is logged and the next one still runs; stop is prompt."""

from __future__ import annotations

import threading

import pytest

from cityops.periodic import Periodic


class Flaky(Periodic):
    def __init__(self) -> None:
        super().__init__("flaky", interval=0.01)
        self.passes = 0
        self.third = threading.Event()

    def step(self) -> int:
        self.passes += 1
        if self.passes == 3:
            self.third.set()
        if self.passes == 1:
            raise RuntimeError("database went away")
        return self.passes


def test_a_failed_pass_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    loop = Flaky()
    loop.start()
    assert loop.third.wait(timeout=30)
    loop.stop()
    assert not loop._thread.is_alive()
    assert "flaky pass failed" in caplog.text and "database went away" in caplog.text


def test_stop_does_not_wait_for_the_interval() -> None:
    loop = Flaky()
    loop.interval = 3600.0
    loop.start()
    loop.stop(timeout=30)  # woken at once, not after an hour
    assert not loop._thread.is_alive() and loop.stopping
