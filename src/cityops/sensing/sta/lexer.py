"""Tokens of an OData expression: numbers, 'strings', datetimes, typed literals, names, symbols."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from cityops.sensing.sta.ast import StaQueryError


class Tok(StrEnum):
    number = "number"
    string = "string"
    datetime = "datetime"
    date = "date"
    time = "time"
    typed = "typed"  # geography'POINT(1 2)', duration'P1D'
    name = "name"  # identifiers, keywords, paths with '/' and dotted names like geo.distance
    lparen = "("
    rparen = ")"
    comma = ","
    semicolon = ";"
    equals = "="
    end = "end"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Tok
    text: str  # for strings and typed literals: the unescaped content
    pos: int
    prefix: str = ""  # typed literals: the type name (lower case)


_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\w:])")
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[dDfFmMlL]?")
_NAME = re.compile(r"[A-Za-z_@$][\w@.$]*(?:/[A-Za-z_@$][\w@.$]*)*")
_SYMBOLS = {"(": Tok.lparen, ")": Tok.rparen, ",": Tok.comma, ";": Tok.semicolon, "=": Tok.equals}


def _quoted(text: str, start: int, option: str) -> tuple[str, int]:
    """Read a '...' string at ``start`` ('' is a quote); return the content and the end offset."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "'":
            if i + 1 < len(text) and text[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise StaQueryError("unterminated string literal", option=option, pos=start)


def tokenize(text: str, option: str = "$filter") -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _SYMBOLS:
            tokens.append(Token(_SYMBOLS[ch], ch, i))
            i += 1
            continue
        if ch == "'":
            content, end = _quoted(text, i, option)
            tokens.append(Token(Tok.string, content, i))
            i = end
            continue
        if ch == "-" and i + 1 < n and (text[i + 1].isdigit() or text[i + 1] == "."):
            m = _NUMBER.match(text, i + 1)
            if m:
                tokens.append(Token(Tok.number, "-" + m.group(), i))
                i = m.end()
                continue
        if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            for kind, pattern in ((Tok.datetime, _DATETIME), (Tok.date, _DATE), (Tok.time, _TIME)):
                m = pattern.match(text, i)
                if m:
                    tokens.append(Token(kind, m.group(), i))
                    i = m.end()
                    break
            else:
                m = _NUMBER.match(text, i)
                assert m is not None
                tokens.append(Token(Tok.number, m.group(), i))
                i = m.end()
            continue
        m = _NAME.match(text, i)
        if m:
            word = m.group()
            end = m.end()
            if end < n and text[end] == "'" and "/" not in word:
                content, stop = _quoted(text, end, option)
                tokens.append(Token(Tok.typed, content, i, prefix=word.lower()))
                i = stop
                continue
            tokens.append(Token(Tok.name, word, i))
            i = end
            continue
        raise StaQueryError(f"unexpected character {ch!r}", option=option, pos=i)
    tokens.append(Token(Tok.end, "", n))
    return tokens
