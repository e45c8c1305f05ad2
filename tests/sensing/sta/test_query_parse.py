"""The STA query option parser: real examples from OGC 18-088 and clear errors with a position."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.sensing.sta.ast import Binary, Call, Geometry, Literal, Path, StaQueryError, Unary
from cityops.sensing.sta.filter import parse_filter
from cityops.sensing.sta.options import parse_options

SPEC_FILTERS = [
    "result lt 10.00",
    "Datastream/Thing/name eq 'Thing 1'",
    "result le 3.5 and FeatureOfInterest/id eq 1",
    "Datastream/ObservedProperty/name eq 'Temperature'",
    "Observations/result gt 20",
    "phenomenonTime ge 2016-06-01T00:00:00.000Z and phenomenonTime lt 2016-07-01T00:00:00Z",
    "substringof('room', name)",
    "endswith(description, 'room')",
    "startswith(description, 'Sensor')",
    "length(description) eq 13",
    "indexof(description, 'Sensor') eq 1",
    "substring(description, 1) eq 'ensor Things'",
    "substring(description, 2, 1) eq 'n'",
    "tolower(description) eq 'sensor things'",
    "toupper(description) eq 'SENSOR THINGS'",
    "trim(description) eq 'Sensor Things'",
    "concat(concat(unitOfMeasurement/symbol, ', '), unitOfMeasurement/name) eq 'degree, Celsius'",
    "year(resultTime) eq 2015",
    "month(resultTime) eq 12",
    "day(resultTime) eq 8",
    "hour(resultTime) eq 23",
    "minute(resultTime) eq 23",
    "second(resultTime) eq 23",
    "fractionalseconds(resultTime) eq 0",
    "date(resultTime) ne date(validTime)",
    "time(resultTime) le 23:59:59",
    "totaloffsetminutes(resultTime) eq 60",
    "resultTime ge now()",
    "resultTime eq mindatetime()",
    "resultTime eq maxdatetime()",
    "round(result) eq 32",
    "floor(result) eq 32",
    "ceiling(result) eq 33",
    "geo.distance(location, geography'POINT(-122 43)') gt 1",
    "geo.length(geography'LINESTRING(7.5 51.5, 7.5 53.5)') eq 1",
    "geo.intersects(location, geography'LINESTRING(7.5 51.5, 7.5 53.5)')",
    "st_equals(location, geography'POINT(-122 43)')",
    "st_disjoint(location, geography'POLYGON((7.5 51.5, 7.5 53.5, 8 53.5, 7.5 51.5))')",
    "st_touches(location, geography'LINESTRING(7.5 51.5, 7.5 53.5)')",
    "st_within(location, geography'POLYGON((7.5 51.5, 7.5 53.5, 8 53.5, 7.5 51.5))')",
    "st_overlaps(location, geography'POLYGON((7.5 51.5, 7.5 53.5, 8 53.5, 7.5 51.5))')",
    "st_crosses(location, geography'LINESTRING(7.5 51.5, 7.5 53.5)')",
    "st_intersects(location, geography'LINESTRING(7.5 51.5, 7.5 53.5)')",
    "st_contains(location, geography'POINT(7.5 52.75)')",
    "st_relate(location, geography'POLYGON((7.5 51.5, 7.5 53.5, 8 53.5, 7.5 51.5))', 'T********')",
    "result add 5 eq 10",
    "result sub 5 eq 10",
    "result mul 2 eq 10",
    "result div 2 eq 10",
    "result mod 2 eq 1",
    "(result add 5) mul 2 gt 3 or not (result eq 4)",
    "properties/owner eq 'Mr. Smith'",
]


@pytest.mark.parametrize("text", SPEC_FILTERS)
def test_every_spec_example_parses(text: str) -> None:
    assert parse_filter(text) is not None


def test_precedence_and_binds_tighter_than_or_and_arithmetic_tighter_than_comparison() -> None:
    tree = parse_filter("a eq 1 or b add 2 mul 3 gt 4 and not c")
    assert isinstance(tree, Binary) and tree.op == "or"
    right = tree.right
    assert isinstance(right, Binary) and right.op == "and"
    gt = right.left
    assert isinstance(gt, Binary) and gt.op == "gt"
    add = gt.left
    assert isinstance(add, Binary) and add.op == "add"
    assert isinstance(add.right, Binary) and add.right.op == "mul"
    assert isinstance(right.right, Unary) and right.right.op == "not"


def test_literals_are_typed() -> None:
    tree = parse_filter("name eq 'O''Neil' and t gt 2016-06-01T08:00:00+08:00")
    assert isinstance(tree, Binary)
    name_eq, time_gt = tree.left, tree.right
    assert isinstance(name_eq, Binary) and name_eq.right == Literal("O'Neil", name_eq.right.kind, 8)
    assert isinstance(time_gt, Binary) and isinstance(time_gt.right, Literal)
    assert time_gt.right.value == datetime(2016, 6, 1, 0, 0, tzinfo=UTC)
    values = [
        parse_filter(t)
        for t in ("-1.5e2", "42", "true", "null", "2016-06-01", "duration'P1DT2H'", "12:30:00")
    ]
    assert [v.value for v in values if isinstance(v, Literal)] == [
        -150.0, 42, True, None, date(2016, 6, 1), timedelta(days=1, hours=2),
        datetime(1, 1, 1, 12, 30).time(),
    ]  # fmt: skip


def test_paths_and_geography() -> None:
    tree = parse_filter("st_within(Locations/location, geography'POLYGON((0 0, 1 0, 1 1, 0 0))')")
    assert isinstance(tree, Call) and tree.name == "st_within"
    path, shape = tree.args
    assert path == Path(("Locations", "location"), 10)
    assert isinstance(shape, Literal) and isinstance(shape.value, Geometry)
    assert shape.value.kind == "POLYGON" and len(shape.value.rings[0]) == 4


@pytest.mark.parametrize(
    ("text", "pos", "fragment"),
    [
        ("result gt", 9, "ends too early"),
        ("result gt 5 )", 12, "unexpected ')'"),
        ("name eq 'abc", 8, "unterminated string"),
        ("frob(name) eq 1", 0, "unknown function 'frob'"),
        ("substringof('a') eq 1", 0, "takes 2 arguments, got 1"),
        ("result gt # 5", 10, "unexpected character '#'"),
        ("(result gt 5", 12, "expected ')'"),
        ("eq 5", 0, "needs an operand"),
        ("st_within(location, geography'POLYGON((0 0, 1 1))')", 20, "bad literal"),
        ("t gt 2016-13-01T00:00:00Z", 5, "bad literal"),
    ],
)
def test_errors_say_what_and_where(text: str, pos: int, fragment: str) -> None:
    with pytest.raises(StaQueryError) as err:
        parse_filter(text)
    assert err.value.pos == pos
    assert fragment in err.value.message
    assert err.value.status == 400


def test_expand_nests_with_its_own_options() -> None:
    options = parse_options(
        {
            "$expand": "Datastreams($filter=name eq 'a;b';$top=2;$orderby=id desc;"
            "$expand=Observations($select=result;$top=1)),Locations",
            "$top": "5",
            "$skip": "10",
            "$count": "true",
            "$select": "id,name,@iot.id",
            "$orderby": "name asc, geo.distance(location, geography'POINT(1 2)') desc",
        }
    )
    assert (options.top, options.skip, options.count) == (5, 10, True)
    assert options.select == ("id", "name", "@iot.id")
    assert [o.descending for o in options.orderby] == [False, True]
    ds, loc = options.expand
    assert ds.path == ("Datastreams",) and loc.path == ("Locations",)
    assert ds.options.top == 2 and ds.options.orderby[0].descending
    assert isinstance(ds.options.filter, Binary)
    assert ds.options.filter.right == Literal("a;b", ds.options.filter.right.kind, 8)
    (obs,) = ds.options.expand
    assert obs.path == ("Observations",) and obs.options.select == ("result",)
    assert obs.options.top == 1


def test_expand_path_form() -> None:
    (item,) = parse_options({"$expand": "Datastreams/Observations"}).expand
    assert item.path == ("Datastreams", "Observations")


@pytest.mark.parametrize(
    ("params", "option", "fragment"),
    [
        ({"$top": "-1"}, "$top", "non-negative integer"),
        ({"$skip": "x"}, "$skip", "non-negative integer"),
        ({"$count": "yes"}, "$count", "true or false"),
        ({"$frobnicate": "1"}, "$frobnicate", "unknown query option"),
        ({"$expand": "Datastreams($top=2"}, "$expand", "unbalanced '('"),
        ({"$expand": "Datastreams($top)"}, "$expand", "expected $option=value"),
        ({"$orderby": "name sideways"}, "$orderby", "expected ',' or the end"),
        ({"$select": "name,"}, "$select", "bad property name"),
        ({"$filter": ""}, "$filter", "empty expression"),
    ],
)
def test_option_errors(params: dict[str, str], option: str, fragment: str) -> None:
    with pytest.raises(StaQueryError) as err:
        parse_options(params)
    assert err.value.option == option
    assert fragment in err.value.message


ALPHABET = st.sampled_from(
    [
        *"()',;=/ -.:0123456789eEZTPDHMSabcdgilnoqrstxy$@",
        *("eq", " and ", " or ", "not ", "geography'", "POINT(1 2)", "duration'", "$top="),
        "substringof(",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=30).map("".join))
def test_any_text_parses_or_fails_with_a_positioned_400(text: str) -> None:
    for parse in (parse_filter, lambda t: parse_options({"$expand": t, "$orderby": t})):
        try:
            parse(text)
        except StaQueryError as exc:
            assert exc.status == 400
            assert exc.pos is None or 0 <= exc.pos <= len(text) + 1
