"""The real ``frost-sta-client`` against a real uvicorn server: create, observe, query back."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import frost_sta_client as fsc
import geojson
import pytest
import uvicorn
from sqlalchemy import Engine

from cityops.api.app import create_app
from cityops.clock import FakeClock
from tests import citykit
from tests.sensing.sta.conftest import NOW, make_ctx


@pytest.fixture
def server(engine: Engine, sta_clock: FakeClock) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(make_ctx(engine, sta_clock))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/sta/v1.1"
    srv.should_exit = True
    thread.join(timeout=10)


# The client itself calls furl's deprecated ``pathstr`` when it builds query URLs.
@pytest.mark.filterwarnings("ignore:furl.pathstr is deprecated:DeprecationWarning")
def test_frost_client_round_trip(server: str) -> None:
    service = fsc.SensorThingsService(
        server, auth_handler=fsc.AuthHandler("admin", citykit.PASSWORD)
    )
    location = fsc.Location(
        name="tank 9",
        description="gate manhole",
        encoding_type="application/geo+json",
        location=geojson.Point((106.55, 29.56)),
    )
    thing = fsc.Thing(
        name="septic tank 9",
        description="化粪池",
        properties={"kind": "tank"},
        locations=[location],
    )
    service.create(thing)
    assert isinstance(thing.id, int)
    sensor = fsc.Sensor(
        name="MQ-4", description="methane", encoding_type="application/pdf", metadata="mq4.pdf"
    )
    prop = fsc.ObservedProperty(name="CH4", definition="urn:ch4", description="methane")
    stream = fsc.Datastream(
        name="CH4 tank 9",
        description="methane at tank 9",
        observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        unit_of_measurement=fsc.UnitOfMeasurement("percent LEL", "%LEL", "urn:lel"),
        thing=thing,
        sensor=sensor,
        observed_property=prop,
    )
    service.create(stream)
    assert isinstance(stream.id, int)

    start = NOW - timedelta(minutes=30)
    for i in range(3):
        obs = fsc.Observation(
            result=10.0 + i, phenomenon_time=(start + timedelta(minutes=i)).isoformat(),
            datastream=stream,
        )  # fmt: skip
        service.create(obs)
        assert isinstance(obs.id, int)

    dav = fsc.DataArrayValue()
    dav.datastream = stream
    dav.components = {
        fsc.DataArrayValue.Property.PHENOMENON_TIME,
        fsc.DataArrayValue.Property.RESULT,
    }
    for i in range(3, 6):
        dav.add_observation(
            fsc.Observation(
                result=10.0 + i,
                phenomenon_time=datetime.fromisoformat(
                    (start + timedelta(minutes=i)).isoformat()
                ).astimezone(UTC),
                datastream=stream,
            )
        )
    doc = fsc.DataArrayDocument()
    doc.add_data_array_value(dav)
    created = service.observations().create(doc)
    assert len(created) == 3 and all("/Observations(" in o.self_link for o in created)

    found = (
        service.observations()
        .query()
        .filter("result gt 11.5 and Datastream/Thing/name eq 'septic tank 9'")
        .orderby("phenomenonTime", "ASC")
        .expand("Datastream($expand=Thing)")
        .list()
    )
    results = [o.result for o in found]
    assert results == [12.0, 13.0, 14.0, 15.0]
    first = found.get(0)
    assert first.datastream.name == "CH4 tank 9"
    assert first.datastream.thing.name == "septic tank 9"

    things = service.things().query().expand("Locations,Datastreams").list()
    (back,) = list(things)
    assert back.locations.get(0).location["coordinates"] == [106.55, 29.56]
    assert back.datastreams.get(0).unit_of_measurement.symbol == "%LEL"

    stream.description = "methane, recalibrated"
    service.update(stream)
    assert service.datastreams().find(stream.id).description == "methane, recalibrated"
