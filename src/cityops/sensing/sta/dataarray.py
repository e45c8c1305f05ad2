"""The CreateObservations action: many observations in the compact dataArray form, one batch.

Body: ``[{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"],
"dataArray": [["2026-01-01T00:00:00Z", 20.5], ...]}, ...]``. The answer lists, in order, the
selfLink of each stored observation or ``"error: <reason>"`` for a rejected row.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from cityops.errors import CityOpsError, ValidationFailed
from cityops.sensing import service
from cityops.sensing.sta.write import Writer, parse_instant

COMPONENTS = {
    "phenomenonTime": "phenomenon_time",
    "result": "result",
    "resultTime": "result_time",
    "parameters": "parameters",
    "FeatureOfInterest/id": "foi_id",
    "FeatureOfInterest/@iot.id": "foi_id",
}
IGNORED_COMPONENTS = {"id", "resultQuality", "validTime"}


def _group_rows(group: Any) -> tuple[int, list[str], list[Any]]:
    if not isinstance(group, dict):
        raise ValidationFailed("each item must be an object", code="wrong_type")
    ds = group.get("Datastream")
    ident = ds.get("@iot.id") if isinstance(ds, dict) else None
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise ValidationFailed("each item needs Datastream: {@iot.id: n}", code="missing_link")
    components = group.get("components")
    rows = group.get("dataArray")
    if not isinstance(components, list) or not isinstance(rows, list):
        raise ValidationFailed("each item needs components and dataArray lists", code="wrong_type")
    for name in components:
        if name not in COMPONENTS and name not in IGNORED_COMPONENTS:
            raise ValidationFailed(f"unknown component {name!r}", code="unknown_property")
    if "result" not in components:
        raise ValidationFailed("components must include result", code="missing_property")
    return ident, components, rows


def create_observations(writer: Writer, body: Any, base: str, now: datetime) -> list[str]:
    """Store every row that passes; answer a selfLink or an error string per row."""
    if not isinstance(body, list):
        raise ValidationFailed("CreateObservations takes a JSON array", code="wrong_type")
    answers: list[str] = []
    raws: list[dict[str, Any]] = []
    slots: list[int] = []  # answers index of each raw
    for group in body:
        ident, components, rows = _group_rows(group)
        for row in rows:
            answers.append("")
            try:
                if not isinstance(row, list) or len(row) != len(components):
                    raise ValidationFailed("a row must have one value per component")
                raw: dict[str, Any] = {"datastream_id": ident}
                for name, value in zip(components, row, strict=True):
                    if name in COMPONENTS:
                        raw[COMPONENTS[name]] = value
                when = raw.get("phenomenon_time")
                raw["phenomenon_time"] = (
                    now if when is None else parse_instant(when, "phenomenonTime")
                )
                if raw.get("foi_id") is None:
                    raw["foi_id"] = writer.default_foi(ident)
                if raw.get("result_time") is not None:
                    raw["result_time"] = parse_instant(raw["result_time"], "resultTime")
            except CityOpsError as exc:
                answers[-1] = f"error: {exc.message}"
                continue
            raws.append(raw)
            slots.append(len(answers) - 1)
    outcome = service.ingest(
        session=writer.session, readings=raws, clock=writer.clock, settings=writer.settings,
        source="sta",
    )  # fmt: skip
    rejected = {r.index: r for r in outcome.rejected}
    wanted: dict[int, list[datetime]] = defaultdict(list)
    for i, raw in enumerate(raws):
        if i in rejected:
            answers[slots[i]] = f"error: {rejected[i].reason}: {rejected[i].message}"
        else:
            wanted[raw["datastream_id"]].append(raw["phenomenon_time"])
    found = {ds: writer.find_ids(ds, times) for ds, times in wanted.items()}
    for i, raw in enumerate(raws):
        if i not in rejected:
            obs_id = found[raw["datastream_id"]].get(raw["phenomenon_time"])
            answers[slots[i]] = f"{base}/Observations({obs_id})" if obs_id else "error: not stored"
    return answers
