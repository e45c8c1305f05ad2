"""Group commit for 渝药易购 payments: concurrent requests in one process share a transaction.

A payment's cost is mostly per transaction, not per order: BEGIN, the lookups, the lock on the
ledger head, the commit (on SQLite, the one writer's turn). So the HTTP route does not pay in
its own transaction; it hands its order to this queue and waits. Whoever finds the queue idle
becomes the leader: it takes everything waiting (up to ``cap``), settles it with
``orders.settle_many`` in one transaction, gives each waiter its own result, and hands the lead
to the first order that arrived meanwhile, which does the same with everything that piled up
behind it. No timer: a lone order is settled at once by its own thread, and under load the
batches grow by themselves to what arrived during the previous commit (natural batching).

Each caller gets exactly what a transaction of its own would have given: its ``OrderRead``
(a replay for a key already used) or its ``CityOpsError``. A refused order does not stop the
others, since ``settle_many`` decides each in turn. Should a whole batch fail for another
reason (a lost connection, a constraint the checks did not foresee), its orders are retried one
transaction each, so only the order at fault gets the error.

The leader is a request thread that holds no transaction while it waits or leads: the route
reads what it must check (login, whose account) and ends its own transaction first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import Clock
from cityops.errors import CityOpsError
from cityops.scenarios.medicare.orders import PayRequest, settle_many
from cityops.scenarios.medicare.schemas import OrderRead
from cityops.settings import Settings
from cityops.store.engine import transaction

DEFAULT_CAP = 200

Outcome = OrderRead | CityOpsError | Exception


@dataclass(eq=False, slots=True)
class _Slot:
    request: PayRequest
    wake: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None  # None when woken: this slot's thread leads the next batch


class SettlementQueue:
    """One per process (per app): ``pay`` from any number of threads."""

    def __init__(
        self, *, sessions: sessionmaker[Session], settings: Settings, clock: Clock,
        cap: int = DEFAULT_CAP,
    ) -> None:  # fmt: skip
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self._sessions, self._settings, self._clock, self._cap = sessions, settings, clock, cap
        self._lock = threading.Lock()
        self._waiting: list[_Slot] = []
        self._busy = False  # a leader is settling; while False, nothing is waiting
        self.batches = 0  # settled so far, and the orders in them (for the bench)
        self.orders = 0

    @property
    def waiting(self) -> int:
        """Orders queued behind the batch being settled."""
        with self._lock:
            return len(self._waiting)

    @property
    def busy(self) -> bool:
        """A batch is being settled."""
        return self._busy

    def pay(self, request: PayRequest) -> OrderRead:
        """Settle one order with whatever else is waiting; its result, or raise its error."""
        slot = _Slot(request)
        with self._lock:
            self._waiting.append(slot)
            lead = not self._busy
            self._busy = True
        if not lead:
            slot.wake.wait()
        if slot.outcome is None:  # idle queue, or the lead was handed to this order
            self._lead()
        outcome = slot.outcome
        if isinstance(outcome, OrderRead):
            return outcome
        assert outcome is not None  # the leader's batch always holds its own order
        raise outcome

    def _lead(self) -> None:
        with self._lock:  # the leader's own order is first in line: see ``pay``
            batch = self._waiting[: self._cap]
            del self._waiting[: self._cap]
        outcomes: list[Outcome] = [RuntimeError("the settlement was interrupted")] * len(batch)
        try:
            outcomes = self._settle([s.request for s in batch])
        finally:  # never leave the waiters hanging
            for slot, outcome in zip(batch, outcomes, strict=True):
                slot.outcome = outcome
            with self._lock:
                self.batches += 1
                self.orders += len(batch)
                after = self._waiting[0] if self._waiting else None
                self._busy = after is not None
            for slot in batch:
                slot.wake.set()
            if after is not None:
                after.wake.set()  # its outcome is None: it leads the next batch

    def _settle(self, requests: list[PayRequest]) -> list[Outcome]:
        try:
            with transaction(self._sessions) as session:
                done: list[Outcome] = list(
                    settle_many(
                        session=session, settings=self._settings, requests=requests,
                        now=self._clock.now(),
                    )
                )  # fmt: skip
            return done
        except Exception as exc:
            if len(requests) == 1:
                return [exc]
        return [self._settle([r])[0] for r in requests]  # find the one at fault
