"""Outbound webhooks: case status updates POSTed to other systems (the 12345 platform, …).

A bus subscriber on ``cases.*`` (events are published only after their transaction commits)
puts each update on a bounded queue; one background thread POSTs it to every URL in
``CITYOPS_WEBHOOK_URLS`` as JSON::

    {"event": "cases.dispatch", "case_id": 42, "case_no": "500107-2026-00000042",
     "status": "dispatched", "at": "2026-11-26T08:00:00+00:00", "external_ref": "12345:A001"}

signed ``X-Cityops-Signature: sha256=<hex HMAC-SHA256 of the body under CITYOPS_WEBHOOK_SECRET>``.
A failed POST (connection error or a non-2xx reply) is retried with doubling waits, then dropped
with a log line; a full queue drops new updates with a log line. Nothing here can block or fail
a case transaction. ``external_ref`` is the case's first report's (null for most channels).

With the NATS bus every ``serve`` process receives every event: enable webhooks on one of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.api.context import AppContext
from cityops.bus.memory import Event
from cityops.cases.models import CaseReport
from cityops.settings import Settings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Cityops-Signature"
Lookup = Callable[[int], str | None]
_STOP = object()


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(event: Event, external_ref: str | None) -> dict[str, Any]:
    data = event.data
    return {
        "event": event.subject,
        "case_id": data.get("case_id"),
        "case_no": data.get("case_no"),
        "status": data.get("status"),
        "at": data.get("at"),
        "external_ref": external_ref,
    }


def report_ref_lookup(sessions: sessionmaker[Session]) -> Lookup:
    """case id → the external reference of its first report that has one (found refs cached)."""
    found: dict[int, str] = {}

    def lookup(case_id: int) -> str | None:
        if case_id in found:
            return found[case_id]
        with sessions() as s:
            ref = s.execute(
                select(CaseReport.external_ref)
                .where(CaseReport.case_id == case_id, CaseReport.external_ref.is_not(None))
                .order_by(CaseReport.id)
                .limit(1)
            ).scalar_one_or_none()
        if ref is not None:
            if len(found) >= 100_000:
                found.clear()
            found[case_id] = ref
        return ref

    return lookup


class WebhookSender:
    """The queue and its delivery thread; :meth:`on_event` is the bus listener."""

    def __init__(self, *, settings: Settings, lookup: Lookup) -> None:
        self.urls = settings.webhook_targets
        self.secret = settings.webhook_secret
        self.attempts = settings.webhook_attempts
        self.backoff = settings.webhook_backoff_s
        self.timeout = settings.webhook_timeout_s
        self.lookup = lookup
        self.queue: queue.Queue[object] = queue.Queue(maxsize=settings.webhook_queue_size)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cityops-webhooks", daemon=True)
        self.delivered = 0
        self.dropped = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the update being sent (waits between retries are cut short)."""
        self._stopping.set()
        with contextlib.suppress(queue.Full):  # a full queue wakes the thread anyway
            self.queue.put_nowait(_STOP)
        self._thread.join(timeout)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued update is delivered or dropped (tests, shutdown)."""
        done = threading.Event()

        def wait() -> None:
            self.queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        done.wait(timeout)

    def on_event(self, event: Event) -> None:
        if not event.subject.startswith("cases."):
            return
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            log.warning("webhook queue full: dropped %s for case %s", event.subject, _id(event))

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                item = self.queue.get()
                try:
                    if item is _STOP or self._stopping.is_set():
                        return
                    assert isinstance(item, Event)
                    self._deliver(client, item)
                except Exception:  # a bad event must not end the thread
                    log.exception("webhook delivery failed")
                finally:
                    self.queue.task_done()

    def _deliver(self, client: httpx.Client, event: Event) -> None:
        case_id = _id(event)
        ref = self.lookup(case_id) if isinstance(case_id, int) else None
        body = json.dumps(payload(event, ref), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self.secret, body),
            "X-Cityops-Event": event.subject,
        }
        for url in self.urls:
            if self._post(client, url, body, headers):
                self.delivered += 1
            else:
                self.dropped += 1
                log.error(
                    "webhook %s: dropped %s for case %s after %d attempts",
                    url,
                    event.subject,
                    case_id,
                    self.attempts,
                )

    def _post(self, client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> bool:
        wait = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                r = client.post(url, content=body, headers=headers)
                if 200 <= r.status_code < 300:
                    return True
                why = f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {exc}"
            log.warning("webhook %s: attempt %d/%d failed (%s)", url, attempt, self.attempts, why)
            if attempt < self.attempts:
                if self._stopping.wait(wait):
                    return False
                wait *= 2
        return False


def _id(event: Event) -> object:
    return event.data.get("case_id")


def start_webhooks(ctx: AppContext) -> WebhookSender | None:
    """Subscribe the sender to ``cases.*`` when URLs are set; None when webhooks are off.

    URLs without a secret are refused (reported, webhooks off): an unsigned update could not
    be told from a forged one.
    """
    settings = ctx.settings
    if not settings.webhook_targets:
        return None
    bad = [u for u in settings.webhook_targets if not u.startswith(("http://", "https://"))]
    if bad or not settings.webhook_secret:
        log.error(
            "webhooks disabled: %s",
            f"not http(s) URLs: {', '.join(bad)}" if bad else "CITYOPS_WEBHOOK_SECRET is not set",
        )
        return None
    sender = WebhookSender(settings=settings, lookup=report_ref_lookup(ctx.sessions))
    sender.start()
    unsubscribe = ctx.bus.subscribe("cases.*", sender.on_event)
    ctx.extras["webhooks"] = (sender, unsubscribe)
    return sender


def stop_webhooks(ctx: AppContext) -> None:
    entry = ctx.extras.pop("webhooks", None)
    if entry is not None:
        sender, unsubscribe = entry
        unsubscribe()
        sender.stop()
