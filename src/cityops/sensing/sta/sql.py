"""Compile a $filter / $orderby tree to SQLAlchemy, on SQLite and PostgreSQL.

The caller says where properties live with a :class:`Resolver` (``ColumnMap`` for a plain dict).
Row-independent parts are folded in Python first (see ``consts``). Dates and times are UTC:
``hour(phenomenonTime)`` is the UTC hour on both databases, and ``totaloffsetminutes`` of a
stored time is 0 because every instant is stored in UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.sqltypes import NullType

from cityops.sensing.models import EpochTime
from cityops.sensing.sta import geo
from cityops.sensing.sta.ast import (
    Binary,
    Call,
    Expr,
    Geometry,
    Literal,
    OrderBy,
    Path,
    StaQueryError,
    Unary,
    Value,
    paths_in,
    strip_head,
)
from cityops.sensing.sta.consts import COMPARE, NotConstant, fold
from cityops.store.base import UtcDateTime

SqlExpr = ColumnElement[Any]


Wrap = Callable[[SqlExpr], SqlExpr]


class Resolver(Protocol):
    def column(self, path: Path) -> SqlExpr: ...

    def geo(self, path: Path) -> geo.GeoRef: ...

    def through_many(self, path: Path) -> tuple[Resolver, Wrap] | None:
        """For ``Datastreams/name`` on Things: the linked rows' resolver and an EXISTS wrapper."""
        ...


@dataclass(frozen=True)
class ColumnMap:
    """Properties by path text (``name``, ``Thing/name``) and geo properties by name."""

    columns: Mapping[str, SqlExpr]
    geos: Mapping[str, geo.GeoRef] = field(default_factory=dict)

    def column(self, path: Path) -> SqlExpr:
        found = self.columns.get(path.text)
        if found is None:
            raise StaQueryError(f"unknown property {path.text!r}", option="$filter", pos=path.pos)
        return found

    def through_many(self, path: Path) -> tuple[Resolver, Wrap] | None:
        return None

    def geo(self, path: Path) -> geo.GeoRef:
        found = self.geos.get(path.text)
        if found is None:
            raise StaQueryError(
                f"{path.text!r} is not a location property", option="$filter", pos=path.pos
            )
        return found


_CMP: dict[str, Callable[[SqlExpr, SqlExpr], SqlExpr]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}
_PARTS = {"year", "month", "day", "hour", "minute"}


_ANY_NODES = frozenset(_CMP) | {
    "substringof", "contains", "startswith", "endswith", "st_within", "st_intersects",
    "geo.intersects", "st_equals", "st_contains", "st_disjoint",
}  # fmt: skip


_NOT_NUMBERS = (sa.String, sa.Boolean, sa.JSON, sa.Date, sa.Time, sa.Interval)


def _is_time(column: SqlExpr) -> bool:
    return isinstance(column.type, sa.DateTime | UtcDateTime | EpochTime)


class FilterCompiler:
    def __init__(
        self, resolver: Resolver, *, dialect: str, now: datetime, option: str = "$filter"
    ) -> None:
        self.resolver = resolver
        self.pg = dialect == "postgresql"
        self.now = now
        self.option = option

    def error(self, message: str, pos: int) -> StaQueryError:
        return StaQueryError(message, option=self.option, pos=pos)

    # -- values --------------------------------------------------------------------------------
    def bind(self, value: Value, pos: int) -> SqlExpr:
        if value is None:
            return sa.null()
        if isinstance(value, bool):
            return sa.true() if value else sa.false()
        if isinstance(value, int) and -(2**63) <= value < 2**63:
            return sa.literal(value, sa.BigInteger())
        if isinstance(value, int):
            return sa.literal(float(value), sa.Float())  # beyond 64 bits
        if isinstance(value, float):
            return sa.literal(value, sa.Float())
        if isinstance(value, str):
            return sa.cast(sa.literal(value, sa.String()), sa.String())
        if isinstance(value, datetime):
            return sa.literal(value, UtcDateTime())
        if isinstance(value, date):
            return sa.literal(value, sa.Date()) if self.pg else sa.literal(value.isoformat())
        if isinstance(value, time):
            return sa.literal(value, sa.Time()) if self.pg else sa.literal(value.isoformat())
        if isinstance(value, timedelta):
            raise self.error("a duration can only be added to or taken from a time", pos)
        raise self.error("a geography literal belongs inside a geo function", pos)

    def fold(self, expr: Expr) -> Value:
        try:
            return fold(expr, self.now)
        except (OverflowError, ValueError) as exc:
            raise self.error(f"out of range: {exc}", expr.pos) from None

    def bind_as(self, value: Value, column: SqlExpr, pos: int) -> SqlExpr:
        if isinstance(value, datetime) and _is_time(column):
            return sa.literal(value, column.type)
        return self.bind(value, pos)

    def compile(self, expr: Expr) -> SqlExpr:
        try:
            value = self.fold(expr)
        except NotConstant:
            pass
        else:
            return self.bind(value, expr.pos)
        if isinstance(expr, Path):
            return self.resolver.column(expr)
        if isinstance(expr, Binary | Call) and (
            expr.name if isinstance(expr, Call) else expr.op
        ) in (_ANY_NODES):
            found = self.any_of_many(expr)
            if found is not None:
                return found
        if isinstance(expr, Unary):
            operand = self.compile(expr.operand)
            if not isinstance(operand.type, sa.Boolean | NullType):
                raise self.error("not needs a condition", expr.pos)
            return sa.not_(operand)
        if isinstance(expr, Binary):
            return self.binary(expr)
        if isinstance(expr, Call):
            return self.call(expr)
        raise self.error("cannot compile this expression", expr.pos)  # pragma: no cover

    def any_of_many(self, expr: Binary | Call) -> SqlExpr | None:
        """``Datastreams/name eq 'x'`` on Things: true if any linked Datastream matches."""
        found = paths_in(expr)
        hits = [self.resolver.through_many(p) for p in found]
        if not found or all(h is None for h in hits):
            return None
        heads = {p.segments[0] for p in found}
        if any(h is None for h in hits) or len(heads) > 1:
            raise self.error("one condition cannot mix a to-many link with other paths", expr.pos)
        inner, wrap = hits[0]  # type: ignore[misc]
        sub = FilterCompiler(inner, dialect="postgresql" if self.pg else "sqlite", now=self.now)
        return wrap(sub.compile(strip_head(expr)))

    def boolean(self, expr: Expr) -> ColumnElement[bool]:
        return self.compile(expr)

    def order(self, items: tuple[OrderBy, ...]) -> list[SqlExpr]:
        return [
            self.compile(o.expr).desc() if o.descending else self.compile(o.expr).asc()
            for o in items
        ]

    # -- operators -----------------------------------------------------------------------------
    def _const(self, expr: Expr) -> tuple[bool, Value]:
        try:
            return True, self.fold(expr)
        except NotConstant:
            return False, None

    def binary(self, expr: Binary) -> SqlExpr:
        op = expr.op
        if op == "and":
            return sa.and_(self.compile(expr.left), self.compile(expr.right))
        if op == "or":
            return sa.or_(self.compile(expr.left), self.compile(expr.right))
        lconst, lval = self._const(expr.left)
        rconst, rval = self._const(expr.right)
        if op in _CMP:
            if lconst and rconst:
                return self.compare_constants(op, lval, rval, expr.pos)
            boolean = (lconst and isinstance(lval, bool)) or (rconst and isinstance(rval, bool))
            if boolean and op not in {"eq", "ne"}:
                raise self.error("true and false compare only with eq and ne", expr.pos)
            if (lconst and lval is None) or (rconst and rval is None):
                other = expr.right if lconst and lval is None else expr.left
                if op not in {"eq", "ne"}:
                    return sa.false()
                column = self.compile(other)
                return column.is_(None) if op == "eq" else column.is_not(None)
            if lconst != rconst:  # a time constant takes the column's own type (text or integer)
                column = self.compile(expr.right if lconst else expr.left)
                const = expr.left if lconst else expr.right
                value = self.bind_as(lval if lconst else rval, column, const.pos)
                pair = (value, column) if lconst else (column, value)
                return _CMP[op](*pair)
            return _CMP[op](self.compile(expr.left), self.compile(expr.right))
        if rconst and isinstance(rval, timedelta) and op in {"add", "sub"}:
            column = self.compile(expr.left)
            if not _is_time(column):
                raise self.error("a duration can only be added to or taken from a time", expr.pos)
            return self.shift_time(column, rval if op == "add" else -rval)
        left, right = self.compile(expr.left), self.compile(expr.right)
        for side in (left, right):
            if isinstance(side.type, _NOT_NUMBERS) or _is_time(side):
                raise self.error(f"{op} needs numbers", expr.pos)
        if op == "add":
            return left + right
        if op == "sub":
            return left - right
        if op == "mul":
            return left * right
        if op == "div":
            return left / right
        if self.pg:
            return sa.func.mod(sa.cast(left, sa.Numeric()), sa.cast(right, sa.Numeric()))
        return sa.func.mod(left, right)

    def compare_constants(self, op: str, a: Value, b: Value, pos: int) -> SqlExpr:
        if a is None or b is None:
            return sa.true() if (op == "eq") == (a is b) and op in {"eq", "ne"} else sa.false()
        try:
            result = bool(COMPARE[op](a, b))
        except TypeError:
            raise self.error(f"cannot compare {a!r} with {b!r}", pos) from None
        return sa.true() if result else sa.false()

    def shift_time(self, column: SqlExpr, delta: timedelta) -> SqlExpr:
        if self.pg:
            return sa.type_coerce(column + sa.literal(delta, sa.Interval()), column.type)
        if isinstance(column.type, EpochTime):
            micros = sa.type_coerce(column, sa.BigInteger()) + delta // timedelta(microseconds=1)
            return sa.type_coerce(micros, EpochTime())
        seconds = f"{delta.total_seconds():+.6f} seconds"
        return sa.func.strftime("%Y-%m-%d %H:%M:%f", column, seconds)

    # -- functions -----------------------------------------------------------------------------
    def _strpos(self, haystack: SqlExpr, needle: SqlExpr) -> SqlExpr:
        return sa.func.strpos(haystack, needle) if self.pg else sa.func.instr(haystack, needle)

    def _utc(self, column: SqlExpr) -> SqlExpr:
        return sa.func.timezone("UTC", column) if self.pg else column

    def _sqlite_text(self, column: SqlExpr) -> SqlExpr:
        """SQLite: an integer-microsecond time as the text SQLite's date functions read."""
        if self.pg or not isinstance(column.type, EpochTime):
            return column
        seconds = sa.type_coerce(column, sa.BigInteger()) / sa.literal(1_000_000.0)
        return sa.func.strftime("%Y-%m-%d %H:%M:%f", seconds, "unixepoch")

    def call(self, expr: Call) -> SqlExpr:
        name = expr.name
        if name.startswith(("geo.", "st_")):
            return self.geo_call(expr)
        args = [self.compile(a) for a in expr.args]
        if name == "substringof":
            return self._strpos(args[1], args[0]) > 0
        if name == "contains":
            return self._strpos(args[0], args[1]) > 0
        if name == "startswith":
            return sa.func.substr(args[0], 1, sa.func.length(args[1])) == args[1]
        if name == "endswith":
            start = sa.func.length(args[0]) - sa.func.length(args[1]) + 1
            return sa.func.substr(args[0], start) == args[1]
        if name == "length":
            return sa.func.length(args[0])
        if name == "indexof":
            return self._strpos(args[0], args[1]) - 1
        if name == "substring":
            rest = [sa.cast(a, sa.Integer()) for a in args[1:]]
            return sa.func.substr(args[0], rest[0] + 1, *rest[1:])
        if name in {"tolower", "toupper", "trim"}:
            fn = {"tolower": sa.func.lower, "toupper": sa.func.upper, "trim": sa.func.trim}[name]
            return fn(args[0])
        if name == "concat":
            return args[0].op("||")(args[1])
        return self.time_or_math(name, args[0])

    def time_or_math(self, name: str, arg: SqlExpr) -> SqlExpr:
        if name not in {"round", "floor", "ceiling"}:
            arg = self._sqlite_text(arg)
        if name in _PARTS:
            return sa.extract(name, self._utc(arg))
        if name == "second":
            if self.pg:
                return sa.func.floor(sa.extract("second", self._utc(arg)))
            return sa.cast(sa.func.strftime("%S", arg), sa.Integer())
        if name == "fractionalseconds":
            if self.pg:
                secs = sa.extract("second", self._utc(arg))
                return secs - sa.func.floor(secs)
            whole = sa.cast(sa.func.strftime("%S", arg), sa.Integer())
            return sa.cast(sa.func.strftime("%f", arg), sa.Float()) - whole
        if name == "date":
            return sa.cast(self._utc(arg), sa.Date()) if self.pg else sa.func.date(arg)
        if name == "time":
            if self.pg:
                return sa.cast(sa.func.date_trunc("second", self._utc(arg)), sa.Time())
            return sa.func.time(arg)
        if name == "totaloffsetminutes":
            return sa.literal(0, sa.Integer())
        if name == "round":
            return sa.func.round(sa.cast(arg, sa.Numeric()) if self.pg else arg)
        if name == "floor":
            if self.pg:
                return sa.func.floor(arg)
            # SQLAlchemy's pysqlite dialect replaces floor() with a Python function that fails
            # on NULL; truncation corrected for negatives is the same thing in plain SQL.
            whole = sa.cast(arg, sa.Integer())
            return whole - sa.case((arg < whole, 1), else_=0)
        return sa.func.ceiling(arg)

    def geo_call(self, expr: Call) -> SqlExpr:
        name = expr.name
        if name == "geo.length":
            return sa.literal(0.0, sa.Float())  # a location is a point here: no length
        if name == "st_relate":
            raise self.error("st_relate is not supported", expr.pos)
        ref, shape, swapped = self._geo_pair(expr)
        if name == "geo.distance":
            if shape.kind != "POINT":
                raise self.error("geo.distance needs a POINT", expr.args[1].pos)
            return geo.sql_distance_m(ref, shape.first)
        if name in {"geo.intersects", "st_intersects"}:
            return self._intersects(ref, shape, expr)
        if name == "st_disjoint":
            return sa.not_(self._intersects(ref, shape, expr))
        if name == "st_equals" or (name == "st_within" and swapped):
            return geo.sql_within(ref, shape) if shape.kind == "POINT" else sa.false()
        if name == "st_within" or (name == "st_contains" and swapped):
            return geo.sql_within(ref, shape)
        if name == "st_contains":
            return geo.sql_within(ref, shape) if shape.kind == "POINT" else sa.false()
        if name in {"st_overlaps", "st_crosses"}:
            return sa.false()  # a point never overlaps or crosses anything (DE-9IM)
        raise self.error(f"{name} is not supported on point locations", expr.pos)

    def _intersects(self, ref: geo.GeoRef, shape: Geometry, expr: Call) -> SqlExpr:
        if shape.kind == "LINESTRING":
            raise self.error("intersecting a point with a line is not supported", expr.pos)
        return geo.sql_within(ref, shape)

    def _geo_pair(self, expr: Call) -> tuple[geo.GeoRef, Geometry, bool]:
        a, b = expr.args
        for first, second, swapped in ((a, b, False), (b, a, True)):
            shape = second.value if isinstance(second, Literal) else None
            if isinstance(first, Path) and isinstance(shape, Geometry):
                return self.resolver.geo(first), shape, swapped
        raise self.error(
            f"{expr.name} needs a location property and a geography'...' literal", expr.pos
        )


_SA_ERRORS = (sa.exc.ArgumentError, sa.exc.CompileError, TypeError, NotImplementedError)


def compile_filter(
    expr: Expr, resolver: Resolver, *, dialect: str, now: datetime
) -> ColumnElement[bool]:
    try:
        return FilterCompiler(resolver, dialect=dialect, now=now).boolean(expr)
    except _SA_ERRORS as exc:  # operands SQL cannot combine (e.g. a time times a number)
        raise StaQueryError(
            f"cannot evaluate this filter: {exc}", option="$filter", pos=0
        ) from None


def compile_orderby(
    items: tuple[OrderBy, ...], resolver: Resolver, *, dialect: str, now: datetime
) -> list[SqlExpr]:
    try:
        return FilterCompiler(resolver, dialect=dialect, now=now, option="$orderby").order(items)
    except _SA_ERRORS as exc:
        raise StaQueryError(f"cannot order by this: {exc}", option="$orderby", pos=0) from None
