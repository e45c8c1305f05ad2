"""Where a $filter/$orderby property path lives in SQL, for one entity set.

``name`` is a column; ``properties/owner`` and ``unitOfMeasurement/symbol`` read a JSON member
(compared as text); ``Datastream/Thing/name`` walks to-one links with correlated scalar
subqueries. A condition through a to-many link (``Datastreams/name eq 'x'`` on Things) means
"any": it holds when at least one linked row matches (an EXISTS).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from cityops.sensing.sta.ast import Path, StaQueryError
from cityops.sensing.sta.geo import GeoRef
from cityops.sensing.sta.schema import SETS, EntitySet, column, correlated
from cityops.sensing.sta.sql import Resolver, SqlExpr, Wrap


class EntityResolver:
    def __init__(self, es: EntitySet, row: Any = None, option: str = "$filter") -> None:
        self.es = es
        self.row = es.rows if row is None else row
        self.option = option

    def _error(self, message: str, path: Path) -> StaQueryError:
        return StaQueryError(message, option=self.option, pos=path.pos)

    def column(self, path: Path) -> SqlExpr:
        head, *rest = path.segments
        if head in {"id", "@iot.id"} and not rest:
            return column(self.row, "id")
        prop = self.es.prop(head)
        if prop is not None:
            col = column(self.row, prop.attr)
            if not rest:
                if prop.kind in {"json", "geojson"}:
                    raise self._error(f"{head!r} is an object: name one of its members", path)
                return col
            if prop.kind != "json":
                raise self._error(f"{head!r} has no member {'/'.join(rest)!r}", path)
            member: SqlExpr = col[tuple(rest) if len(rest) > 1 else rest[0]].as_string()
            return member
        link = self.es.link(head)
        if link is None:
            raise self._error(f"{self.es.singular} has no property {head!r}", path)
        if link.many or not rest:
            raise self._error(f"filtering through the to-many link {head!r} is not supported", path)
        target = SETS[link.target]
        inner = aliased(target.rows)
        sub = EntityResolver(target, inner, self.option).column(
            Path(tuple(rest), path.pos + len(head) + 1)
        )
        return sa.select(sub).where(correlated(link, self.row, inner)).scalar_subquery()

    def through_many(self, path: Path) -> tuple[Resolver, Wrap] | None:
        head, *rest = path.segments
        link = self.es.link(head)
        if link is None or not link.many or not rest:
            return None
        target = SETS[link.target]
        inner = aliased(target.rows)
        outer = self.row

        def wrap(condition: SqlExpr) -> SqlExpr:
            return sa.exists(
                sa.select(sa.literal(1))
                .select_from(inner)
                .where(correlated(link, outer, inner), condition)
            )

        return EntityResolver(target, inner, self.option), wrap

    def geo(self, path: Path) -> GeoRef:
        text = path.text
        name = self.es.name
        if (name, text) in {("Locations", "location"), ("Datastreams", "observedArea")} or (
            name == "Datastreams" and text == "Thing/Locations/location"
        ):
            return GeoRef(lat=column(self.row, "lat"), lng=column(self.row, "lng"))
        raise self._error(f"{text!r} is not a location property of {self.es.name}", path)
