"""Reading STA resources: resource paths, collections with options, entities with $expand.

Expanded collections are fetched per parent row (one query each, bounded by the page size):
simple and exact with a per-expansion $top/$filter/$orderby.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cityops.errors import NotFound
from cityops.sensing.sta.ast import Expand, QueryOptions, StaQueryError
from cityops.sensing.sta.resolve import EntityResolver
from cityops.sensing.sta.schema import SETS, EntitySet, Link, Prop, column, ids_through, out_value
from cityops.sensing.sta.sql import compile_filter, compile_orderby
from cityops.sensing.validate import MAX_ID

_SEGMENT = re.compile(r"^([A-Za-z$][\w]*)(?:\(([0-9]+)\))?$")


class BadPath(StaQueryError):
    pass


@dataclass(frozen=True, slots=True)
class Target:
    """What a resource path names."""

    es: EntitySet
    where: Any  # condition on es.model rows, or None for the whole set
    single: bool
    ident: int | None = None  # the id, when the path ends in Set(id)
    parent: tuple[EntitySet, int, Link] | None = None  # Things(1)/Datastreams: (Things, 1, link)
    prop: Prop | None = None
    raw_value: bool = False


def parse_path(path: str) -> Target:
    """``Things(1)/Datastreams``, ``Datastreams(2)/Thing``, ``Things(1)/name/$value`` ..."""
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts:
        raise BadPath("empty resource path", option="path", pos=0)
    pos = 0
    target: Target | None = None
    for part in parts:
        m = _SEGMENT.match(part)
        if not m:
            raise BadPath(f"bad path segment {part!r}", option="path", pos=pos)
        name, ident = m.group(1), int(m.group(2)) if m.group(2) else None
        if ident is not None and ident > MAX_ID:  # no row has it; the database cannot look
            raise NotFound(f"no {name}({m.group(2)[:40]})", code="not_found")
        target = _step(target, name, ident, pos)
        pos += len(part) + 1
    assert target is not None
    return target


def _step(cur: Target | None, name: str, ident: int | None, pos: int) -> Target:
    if cur is None:
        es = SETS.get(name)
        if es is None:
            raise NotFound(f"no entity set {name!r}", code="not_found")
        where = column(es.rows, "id") == ident if ident is not None else None
        return Target(es, where, ident is not None, ident)
    if cur.prop is not None:
        if name == "$value" and not cur.raw_value and ident is None:
            return Target(cur.es, cur.where, True, cur.ident, cur.parent, cur.prop, True)
        raise BadPath(
            f"nothing follows a property but $value, got {name!r}", option="path", pos=pos
        )
    if not cur.single:
        raise BadPath(f"pick one {cur.es.singular} before {name!r}", option="path", pos=pos)
    link = cur.es.link(name)
    if link is not None:
        target = SETS[link.target]
        where = ids_through(link, target, cur.es, cur.where)
        if ident is not None:
            where = sa.and_(where, column(target.rows, "id") == ident)
        parent = (cur.es, cur.ident, link) if cur.ident is not None else None
        return Target(target, where, not link.many or ident is not None, ident, parent)
    prop = cur.es.prop(name) or (Prop("id", "id") if name in {"id", "@iot.id"} else None)
    if prop is None or ident is not None:
        raise NotFound(f"{cur.es.singular} has no property or link {name!r}", code="not_found")
    return Target(cur.es, cur.where, True, cur.ident, cur.parent, prop)


def _group(expand: tuple[Expand, ...]) -> dict[str, QueryOptions]:
    """``Datastreams/Observations,Datastreams($top=1)`` → {Datastreams: options with expand}."""
    groups: dict[str, tuple[QueryOptions, list[Expand]]] = {}
    for item in expand:
        head, rest = item.path[0], item.path[1:]
        base, nested = groups.get(head, (QueryOptions(), []))
        if rest:
            nested.append(Expand(rest, item.options))
        else:
            base = item.options
        groups[head] = (base, nested)
    out: dict[str, QueryOptions] = {}
    for head, (base, nested) in groups.items():
        out[head] = QueryOptions(
            filter=base.filter,
            orderby=base.orderby,
            select=base.select,
            expand=base.expand + tuple(nested),
            top=base.top,
            skip=base.skip,
            count=base.count,
        )
    return out


def check_expand(es: EntitySet, opts: QueryOptions) -> None:
    """Refuse an $expand naming a link the entity does not have, even when no row is returned."""
    for item in opts.expand:
        current = es
        for name in item.path:
            link = current.link(name)
            if link is None:
                raise StaQueryError(
                    f"{current.singular} has no link {name!r}", option="$expand", pos=0
                )
            current = SETS[link.target]
        check_expand(current, item.options)


class Reader:
    def __init__(
        self, session: Session, *, base: str, now: datetime, default_top: int, max_top: int
    ) -> None:
        self.session = session
        self.base = base
        self.dialect = session.get_bind().dialect.name
        self.now = now
        self.default_top = default_top
        self.max_top = max_top

    def self_link(self, es: EntitySet, ident: int) -> str:
        return f"{self.base}/{es.name}({ident})"

    def _select(self, es: EntitySet, where: Any, opts: QueryOptions) -> sa.Select[Any]:
        stmt = sa.select(es.rows)
        if where is not None:
            stmt = stmt.where(where)
        if opts.filter is not None:
            resolver = EntityResolver(es)
            stmt = stmt.where(
                compile_filter(opts.filter, resolver, dialect=self.dialect, now=self.now)
            )
        return stmt

    def page(
        self, es: EntitySet, where: Any, opts: QueryOptions
    ) -> tuple[list[Any], bool, int | None, int]:
        """Rows of one page, whether more follow, the total (if $count) and the page size."""
        stmt = self._select(es, where, opts)
        total = None
        if opts.count:
            total = self.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
        order = compile_orderby(
            opts.orderby, EntityResolver(es, option="$orderby"), dialect=self.dialect, now=self.now
        )
        top = min(self.default_top if opts.top is None else opts.top, self.max_top)
        rows = list(
            self.session.scalars(
                stmt.order_by(*order, column(es.rows, "id")).offset(opts.skip).limit(top + 1)
            )
        )
        return rows[:top], top > 0 and len(rows) > top, total, top

    def collection(
        self,
        es: EntitySet,
        where: Any,
        opts: QueryOptions,
        next_url: Callable[[int, int], str] | None,
    ) -> dict[str, Any]:
        rows, more, total, top = self.page(es, where, opts)
        body: dict[str, Any] = {}
        if total is not None:
            body["@iot.count"] = total
        body["value"] = [self.dump(es, row, opts) for row in rows]
        if more and next_url is not None:
            body["@iot.nextLink"] = next_url(top, opts.skip + top)
        return body

    def one(self, es: EntitySet, where: Any) -> Any:
        row = self.session.scalars(sa.select(es.rows).where(where).limit(1)).first()
        if row is None:
            raise NotFound(f"no such {es.singular}", code="not_found")
        return row

    def dump(self, es: EntitySet, row: Any, opts: QueryOptions) -> dict[str, Any]:
        sel = set(opts.select)
        link = self.self_link(es, row.id)
        out: dict[str, Any] = {}
        if not sel or sel & {"id", "@iot.id"}:
            out["@iot.id"] = row.id
        if not sel or "@iot.selfLink" in sel:
            out["@iot.selfLink"] = link
        for prop in es.props:
            if not sel or prop.name in sel:
                out[prop.name] = out_value(prop, row)
        expanded = _group(opts.expand)
        for nav in es.links:
            if nav.name in expanded:
                self._expand(es, row, nav, expanded.pop(nav.name), out, link)
            elif not sel or nav.name in sel:
                out[f"{nav.name}@iot.navigationLink"] = f"{link}/{nav.name}"
        if expanded:
            name = next(iter(expanded))
            raise StaQueryError(f"{es.singular} has no link {name!r}", option="$expand", pos=0)
        return out

    def _expand(
        self, es: EntitySet, row: Any, nav: Link, opts: QueryOptions, out: dict[str, Any], link: str
    ) -> None:
        target = SETS[nav.target]
        where = ids_through(nav, target, es, column(es.rows, "id") == row.id)
        if not nav.many:
            child = self.session.scalars(sa.select(target.rows).where(where).limit(1)).first()
            out[nav.name] = None if child is None else self.dump(target, child, opts)
            return
        rows, more, total, top = self.page(target, where, opts)
        if total is not None:
            out[f"{nav.name}@iot.count"] = total
        out[nav.name] = [self.dump(target, child, opts) for child in rows]
        if more and opts.filter is None and not opts.orderby:
            query = urlencode({"$top": top, "$skip": opts.skip + top})
            out[f"{nav.name}@iot.nextLink"] = f"{link}/{nav.name}?{query}"
