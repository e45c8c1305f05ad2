"""The door batches of readings come through: validate, let the rules react, then store.

Rules first (规则先行): a gas reading over its limit starts the fan before its batch reaches
the disk, so breach → command does not wait for the store (10,000 readings took 100–200 ms to
store in the pipeline benchmark; a reaction takes a few). The reaction is its own small
transaction (rule state, the command, the alarm and their ledger facts), published as it
commits; the readings follow in the store's transaction, whose batch event is marked
``evaluated`` so the rules feed passes it by. On SQLite that transaction also folds the new rows
into the open 1-minute and 1-hour buckets held in memory (``sensing.aggregates``), writing only
the buckets that closed, so no background rollup holds the writer while a reaction waits. After
the batch, on SQLite, the door takes a step of moving recent readings into the datastream-keyed
table when one is due (``sensing.recent``), also between its reactions.

A crash between the two loses nothing accepted: the sender has no answer yet (no 2xx, no PUBACK,
no JetStream ack), so it sends again, and the engine skips readings no newer than the last it
evaluated on each stream. A reaction that fails is logged and the batch is stored unmarked: the
feed evaluates it after the commit instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any, Protocol, cast

from sqlalchemy.orm import Session, sessionmaker

from cityops.bus.base import Bus
from cityops.bus.memory import Event
from cityops.clock import Clock
from cityops.rules.evaluate import Reading as RuleReading
from cityops.sensing import catalogue, obs_rows, recent, service, validate
from cityops.sensing.validate import Checked, Numbers, Reading, Rejection
from cityops.settings import Settings
from cityops.store.engine import reading, transaction

log = logging.getLogger(__name__)

REACTOR = "rules.engine"  # AppContext.extras key: the engine ``start_automation`` bound
REACT_SLICE = 1000  # readings validated and evaluated before the next slice


class Reactor(Protocol):
    """What the door needs of the rules engine (``rules.engine.RulesEngine``)."""

    @property
    def index(self) -> Mapping[int, Any]: ...

    def process(self, readings: list[RuleReading]) -> object: ...


def reactor_in(extras: Mapping[str, Any] | None) -> Reactor | None:
    return None if extras is None else extras.get(REACTOR)


def react(reactor: Reactor, readings: Sequence[Reading]) -> bool:
    """Evaluate the numeric readings on watched streams; False if the evaluation failed."""
    watched = reactor.index
    todo = [
        RuleReading(r.datastream_id, r.phenomenon_time, r.result)
        for r in readings
        if r.result is not None and r.datastream_id in watched
    ]
    if not todo:
        return True
    try:
        reactor.process(todo)
    except Exception:  # the readings are stored all the same; the feed evaluates them later
        log.exception("rules reaction failed on %d readings; left to the feed", len(todo))
        return False
    return True


def take_in(
    *,
    sessions: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    raws: Sequence[Any],
    source: str,
    message_id: str | None = None,
    bus: Bus | None = None,
    reactor: Reactor | None = None,
) -> service.IngestResult:
    """Validate ``raws``, let ``reactor`` act on them, store them; publish after each commit.

    Validation and reaction go slice by slice (``REACT_SLICE`` readings), so a breach early in
    a batch of 10,000 is acted on before the rest of the batch is even validated.
    """
    checked, evaluated = _check_and_react(sessions, clock, settings, raws, reactor)
    prepared = _prepare(sessions, checked)
    with transaction(sessions) as session:
        result = service.store_checked(
            session=session,
            checked=checked,
            clock=clock,
            source=source,
            message_id=message_id,
            evaluated=evaluated,
            fold_rows=max(2 * len(raws), settings.sensing_rollup_rows),
            prepared=prepared,
        )
        events: list[Event] = session.info.pop("events", [])
    if bus is not None:
        for event in events:
            bus.publish(event)
    try:
        compact(sessions=sessions, clock=clock, settings=settings)
    except Exception:  # the batch is stored and answered for; the upkeep moves it later
        log.exception("moving recent readings failed after a stored batch; left to the upkeep")
    return result


def compact(*, sessions: sessionmaker[Session], clock: Clock, settings: Settings) -> int:
    """A step of moving recent readings into ``observation`` (``sensing.recent``), after the
    batch and in a transaction of its own: the step runs between this door's batches, so its
    next reaction never waits behind it. Asked in a read first, so the writer is taken only
    when there is work."""
    if not _is_sqlite(sessions):
        return 0
    with reading(sessions) as session:
        if not recent.due(session=session, settings=settings, now=clock.now()):
            return 0
    with transaction(sessions) as session:
        return recent.compact_step(session=session, settings=settings, now=clock.now())


def _check_and_react(
    sessions: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    raws: Sequence[Any],
    reactor: Reactor | None,
) -> tuple[Checked, bool]:
    now, limits = clock.now(), service.limits_from(settings)
    checked = Checked()
    slices: list[Numbers | None] = []
    evaluated = reactor is not None
    with reading(sessions) as session:  # the catalogue's version: no wait for the writer
        cat = catalogue.current(session=session)  # once for the whole batch
    # No read transaction stays open while the batch is checked and the rules react: a reader
    # held open keeps the checkpointer from resetting the WAL while other threads write.
    for start in range(0, len(raws), REACT_SLICE):
        some = raws[start : start + REACT_SLICE]
        part = validate.check(some, known=cat.known, now=now, limits=limits, ranges=cat.ranges)
        if any(r.reason == validate.Reason.unknown_datastream for r in part.rejected):
            with reading(sessions) as session:  # ids added since the catalogue was read
                part = catalogue.check_batch(session, some, now, limits, cat.known, cat.ranges)
        checked.accepted += part.accepted
        slices.append(part.numbers)
        checked.rejected += [Rejection(start + r.index, r.reason, r.message) for r in part.rejected]
        if reactor is not None and not react(reactor, part.accepted):
            evaluated = False
    checked.numbers = _joined(slices)
    return checked, evaluated


def _joined(slices: list[Numbers | None]) -> Numbers | None:
    """The slices' columns end to end, if every slice had them (``Checked.numbers``)."""
    if not all(slices):
        return None
    whole = cast(list[Numbers], slices)
    return (
        list(chain.from_iterable(s[0] for s in whole)),
        list(chain.from_iterable(s[1] for s in whole)),
        list(chain.from_iterable(s[2] for s in whole)),
    )


def _prepare(sessions: sessionmaker[Session], checked: Checked) -> obs_rows.Rows | None:
    """SQLite's insert parameters, made before the transaction so the writer is held shorter
    (none for PostgreSQL, whose arrays are made in it)."""
    if not _is_sqlite(sessions):
        return None
    return obs_rows.prepare(checked.accepted, checked.numbers)


def _is_sqlite(sessions: sessionmaker[Session]) -> bool:
    bind = sessions.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"
