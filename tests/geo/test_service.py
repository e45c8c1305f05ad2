"""Storage of the map on both databases: bulk insert, import, index loading, district merges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from shapely.geometry import box, mapping
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases.models import Case, CaseKind, CaseStatus, Channel
from cityops.errors import Conflict, NotFound, ValidationFailed
from cityops.geo import merge, service
from cityops.geo.models import Jurisdiction, Level
from cityops.geo.schemas import JurisdictionRecord
from cityops.ledger import service as ledger

OLD = date(2000, 1, 1)
MERGED = date(2025, 11, 6)
AT = datetime(2025, 11, 6, 1, 0, tzinfo=UTC)


def tiny_map() -> list[JurisdictionRecord]:
    """江北 500105 (x 0-1), 渝北 500112 (x 1-2), 九龙坡 500107 (x 2-3); 0.01° units near 重庆."""

    def b(x0: float, y0: float, x1: float, y1: float) -> object:
        return box(106.0 + x0 * 0.01, 29.0 + y0 * 0.01, 106.0 + x1 * 0.01, 29.0 + y1 * 0.01)

    R = JurisdictionRecord
    recs = [R("500000", "重庆市", Level.city, None, b(0, 0, 3, 1), OLD)]
    recs += [
        R("500105", "江北区", Level.district, "500000", b(0, 0, 1, 1), OLD),
        R("500112", "渝北区", Level.district, "500000", b(1, 0, 2, 1), OLD),
        R("500107", "九龙坡区", Level.district, "500000", b(2, 0, 3, 1), OLD),
    ]
    recs += [
        R("500105001", "观音桥街道", Level.street, "500105", b(0, 0, 1, 0.5), OLD),
        R("500105100", "鱼嘴镇", Level.street, "500105", b(0, 0.5, 1, 1), OLD),
        R("500112001", "双龙湖街道", Level.street, "500112", b(1, 0, 2, 0.3), OLD),
        R("500112002", "回兴街道", Level.street, "500112", b(1, 0.3, 2, 0.6), OLD),
        R("500112100", "木耳镇", Level.street, "500112", b(1, 0.6, 2, 1), OLD),
        R("500107001", "杨家坪街道", Level.street, "500107", b(2, 0, 3, 1), OLD),
    ]
    recs.append(R("500105001001", "北城社区", Level.community, "500105001", b(0, 0, 1, 0.5), OLD))
    for i in range(4):
        x = i * 0.25
        recs.append(
            R(
                f"500105001001{i + 1:03d}",
                f"网格{i + 1}",
                Level.grid,
                "500105001001",
                b(x, 0, x + 0.25, 0.5),
                OLD,
            )
        )
    return recs


def _case(session: Session, street: str, status: CaseStatus, *, grid: str | None = None) -> Case:
    case = Case(
        kind=CaseKind.event,
        category_code="06010",
        major_code="06",
        title="暴露垃圾",
        channel=Channel.resident,
        status=status,
        lat=29.002,
        lng=106.001,
        district_code=street[:6],
        street_code=street,
        community_code=grid[:12] if grid else None,
        grid_code=grid,
        reported_at=AT,
        updated_at=AT,
    )
    session.add(case)
    session.flush()
    return case


def test_bulk_insert_and_index(engine: object, session: Session) -> None:
    n = service.insert_jurisdictions(session=session, records=tiny_map())
    session.commit()
    assert n == 15
    row = session.execute(
        select(Jurisdiction).where(Jurisdiction.code == "500105001001002")
    ).scalar_one()
    assert (row.district_code, row.street_code, row.community_code) == (
        "500105",
        "500105001",
        "500105001001",
    )
    assert row.area_m2 is not None and 1.0e5 < row.area_m2 < 1.5e5  # 0.0025° x 0.005° near 29°N
    index = service.load_index(session=session)
    grid = index.locate(106.0035, 29.001)
    assert grid is not None and grid.grid_code == "500105001001002"
    assert grid.community_code == "500105001001"
    town = index.locate(106.005, 29.008)
    assert town is not None and (town.street_code, town.community_code, town.grid_code) == (
        "500105100",
        None,
        None,
    )
    assert index.locate(105.0, 29.0) is None
    assert index.name_of("500105100") == "鱼嘴镇"
    total, rows = service.query_jurisdictions(
        session=session, level=Level.street, bbox=(106.0, 29.0, 106.011, 29.002)
    )
    assert total == 2 and [r.code for r in rows] == ["500105001", "500112001"]
    assert service.children_count(session=session, code="500112") == 3


def test_import_geojson_validates_against_the_map(engine: object, session: Session) -> None:
    service.insert_jurisdictions(session=session, records=tiny_map()[:4])
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": mapping(box(106.02, 29.0, 106.03, 29.01)),
                "properties": {
                    "code": "500107002",
                    "name": "黄桷坪街道",
                    "level": "street",
                    "parent_code": "500107",
                },
            }
        ],
    }
    assert service.import_geojson(session=session, collection=fc) == 1
    with pytest.raises(Conflict):
        service.import_geojson(session=session, collection=fc)
    fc["features"][0]["properties"].update(code="500108001", parent_code="500108")
    with pytest.raises(ValidationFailed, match="unknown parent 500108"):
        service.import_geojson(session=session, collection=fc)


def test_merge_recodes_children_rehomes_open_cases_and_keeps_history(
    engine: object, session: Session
) -> None:
    service.insert_jurisdictions(session=session, records=tiny_map())
    open_grid = _case(session, "500105001", CaseStatus.dispatched, grid="500105001001003")
    open_town = _case(session, "500112100", CaseStatus.filed)
    closed = _case(session, "500112002", CaseStatus.closed)
    elsewhere = _case(session, "500107001", CaseStatus.filed)
    session.commit()

    result = merge.merge_jurisdictions(
        session=session,
        sources=["500105", "500112"],
        target_code="500157",
        target_name="两江新区",
        effective=MERGED,
        at=AT,
        actor="user:admin",
    )
    session.commit()

    # Streets renumbered per class (街道 001.., 镇 100..) in source order; children keep suffixes.
    assert {k: v for k, v in result.code_map.items() if len(k) == 9} == {
        "500105001": "500157001",
        "500112001": "500157002",
        "500112002": "500157003",
        "500105100": "500157100",
        "500112100": "500157101",
    }
    assert result.code_map["500105001001003"] == "500157001001003"
    assert sorted(result.rehomed_case_ids) == sorted([open_grid.id, open_town.id])
    session.expire_all()
    moved = session.get(Case, open_grid.id)
    assert moved is not None
    assert (moved.district_code, moved.street_code, moved.community_code, moved.grid_code) == (
        "500157",
        "500157001",
        "500157001001",
        "500157001001003",
    )
    assert session.get(Case, open_town.id).street_code == "500157101"  # type: ignore[union-attr]
    assert session.get(Case, closed.id).street_code == "500112002"  # type: ignore[union-attr]
    assert session.get(Case, elsewhere.id).street_code == "500107001"  # type: ignore[union-attr]

    old = session.execute(select(Jurisdiction).where(Jurisdiction.code == "500112002")).scalar_one()
    assert (old.valid_to, old.successor_code) == (MERGED, "500157003")
    district = service.get_jurisdiction(session=session, code="500157")
    assert district.valid_from == MERGED and district.parent_code == "500000"
    assert (
        abs((district.area_m2 or 0) - 2 * (old.area_m2 or 0) / 0.3) / (district.area_m2 or 1) < 0.01
    )
    new_grid = service.get_jurisdiction(session=session, code="500157001001003")
    assert (new_grid.parent_code, new_grid.street_code) == ("500157001001", "500157001")

    # The map before and after the change.
    before = service.load_index(session=session, on=date(2025, 11, 5)).locate(106.015, 29.004)
    after = service.load_index(session=session).locate(106.015, 29.004)
    assert before is not None and before.street_code == "500112002"
    assert after is not None and after.street_code == "500157003"

    assert [e.action for e in ledger.history(session=session, subject=f"case:{open_grid.id}")] == [
        "rehome"
    ]
    assert ledger.history(session=session, subject=f"case:{closed.id}") == []
    merge_entries = ledger.history(session=session, subject="jurisdiction:500157")
    assert [e.action for e in merge_entries] == ["merge"]
    assert ledger.verify(session=session).ok


def test_merge_refuses_bad_requests(engine: object, session: Session) -> None:
    service.insert_jurisdictions(session=session, records=tiny_map())
    kw = {
        "session": session,
        "target_name": "两江新区",
        "effective": MERGED,
        "at": AT,
        "actor": "user:a",
    }
    with pytest.raises(NotFound):
        merge.merge_jurisdictions(sources=["500105", "500199"], target_code="500157", **kw)  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        merge.merge_jurisdictions(sources=["500105", "500112"], target_code="500107", **kw)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        merge.merge_jurisdictions(sources=["500105"], target_code="5001", **kw)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        merge.merge_jurisdictions(
            sources=["500105", "500112"],
            target_code="500157",
            **{**kw, "effective": date(1999, 1, 1)},
        )  # type: ignore[arg-type]
