"""The typed syntax tree of STA query options ($filter, $orderby, $expand ...).

Every node carries ``pos``, the 0-based offset in the option's text where it starts, so an error
found later (an unknown property, a function on the wrong kind of value) can still point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from cityops.errors import CityOpsError


class StaQueryError(CityOpsError):
    """A query option the server cannot understand: 400 with where the problem is."""

    status = 400
    code = "bad_query"

    def __init__(self, message: str, *, option: str = "", pos: int | None = None) -> None:
        where = f" (in {option} at position {pos})" if option and pos is not None else ""
        super().__init__(message + where, option=option, position=pos)
        self.option = option
        self.pos = pos


@dataclass(frozen=True, slots=True)
class Point:
    lng: float
    lat: float


@dataclass(frozen=True, slots=True)
class Geometry:
    """A geography literal; coordinates are (lng, lat) in WGS 84 like WKT and GeoJSON."""

    kind: str  # POINT, LINESTRING, POLYGON
    rings: tuple[tuple[Point, ...], ...]  # POINT: one ring of one; LINESTRING: one ring

    @property
    def first(self) -> Point:
        return self.rings[0][0]


Value = bool | int | float | str | datetime | date | time | timedelta | Geometry | None


class LitKind(StrEnum):
    null = "null"
    boolean = "boolean"
    number = "number"
    string = "string"
    datetime = "datetime"
    date = "date"
    time = "time"
    duration = "duration"
    geography = "geography"


@dataclass(frozen=True, slots=True)
class Literal:
    value: Value
    kind: LitKind
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Path:
    """A property, possibly through navigation: ``Datastream/Thing/name``, ``properties/owner``."""

    segments: tuple[str, ...]
    pos: int = 0

    @property
    def text(self) -> str:
        return "/".join(self.segments)


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "not" | "-"
    operand: Expr
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # eq ne gt ge lt le and or add sub mul div mod
    left: Expr
    right: Expr
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # lower case, e.g. "substringof", "geo.distance", "st_within"
    args: tuple[Expr, ...]
    pos: int = 0


Expr = Literal | Path | Unary | Binary | Call


def paths_in(expr: Expr) -> list[Path]:
    """Every property path in ``expr``, left to right."""
    if isinstance(expr, Path):
        return [expr]
    if isinstance(expr, Unary):
        return paths_in(expr.operand)
    if isinstance(expr, Binary):
        return paths_in(expr.left) + paths_in(expr.right)
    if isinstance(expr, Call):
        return [p for a in expr.args for p in paths_in(a)]
    return []


def strip_head(expr: Expr) -> Expr:
    """The same expression with the first segment of every path removed."""
    if isinstance(expr, Path):
        head = expr.segments[0]
        return Path(expr.segments[1:], expr.pos + len(head) + 1)
    if isinstance(expr, Unary):
        return Unary(expr.op, strip_head(expr.operand), expr.pos)
    if isinstance(expr, Binary):
        return Binary(expr.op, strip_head(expr.left), strip_head(expr.right), expr.pos)
    if isinstance(expr, Call):
        return Call(expr.name, tuple(strip_head(a) for a in expr.args), expr.pos)
    return expr


COMPARISON = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
LOGICAL = frozenset({"and", "or"})
ARITHMETIC = frozenset({"add", "sub", "mul", "div", "mod"})


@dataclass(frozen=True, slots=True)
class OrderBy:
    expr: Expr
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Expand:
    """``$expand=Datastreams/Observations($top=2)``: a path of navigation links and its options."""

    path: tuple[str, ...]
    options: QueryOptions


@dataclass(frozen=True, slots=True)
class QueryOptions:
    filter: Expr | None = None
    orderby: tuple[OrderBy, ...] = ()
    select: tuple[str, ...] = ()
    expand: tuple[Expand, ...] = field(default=())
    top: int | None = None
    skip: int = 0
    count: bool = False
