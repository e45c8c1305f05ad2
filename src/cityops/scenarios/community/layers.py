"""Rows into what the cockpit shows: GeoJSON layers, building details, reads. Pure (no session).

A point (a case, a device) belongs to the building whose footprint holds it or lies within
~10 m of it (the nearest; a camera or a complaint at the door counts for the building); a case
also belongs to a building its address names ("民主村3栋2单元").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from cityops.cases.lifecycle import STATUS_ZH
from cityops.cases.masking import mask_text as mask
from cityops.cases.models import Case, CaseStatus
from cityops.geo.geojson import geometry_json
from cityops.scenarios.community import snapshot
from cityops.scenarios.community.models import Building, Camera, Facility, Road
from cityops.scenarios.community.schemas import (
    BuildingDetail,
    CameraRead,
    CommunityRef,
    DeviceRead,
    FacilityRead,
    IssueRead,
    ReportRead,
    StreamRead,
)
from cityops.sensing.entities import LocatedThing

NEAR_DEG = 1e-4  # ~10 m


class BuildingIndex:
    """Which building a point or a case belongs to (see the module docstring)."""

    def __init__(self, buildings: Sequence[Building]) -> None:
        self.ids = [b.id for b in buildings]
        self.shapes = [shapely.geometry.shape(json.loads(b.footprint)) for b in buildings]
        self.tree = shapely.STRtree(self.shapes)
        self.by_name = {b.name: b.id for b in buildings}
        names = sorted(self.by_name, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, names)) + r"(?!\d)") if names else None

    def at(self, lng: float, lat: float) -> int | None:
        if not self.ids:
            return None
        hits = self.tree.query_nearest(shapely.Point(lng, lat), max_distance=NEAR_DEG)
        return self.ids[int(hits[0])] if len(hits) else None

    def of_case(self, case: Case) -> int | None:
        if self.pattern is not None and case.address:
            found = self.pattern.search(case.address)
            if found:
                return self.by_name[found.group(0)]
        return self.at(case.lng, case.lat)


def facility_read(f: Facility) -> FacilityRead:
    return FacilityRead(
        id=f.id, kind=f.kind.value, name=f.name, lat=f.lat, lng=f.lng,
        opening_hours=f.opening_hours, building_id=f.building_id,
    )  # fmt: skip


def camera_read(camera: Camera, *, secret: str, now: datetime) -> CameraRead:
    """The camera with links that open without a login until they expire (``snapshot.py``)."""
    exp = snapshot.expiry(int(now.timestamp()))

    def link(url: str) -> str:
        return snapshot.sign(url, secret=secret, camera_id=camera.id, exp=exp)

    return CameraRead(
        id=camera.id, name=camera.name, lat=camera.lat, lng=camera.lng,
        building_id=camera.building_id, status=camera.status.value,
        snapshot_url=link(camera.snapshot_url), stream_url=link(camera.stream_url),
    )  # fmt: skip


def device_read(thing: LocatedThing, building_id: int | None) -> DeviceRead:
    sim = thing.properties.get("sim")
    kind = thing.properties.get("kind") or (sim.get("kind") if isinstance(sim, dict) else None)
    return DeviceRead(
        id=thing.id, name=thing.name, lat=thing.lat, lng=thing.lng,
        kind=str(kind) if kind else thing.properties.get("role"), is_actuator=thing.is_actuator,
        building_id=building_id,
        datastreams=[
            StreamRead(id=s.id, name=s.name, unit=s.unit, result=s.result,
                       phenomenon_time=s.phenomenon_time)
            for s in thing.datastreams
        ],
    )  # fmt: skip


def issue_read(case: Case, names: Mapping[str, str], building_id: int | None) -> IssueRead:
    return IssueRead(
        id=case.id, case_no=case.case_no, category_code=case.category_code,
        category_name=names.get(case.category_code), title=mask(case.title), status=case.status,
        status_zh=STATUS_ZH[CaseStatus(case.status)], channel=case.channel.value,
        reported_at=case.reported_at, lat=case.lat, lng=case.lng, building_id=building_id,
    )  # fmt: skip


def report_read(case: Case, names: Mapping[str, str]) -> ReportRead:
    """A resident's report as the cockpit shows it: masked text, never the reporter."""
    return ReportRead(
        id=case.id, case_no=case.case_no, category_code=case.category_code,
        category_name=names.get(case.category_code), title=mask(case.title),
        description=mask(case.description or ""),
        address=mask(case.address) if case.address else None, status=case.status,
        status_zh=STATUS_ZH[CaseStatus(case.status)], reported_at=case.reported_at,
        closed_at=case.closed_at, satisfaction=case.satisfaction, lat=case.lat, lng=case.lng,
    )  # fmt: skip


@dataclass(slots=True)
class Scene:
    """One community's twin rows with devices and open issues placed on buildings."""

    community: CommunityRef
    boundary: BaseGeometry
    buildings: list[Building]
    roads: list[Road]
    facilities: list[FacilityRead]
    cameras: list[CameraRead]
    devices: list[DeviceRead] | None  # None: this reader may not see sensing data
    issues: list[IssueRead] = field(default_factory=list)
    truncated: bool = False

    def by_building(self) -> dict[int, dict[str, list[Any]]]:
        """Building id → its facilities, cameras, devices and open issues (one pass)."""
        out: dict[int, dict[str, list[Any]]] = {
            b.id: {"facilities": [], "cameras": [], "devices": [], "open_issues": []}
            for b in self.buildings
        }
        for key, xs in (("facilities", self.facilities), ("cameras", self.cameras),
                        ("devices", self.devices or []), ("open_issues", self.issues)):  # fmt: skip
            for x in xs:
                if x.building_id in out:
                    out[x.building_id][key].append(x)
        return out


def _feature(layer: str, ident: int | str, geometry: Any, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": f"{layer}:{ident}",
        "geometry": geometry,
        "properties": {"layer": layer, "id": ident, **props},
    }


def _point(lat: float, lng: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lng, lat]}


def features(scene: Scene) -> list[dict[str, Any]]:
    """Boundary, buildings (with their counts), roads, facilities, cameras, devices, cases."""
    c = scene.community
    out = [_feature("boundary", c.code, geometry_json(scene.boundary), name=c.name)]
    grouped = scene.by_building()
    for b in scene.buildings:
        mine = grouped[b.id]
        out.append(
            _feature(
                "building", b.id, json.loads(b.footprint), name=b.name, kind=b.kind.value,
                floors=b.floors, households=b.households, residents=b.residents,
                elderly=b.elderly, year_built=b.year_built,
                facilities=[f.name for f in mine["facilities"]],
                cameras=len(mine["cameras"]),
                devices=len(mine["devices"]) if scene.devices is not None else None,
                open_issues=len(mine["open_issues"]),
            )
        )  # fmt: skip
    out += [
        _feature("road", r.id, json.loads(r.geometry), name=r.name, length_m=r.length_m)
        for r in scene.roads
    ]
    out += [
        _feature(
            "facility", f.id, _point(f.lat, f.lng), **f.model_dump(exclude={"id", "lat", "lng"})
        )
        for f in scene.facilities
    ]
    out += [
        _feature("camera", k.id, _point(k.lat, k.lng), **k.model_dump(exclude={"id", "lat", "lng"}))
        for k in scene.cameras
    ]
    out += [
        _feature(
            "device",
            d.id,
            _point(d.lat, d.lng),
            **d.model_dump(mode="json", exclude={"id", "lat", "lng"}),
        )
        for d in scene.devices or []
    ]
    out += [
        _feature(
            "case",
            i.id,
            _point(i.lat, i.lng),
            **i.model_dump(mode="json", exclude={"id", "lat", "lng"}),
        )
        for i in scene.issues
    ]
    return out


def building_detail(scene: Scene, building: Building) -> BuildingDetail:
    mine = scene.by_building()[building.id]
    return BuildingDetail(
        id=building.id, community_code=building.community_code, name=building.name,
        kind=building.kind.value, floors=building.floors, households=building.households,
        residents=building.residents, elderly=building.elderly, year_built=building.year_built,
        footprint=json.loads(building.footprint), open_issues_truncated=scene.truncated, **mine,
    )  # fmt: skip
