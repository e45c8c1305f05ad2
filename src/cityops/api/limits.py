"""Abuse limits on resident intake: token buckets per resident account and per client IP.

A bucket holds up to ``burst`` reports and refills at ``per_hour``; a report takes one token
(a batch takes one per report) from the resident's bucket and the IP's bucket together, or
from neither. Staff, device and machine accounts are not held to the resident limits.
Refused: 429 ``rate_limited`` with ``Retry-After`` (seconds); nothing of the request is taken.

The buckets live in this process (``MemoryBuckets``): with several API processes each keeps
its own, so the effective limit is multiplied by their number. A shared store (Redis, a
PostgreSQL table) fits behind the ``Buckets`` protocol (docs/privacy.md, "Abuse limits").

Behind a reverse proxy the client's address is taken from ``X-Forwarded-For`` only when the
connection comes from one of ``CITYOPS_TRUSTED_PROXIES``; otherwise the peer address counts.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from fastapi import Request

from cityops.api.context import AppContext
from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.errors import CityOpsError, ValidationFailed

_KEY = "api.limits"
MAX_BUCKETS = 100_000  # idle full buckets are forgotten beyond this many


class RateLimited(CityOpsError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(message, retry_after=seconds)
        self.retry_after = seconds
        self.headers = {"Retry-After": str(seconds)}


@dataclass(frozen=True, slots=True)
class Rule:
    """A bucket: ``key`` names whose it is (``user:42``, ``ip:1.2.3.4``)."""

    key: str
    per_hour: float
    burst: int


class Buckets(Protocol):
    def take(self, rules: list[Rule], *, cost: int, now: float) -> float:
        """Take ``cost`` tokens from every bucket, or from none: 0, or seconds to wait."""


class MemoryBuckets:
    """Token buckets in a dict under a lock: one process's view."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}  # key → (tokens, at)

    def _level(self, rule: Rule, now: float) -> float:
        tokens, at = self._state.get(rule.key, (float(rule.burst), now))
        return min(float(rule.burst), tokens + max(0.0, now - at) * rule.per_hour / 3600)

    def take(self, rules: list[Rule], *, cost: int, now: float) -> float:
        with self._lock:
            levels = [self._level(r, now) for r in rules]
            wait = max(
                ((cost - lv) * 3600 / r.per_hour for r, lv in zip(rules, levels, strict=True)),
                default=0.0,
            )
            if wait > 0:
                return wait
            if len(self._state) > MAX_BUCKETS:
                self._forget(now, rules)
            for r, lv in zip(rules, levels, strict=True):
                self._state[r.key] = (lv - cost, now)
            return 0.0

    def _forget(self, now: float, rules: list[Rule]) -> None:
        """Drop buckets idle long enough to be full again (the longest refill of these rules)."""
        horizon = max(r.burst * 3600 / r.per_hour for r in rules)
        self._state = {k: v for k, v in self._state.items() if now - v[1] < horizon}


@lru_cache(maxsize=32)
def _networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(
        ipaddress.ip_network(p.strip(), strict=False) for p in text.split(",") if p.strip()
    )


def _trusted(addr: str, trusted: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in _networks(trusted))


def client_ip(request: Request, trusted_proxies: str) -> str:
    """The client's address: the peer, or (from a trusted proxy) the last untrusted hop."""
    peer = request.client.host if request.client else "unknown"
    if not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            return hop
    return hops[0] if hops else peer


def buckets(ctx: AppContext) -> Buckets:
    """The app's bucket store (made on first use; a test or deployment may put its own)."""
    store = ctx.extras.get(_KEY)
    if store is None:
        store = ctx.extras.setdefault(_KEY, MemoryBuckets())
    return store  # type: ignore[no-any-return]


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def check_reports(request: Request, user: Principal | None, *, cost: int = 1) -> None:
    """Take ``cost`` reports from the resident's and the IP's allowance, or raise RateLimited.

    ``user`` None is an anonymous door (Open311 with an app key): the IP's allowance only.
    """
    if user is not None and user.role != Role.resident:
        return
    ctx = _ctx(request)
    s = ctx.settings
    rules = [Rule(f"ip:{client_ip(request, s.trusted_proxies)}", s.rate_ip_reports_per_hour,
                  s.rate_ip_reports_burst)]  # fmt: skip
    if user is not None:
        rules.append(Rule(f"user:{user.user_id}", s.rate_reports_per_hour, s.rate_reports_burst))
    if cost > min(r.burst for r in rules):
        raise ValidationFailed(
            f"{cost} reports at once is more than a resident may send in a burst "
            f"({min(r.burst for r in rules)})",
            code="batch_over_rate_limit",
        )
    _take(ctx, rules, cost, "too many reports: try again later")


def check_photos(request: Request, user: Principal) -> None:
    """Photo uploads by residents, per account and per IP."""
    if user.role != Role.resident:
        return
    ctx = _ctx(request)
    s = ctx.settings
    ip = client_ip(request, s.trusted_proxies)
    rules = [
        Rule(f"photo-ip:{ip}", s.rate_photos_per_hour, s.rate_photos_burst),
        Rule(f"photo-user:{user.user_id}", s.rate_photos_per_hour, s.rate_photos_burst),
    ]
    _take(ctx, rules, 1, "too many photo uploads: try again later")


def _take(ctx: AppContext, rules: list[Rule], cost: int, message: str) -> None:
    wait = buckets(ctx).take(rules, cost=cost, now=ctx.clock.now().timestamp())
    if wait > 0:
        raise RateLimited(message, retry_after=wait)
