"""Parse the query options of a request: $filter $orderby $select $expand $top $skip $count.

``$expand`` nests: ``Datastreams($filter=name eq 'x';$top=2;$expand=Observations($top=1))``;
options inside parentheses are separated by ``;``. Errors carry the option and the offset in it.
"""

from __future__ import annotations

from collections.abc import Mapping

from cityops.sensing.sta.ast import Expand, OrderBy, QueryOptions, StaQueryError
from cityops.sensing.sta.filter import ExprParser, parse_filter
from cityops.sensing.sta.lexer import Tok
from cityops.sensing.validate import id_in_text

KNOWN = ("$filter", "$orderby", "$select", "$expand", "$top", "$skip", "$count")


def split_top_level(text: str, sep: str) -> list[tuple[str, int]]:
    """Split on ``sep`` outside parentheses and quotes; keep each part's start offset."""
    parts: list[tuple[str, int]] = []
    depth = 0
    quoted = False
    start = 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted  # '' toggles twice: still right
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise StaQueryError("unbalanced ')'", option="$expand", pos=i)
        elif ch == sep and depth == 0:
            parts.append((text[start:i], start))
            start = i + 1
    if quoted:
        raise StaQueryError("unterminated string literal", option="$expand", pos=start)
    if depth:
        raise StaQueryError("unbalanced '('", option="$expand", pos=len(text))
    parts.append((text[start:], start))
    return parts


def parse_orderby(text: str) -> tuple[OrderBy, ...]:
    parser = ExprParser(text, "$orderby")
    items: list[OrderBy] = []
    while True:
        expr = parser.expression()
        direction = parser.at_word(frozenset({"asc", "desc"}))
        if direction:
            parser.advance()
        items.append(OrderBy(expr, direction == "desc"))
        if parser.tok.kind == Tok.comma:
            parser.advance()
            continue
        if parser.tok.kind != Tok.end:
            raise parser.error(f"expected ',' or the end, found {parser.tok.text!r}")
        return tuple(items)


def parse_select(text: str) -> tuple[str, ...]:
    names: list[str] = []
    for part, start in split_top_level(text, ","):
        name = part.strip()
        if not name or not all(c.isalnum() or c in "_@./" for c in name):
            raise StaQueryError(f"bad property name {name!r}", option="$select", pos=start)
        names.append(name)
    return tuple(names)


def _int(text: str, option: str) -> int:
    value = id_in_text(text.strip())
    if value is None:
        raise StaQueryError(
            f"{option} must be a non-negative integer below 10^18, got {text[:40]!r}",
            option=option,
        )
    return value


def _bool(text: str, option: str) -> bool:
    value = text.strip().lower()
    if value not in {"true", "false"}:
        raise StaQueryError(f"{option} must be true or false, got {text!r}", option=option)
    return value == "true"


def parse_expand(text: str, base: int = 0) -> tuple[Expand, ...]:
    items: list[Expand] = []
    for part, start in split_top_level(text, ","):
        offset = base + start + (len(part) - len(part.lstrip()))
        part = part.strip()
        if not part:
            raise StaQueryError("empty item", option="$expand", pos=offset)
        inner: dict[str, str] = {}
        inner_at = offset
        if "(" in part:
            head, _, rest = part.partition("(")
            if not rest.endswith(")"):
                raise StaQueryError("expected ')' at the end", option="$expand", pos=offset)
            body = rest[:-1]
            inner_at = offset + len(head) + 1
            for opt, ostart in split_top_level(body, ";"):
                key, eq, value = opt.partition("=")
                if not eq:
                    raise StaQueryError(
                        f"expected $option=value, got {opt!r}",
                        option="$expand",
                        pos=inner_at + ostart,
                    )
                inner[key.strip()] = value
            part = head.strip()
        path = tuple(part.split("/"))
        if not all(s.isidentifier() for s in path):
            raise StaQueryError(f"bad navigation path {part!r}", option="$expand", pos=offset)
        items.append(Expand(path, parse_options(inner, expand_base=inner_at)))
    return tuple(items)


def parse_options(params: Mapping[str, str], *, expand_base: int = 0) -> QueryOptions:
    """Parse every query option; unknown ``$`` options are an error, other keys are ignored."""
    for key in params:
        if key.startswith("$") and key not in KNOWN:
            raise StaQueryError(f"unknown query option {key!r}", option=key, pos=0)
    raw_filter = params.get("$filter")
    raw_order = params.get("$orderby")
    raw_select = params.get("$select")
    raw_expand = params.get("$expand")
    return QueryOptions(
        filter=parse_filter(raw_filter) if raw_filter is not None else None,
        orderby=parse_orderby(raw_order) if raw_order else (),
        select=parse_select(raw_select) if raw_select else (),
        expand=parse_expand(raw_expand, expand_base) if raw_expand else (),
        top=_int(params["$top"], "$top") if "$top" in params else None,
        skip=_int(params["$skip"], "$skip") if "$skip" in params else 0,
        count=_bool(params["$count"], "$count") if "$count" in params else False,
    )
