"""A batch of new rows written as one INSERT (a COPY on PostgreSQL): fresh keys, complete objects,
normal updates after."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.registry.models import Department, DepartmentType
from cityops.store.bulk import insert_new, new_row


def _dept(code: str) -> Department:
    return Department(
        code=code,
        name=f"部门{code}",
        type=DepartmentType.street_office,
        jurisdiction_code="500107001",
        level="street",
    )


def test_batch_is_one_insert_with_fresh_keys(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(_dept("old"))
        session.commit()
        existing = session.execute(select(func.max(Department.id))).scalar_one()
    inserts: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with Session(engine, expire_on_commit=False) as session:
            batch = [_dept(f"d{i}") for i in range(30)]
            insert_new(session, batch)
            session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # SQLite: one executemany INSERT; PostgreSQL: one COPY on the raw cursor, below the events.
    assert len(inserts) == (0 if engine.dialect.name == "postgresql" else 1)
    ids = [d.id for d in batch]
    assert ids == list(range(existing + 1, existing + 31))
    with Session(engine) as session:
        rows = session.execute(select(Department).where(Department.id.in_(ids))).scalars().all()
        assert sorted(d.code for d in rows) == sorted(f"d{i}" for i in range(30))
        assert all(d.active is True for d in rows)  # the column default, though never set
        assert all(d.district_code is None for d in rows)


def test_objects_are_attached_complete_and_update_normally(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        batch = [_dept("a"), _dept("b")]
        insert_new(session, batch)
        reads: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: reads.append(a[2]))
        assert batch[0] in session and batch[0].active is True and batch[0].district_code is None
        assert reads == []  # nothing left unloaded: no trip back to the database
        batch[1].name = "改名"
        session.commit()
    with Session(engine) as session:
        assert session.get(Department, batch[1].id).name == "改名"  # type: ignore[union-attr]


def test_attached_objects_are_persistent_clean_and_in_the_identity_map(engine: Engine) -> None:
    """Attached without ``session.add``: the state a query would have loaded them in."""
    with Session(engine, expire_on_commit=False) as session:
        values = {"code": "n", "name": "新", "type": DepartmentType.street_office}
        made = new_row(Department, {**values, "jurisdiction_code": "500107001", "level": "street"})
        made.name = "改过"  # a tracked change before the insert (intake counts repeats so)
        batch = [_dept("a"), made]
        insert_new(session, batch)
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        for obj in batch:
            state = inspect(obj)
            assert state.persistent and not state.modified and not state.unloaded
            assert session.get(Department, obj.id) is obj
        assert not session.dirty and not session.new
        session.flush()
        assert statements == []  # already written: nothing to flush, nothing to load
        made.level = "district"
        session.commit()
        assert [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    with Session(engine) as session:
        again = session.get(Department, made.id)
        assert again is not None and (again.name, again.level) == ("改过", "district")


def test_a_failed_transaction_leaves_nothing(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(_dept("dup"))
        session.commit()
    with Session(engine) as session, pytest.raises(IntegrityError):
        insert_new(session, [_dept("new"), _dept("dup")])  # unique code breaks the batch
    with Session(engine) as session:
        codes = session.execute(select(Department.code)).scalars().all()
    assert codes == ["dup"]
