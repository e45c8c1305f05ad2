"""Parse an OData/STA expression ($filter, $orderby items) into the typed tree of ``ast``.

Precedence, loosest first: ``or``, ``and``, equality (``eq ne``), relational (``gt ge lt le``),
additive (``add sub``), multiplicative (``mul div mod``), unary (``not``, ``-``), primary
(literal, property path, function call, parenthesised expression).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from cityops.sensing.sta.ast import (
    Binary,
    Call,
    Expr,
    Literal,
    LitKind,
    Path,
    StaQueryError,
    Unary,
)
from cityops.sensing.sta.lexer import Tok, Token, tokenize
from cityops.sensing.sta.wkt import parse_wkt

# name -> (min args, max args)
FUNCTIONS: dict[str, tuple[int, int]] = {
    "substringof": (2, 2), "endswith": (2, 2), "startswith": (2, 2), "contains": (2, 2),
    "length": (1, 1), "indexof": (2, 2), "substring": (2, 3), "tolower": (1, 1),
    "toupper": (1, 1), "trim": (1, 1), "concat": (2, 2),
    "year": (1, 1), "month": (1, 1), "day": (1, 1), "hour": (1, 1), "minute": (1, 1),
    "second": (1, 1), "fractionalseconds": (1, 1), "date": (1, 1), "time": (1, 1),
    "totaloffsetminutes": (1, 1), "now": (0, 0), "mindatetime": (0, 0), "maxdatetime": (0, 0),
    "round": (1, 1), "floor": (1, 1), "ceiling": (1, 1),
    "geo.distance": (2, 2), "geo.length": (1, 1), "geo.intersects": (2, 2),
    "st_equals": (2, 2), "st_disjoint": (2, 2), "st_touches": (2, 2), "st_within": (2, 2),
    "st_overlaps": (2, 2), "st_crosses": (2, 2), "st_intersects": (2, 2), "st_contains": (2, 2),
    "st_relate": (3, 3),
}  # fmt: skip

_LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"or"}),
    frozenset({"and"}),
    frozenset({"eq", "ne"}),
    frozenset({"gt", "ge", "lt", "le"}),
    frozenset({"add", "sub"}),
    frozenset({"mul", "div", "mod"}),
)
_KEYWORDS = frozenset().union(*_LEVELS) | {"not", "asc", "desc"}
_DURATION = re.compile(
    r"^(-)?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?"
    r"(?:(\d+(?:\.\d+)?)S)?)?$"
)


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 instant; without a zone it is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _duration(text: str) -> timedelta:
    m = _DURATION.match(text)
    if not m or text.rstrip("T").endswith("P"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    sign = -1 if m.group(1) else 1
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups()[1:])
    return sign * timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


class ExprParser:
    def __init__(self, text: str, option: str = "$filter") -> None:
        self.option = option
        self.tokens = tokenize(text, option)
        self.i = 0

    # -- token helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, pos: int | None = None) -> StaQueryError:
        return StaQueryError(message, option=self.option, pos=self.tok.pos if pos is None else pos)

    def advance(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def expect(self, kind: Tok, what: str) -> Token:
        if self.tok.kind != kind:
            found = self.tok.text or "the end"
            raise self.error(f"expected {what}, found {found!r}")
        return self.advance()

    def at_word(self, words: frozenset[str]) -> str | None:
        if self.tok.kind == Tok.name and self.tok.text.lower() in words:
            return self.tok.text.lower()
        return None

    # -- grammar -------------------------------------------------------------------------------
    def parse_all(self) -> Expr:
        expr = self.expression()
        if self.tok.kind != Tok.end:
            raise self.error(f"unexpected {self.tok.text!r} after a complete expression")
        return expr

    def expression(self, level: int = 0) -> Expr:
        if level == len(_LEVELS):
            return self.unary()
        left = self.expression(level + 1)
        while (op := self.at_word(_LEVELS[level])) is not None:
            pos = self.advance().pos
            right = self.expression(level + 1)
            left = Binary(op, left, right, pos)
        return left

    def unary(self) -> Expr:
        if self.at_word(frozenset({"not"})):
            pos = self.advance().pos
            return Unary("not", self.unary(), pos)
        return self.primary()

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == Tok.lparen:
            self.advance()
            inner = self.expression()
            self.expect(Tok.rparen, "')'")
            return inner
        if tok.kind == Tok.end:
            raise self.error("the expression ends too early")
        if tok.kind == Tok.name:
            return self.name()
        self.advance()
        return self.literal(tok)

    def literal(self, tok: Token) -> Literal:
        try:
            if tok.kind == Tok.number:
                return Literal(self._number(tok.text), LitKind.number, tok.pos)
            if tok.kind == Tok.string:
                return Literal(tok.text, LitKind.string, tok.pos)
            if tok.kind == Tok.datetime:
                return Literal(parse_datetime(tok.text), LitKind.datetime, tok.pos)
            if tok.kind == Tok.date:
                return Literal(date.fromisoformat(tok.text), LitKind.date, tok.pos)
            if tok.kind == Tok.time:
                return Literal(time.fromisoformat(tok.text), LitKind.time, tok.pos)
            if tok.kind == Tok.typed:
                return self._typed(tok)
        except ValueError as exc:
            raise self.error(f"bad literal {tok.text!r}: {exc}", tok.pos) from exc
        raise self.error(f"unexpected {tok.text!r}", tok.pos)

    @staticmethod
    def _number(text: str) -> int | float:
        body = text.rstrip("dDfFmMlL")
        if re.fullmatch(r"-?\d+", body):
            return int(body)
        return float(body)

    def _typed(self, tok: Token) -> Literal:
        prefix = tok.prefix
        if prefix in {"geography", "geometry"}:
            return Literal(parse_wkt(tok.text), LitKind.geography, tok.pos)
        if prefix == "duration":
            return Literal(_duration(tok.text), LitKind.duration, tok.pos)
        if prefix == "datetime" or prefix == "datetimeoffset":
            return Literal(parse_datetime(tok.text), LitKind.datetime, tok.pos)
        raise ValueError(f"unknown literal type {prefix!r}")

    def name(self) -> Expr:
        tok = self.advance()
        word = tok.text
        lower = word.lower()
        if lower in {"true", "false"}:
            return Literal(lower == "true", LitKind.boolean, tok.pos)
        if lower == "null":
            return Literal(None, LitKind.null, tok.pos)
        if lower in _KEYWORDS:
            raise self.error(f"{word!r} needs an operand before it", tok.pos)
        if self.tok.kind == Tok.lparen:
            return self.call(tok)
        return Path(tuple(word.split("/")), tok.pos)

    def call(self, tok: Token) -> Call:
        name = tok.text.lower()
        if name not in FUNCTIONS:
            raise self.error(f"unknown function {tok.text!r}", tok.pos)
        self.advance()  # (
        args: list[Expr] = []
        if self.tok.kind != Tok.rparen:
            args.append(self.expression())
            while self.tok.kind == Tok.comma:
                self.advance()
                args.append(self.expression())
        self.expect(Tok.rparen, "',' or ')'")
        low, high = FUNCTIONS[name]
        if not low <= len(args) <= high:
            want = str(low) if low == high else f"{low} to {high}"
            raise self.error(f"{name} takes {want} arguments, got {len(args)}", tok.pos)
        return Call(name, tuple(args), tok.pos)


def parse_filter(text: str, option: str = "$filter") -> Expr:
    """Parse a boolean (or any) expression; raise StaQueryError pointing at the problem."""
    if not text.strip():
        raise StaQueryError("empty expression", option=option, pos=0)
    return ExprParser(text, option).parse_all()
