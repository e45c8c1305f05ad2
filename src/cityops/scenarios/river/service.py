"""River scenario operations. ``assess`` is pure (no session): it composes ``evaluate``'s answers
into one reading of a section; later river work (sections, patrols, events) calls it from here."""

from __future__ import annotations

from cityops.errors import ValidationFailed
from cityops.scenarios.river import evaluate as ev
from cityops.scenarios.river.schemas import (
    AssessIn,
    AssessRead,
    AttainmentRead,
    BlackOdorousRead,
    ItemRead,
    PointRead,
    PollutantRead,
)
from cityops.scenarios.river.standards import STANDARD


def _black_odorous(body: AssessIn) -> BlackOdorousRead | None:
    if body.black_odorous is None:
        return None
    points = [
        ev.black_odorous(
            transparency_cm=p.transparency_cm, do=p.do, orp=p.orp, nh3n=p.nh3n, depth_cm=p.depth_cm
        )
        for p in body.black_odorous.points
    ]
    whole = ev.water_body_black_odorous([p.grade for p in points])
    return BlackOdorousRead(
        grade=whole.grade,
        label=whole.grade.label,
        severe_share=round(whole.severe_share, 4),
        severe_stretches=whole.severe_stretches,
        points=[
            PointRead(
                grade=p.grade,
                label=p.grade.label,
                severe_shares={k: round(v, 4) for k, v in p.severe_shares.items()},
            )
            for p in points
        ],
    )


def assess(*, body: AssessIn) -> AssessRead:
    """Per-item classes, the section class and grade, main pollutants, attainment of the target
    and the black-odorous grade; any part whose inputs are missing is empty or None."""
    if not body.values and body.black_odorous is None:
        raise ValidationFailed("give item values, black-odorous readings, or both", code="no_items")
    target = ev.WaterClass.parse(body.target_class) if body.target_class else None
    if target == ev.WaterClass.worse_than_v:
        raise ValidationFailed("a target class is I..V", code="unknown_class")
    classes = (
        ev.item_classes(
            values=body.values, water_body=body.water_body, do_saturation_pct=body.do_saturation_pct
        )
        if body.values
        else {}
    )
    items = [
        ItemRead(
            item=k,
            name=STANDARD.items[k].name,
            unit=STANDARD.items[k].unit,
            value=body.values[k],
            water_class=c.label,
            counted=STANDARD.items[k].counted,
        )
        for k, c in classes.items()
    ]
    section = max((c for k, c in classes.items() if STANDARD.items[k].counted), default=None)
    pollutants = (
        ev.main_pollutants(
            values=body.values,
            water_body=body.water_body,
            target_class=target,
            do_saturation_pct=body.do_saturation_pct,
        )
        if section is not None
        else []
    )
    attainment = None
    if target is not None and section is not None:
        a = ev.target_attainment(actual=section, target=target)
        attainment = AttainmentRead(
            target_class=target.label, attained=a.attained, gap=a.gap, phrase=a.phrase
        )
    return AssessRead(
        water_body=body.water_body,
        items=items,
        section_class=section.label if section is not None else None,
        grade=ev.grade_of(section) if section is not None else None,
        main_pollutants=[
            PollutantRead(
                item=p.item,
                name=p.name,
                water_class=p.water_class.label,
                multiple=round(p.multiple, 2) if p.multiple is not None else None,
            )
            for p in pollutants
        ],
        attainment=attainment,
        black_odorous=_black_odorous(body),
    )
