"""Water quality over HTTP on both backends: stations with their latest class, sparkline series,
a section's period assessment, the basin table and a river's months, each worked by hand from
the GB 3838-2002 tables; and 4xx (never a 500) for bad dates and unknown codes.

The network is stationkit's: 测试江 TM-001..003 (two stations each here) and 测试溪 TZ-001..005
(one each), every target class III. The clock reads 2026-11-25 09:00 (CST).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.river import stationkit
from tests.scenarios.river.stationkit import Streams, hourly

GB = ("ph", "do", "codmn", "cod", "bod5", "nh3n", "tp", "tn")
NOV20 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)  # 08:00 CST


@pytest.fixture
def river(api: Api) -> tuple[Api, Streams]:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        return api, stationkit.build(s, per_river={"TM": 6})


def get(app: Api, path: str, who: str = "admin") -> Any:
    return app.client.get(f"/api/v1/river{path}", headers=app.headers(who))


def _section_tm001(app: Api, ds: Streams) -> None:
    s1, s2 = ds["TM-001-S1"], ds["TM-001-S2"]
    readings = hourly(
        s1,
        NOV20,
        {"nh3n": [0.8, 1.2] * 5, "do": [6.5] * 10, "ph": [7.0] * 10, "conductivity": [500] * 10},
    )
    # hour 0 of NH3-N at S1 is two readings, 0.6 and 1.0: the hour's mean is 0.8
    readings = [r for r in readings if not (r[0] == s1["nh3n"] and r[1] == NOV20)]
    readings += [(s1["nh3n"], NOV20, 0.6), (s1["nh3n"], NOV20 + timedelta(minutes=30), 1.0)]
    readings += hourly(s2, NOV20, {"nh3n": [1.6] * 4, "do": [4.0] * 10, "ph": [9.4] * 10})
    stationkit.feed(app.ctx.sessions, readings)


def test_a_sections_period_is_its_stations_means_averaged(river: tuple[Api, Streams]) -> None:
    app, ds = river
    _section_tm001(app, ds)
    r = get(app, "/sections/TM-001/quality")
    assert r.status_code == 200, r.text
    q = r.json()
    assert (q["start"], q["end"]) == ("2026-10-27", "2026-11-25")  # the last 30 days
    assert q["section"]["code"] == "TM-001" and q["section"]["target_class"] == "III"
    items = {i["item"]: i for i in q["items"]}
    # NH3-N: S1 (0.8 + 1.2 × 5 + 0.8 × 4)/10 = 1.0, S2 1.6 (4 hours); (1.0 + 1.6)/2 = 1.3 → IV
    assert (items["nh3n"]["mean"], items["nh3n"]["water_class"]) == (1.3, "IV")
    assert items["nh3n"]["hours"] == 14
    # DO (6.5 + 4.0)/2 = 5.25 → III (5 ≤ 5.25 < 6); pH (7.0 + 9.4)/2 = 8.2 → I, passes 6–9
    assert (items["do"]["mean"], items["do"]["water_class"]) == (5.25, "III")
    assert (items["ph"]["mean"], items["ph"]["water_class"], items["ph"]["passed"]) == (
        8.2, "I", True,
    )  # fmt: skip
    assert items["conductivity"] == {
        "item": "conductivity", "name": "电导率", "unit": "µS/cm", "mean": 500.0, "hours": 10,
        "water_class": None, "counted": False, "passed": None,
    }  # fmt: skip
    assert items["cod"]["mean"] is None and items["cod"]["hours"] == 0
    assert (q["water_class"], q["grade"]) == ("IV", "轻度污染")
    assert q["attainment"] == {
        "target_class": "III", "attained": False, "gap": 1, "phrase": "劣于III类",
    }  # fmt: skip
    # NH3-N vs class III: (1.3 − 1.0)/1.0 = 0.3; DO is III, no worse than the target
    assert q["main_pollutants"] == [
        {"item": "nh3n", "name": "氨氮", "water_class": "IV", "multiple": 0.3}
    ]
    s1, s2 = q["stations"]
    assert (s1["code"], s1["water_class"], s1["grade"]) == ("TM-001-S1", "III", "良好")
    assert s1["main_pollutants"] == []
    # S2: pH 9.4 → 劣V (fails 6–9), NH3-N 1.6 → V ((1.6 − 1.0)/1.0 = 0.6), DO 4 → IV
    assert (s2["water_class"], s2["grade"]) == ("劣V", "重度污染")
    assert [(p["item"], p["water_class"], p["multiple"]) for p in s2["main_pollutants"]] == [
        ("ph", "劣V", None), ("nh3n", "V", 0.6), ("do", "IV", None),
    ]  # fmt: skip
    ph2 = next(i for i in s2["items"] if i["item"] == "ph")
    assert (ph2["passed"], ph2["hours"]) == (False, 10)
    assert s1["km"] < s2["km"]
    # A period after the readings has no class, and no attainment to judge.
    later = get(app, "/sections/TM-001/quality?from=2026-11-21&to=2026-11-25").json()
    assert (later["water_class"], later["grade"], later["attainment"]) == (None, None, None)
    assert all(i["mean"] is None for i in later["items"])


def test_bad_periods_unknown_sections_and_scope_are_4xx(river: tuple[Api, Streams]) -> None:
    app, _ = river
    r = get(app, "/sections/TM-001/quality?from=2026-13-01")
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    r = get(app, "/sections/TM-001/quality?from=2026-11-20&to=2026-11-01")
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_period"
    r = get(app, "/sections/TM-001/quality?from=2020-01-01&to=2026-11-01")
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_period"
    r = get(app, "/sections/NOPE-001/quality")
    assert r.status_code == 404 and r.json()["error"]["code"] == "section_not_found"
    r = get(app, "/sections/TM-001/quality", "street2")
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_jurisdiction"
    r = get(app, "/basin", "resident")
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    r = get(app, "/basin?to=yesterday")
    assert r.status_code == 422


def test_stations_carry_their_latest_values_and_class(river: tuple[Api, Streams]) -> None:
    app, ds = river
    now = app.clock.now()
    s1, s2 = ds["TM-001-S1"], ds["TM-001-S2"]
    stationkit.feed(
        app.ctx.sessions,
        [
            (s1["nh3n"], now - timedelta(hours=2), 1.9),  # superseded by the next
            (s1["nh3n"], now - timedelta(hours=1), 0.4),  # II (0.15 < 0.4 ≤ 0.5)
            (s1["do"], now - timedelta(hours=1), 8.0),  # I (≥ 7.5)
            (s1["ph"], now - timedelta(hours=1), 7.0),  # I
            (s2["nh3n"], now - timedelta(minutes=30), 2.5),  # 劣V (> 2.0)
        ],
    )
    r = get(app, "/stations?river=TM")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 6 and [s["code"] for s in body["items"]][:2] == [
        "TM-001-S1", "TM-001-S2",
    ]  # fmt: skip
    first, second = body["items"][:2]
    assert (first["latest_class"], first["latest_grade"], first["attained"]) == ("II", "优", True)
    assert (second["latest_class"], second["attained"]) == ("劣V", False)
    assert first["river_name"] == "测试江" and first["target_class"] == "III"
    assert first["latest_time"].startswith("2026-11-25T00:00:00")
    values = {v["item"]: v for v in first["values"]}
    assert len(values) == 15
    assert values["nh3n"]["value"] == 0.4 and values["nh3n"]["water_class"] == "II"
    assert values["nh3n"]["datastream_id"] == s1["nh3n"] and values["nh3n"]["unit"] == "mg/L"
    assert values["cod"]["value"] is None and values["cod"]["time"] is None
    assert values["turbidity"]["water_class"] is None
    quiet = body["items"][2]
    assert quiet["latest_class"] is None and quiet["attained"] is None
    assert quiet["latest_time"] is None
    every = get(app, "/stations").json()
    assert every["total"] == 6 + 5
    east = get(app, "/stations", "street2").json()  # 500107002: TM-002 and TZ-002, TZ-004
    assert sorted(s["section_code"] for s in east["items"]) == [
        "TM-002", "TM-002", "TZ-002", "TZ-004",
    ]  # fmt: skip
    r = get(app, "/stations?river=NOPE")
    assert r.status_code == 404 and r.json()["error"]["code"] == "river_not_found"


def test_a_series_is_raw_when_short_and_bucketed_when_long(river: tuple[Api, Streams]) -> None:
    app, ds = river
    now = app.clock.now()
    nh3n = ds["TZ-001-S1"]["nh3n"]
    # 300 readings, one every 5 minutes, the newest a minute ago: 0.1, 0.2, 0.3, 0.1, ...
    start = now - timedelta(minutes=1 + 5 * 299)
    stationkit.feed(
        app.ctx.sessions,
        [(nh3n, start + timedelta(minutes=5 * k), 0.1 * (k % 3 + 1)) for k in range(300)],
    )
    short = get(app, "/stations/TZ-001-S1/series?item=nh3n&hours=2").json()
    assert short["step_seconds"] is None and short["unit"] == "mg/L"
    assert len(short["points"]) == 24  # every 5 minutes over the last 2 hours
    assert [p["v"] for p in short["points"][-3:]] == [0.1, 0.2, 0.3]  # k = 297, 298, 299
    long = get(app, "/stations/TZ-001-S1/series?item=nh3n").json()  # 48 h: 300 > 240 points
    assert long["step_seconds"] == 720  # 48 h / 240 = 12 minutes
    times = [p["t"] for p in long["points"]]
    assert times == sorted(times) and 100 <= len(times) <= 240
    assert all(0.1 <= p["v"] <= 0.3 for p in long["points"])
    hours = get(app, "/stations/TZ-001-S1/series?item=nh3n&hours=200").json()
    assert hours["step_seconds"] == 3600  # beyond 3 days: hourly means
    assert 25 <= len(hours["points"]) <= 26
    assert sum(p["v"] for p in hours["points"]) / len(hours["points"]) == pytest.approx(
        0.2, abs=0.01
    )
    r = get(app, "/stations/TZ-001-S1/series?item=xyz")
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_item"
    r = get(app, "/stations/TZ-001-S1/series?item=nh3n&hours=0")
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    r = get(app, "/stations/NOPE/series?item=nh3n")
    assert r.status_code == 404 and r.json()["error"]["code"] == "station_not_found"
    r = get(app, "/stations/TZ-001-S1/series?item=nh3n", "street2")
    assert r.status_code == 403


def _basin_data(app: Api, ds: Streams, day: datetime) -> None:
    tz = {"TZ-001-S1": 0.1, "TZ-002-S1": 0.4, "TZ-003-S1": 0.9, "TZ-004-S1": 1.4, "TZ-005-S1": 2.5}
    tm = {"TM-001-S1": 0.4, "TM-001-S2": 0.6, "TM-002-S1": 1.2}
    stationkit.feed(
        app.ctx.sessions,
        [r for code, v in {**tz, **tm}.items() for r in hourly(ds[code], day, {"nh3n": [v] * 3})],
    )


def test_the_basin_table_grades_each_river_by_its_rule(river: tuple[Api, Streams]) -> None:
    app, ds = river
    _basin_data(app, ds, NOV20)
    r = get(app, "/basin")
    assert r.status_code == 200, r.text
    b = r.json()
    tm, tz = b["rivers"]
    # TM: TM-001 (0.4 + 0.6)/2 = 0.5 → II; TM-002 1.2 → IV; TM-003 has no data. Two assessed
    # sections (< 5): average (0.5 + 1.2)/2 = 0.85 → III, 良好. One (TM-001) meets III.
    assert tm == {
        "code": "TM", "name": "测试江", "sections": 3, "assessed": 2,
        "class_counts": {"I": 0, "II": 1, "III": 0, "IV": 1, "V": 0, "劣V": 0},
        "good_share": 0.5, "worst_share": 0.0, "method": "average", "water_class": "III",
        "grade": "良好", "attained": 1,
    }  # fmt: skip
    # TZ: 0.1 I, 0.4 II, 0.9 III, 1.4 IV, 2.5 劣V; five sections: the share rule. I–III 3/5 =
    # 60 % < 75 %, 劣V 1/5 = 20 % (not under 20 %) → 中度污染; three meet III.
    assert (tz["method"], tz["grade"], tz["water_class"], tz["attained"]) == (
        "share", "中度污染", None, 3,
    )  # fmt: skip
    assert (tz["good_share"], tz["worst_share"]) == (0.6, 0.2)
    # Basin: 8 sections, 7 assessed: I–III 4/7 = 57 %, 劣V 1/7 = 14 % < 20 % → 轻度污染
    whole = b["basin"]
    assert (whole["sections"], whole["assessed"], whole["method"]) == (8, 7, "share")
    assert (whole["grade"], whole["good_share"], whole["attained"]) == ("轻度污染", 0.5714, 4)
    # The west street (500107001) sees TM-001 and TZ-001, -003, -005 only: TM one section (II,
    # 优); TZ three (< 5): average (0.1 + 0.9 + 2.5)/3 = 1.1667 → IV, 轻度污染.
    west = {row["code"]: row for row in get(app, "/basin", "street").json()["rivers"]}
    assert (west["TM"]["sections"], west["TM"]["water_class"], west["TM"]["grade"]) == (
        1, "II", "优",
    )  # fmt: skip
    assert (west["TZ"]["method"], west["TZ"]["water_class"], west["TZ"]["grade"]) == (
        "average", "IV", "轻度污染",
    )  # fmt: skip
    empty = get(app, "/basin?from=2026-11-21").json()["basin"]
    assert (empty["assessed"], empty["method"], empty["grade"]) == (0, None, None)


def test_a_rivers_trend_is_graded_month_by_month(river: tuple[Api, Streams]) -> None:
    app, ds = river
    _basin_data(app, ds, NOV20)
    oct15 = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)
    stationkit.feed(
        app.ctx.sessions,
        [r for n in range(1, 6) for r in hourly(ds[f"TZ-00{n}-S1"], oct15, {"nh3n": [1.8] * 2})],
    )
    r = get(app, "/trends?river=TZ&months=3")
    assert r.status_code == 200, r.text
    t = r.json()
    assert (t["river_code"], t["river_name"]) == ("TZ", "测试溪")
    assert [i["item"] for i in t["items"]] == [
        "ph",
        "do",
        "codmn",
        "cod",
        "bod5",
        "nh3n",
        "tp",
        "tn",
    ]
    sep, oct_, nov = t["months"]
    assert sep == {
        "month": "2026-09", "assessed": 0, "method": None, "water_class": None, "grade": None,
        "good_share": None, "means": dict.fromkeys(GB),
    }  # fmt: skip
    # October: five sections all V (1.5 < 1.8 ≤ 2.0): I–III 0 %, 劣V 0 % < 20 % → 轻度污染
    assert (oct_["month"], oct_["method"], oct_["grade"], oct_["means"]["nh3n"]) == (
        "2026-10", "share", "轻度污染", 1.8,
    )  # fmt: skip
    # November: as the basin table; mean NH3-N (0.1 + 0.4 + 0.9 + 1.4 + 2.5)/5 = 1.06
    assert (nov["grade"], nov["means"]["nh3n"]) == ("中度污染", 1.06)
    tm = get(app, "/trends?river=TM&months=1").json()["months"]
    assert [(m["month"], m["method"], m["water_class"], m["grade"]) for m in tm] == [
        ("2026-11", "average", "III", "良好"),
    ]  # fmt: skip
    r = get(app, "/trends?river=TZ&months=0")
    assert r.status_code == 422
    r = get(app, "/trends?river=NOPE")
    assert r.status_code == 404 and r.json()["error"]["code"] == "river_not_found"
    r = get(app, "/trends")
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
