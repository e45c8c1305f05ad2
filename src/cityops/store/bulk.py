"""Write a batch of new rows as one statement (the intake's hot path).

The ORM's unit of work writes new objects one INSERT per row whenever it must read generated
keys back and cannot do so for a multi-row INSERT: SQLite cannot return them in row order
(SQLAlchemy's "implicit sentinel"). Taking the keys first and inserting the objects' values
with Core makes a batch of 50 reports one statement instead of 50, without the flush's
per-object bookkeeping.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, TypeVar, TypeVarTuple, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.orm import (
    DeclarativeBase,
    InstanceState,
    Mapper,
    QueryableAttribute,
    Session,
    make_transient_to_detached,
)
from sqlalchemy.orm.attributes import instance_state

Ts = TypeVarTuple("Ts")


_TOPS: dict[Table, Select[Any]] = {}  # max(key) per table, built once


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` unused integer keys of ``table``, in ascending order, for this transaction."""
    if count <= 0:
        return []
    (pk,) = table.primary_key.columns
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, :column)) "
                "FROM generate_series(1, :n)"
            ),
            {"table": f'"{table.name}"', "column": pk.name, "n": count},
        )
        return sorted(int(v) for v in rows.scalars())
    # SQLite: transactions begin IMMEDIATE, so this one holds the write lock until it ends and
    # no other writer can take the keys after the current largest.
    top_of = _TOPS.get(table)
    if top_of is None:
        top_of = _TOPS[table] = select(func.max(pk))
    top = session.execute(top_of).scalar() or 0
    return list(range(int(top) + 1, int(top) + 1 + count))


M = TypeVar("M", bound=DeclarativeBase)


def new_row(cls: type[M], values: dict[str, Any]) -> M:
    """A new ``cls`` object holding ``values`` for :func:`insert_new`, made without the mapped
    constructor's per-attribute change events (the intake builds 50 cases of ~40 columns a
    batch; those events were a tenth of its time). Later attribute sets are tracked as usual."""
    obj = cast(M, inspect(cls).class_manager.new_instance())
    obj.__dict__.update(values)
    return obj


def insert_new(session: Session, objects: Sequence[DeclarativeBase]) -> None:
    """INSERT new objects of one mapped class in one statement and attach them as persistent.

    Each object gets a fresh key; columns it leaves unset take their default (or NULL), so the
    attached object is complete and reading it never goes back to the database.
    """
    if not objects:
        return
    mapper = inspect(type(objects[0]))
    table = cast(Table, mapper.local_table)
    (pk,) = table.primary_key.columns
    columns = [(attr.key, attr.columns[0]) for attr in mapper.column_attrs]
    defaults = {
        key: col.default.arg if col.default is not None and col.default.is_scalar else None
        for key, col in columns
    }
    same = all(name == col.key for name, col in columns)
    rows: list[dict[str, Any]] = []
    for obj, key in zip(objects, allocate_ids(session, table, len(objects)), strict=True):
        values = obj.__dict__
        values[pk.key] = key
        for name, default in defaults.items():
            if name not in values:
                values[name] = default  # the instance dict: no change events, nothing to flush
        # The instance dict itself is the row when attributes are named as their columns
        # (a dict of 62 columns a case cost ~8 µs under cProfile).
        rows.append(values if same else {col.key: values[name] for name, col in columns})
    insert_rows(session, table, rows, names=[col.key for _, col in columns])
    if mapper.relationships:  # objects may bring others along: the ORM's cascade finds them
        for obj in objects:
            make_transient_to_detached(obj)
        session.add_all(objects)
        return
    _attach_loaded(session, mapper, objects, [obj.__dict__[pk.key] for obj in objects])


def _attach_loaded(
    session: Session, mapper: Mapper[Any], objects: Sequence[object], keys: Sequence[Any]
) -> None:
    """Make new objects, whose rows were just inserted and whose dicts hold every column,
    persistent in ``session`` as if loaded: ``make_transient_to_detached`` and ``add`` without
    the parts that do nothing here.

    ``add`` walks the mapper's save-update cascade for each object, and
    ``make_transient_to_detached`` computes the identity through attribute access and expires
    the unloaded attributes (none: :func:`insert_new` filled them all); together they were
    ~30 µs a case under cProfile (of ~450 µs a report in a batch). The identity map and the
    session's attach events are still gone through (``Session._update_impl``, what ``add`` calls
    for a detached object), so the objects behave exactly like loaded ones.
    """
    states: list[InstanceState[Any]] = []
    for obj, key in zip(objects, keys, strict=True):
        state = instance_state(obj)
        if state.session_id or state.key:
            raise InvalidRequestError("Given object must be transient")
        state.key = mapper.identity_key_from_primary_key((key,))
        states.append(state)
    InstanceState._commit_all_states([(s, s.dict) for s in states])
    for state in states:
        state._orphaned_outside_of_session = False
        session._update_impl(state)


def set_by_key(
    session: Session, table: Table, column: str, rows: Sequence[tuple[int, int]],
    *, bump: str | None = "version",
) -> None:  # fmt: skip
    """Set ``column`` of many rows, chosen by primary key, each to its own integer value (and
    add one to ``bump``).

    On PostgreSQL one ``UPDATE … FROM unnest(keys, values)``: one statement with two array
    parameters whatever the count, instead of a round trip and a plan per row. On SQLite an
    executemany, which is a loop in C over one prepared statement (SQLite has no array type, and
    its ``UPDATE … FROM (VALUES …)`` cannot name the columns SQLAlchemy gives them).
    """
    if not rows:
        return
    (pk,) = table.primary_key.columns
    if session.get_bind().dialect.name == "postgresql":
        more = f', "{bump}" = t."{bump}" + 1' if bump else ""
        session.execute(
            text(
                f'UPDATE "{table.name}" AS t SET "{column}" = v.val{more} '
                "FROM unnest(CAST(:keys AS bigint[]), CAST(:vals AS bigint[])) AS v(k, val) "
                f'WHERE t."{pk.name}" = v.k'
            ),
            {"keys": [k for k, _ in rows], "vals": [v for _, v in rows]},
        )
        return
    values: dict[str, Any] = {column: bindparam("_val")}
    if bump:
        values[bump] = table.c[bump] + 1
    session.execute(
        update(table).where(pk == bindparam("_key")).values(values),
        [{"_key": k, "_val": v} for k, v in rows],
    )


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    names: Sequence[str] | None = None,
) -> None:
    """INSERT many rows of ``table`` (all with the same keys) in one go, in the session's
    transaction; ``names``: the keys to write when rows hold others (default: all the first
    row's).

    SQLite: an executemany, a loop in C over one prepared statement. PostgreSQL: ``COPY … FROM
    STDIN``. psycopg's executemany sends one INSERT per row (pipelined, but each one executed
    on its own), and SQLAlchemy's multi-row INSERT ("insertmanyvalues", which psycopg 3 gets
    only with RETURNING) is a statement too long for psycopg's parse cache, parsed again every
    time: both cost more client CPU per row than the row's own work. Values go through the
    columns' types (JSON, enums, UTC datetimes) exactly as they would for an INSERT.
    """
    if not rows:  # an empty list would insert one row of defaults
        return
    conn = session.connection()
    names = list(names or rows[0])
    if conn.dialect.name != "postgresql":
        _insert_sqlite(session, table, rows, names)
        return
    convert = _converters(conn.dialect, table, tuple(names))
    columns = ", ".join(f'"{n}"' for n in names)
    statement = f'COPY "{table.name}" ({columns}) FROM STDIN'
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([
                    f(row[n]) if f is not None and row[n] is not None else row[n]
                    for n, f in zip(names, convert, strict=True)
                ])  # fmt: skip
    except dbapi_error as exc:  # as SQLAlchemy raises it for an INSERT: IntegrityError and kin
        raise DBAPIError.instance(statement, None, exc, dbapi_error) from exc
    finally:
        cursor.close()


Convert = Callable[[Any], Any] | None
_CONVERTERS: dict[tuple[str, Table, tuple[str, ...]], list[Convert]] = {}


def _converters(dialect: Dialect, table: Table, names: tuple[str, ...]) -> list[Convert]:
    """Each named column's bind processor on ``dialect`` (None: the value goes as it is)."""
    key = (dialect.name, table, names)
    found = _CONVERTERS.get(key)
    if found is None:
        found = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
        _CONVERTERS[key] = found
    return found


def _insert_sqlite(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], names: list[str]
) -> None:
    """An executemany of a plain INSERT, values converted by the columns' own bind processors.

    SQLAlchemy's executemany converts every row's values through its compiled parameters, one
    call per value; for intake's batch that was more client CPU than SQLite's insert. Here each
    distinct datetime is converted once (a batch's rows share their time), and columns left out
    take their scalar default as ``insert(table)`` would give them.
    """
    conn = session.connection()
    plan = _plan(conn.dialect, table, tuple(names))
    if plan is None:  # a callable default: SQLAlchemy runs it per row
        session.execute(insert(table), [{n: row[n] for n in names} for row in rows])
        return
    statement, take, converted, fixed = plan
    times: dict[tuple[datetime, Callable[[Any], Any]], Any] = {}
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(take(row))
        for i, f in converted:
            v = values[i]
            if v is None:
                continue
            if isinstance(v, datetime):
                t = times.get((v, f), times)
                if t is times:
                    t = times[v, f] = f(v)
                values[i] = t
            else:
                values[i] = f(v)
        params.append((*values, *fixed))
    conn.exec_driver_sql(statement, params)


_Plan = tuple[
    str, Callable[[Mapping[str, Any]], tuple[Any, ...]], list[tuple[int, Callable[[Any], Any]]],
    tuple[Any, ...],
]  # fmt: skip
_PLANS: dict[tuple[str, Table, tuple[str, ...]], _Plan | None] = {}


def _plan(dialect: Dialect, table: Table, names: tuple[str, ...]) -> _Plan | None:
    """The INSERT text, the row's values getter, the converters and the defaults of the columns
    left out, for rows with these keys; made once (a single report inserts three tables and
    rebuilt this each time). None: a left-out column has a callable default."""
    key = (dialect.name, table, names)
    if key in _PLANS:
        return _PLANS[key]
    missing = [c for c in table.columns if c.key not in names and c.default is not None]
    found: _Plan | None = None
    if all(getattr(c.default, "is_scalar", False) for c in missing):
        fixed = tuple(c.default.arg for c in missing)  # type: ignore[union-attr]
        convert = _converters(dialect, table, names)
        converted = [(i, f) for i, f in enumerate(convert) if f is not None]
        take = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
        columns = ", ".join(f'"{c.name}"' for c in [*(table.c[n] for n in names), *missing])
        marks = ", ".join("?" * (len(names) + len(missing)))
        statement = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'
        found = (statement, take, converted, fixed)
    _PLANS[key] = found
    return found


_Column = ColumnElement[Any] | QueryableAttribute[Any]


def pairs_join(
    dialect: str,
    stmt: Select[*Ts],
    columns: tuple[_Column, _Column],
) -> Select[*Ts]:
    """``stmt`` joined to the pairs on ``columns``: the rows whose two columns are one of the
    pairs, each found by one probe of an index on those columns. The pairs are bound per
    execution (:func:`pairs_params`), so a hot path builds the statement once.

    The pairs are one bound value, two arrays through ``unnest`` on PostgreSQL and a JSON text
    through ``json_each`` on SQLite, so the statement's text never changes with the count
    (compiled, parsed and planned once). The alternatives measured worse: a row-value ``IN``
    list of hundreds of literal pairs cost more to render in Python than the database took to
    answer (intake's duplicate check) and PostgreSQL planned it as an OR of every pair; two plain
    ``IN`` lists probe every combination (orders' stock: 25,000 probes for 100 orders); and
    SQLite probes the index per pair only as a join, not as ``IN (subquery)``. Building a new
    statement per batch was most of intake's duplicate probe for a single report (~1 ms of its
    ~4 ms); one kept at module level is compiled once and its cache key memoised on it.
    """
    a, b = columns
    if dialect == "postgresql":
        firsts = bindparam("pair_firsts", type_=postgresql.ARRAY(a.type))
        seconds = bindparam("pair_seconds", type_=postgresql.ARRAY(b.type))
        given = func.unnest(firsts, seconds).table_valued("first", "second").render_derived()
        first: ColumnElement[Any] = given.c.first
        second: ColumnElement[Any] = given.c.second
    else:
        given = func.json_each(bindparam("pairs", type_=String())).table_valued("value")
        first, second = (func.json_extract(given.c.value, f"$[{i}]") for i in (0, 1))
    return stmt.join(given, (a == first) & (b == second))


def pairs_params(dialect: str, pairs: Sequence[tuple[Any, Any]]) -> dict[str, Any]:
    """The parameters of a :func:`pairs_join` statement for these pairs."""
    if dialect == "postgresql":
        return {"pair_firsts": [p[0] for p in pairs], "pair_seconds": [p[1] for p in pairs]}
    return {"pairs": json.dumps(list(pairs))}


def one_of(
    session: Session, column: QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column IN values`` with one parameter on PostgreSQL (``= ANY(array)``).

    An IN list is a parameter per value: its text changes with the count, so psycopg parses it
    again (it caches only queries of up to 50 parameters) and PostgreSQL plans it every time;
    ``= ANY`` is one text, parsed once and prepared by psycopg after a few runs. SQLite has no
    arrays and gets the plain IN.
    """
    wanted = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, wanted, type_=postgresql.ARRAY(column.type)))
    return column.in_(wanted)
