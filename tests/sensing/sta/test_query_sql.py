"""$filter and $orderby compiled to SQL give the same rows on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from cityops.sensing.models import EpochTime
from cityops.sensing.sta.ast import StaQueryError
from cityops.sensing.sta.filter import parse_filter
from cityops.sensing.sta.geo import GeoRef
from cityops.sensing.sta.options import parse_orderby
from cityops.sensing.sta.sql import ColumnMap, compile_filter, compile_orderby
from cityops.store.base import UtcDateTime

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
meta = sa.MetaData()
sample = sa.Table(
    "sta_query_sample",
    meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100)),
    sa.Column("description", sa.String(200)),
    sa.Column("result", sa.Float),
    sa.Column("count", sa.Integer),
    sa.Column("active", sa.Boolean),
    sa.Column("phenomenon_time", UtcDateTime()),
    sa.Column("lat", sa.Float),
    sa.Column("lng", sa.Float),
    sa.Column("epoch_time", EpochTime()),
)
ROWS = [
    # Shanghai-ish points; times in UTC
    (1, "gas tank 1", "Sensor Things", 32.4, 7, True, datetime(2015, 12, 8, 23, 23, 23, 500000), 31.2304, 121.4737),  # noqa: E501
    (2, "gas tank 2", "  padded  ", 12.5, 2, False, datetime(2026, 1, 10, 11, 0, 0), 31.2400, 121.4800),  # noqa: E501
    (3, "Manhole O'Neil", "tilt", -3.5, 0, True, datetime(2026, 1, 9, 6, 30, 0), 31.3000, 121.6000),
    (4, "bridge", None, None, None, None, datetime(2020, 6, 1, 0, 0, 0), 29.5630, 106.5516),
]  # fmt: skip


@pytest.fixture
def table(engine: Engine) -> Iterator[Engine]:
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.delete(sample))
        conn.execute(
            sa.insert(sample),
            [
                dict(zip([c.name for c in sample.columns][:9], r, strict=True))
                | {
                    "phenomenon_time": r[6].replace(tzinfo=UTC),
                    "epoch_time": r[6].replace(tzinfo=UTC),
                }
                for r in ROWS
            ],
        )
    yield engine
    meta.drop_all(engine)


RESOLVER = ColumnMap(
    {
        "id": sample.c.id,
        "@iot.id": sample.c.id,
        "name": sample.c.name,
        "description": sample.c.description,
        "result": sample.c.result,
        "count": sample.c.count,
        "active": sample.c.active,
        "phenomenonTime": sample.c.phenomenon_time,
        "epochTime": sample.c.epoch_time,
    },
    {"location": GeoRef(lat=sample.c.lat, lng=sample.c.lng)},
)


def ids(engine: Engine, text: str) -> list[int]:
    where = compile_filter(parse_filter(text), RESOLVER, dialect=engine.dialect.name, now=NOW)
    with engine.connect() as conn:
        return list(conn.scalars(sa.select(sample.c.id).where(where).order_by(sample.c.id)))


CASES = [
    ("result lt 10.00", [3]),
    ("result gt 10 and result lt 20", [2]),
    ("result eq null", [4]),
    ("result ne null", [1, 2, 3]),
    ("not (result gt 0)", [3]),
    ("active eq true", [1, 3]),
    ("active", [1, 3]),
    ("name eq 'Manhole O''Neil'", [3]),
    ("result add 2.6 eq 35", [1]),
    ("result sub 2.5 eq 10", [2]),
    ("result mul 2 eq 25", [2]),
    ("result div 2 eq 6.25", [2]),
    ("count mod 5 eq 2", [1, 2]),
    ("-3.5 eq result", [3]),
    ("(result add 0.5) mul 2 gt 60 or id eq 4", [1, 4]),
    ("substringof('tank', name)", [1, 2]),
    ("contains(name, 'Tank')", []),
    ("startswith(name, 'gas')", [1, 2]),
    ("endswith(name, 'Neil')", [3]),
    ("endswith(name, 'a very long suffix than name')", []),
    ("length(description) eq 13", [1]),
    ("indexof(description, 'Things') eq 7", [1]),
    ("substring(description, 1) eq 'ensor Things'", [1]),
    ("substring(description, 2, 1) eq 'n'", [1]),
    ("tolower(description) eq 'sensor things'", [1]),
    ("toupper(name) eq 'BRIDGE'", [4]),
    ("trim(description) eq 'padded'", [2]),
    ("concat(concat(name, ': '), description) eq 'gas tank 1: Sensor Things'", [1]),
    ("year(phenomenonTime) eq 2015", [1]),
    ("month(phenomenonTime) eq 12 and day(phenomenonTime) eq 8", [1]),
    ("hour(phenomenonTime) eq 23 and minute(phenomenonTime) eq 23", [1]),
    ("second(phenomenonTime) eq 23", [1]),
    ("fractionalseconds(phenomenonTime) gt 0.4", [1]),
    ("date(phenomenonTime) eq 2026-01-09", [3]),
    ("time(phenomenonTime) eq 06:30:00", [3]),
    ("totaloffsetminutes(phenomenonTime) eq 0", [1, 2, 3, 4]),
    ("phenomenonTime ge 2026-01-10T18:00:00+08:00", [2]),  # 10:00 UTC
    ("phenomenonTime gt 2015-12-08T23:23:23Z and phenomenonTime lt 2016-01-01T00:00:00Z", [1]),
    ("phenomenonTime gt now() sub duration'P1D'", [2]),
    ("phenomenonTime add duration'PT2H' gt now()", [2]),
    ("phenomenonTime gt mindatetime() and phenomenonTime lt maxdatetime()", [1, 2, 3, 4]),
    ("round(result) eq 32", [1]),
    ("round(result) eq 13", [2]),
    ("floor(result) eq -4", [3]),
    ("ceiling(result) eq 33", [1]),
    # geo: metres, haversine; (lng lat) in WKT
    ("geo.distance(location, geography'POINT(121.4737 31.2304)') lt 1", [1]),
    ("geo.distance(location, geography'POINT(121.4737 31.2304)') lt 1500", [1, 2]),
    ("geo.distance(location, geography'POINT(121.4737 31.2304)') gt 1000000", [4]),
    ("st_within(location, geography'POLYGON((121 31, 122 31, 122 31.25, 121 31.25, 121 31))')", [1, 2]),  # noqa: E501
    (
        "st_within(location, geography'POLYGON((121 31, 122 31, 122 31.5, 121 31.5, 121 31), "
        "(121.47 31.22, 121.49 31.22, 121.49 31.25, 121.47 31.25, 121.47 31.22))')",
        [3],
    ),
    ("st_intersects(location, geography'POLYGON((121.5 31.2, 121.7 31.4, 121.5 31.4, 121.5 31.2))')", [3]),  # noqa: E501
    ("geo.intersects(location, geography'POINT(106.5516 29.563)')", [4]),
    ("st_equals(location, geography'POINT(106.5516 29.563)')", [4]),
    ("st_contains(location, geography'POINT(106.5516 29.563)')", [4]),
    ("st_contains(geography'POLYGON((100 20, 110 20, 110 30, 100 30, 100 20))', location)", [4]),
    ("st_disjoint(location, geography'POLYGON((100 20, 110 20, 110 30, 100 30, 100 20))')", [1, 2, 3]),  # noqa: E501
    ("st_overlaps(location, geography'POLYGON((100 20, 110 20, 110 30, 100 30, 100 20))')", []),
    ("geo.length(location) eq 0", [1, 2, 3, 4]),
    # constants on both sides are decided in Python
    ("1 lt 2 and 'a' eq 'a' and null eq null", [1, 2, 3, 4]),
    ("2016-01-01 gt 2017-01-01 or null ne null or null lt 1", []),
    ("result lt 99999999999999999999999 mul 10 and count lt 9223372036854775808", [1, 2, 3]),
    ("geo.length(geography'LINESTRING(121 31, 121 32)') gt 111000", [1, 2, 3, 4]),
]  # fmt: skip


# The same time conditions on a column kept as integer microseconds (the observation table's
# EpochTime on SQLite) must select the same rows.
CASES += [(t.replace("phenomenonTime", "epochTime"), e) for t, e in CASES if "phenomenonTime" in t]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_filter_selects_the_right_rows(table: Engine, text: str, expected: list[int]) -> None:
    assert ids(table, text) == expected


def test_orderby_several_keys_and_by_distance(table: Engine) -> None:
    order = compile_orderby(
        parse_orderby("active desc, geo.distance(location, geography'POINT(121.6 31.3)') asc"),
        RESOLVER,
        dialect=table.dialect.name,
        now=NOW,
    )
    with table.connect() as conn:
        got = list(
            conn.scalars(
                sa.select(sample.c.id).where(sample.c.active.is_not(None)).order_by(*order)
            )
        )
    assert got == [3, 1, 2]


@pytest.mark.parametrize(
    ("text", "fragment", "pos"),
    [
        ("colour eq 'red'", "unknown property 'colour'", 0),
        ("geo.distance(name, geography'POINT(1 2)') lt 3", "not a location property", 13),
        (
            "geo.distance(location, geography'POLYGON((0 0, 1 0, 1 1, 0 0))') lt 3",
            "needs a POINT",
            23,
        ),
        ("geo.distance(location, 5) lt 3", "needs a location property", 0),
        ("st_relate(location, geography'POINT(1 2)', 'T********')", "not supported", 0),
        ("st_touches(location, geography'POINT(1 2)')", "not supported", 0),
        ("st_intersects(location, geography'LINESTRING(1 2, 3 4)')", "not supported", 0),
        ("result add duration'P1D' gt 2", "a duration can only be added", 7),
        ("name eq geography'POINT(1 2)'", "belongs inside a geo function", 8),
        ("10:00:00 lt true", "cannot compare", 9),
        ("phenomenonTime gt mindatetime() sub duration'P1D'", "out of range", 32),
        ("not name", "not needs a condition", 0),
        ("name add 1 eq 2", "add needs numbers", 5),
        ("active gt true", "compare only with eq and ne", 7),
        ("(result gt 1) mul 2 eq 2", "mul needs numbers", 14),
        ("phenomenonTime mod 2 eq 2", "mod needs numbers", 15),
    ],
)
def test_compile_errors_point_at_the_problem(
    table: Engine, text: str, fragment: str, pos: int
) -> None:
    with pytest.raises(StaQueryError) as err:
        ids(table, text)
    assert fragment in err.value.message
    assert err.value.pos == pos
