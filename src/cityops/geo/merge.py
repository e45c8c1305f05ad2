"""Boundary changes (区划调整): districts merge into a new one, keeping history.

Old rows are retired with ``valid_to`` and a successor; their areas are re-coded under the new
district; open cases move with them, closed cases keep the codes they were closed under.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import shapely
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cityops.cases.models import Case, CaseStatus
from cityops.errors import Conflict, NotFound, ValidationFailed
from cityops.geo.models import Jurisdiction, Level
from cityops.geo.schemas import JurisdictionRecord, codes_of
from cityops.geo.service import current_filter, insert_rows, record_rows
from cityops.ledger import service as ledger

FINISHED = (CaseStatus.closed, CaseStatus.evaluated, CaseStatus.void)
# GB/T 10114 classes of the 3-digit street suffix: 街道, 镇, 乡, 政企合一, other.
_SUFFIX_CLASSES = ((1, 99), (100, 199), (200, 399), (400, 599), (600, 999))


@dataclass(frozen=True, slots=True)
class MergeResult:
    target_code: str
    code_map: dict[str, str]  # every re-coded street, community and grid: old → new
    rehomed_case_ids: list[int]
    retired: int
    inserted: int


def _renumber_streets(streets: Iterable[str], target: str) -> dict[str, str]:
    """Sequential new suffixes within each GB/T 10114 class, in the given order."""
    used = {lo: lo for lo, _ in _SUFFIX_CLASSES}
    out: dict[str, str] = {}
    for old in streets:
        suffix = int(old[6:9])
        lo, hi = next((c for c in _SUFFIX_CLASSES if c[0] <= suffix <= c[1]), _SUFFIX_CLASSES[0])
        if used[lo] > hi:
            raise ValidationFailed(f"too many streets of class {lo:03d}-{hi:03d} for {target}")
        out[old] = f"{target}{used[lo]:03d}"
        used[lo] += 1
    return out


def _check_merge(
    session: Session, sources: Sequence[str], target_code: str, effective: date
) -> list[Any]:
    if not sources or len(set(sources)) != len(sources) or target_code in sources:
        raise ValidationFailed("sources must be distinct district codes, without the target")
    if len(target_code) != 6 or not target_code.isdigit():
        raise ValidationFailed(f"target code must have 6 digits, got {target_code!r}")
    rows = (
        session.execute(
            select(Jurisdiction).where(
                Jurisdiction.code.in_(sources),
                Jurisdiction.level == Level.district,
                current_filter(),
            )
        )
        .scalars()
        .all()
    )
    missing = sorted(set(sources) - {r.code for r in rows})
    if missing:
        raise NotFound(f"no current district {', '.join(missing)}", code="jurisdiction_not_found")
    taken = session.execute(
        select(Jurisdiction.id).where(Jurisdiction.code == target_code, current_filter())
    ).first()
    if taken is not None:
        raise Conflict(f"code {target_code} is already on the map", code="code_taken")
    if any(r.valid_from >= effective for r in rows) or len({r.parent_code for r in rows}) != 1:
        raise ValidationFailed("sources must share a parent and start before the effective date")
    order = {c: i for i, c in enumerate(sources)}
    return sorted(rows, key=lambda r: order[r.code])


def merge_jurisdictions(
    *,
    session: Session,
    sources: list[str],
    target_code: str,
    target_name: str,
    effective: date,
    at: datetime,
    actor: str,
) -> MergeResult:
    """Merge districts into a new one (e.g. 江北区 + 渝北区 → 两江新区), keeping history.

    Streets are renumbered per GB/T 10114 class in the order of ``sources`` then old code;
    communities and grids keep their own suffixes under the new street code. Open cases move
    to the new codes (one ``rehome`` ledger entry each); finished cases keep theirs.
    """
    src = _check_merge(session, sources, target_code, effective)
    union = shapely.union_all(shapely.from_wkb([bytes(r.geometry) for r in src if r.geometry]))
    cols = [c for c in Jurisdiction.__table__.columns if c.name != "id"]
    children = (
        session.execute(
            select(Jurisdiction.id, *cols).where(
                Jurisdiction.district_code.in_(sources),
                Jurisdiction.level != Level.district,
                current_filter(),
            )
        )
        .mappings()
        .all()
    )
    rank = {c: i for i, c in enumerate(sources)}
    streets = sorted(
        (c["code"] for c in children if c["level"] == Level.street),
        key=lambda code: (rank[code[:6]], code),
    )
    street_map = _renumber_streets(streets, target_code)
    orphans = [c["code"] for c in children if c["code"][:9] not in street_map]
    if orphans:
        raise ValidationFailed(f"{len(orphans)} area(s) have no current street, e.g. {orphans[0]}")
    code_map = {c["code"]: street_map[c["code"][:9]] + c["code"][9:] for c in children}
    parent_of_target = src[0].parent_code
    retire = [{"id": r.id, "valid_to": effective, "successor_code": target_code} for r in src]
    retire += [
        {"id": c["id"], "valid_to": effective, "successor_code": code_map[c["code"]]}
        for c in children
    ]
    session.execute(update(Jurisdiction), retire)
    target = JurisdictionRecord(
        target_code, target_name, Level.district, parent_of_target, union, effective
    )
    new_rows = record_rows([target])
    for c in children:
        row = {k.name: c[k.name] for k in cols}
        new_code = code_map[c["code"]]
        district, street, community = codes_of(new_code, Level(c["level"]))
        parent = c["parent_code"]
        row.update(
            code=new_code,
            parent_code=target_code if parent in rank else code_map.get(parent, parent),
            district_code=district,
            street_code=street,
            community_code=community,
            valid_from=effective,
            valid_to=None,
            successor_code=None,
        )
        new_rows.append(row)
    insert_rows(session, new_rows)
    moved = _rehome_cases(session, sources, target_code, code_map, at=at, actor=actor)
    ledger.append(
        session=session,
        at=at,
        actor=actor,
        action="merge",
        subject=f"jurisdiction:{target_code}",
        payload={
            "sources": list(sources),
            "target_code": target_code,
            "target_name": target_name,
            "effective": effective.isoformat(),
            "streets": street_map,
            "recoded": len(code_map),
            "rehomed_cases": len(moved),
        },
    )
    session.flush()
    return MergeResult(target_code, code_map, moved, len(retire), len(new_rows))


def _rehome_cases(
    session: Session,
    sources: Sequence[str],
    target_code: str,
    code_map: Mapping[str, str],
    *,
    at: datetime,
    actor: str,
) -> list[int]:
    """Move open cases to the new codes; unknown old codes stay and are reported."""
    cases = (
        session.execute(
            select(Case)
            .where(Case.district_code.in_(sources), Case.status.not_in(FINISHED))
            .order_by(Case.id)
        )
        .scalars()
        .all()
    )
    moved: list[int] = []
    for case in cases:
        before = {
            "district_code": case.district_code,
            "street_code": case.street_code,
            "community_code": case.community_code,
            "grid_code": case.grid_code,
        }
        case.district_code = target_code
        case.street_code = code_map.get(case.street_code, case.street_code)
        if case.community_code:
            case.community_code = code_map.get(case.community_code, case.community_code)
        if case.grid_code:
            case.grid_code = code_map.get(case.grid_code, case.grid_code)
        case.updated_at = at
        after = {k: getattr(case, k) for k in before}
        unmapped = [
            v for k, v in before.items() if v and k != "district_code" and v not in code_map
        ]
        moved.append(case.id)
        ledger.append(
            session=session,
            at=at,
            actor=actor,
            action="rehome",
            subject=f"case:{case.id}",
            payload={"from": before, "to": after, "reason": "merge", "unmapped": unmapped},
        )
    return moved
