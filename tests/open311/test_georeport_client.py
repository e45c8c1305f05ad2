"""The maintained PyPI client ``georeport`` (0.3.1) against the running server, JSON and XML.

The client only reads (services, definitions, requests); the report is POSTed form-encoded
as the spec shows it, with ``requests`` as the client itself uses it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import uvicorn
from georeport import GeoReport

from cityops.api.app import create_app
from tests.api.conftest import Api
from tests.open311.conftest import KEY, WEST


@pytest.fixture
def server(o311: Api) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(o311.ctx)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True, name="open311-api")
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the API server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/open311/v2"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_reads_services_definitions_and_requests(
    server: str, fmt: str
) -> None:
    client = GeoReport(server, jurisdiction="cityops", api_key=KEY, output_format=fmt)
    listed = client.get_service_list()
    garbage = next(s for s in listed if s["service_code"] == "06010")
    assert garbage["service_name"] == "暴露垃圾"
    definition = client.get_service_definition("06010")
    assert definition["service_code"] == "06010"
    attributes = definition["attributes"]
    if fmt == "xml":  # xmltodict: a list's items sit under their element name
        attributes = attributes["attribute"]
    assert {a["code"] for a in attributes} == {"LOCATION_DETAIL", "URGENCY"}

    posted = requests.post(
        f"{server}/requests.{fmt}",
        data={
            "api_key": client.api_key,
            "jurisdiction_id": "cityops",
            "service_code": "06010",
            "lat": WEST["lat"],
            "long": WEST["long"],
            "description": "路边一堆垃圾",
            "attribute[URGENCY]": "3",
        },
        timeout=10,
    )
    assert posted.status_code == 200, posted.text
    rid = (
        posted.json()[0]["service_request_id"]
        if fmt == "json"
        else posted.text.split("<service_request_id>")[1].split("<")[0]
    )
    one = client.get_service_request(rid)
    assert one["service_request_id"] == rid and one["status"] == "open"
    assert one["service_code"] == "06010"
    found = client.get_service_requests(service_code="06010", status="open")
    ids = [found["service_request_id"]] if isinstance(found, dict) else [
        r["service_request_id"] for r in found
    ]  # fmt: skip
    assert ids == [rid]  # xmltodict gives one request as a dict, several as a list
    assert client.get_service_requests(service_request_id=rid, status="closed")  # ids override
