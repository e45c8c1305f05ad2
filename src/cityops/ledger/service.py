"""Append to and verify the ledger; appends join the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, event, insert, select, update
from sqlalchemy.orm import Session, SessionTransaction

from cityops.clock import as_utc
from cityops.ledger.chain import (
    GENESIS,
    ChainRow,
    Verdict,
    canonical_json,
    hash_at,
    stamp,
    verify_rows,
)
from cityops.ledger.models import LedgerEntry, LedgerHead
from cityops.store.bulk import insert_rows

_HEAD_KEY = "cityops.ledger.head"


@dataclass(frozen=True, slots=True)
class Appended:
    seq: int
    hash: str


_HEAD = cast(Table, LedgerHead.__table__)
# Core statements built once: an ORM statement built per append cost more Python than the row's
# read and update themselves (intake appends once a transaction, a single report included).
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1)


def _lock_head(session: Session) -> tuple[int, str]:
    cached = session.info.get(_HEAD_KEY)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    head = session.execute(_READ_HEAD).first()
    if head is None:
        session.execute(insert(LedgerHead).values(id=1, seq=0, hash=GENESIS))
        return 0, GENESIS
    return int(head.seq), str(head.hash)


def append(
    *,
    session: Session,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    payload: dict[str, Any],
) -> Appended:
    """Append one entry in the caller's transaction (rolled back with it)."""
    return append_many(session=session, at=at, facts=[Fact(actor, action, subject, payload)])[0]


@dataclass(frozen=True, slots=True)
class Fact:
    """One entry to append: who did what to which subject, with the details."""

    actor: str
    action: str
    subject: str
    payload: dict[str, Any]


_ENTRY = cast(Table, LedgerEntry.__table__)


def append_many(*, session: Session, at: datetime, facts: list[Fact]) -> list[Appended]:
    """Append several entries in order with one multi-row insert (the intake's hot path)."""
    if not facts:
        return []
    seq, prev = _lock_head(session)
    at = as_utc(at)
    at_text = stamp(at)
    rows: list[dict[str, Any]] = []
    done: list[Appended] = []
    for fact in facts:
        seq += 1
        payload_json = canonical_json(fact.payload)
        digest = hash_at(seq, at_text, fact.actor, fact.action, fact.subject, payload_json, prev)
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor": fact.actor,
                "action": fact.action,
                "subject": fact.subject,
                "payload": payload_json,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        done.append(Appended(seq, digest))
        prev = digest
    insert_rows(session, _ENTRY, rows)  # one multi-row statement on PostgreSQL too
    session.execute(_MOVE_HEAD, {"seq": seq, "hash": prev})
    session.info[_HEAD_KEY] = (seq, prev)
    return done


@event.listens_for(Session, "after_transaction_end")
def _forget_cached_head(session: Session, transaction: SessionTransaction) -> None:
    """The cached head is good for one transaction only; a savepoint's end may undo appends."""
    if transaction.parent is None or transaction.nested:
        session.info.pop(_HEAD_KEY, None)


def _rows(session: Session, batch: int = 5000) -> Iterator[ChainRow]:
    last = 0
    while True:
        chunk = (
            session.execute(
                select(LedgerEntry)
                .where(LedgerEntry.seq > last)
                .order_by(LedgerEntry.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not chunk:
            return
        for e in chunk:
            yield ChainRow(
                e.seq, as_utc(e.at), e.actor, e.action, e.subject, e.payload, e.prev_hash, e.hash
            )
        last = chunk[-1].seq
        session.expunge_all()


def verify(*, session: Session) -> Verdict:
    """Check the whole chain and the head against it."""
    head = session.execute(
        select(LedgerHead.seq, LedgerHead.hash).where(LedgerHead.id == 1)
    ).first()
    head_seq, head_hash = (int(head.seq), str(head.hash)) if head else (0, GENESIS)
    return verify_rows(_rows(session), head_seq=head_seq, head_hash=head_hash)


def history(*, session: Session, subject: str) -> list[LedgerEntry]:
    """Every entry about one subject (e.g. ``case:42``), oldest first."""
    return list(
        session.execute(
            select(LedgerEntry).where(LedgerEntry.subject == subject).order_by(LedgerEntry.seq)
        )
        .scalars()
        .all()
    )
