"""The SensorThings door over HTTP: create, deep insert, read with options, change, delete."""

from __future__ import annotations

import json
from typing import Any

from tests.sensing.sta.conftest import ADMIN, DEVICE, Sta, basic

THING = {
    "name": "septic tank 7",
    "description": "化粪池 gas monitor",
    "properties": {"owner": "water bureau", "district": "500107"},
    "Locations": [
        {
            "name": "tank 7",
            "description": "manhole at the gate",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [106.55, 29.56]},
        }
    ],
    "Datastreams": [
        {
            "name": "CH4 tank 7",
            "description": "methane",
            "unitOfMeasurement": {"name": "percent LEL", "symbol": "%LEL", "definition": "x"},
            "observationType": (
                "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
            ),
            "Sensor": {
                "name": "MQ-4",
                "description": "methane sensor",
                "encodingType": "application/pdf",
                "metadata": "https://example.org/mq4.pdf",
            },
            "ObservedProperty": {
                "name": "CH4",
                "definition": "http://vocab.nerc.ac.uk/collection/P01/current/MTHNXXXX/",
                "description": "methane concentration",
            },
        }
    ],
}


def deep_thing(sta: Sta) -> tuple[int, int]:
    r = sta.client.post("/sta/v1.1/Things", json=THING, headers=ADMIN)
    assert r.status_code == 201, r.text
    thing_id = r.json()["@iot.id"]
    assert r.headers["location"].endswith(f"/sta/v1.1/Things({thing_id})")
    ds = sta.get(f"Things({thing_id})/Datastreams")["value"]
    assert isinstance(ds, list) and len(ds) == 1
    return thing_id, ds[0]["@iot.id"]


def test_service_root_lists_the_sets_and_conformance(sta: Sta) -> None:
    root = sta.get("")
    names = [v["name"] for v in root["value"]]  # type: ignore[attr-defined]
    assert names == [
        "Things", "Locations", "HistoricalLocations", "Datastreams", "Sensors",
        "ObservedProperties", "Observations", "FeaturesOfInterest",
    ]  # fmt: skip
    conformance = root["serverSettings"]["conformance"]  # type: ignore[index]
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete" in conformance
    assert root["value"][0]["url"].endswith("/sta/v1.1/Things")  # type: ignore[index]


def test_without_credentials_it_answers_401_in_the_sta_shape(sta: Sta) -> None:
    r = sta.client.get("/sta/v1.1/Things")
    assert r.status_code == 401
    assert r.json()["code"] == 401 and r.json()["type"] == "error"
    assert r.headers["www-authenticate"].startswith("Basic")
    assert sta.client.get("/sta/v1.1/Things", headers=basic("admin", "wrong")).status_code == 401
    assert sta.client.get("/sta/v1.1/Things", headers=basic("device", "nope")).status_code == 401


def test_the_sensing_policy_decides_who_reads_and_writes(sta: Sta) -> None:
    _, ds_id = deep_thing(sta)
    assert sta.client.get("/sta/v1.1/Things", headers=basic("dispatcher")).status_code == 200
    assert sta.client.get("/sta/v1.1/Things", headers=basic("resident")).status_code == 403
    assert sta.client.get("/sta/v1.1/Things", headers=DEVICE).status_code == 403
    r = sta.client.post("/sta/v1.1/Things", json={"name": "x"}, headers=basic("dispatcher"))
    assert r.status_code == 403 and r.json()["type"] == "error"
    assert sta.client.post("/sta/v1.1/Things", json={"name": "x"}, headers=DEVICE).status_code == (
        403
    )
    reading = {"result": 3.5, "phenomenonTime": "2026-11-25T00:59:00Z"}
    sta.post(f"Datastreams({ds_id})/Observations", reading, who=DEVICE)
    sneaky = reading | {"Datastream": {"name": "new", "unitOfMeasurement": {}}}
    r = sta.client.post("/sta/v1.1/Observations", json=sneaky, headers=DEVICE)
    assert r.status_code == 403 and "not create a Datastream" in r.json()["message"]
    token = sta.client.post(
        "/api/v1/auth/token", data={"username": "admin", "password": "correct-horse-42"}
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    obs = sta.client.get("/sta/v1.1/Observations", headers=bearer).json()["value"]
    assert [o["result"] for o in obs] == [3.5]


def test_deep_insert_links_everything(sta: Sta) -> None:
    thing_id, ds_id = deep_thing(sta)
    thing = sta.get(
        f"Things({thing_id})",
        **{"$expand": "Locations,HistoricalLocations,Datastreams($expand=Sensor,ObservedProperty)"},
    )
    assert thing["properties"] == THING["properties"]
    assert thing["Locations"][0]["location"]["coordinates"] == [106.55, 29.56]  # type: ignore[index]
    assert len(thing["HistoricalLocations"]) == 1  # type: ignore[arg-type]
    ds: Any = thing["Datastreams"]
    assert ds[0]["Sensor"]["name"] == "MQ-4"
    assert ds[0]["ObservedProperty"]["name"] == "CH4"
    assert ds[0]["unitOfMeasurement"]["symbol"] == "%LEL"
    assert ds[0]["Thing@iot.navigationLink"].endswith(f"/Datastreams({ds_id})/Thing")
    assert sta.get(f"Datastreams({ds_id})/Thing")["@iot.id"] == thing_id
    assert sta.get(f"Datastreams({ds_id})/Sensor/name") == {"name": "MQ-4"}
    raw = sta.client.get(f"/sta/v1.1/Things({thing_id})/name/$value", headers=ADMIN)
    assert raw.text == "septic tank 7"


def test_linking_through_navigation_records_history(sta: Sta) -> None:
    thing_id, ds_id = deep_thing(sta)
    moved = sta.post(
        f"Things({thing_id})/Locations",
        {"name": "new site", "encodingType": "application/geo+json",
         "location": {"type": "Point", "coordinates": [106.6, 29.6]}},
    )  # fmt: skip
    locations = sta.get(f"Things({thing_id})/Locations")["value"]
    assert [loc["@iot.id"] for loc in locations] == [moved["@iot.id"]]  # type: ignore[attr-defined]
    history = sta.get(
        f"Things({thing_id})/HistoricalLocations",
        **{"$expand": "Locations($select=name)", "$orderby": "id"},
    )["value"]
    assert [h["Locations"] for h in history] == [  # type: ignore[attr-defined]
        [{"name": "tank 7"}],
        [{"name": "new site"}],
    ]
    near = sta.get(
        "Datastreams",
        **{"$filter": "geo.distance(observedArea, geography'POINT(106.6 29.6)') lt 1"},
    )
    assert [d["@iot.id"] for d in near["value"]] == [ds_id]  # type: ignore[attr-defined]


def test_observations_go_through_intake_and_dedupe(sta: Sta) -> None:
    _, ds_id = deep_thing(sta)
    first = sta.post(
        f"Datastreams({ds_id})/Observations",
        {"phenomenonTime": "2026-11-25T00:30:00Z", "result": 12.5},
    )
    again = sta.post(
        "Observations",
        {
            "phenomenonTime": "2026-11-25T08:30:00+08:00",
            "result": 12.5,
            "Datastream": {"@iot.id": ds_id},
        },
    )
    assert first["@iot.id"] == again["@iot.id"]
    foi = sta.get(f"Observations({first['@iot.id']})/FeatureOfInterest")
    assert foi["name"] == "tank 7"  # made from the Thing's Location, as STA asks
    assert foi["feature"] == {"type": "Point", "coordinates": [106.55, 29.56]}
    assert first["result"] == 12.5 and first["phenomenonTime"] == "2026-11-25T00:30:00.000Z"
    assert sta.get(f"Datastreams({ds_id})/Observations", **{"$count": "true"})["@iot.count"] == 1
    assert [e.data["count"] for e in sta.events] == [1]  # one batch event, the duplicate is quiet
    bad = sta.client.post(
        f"/sta/v1.1/Datastreams({ds_id})/Observations", json={"result": "high"}, headers=ADMIN
    )
    assert bad.status_code == 422 and bad.json()["error"] == "wrong_type"
    old = sta.client.post(
        f"/sta/v1.1/Datastreams({ds_id})/Observations",
        json={"result": 1, "phenomenonTime": "2020-01-01T00:00:00Z"},
        headers=ADMIN,
    )
    assert old.status_code == 422 and old.json()["error"] == "time_too_old"
    missing = sta.client.post("/sta/v1.1/Observations", json={"result": 1}, headers=ADMIN)
    assert missing.status_code == 422 and "Datastream" in missing.json()["message"]


def _observe(sta: Sta, ds_id: int, n: int) -> None:
    sta.post(
        "CreateObservations",
        [
            {
                "Datastream": {"@iot.id": ds_id},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[f"2026-11-25T00:{m:02d}:00Z", float(m)] for m in range(n)],
            }
        ],
    )


def test_create_observations_answers_a_link_or_an_error_per_row(sta: Sta) -> None:
    _, ds_id = deep_thing(sta)
    r = sta.client.post(
        "/sta/v1.1/CreateObservations",
        headers=DEVICE,
        json=[
            {
                "Datastream": {"@iot.id": ds_id},
                "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
                "dataArray": [
                    ["2026-11-25T00:00:00Z", 20.5, None],
                    ["2026-11-25T00:01:00Z", "NaN?", None],
                    ["not a time", 1, None],
                    ["2026-11-25T00:02:00Z", 21.0, None],
                ],
            },
            {
                "Datastream": {"@iot.id": 999},
                "components": ["phenomenonTime", "result"],
                "dataArray": [["2026-11-25T00:00:00Z", 1]],
            },
        ],
    )
    assert r.status_code == 201, r.text
    links = r.json()
    assert links[0].endswith("/Observations(1)") and links[3].endswith("/Observations(2)")
    assert links[1].startswith("error: wrong_type")
    assert links[2].startswith("error: phenomenonTime is not an ISO 8601 time")
    assert links[4].startswith("error: unknown_datastream")
    results = sta.get("Observations", **{"$orderby": "phenomenonTime desc", "$select": "result"})
    assert results["value"] == [{"result": 21.0}, {"result": 20.5}]
    features = sta.get("FeaturesOfInterest", **{"$expand": "Observations($select=result)"})
    (feature,) = features["value"]  # type: ignore[misc]
    assert [o["result"] for o in feature["Observations"]] == [20.5, 21.0]


def test_filter_orderby_paging_and_counts(sta: Sta) -> None:
    _, ds_id = deep_thing(sta)
    _observe(sta, ds_id, 12)
    page = sta.get(
        "Observations",
        **{"$filter": "result ge 3 and result lt 11", "$orderby": "result desc", "$count": "true"},
    )
    assert page["@iot.count"] == 8
    assert [o["result"] for o in page["value"]] == [10.0, 9.0, 8.0, 7.0, 6.0]  # type: ignore[attr-defined]
    nxt = str(page["@iot.nextLink"])
    assert "%24skip=5" in nxt and "%24top=5" in nxt
    assert "@iot.nextLink" not in sta.get("Observations", **{"$top": "0", "$count": "true"})
    rest = sta.client.get(nxt, headers=ADMIN).json()
    assert [o["result"] for o in rest["value"]] == [5.0, 4.0, 3.0]
    assert "@iot.nextLink" not in rest
    by_thing = sta.get(
        "Observations",
        **{"$filter": "Datastream/Thing/name eq 'septic tank 7' and minute(phenomenonTime) eq 4"},
    )
    assert [o["result"] for o in by_thing["value"]] == [4.0]  # type: ignore[attr-defined]
    things = sta.get(
        "Things",
        **{
            "$filter": "properties/owner eq 'water bureau'",
            "$expand": "Datastreams($select=name;"
            "$expand=Observations($top=2;$orderby=result desc;$count=true))",
        },
    )
    (thing,) = things["value"]  # type: ignore[misc]
    obs = thing["Datastreams"][0]["Observations"]
    assert [o["result"] for o in obs] == [11.0, 10.0]
    assert thing["Datastreams"][0]["Observations@iot.count"] == 12
    assert set(thing["Datastreams"][0]) >= {"name", "Observations"}
    assert "description" not in thing["Datastreams"][0]


def test_geo_filters_on_locations(sta: Sta) -> None:
    deep_thing(sta)
    sta.post(
        "Locations",
        {"name": "far", "encodingType": "application/geo+json",
         "location": {"type": "Point", "coordinates": [121.47, 31.23]}},
    )  # fmt: skip
    near = sta.get(
        "Locations",
        **{"$filter": "geo.distance(location, geography'POINT(106.551 29.561)') lt 200"},
    )
    assert [v["name"] for v in near["value"]] == ["tank 7"]  # type: ignore[attr-defined]
    inside = sta.get(
        "Things",
        **{"$filter": "st_within(Locations/location, "
           "geography'POLYGON((106 29, 107 29, 107 30, 106 30, 106 29))')"},
    )  # fmt: skip
    assert [v["name"] for v in inside["value"]] == ["septic tank 7"]  # type: ignore[attr-defined]
    near_things = sta.get(
        "Things",
        **{"$filter": "geo.distance(Locations/location, geography'POINT(121.47 31.23)') lt 10"},
    )
    assert near_things["value"] == []


def test_conditions_through_to_many_links_mean_any(sta: Sta) -> None:
    _, ds_id = deep_thing(sta)
    sta.post("Things", {"name": "empty"})
    _observe(sta, ds_id, 3)

    def names(text: str) -> list[str]:
        return [t["name"] for t in sta.get("Things", **{"$filter": text})["value"]]  # type: ignore[attr-defined]

    assert names("Datastreams/name eq 'CH4 tank 7'") == ["septic tank 7"]
    assert names("Datastreams/Observations/result gt 1.5") == ["septic tank 7"]
    assert names("Datastreams/Observations/result gt 5") == []
    assert names("not (Datastreams/Observations/result gt 5)") == ["septic tank 7", "empty"]
    assert names("startswith(Datastreams/Sensor/name, 'MQ')") == ["septic tank 7"]
    r = sta.client.get(
        "/sta/v1.1/Things", params={"$filter": "Datastreams/name eq name"}, headers=ADMIN
    )
    assert r.status_code == 400 and "mix a to-many link" in r.json()["message"]


def test_patch_put_delete(sta: Sta) -> None:
    thing_id, ds_id = deep_thing(sta)
    r = sta.client.patch(
        f"/sta/v1.1/Things({thing_id})", json={"description": "moved"}, headers=ADMIN
    )
    assert r.status_code == 200
    assert sta.get(f"Things({thing_id})")["description"] == "moved"
    assert sta.get(f"Things({thing_id})")["name"] == "septic tank 7"
    r = sta.client.put(f"/sta/v1.1/Things({thing_id})", json={"description": "x"}, headers=ADMIN)
    assert r.status_code == 422 and "name is missing" in r.json()["message"]
    r = sta.client.put(f"/sta/v1.1/Things({thing_id})", json={"name": "tank 7b"}, headers=ADMIN)
    assert r.status_code == 200
    thing = sta.get(f"Things({thing_id})")
    assert (thing["name"], thing["description"], thing["properties"]) == ("tank 7b", "", None)
    patch = [{"op": "replace", "path": "/properties/owner", "value": "street"}]
    r = sta.client.patch(
        f"/sta/v1.1/Things({thing_id})",
        content=json.dumps(patch),
        headers=ADMIN | {"Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 200, r.text
    assert sta.get(f"Things({thing_id})")["properties"] == {"owner": "street"}
    _observe(sta, ds_id, 2)
    moved = {"phenomenonTime": "2026-11-25T00:45:00Z", "result": 7}
    assert (
        sta.client.patch("/sta/v1.1/Observations(2)", json=moved, headers=ADMIN).status_code == 200
    )
    assert sta.get("Observations(2)")["phenomenonTime"] == "2026-11-25T00:45:00.000Z"
    clash = {"phenomenonTime": "2026-11-25T00:45:00Z"}
    r = sta.client.patch("/sta/v1.1/Observations(1)", json=clash, headers=ADMIN)
    assert r.status_code == 409 and r.json()["type"] == "error"
    assert sta.client.delete("/sta/v1.1/Observations(1)", headers=ADMIN).status_code == 200
    assert sta.client.delete(f"/sta/v1.1/Things({thing_id})", headers=ADMIN).status_code == 200
    gone = sta.client.get(f"/sta/v1.1/Things({thing_id})", headers=ADMIN)
    assert gone.status_code == 404 and gone.json()["type"] == "error"
    assert sta.get("Observations")["value"] == []


def test_bad_queries_are_400_with_the_position(sta: Sta) -> None:
    r = sta.client.get(
        "/sta/v1.1/Observations", params={"$filter": "result gt 'a' and"}, headers=ADMIN
    )
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error" and body["option"] == "$filter" and body["position"] == 17
    r = sta.client.get("/sta/v1.1/Things", params={"$filter": "name eq 5"}, headers=ADMIN)
    # SQLite compares anything with anything; PostgreSQL refuses, and that is a 400, not a 500
    if sta.ctx.engine.dialect.name == "postgresql":
        assert r.status_code == 400 and r.json()["error"] == "bad_query"
    else:
        assert r.status_code == 200
    r = sta.client.get("/sta/v1.1/Things", params={"$filter": "colour eq 1"}, headers=ADMIN)
    assert r.status_code == 400 and "no property 'colour'" in r.json()["message"]
    r = sta.client.get("/sta/v1.1/Things", params={"$expand": "Sensors"}, headers=ADMIN)
    assert r.status_code == 400 and "no link 'Sensors'" in r.json()["message"]
    assert sta.client.get("/sta/v1.1/Gadgets", headers=ADMIN).status_code == 404
    assert sta.client.get("/sta/v1.1/Things(1)/Gadgets", headers=ADMIN).status_code == 404
    r = sta.client.post(
        "/sta/v1.1/Things", content="{nope", headers=ADMIN | {"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["type"] == "error"
    r = sta.client.post("/sta/v1.1/Things", json={"name": "x", "colour": 1}, headers=ADMIN)
    assert r.status_code == 422 and "colour" in r.json()["message"]
