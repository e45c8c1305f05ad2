"""The ledger detects any edit, deletion or reordering, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.ledger import service as ledger
from cityops.ledger.models import LedgerEntry


def _fill(factory: sessionmaker[Session], clock: FakeClock, n: int = 10) -> None:
    for i in range(n):
        with factory.begin() as s:
            ledger.append(
                session=s,
                at=clock.now(),
                actor="tester",
                action="test",
                subject=f"case:{i % 3}",
                payload={"i": i, "名": "江北"},
            )
        clock.advance(timedelta(seconds=1))


def test_intact_chain_verifies(session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    _fill(session_factory, clock)
    with session_factory() as s:
        verdict = ledger.verify(session=s)
    assert verdict.ok and verdict.checked == 10 and verdict.head_seq == 10


def test_appends_in_one_transaction_chain_and_roll_back_together(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    _fill(session_factory, clock, 2)
    s = session_factory()
    ledger.append(session=s, at=clock.now(), actor="a", action="x", subject="case:9", payload={})
    ledger.append(session=s, at=clock.now(), actor="a", action="y", subject="case:9", payload={})
    s.rollback()
    s.close()
    with session_factory.begin() as s:
        third = ledger.append(
            session=s, at=clock.now(), actor="a", action="z", subject="case:9", payload={}
        )
    assert third.seq == 3
    with session_factory() as s:
        assert ledger.verify(session=s).ok
        assert [e.action for e in ledger.history(session=s, subject="case:9")] == ["z"]


def test_edited_payload_is_found(session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    _fill(session_factory, clock)
    with session_factory.begin() as s:
        s.execute(update(LedgerEntry).where(LedgerEntry.seq == 4).values(payload='{"i":99}'))
    with session_factory() as s:
        verdict = ledger.verify(session=s)
    assert not verdict.ok and verdict.first_broken_seq == 4


def test_deleted_row_is_found(session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    _fill(session_factory, clock)
    with session_factory.begin() as s:
        s.execute(delete(LedgerEntry).where(LedgerEntry.seq == 6))
    with session_factory() as s:
        verdict = ledger.verify(session=s)
    assert not verdict.ok and verdict.first_broken_seq == 6


def test_deleted_tail_is_found(session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    _fill(session_factory, clock)
    with session_factory.begin() as s:
        s.execute(delete(LedgerEntry).where(LedgerEntry.seq == 10))
    with session_factory() as s:
        verdict = ledger.verify(session=s)
    assert not verdict.ok and verdict.first_broken_seq == 10


def test_swapped_rows_are_found(session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    _fill(session_factory, clock)
    with session_factory.begin() as s:
        s.execute(update(LedgerEntry).where(LedgerEntry.seq == 3).values(seq=1000))
        s.execute(update(LedgerEntry).where(LedgerEntry.seq == 5).values(seq=3))
        s.execute(update(LedgerEntry).where(LedgerEntry.seq == 1000).values(seq=5))
    with session_factory() as s:
        verdict = ledger.verify(session=s)
    assert not verdict.ok and verdict.first_broken_seq == 3


def test_rehashed_forgery_is_found_by_the_next_link(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """Editing an entry and recomputing its own hash still breaks the following entry's link."""
    from cityops.ledger.chain import entry_hash

    _fill(session_factory, clock)
    with session_factory.begin() as s:
        e = s.get(LedgerEntry, 4)
        assert e is not None
        e.payload = '{"i":99}'
        e.hash = entry_hash(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            subject=e.subject,
            payload_json=e.payload,
            prev_hash=e.prev_hash,
        )
    with session_factory() as s:
        verdict = ledger.verify(session=s)
    assert not verdict.ok and verdict.first_broken_seq == 5


def test_rolled_back_savepoint_does_not_break_the_chain(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """A step that fails inside a savepoint must not leave a gap in the chain."""
    with session_factory.begin() as s:
        ledger.append(
            session=s, at=clock.now(), actor="a", action="ok", subject="case:1", payload={}
        )
        try:
            with s.begin_nested():
                ledger.append(
                    session=s,
                    at=clock.now(),
                    actor="a",
                    action="undone",
                    subject="case:1",
                    payload={},
                )
                raise RuntimeError("step refused")
        except RuntimeError:
            pass
        ledger.append(
            session=s, at=clock.now(), actor="a", action="ok2", subject="case:1", payload={}
        )
    with session_factory() as s:
        assert ledger.verify(session=s).ok
        assert [e.action for e in ledger.history(session=s, subject="case:1")] == ["ok", "ok2"]
