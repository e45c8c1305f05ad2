"""Constant folding: parts of an expression that need no row (``now() sub duration'P1D'``).

They are computed in Python once per request, so SQL sees a plain bound value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from cityops.sensing.sta.ast import Binary, Call, Expr, Geometry, Literal, Unary, Value
from cityops.sensing.sta.geo import haversine_m, line_length_m

MIN_DATETIME: Final = datetime(1, 1, 1, tzinfo=UTC)
MAX_DATETIME: Final = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


class NotConstant(Exception):
    """The expression depends on a row."""


def _num(v: Value) -> int | float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise NotConstant
    return v


def _arith(op: str, a: Value, b: Value) -> Value:
    if isinstance(a, datetime) and isinstance(b, timedelta) and op in {"add", "sub"}:
        return a + b if op == "add" else a - b
    if isinstance(a, datetime) and isinstance(b, datetime) and op == "sub":
        return a - b
    if isinstance(a, timedelta) and isinstance(b, timedelta) and op in {"add", "sub"}:
        return a + b if op == "add" else a - b
    x, y = _num(a), _num(b)
    if op == "add":
        return x + y
    if op == "sub":
        return x - y
    if op == "mul":
        return x * y
    if y == 0:
        raise NotConstant  # leave division by zero to the database (it yields null)
    if op == "div":
        return x // y if isinstance(x, int) and isinstance(y, int) else x / y
    return math.fmod(x, y)


def _call(name: str, args: list[Value], now: datetime) -> Value:
    if name == "now":
        return now
    if name == "mindatetime":
        return MIN_DATETIME
    if name == "maxdatetime":
        return MAX_DATETIME
    (a, *rest) = args
    if isinstance(a, str) and not rest:
        if name == "length":
            return len(a)
        if name == "tolower":
            return a.lower()
        if name == "toupper":
            return a.upper()
        if name == "trim":
            return a.strip()
    if name == "concat" and isinstance(a, str) and isinstance(rest[0], str):
        return a + rest[0]
    if isinstance(a, datetime):
        utc = a.astimezone(UTC)
        parts: dict[str, Value] = {
            "year": utc.year, "month": utc.month, "day": utc.day, "hour": utc.hour,
            "minute": utc.minute, "second": utc.second,
            "fractionalseconds": utc.microsecond / 1e6, "date": utc.date(),
            "time": utc.time().replace(microsecond=0),
        }  # fmt: skip
        if name == "totaloffsetminutes":
            offset = a.utcoffset() or timedelta()
            return int(offset.total_seconds() // 60)
        if name in parts:
            return parts[name]
    if isinstance(a, date) and not isinstance(a, datetime) and name in {"year", "month", "day"}:
        return int(getattr(a, name))
    if isinstance(a, time) and name in {"hour", "minute", "second"}:
        return int(getattr(a, name))
    if name in {"round", "floor", "ceiling"}:
        x = _num(a)
        if name == "round":
            return math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)
        return math.floor(x) if name == "floor" else math.ceil(x)
    if name == "geo.length" and isinstance(a, Geometry):
        return line_length_m(a) if a.kind == "LINESTRING" else 0.0
    b = rest[0] if rest else None
    points = isinstance(a, Geometry) and isinstance(b, Geometry) and a.kind == b.kind == "POINT"
    if name == "geo.distance" and points:
        assert isinstance(a, Geometry) and isinstance(b, Geometry)
        return haversine_m(a.first, b.first)
    raise NotConstant


def fold(expr: Expr, now: datetime) -> Value:
    """The value of a row-independent expression, or raise NotConstant."""
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Binary) and expr.op in {"add", "sub", "mul", "div", "mod"}:
        return _arith(expr.op, fold(expr.left, now), fold(expr.right, now))
    if isinstance(expr, Unary) and expr.op == "not":
        value = fold(expr.operand, now)
        if isinstance(value, bool):
            return not value
    if isinstance(expr, Call):
        return _call(expr.name, [fold(a, now) for a in expr.args], now)
    raise NotConstant
