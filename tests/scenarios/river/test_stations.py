"""Water-quality stations: placed on the sections, stored as sensing Things with one datastream
per item, made once; and the door refuses an impossible or unknown reading without losing the
good ones around it."""

from __future__ import annotations

from datetime import timedelta

from shapely.geometry import LineString
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.scenarios.river import stations
from cityops.scenarios.river.models import Section, Station
from cityops.sensing import service
from cityops.sensing.models import (
    Datastream,
    Location,
    ObservedProperty,
    Thing,
    ThingLocation,
)
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.sensing.validate import Reason
from cityops.sim.river_feed import station_specs
from tests import citykit
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.river import stationkit
from tests.scenarios.river.stationkit import X0, Y0


def test_stations_are_shared_out_over_a_rivers_sections() -> None:
    # 5 stations on sections of 1, 3 and 2 km: one each, the two extra to the two longest.
    assert stations._shares([1.0, 3.0, 2.0], 5) == [1, 2, 2]
    # 2 stations on 8 sections: every fourth, from the middle of each half.
    assert stations._shares([1.0] * 8, 2) == [0, 0, 1, 0, 0, 0, 1, 0]
    assert stations._shares([], 3) == [] and stations._shares([1.0], 0) == [0]


def test_km_runs_downstream_across_sections_and_their_gaps() -> None:
    # Two 1.1-km sections (0.01° of longitude at 29.5°N) with a 0.01° gap between them.
    west = stations.SectionLine("R-001", "甲段", "R", LineString([(X0, Y0), (X0 + 0.01, Y0)]))
    east = stations.SectionLine(
        "R-002", "乙段", "R", LineString([(X0 + 0.02, Y0), (X0 + 0.03, Y0)])
    )
    planned = stations.plan_stations(sections=[east, west], per_river={"R": 4}, seed=3)
    assert [p.code for p in planned] == ["R-001-S1", "R-001-S2", "R-002-S1", "R-002-S2"]
    assert [p.name for p in planned][:2] == ["甲段1号水质自动站", "甲段2号水质自动站"]
    km = [p.km for p in planned]
    assert km == sorted(km)
    section_km = 0.969  # 0.01° × 111.2 km × cos 29.5°
    assert 0 < km[0] < km[1] < section_km + 0.01
    assert 2 * section_km - 0.01 < km[2] < km[3] < 3 * section_km + 0.01  # past the gap
    assert all(p.lat == Y0 for p in planned)
    again = stations.plan_stations(sections=[west, east], per_river={"R": 4}, seed=3)
    assert again == planned  # deterministic by seed


def test_the_demo_river_gets_two_stations_a_section() -> None:
    line = LineString([(X0, Y0), (X0 + 0.01, Y0)])
    secs = [
        stations.SectionLine(f"{r}-00{i}", "段", r, line) for r in ("LJH", "CJ") for i in (1, 2)
    ]
    assert stations.default_counts(secs) == {"LJH": 4, "CJ": 2}


def _count(session: Session, model: type[object]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def test_each_station_is_a_located_thing_with_a_datastream_per_item(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as s:
        citykit.build(s)
        streams = stationkit.build(s, per_river={"TM": 5})
    with session_factory() as s:
        assert _count(s, Station) == 5 + 5  # TM's 5, and one on each of TZ's 5 sections
        by_section = dict(
            s.execute(
                select(Section.code, func.count(Station.id))
                .join(Station, Station.section_id == Section.id)
                .group_by(Section.code)
            ).all()
        )
        assert by_section["TM-001"] == 2 and by_section["TM-002"] == 1
        assert by_section["TM-003"] == 2  # TM-003 is the longest: it takes an extra one
        station = s.scalars(select(Station).where(Station.code == "TM-003-S2")).one()
        assert station.active and station.name.endswith("2号水质自动站")
        thing = s.get(Thing, station.thing_id)
        assert thing is not None
        assert thing.properties == {"river_station": "TM-003-S2", "section": "TM-003"}
        loc = s.scalars(
            select(Location)
            .join(ThingLocation, ThingLocation.location_id == Location.id)
            .where(ThingLocation.thing_id == thing.id)
        ).one()
        assert (loc.lat, loc.lng) == (station.lat, station.lng)
        ds = s.scalars(select(Datastream).where(Datastream.thing_id == thing.id)).all()
        assert len(ds) == len(stations.ITEMS) == 15
        assert all((d.lat, d.lng) == (station.lat, station.lng) for d in ds)
        assert set(streams["TM-003-S2"]) == set(stations.ITEMS)
        props = {p.name: p for p in s.scalars(select(ObservedProperty))}
        assert props["ph"].properties["valid_range"] == [0.0, 14.0]  # type: ignore[index]
        assert props["do"].properties["valid_range"] == [0.0, 20.0]  # type: ignore[index]
        assert props["turbidity"].properties["valid_range"] == [0.0, 4000.0]  # type: ignore[index]
        found = stations.station_for_thing(session=s, thing_id=thing.id)
        assert found is not None and found.code == "TM-003-S2"
        assert stations.station_for_thing(session=s, thing_id=thing.id + 10_000) is None
        before = (_count(s, Thing), _count(s, Datastream), _count(s, ObservedProperty))
    with session_factory.begin() as s:  # a second run makes nothing new
        assert stations.ensure_stations(session=s, seed=7, per_river={"TM": 5}) == 0
    with session_factory() as s:
        after = (_count(s, Thing), _count(s, Datastream), _count(s, ObservedProperty))
        assert after == before


def test_a_lost_range_is_given_back_on_the_next_run(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as s:
        citykit.build(s)
        stationkit.build(s)
        ph = s.scalars(select(ObservedProperty).where(ObservedProperty.name == "ph")).one()
        ph.properties = {"code": "ph"}
    with session_factory.begin() as s:
        assert stations.ensure_stations(session=s, seed=7) == 0
    with session_factory() as s:
        ph = s.scalars(select(ObservedProperty).where(ObservedProperty.name == "ph")).one()
        assert (ph.properties or {})["valid_range"] == [0.0, 14.0]


def test_out_of_range_readings_are_refused_one_by_one_and_the_rest_kept(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with session_factory.begin() as s:
        citykit.build(s)
        ds = stationkit.build(s)["TZ-002-S1"]
    t = (clock.now() - timedelta(minutes=5)).isoformat()
    batch = [
        [ds["ph"], t, 15.0],  # pH runs 0–14
        [ds["ph"], (clock.now() - timedelta(minutes=4)).isoformat(), 7.2],
        [ds["nh3n"], t, -0.1],  # no negative concentration
        [ds["nh3n"], (clock.now() - timedelta(minutes=4)).isoformat(), 0.3],
        [ds["do"], t, 25.0],  # DO above 20 mg/L is not water
        [ds["turbidity"], t, 5000.0],  # over the local default's 4,000 NTU
        [ds["orp"], t, -150.0],  # ORP may be negative
        [max(ds.values()) + 1000, t, 1.0],  # no such datastream
    ]
    with session_factory.begin() as s:
        result = service.ingest(session=s, readings=batch, clock=clock)
    assert (result.accepted, result.stored) == (3, 3)
    reasons = [(r.index, r.reason) for r in result.rejected]
    assert reasons == [
        (0, Reason.out_of_range), (2, Reason.out_of_range), (4, Reason.out_of_range),
        (5, Reason.out_of_range), (7, Reason.unknown_datastream),
    ]  # fmt: skip
    first = result.rejected[0].message
    assert first.startswith("ph = 15 is outside its physical range [0, 14]")
    assert "nh3n = -0.1" in result.rejected[1].message
    with session_factory() as s:
        kept = s.scalars(select(Stored.result).order_by(Stored.result)).all()
    assert kept == [-150.0, 0.3, 7.2]


def test_the_http_door_explains_each_refused_station_reading(api: Api) -> None:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        ds = stationkit.build(s)["TM-001-S1"]
    now = api.clock.now()
    body = [
        {"datastream_id": ds["ph"], "phenomenon_time": now.isoformat(), "result": 15},
        {"datastream_id": ds["ph"], "phenomenon_time": now.isoformat(), "result": 7.4},
        {"datastream_id": 999_999, "phenomenon_time": now.isoformat(), "result": 7.4},
    ]
    r = api.client.post("/api/v1/observations", json=body, headers=api.headers("admin"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["stored"]) == (1, 1)
    assert [(x["index"], x["reason"]) for x in out["rejected"]] == [
        (0, "out_of_range"), (2, "unknown_datastream"),
    ]  # fmt: skip
    assert "ph = 15" in out["rejected"][0]["message"]
    assert out["rejected"][1]["message"] == "no datastream 999999"
    bad = [{"datastream_id": ds["do"], "phenomenon_time": now.isoformat(), "result": -1}]
    r = api.client.post("/api/v1/observations", json=bad, headers=api.headers("admin"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "all_rejected"


def test_the_simulator_plays_the_stored_stations_downstream_with_their_datastreams(
    session_factory: sessionmaker[Session],
) -> None:
    """The demo feed is built from the station table: every item wired, target from the section."""
    with session_factory.begin() as s:
        citykit.build(s)
        streams = stationkit.build(s, per_river={"TM": 3}, targets="II")
        s.execute(update(Station).where(Station.code == "TZ-002-S1").values(active=False))
    with session_factory() as s:
        specs = station_specs(session=s)
    assert "TZ-002-S1" not in {x.code for x in specs}  # an inactive station sends nothing
    assert len(specs) == 3 + 4
    tm = [x for x in specs if x.river_code == "TM"]
    assert [x.km for x in tm] == sorted(x.km for x in tm)  # upstream first
    first = specs[0]
    assert first.target_class == "II"
    assert dict(first.datastreams) == streams[first.code]
    assert set(first.datastreams) == set(stations.ITEMS)
