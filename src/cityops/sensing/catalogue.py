"""The datastream catalogue the intake validates against, cached per database.

Looking a batch's 10,000 ids up in ``sta_datastream`` cost ~2 us each (measured), as much as
storing the readings. The catalogue changes rarely, so it is cached and checked against a random
version token (one row) per batch; every datastream change through ``entities`` writes a new
token. An id the cache misses is looked up once (a datastream inserted behind our back).

An observed property whose ``properties`` carry ``"valid_range": [min, max]`` (either may be
null: unbounded) gives every datastream of it a physical range: a reading outside it is rejected
as ``out_of_range`` (a sensor fault or a typo, not an event). Ranges travel with the cache.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.sensing import timeseries, validate
from cityops.sensing.models import SensingWatermark
from cityops.store.engine import raw_cursor

_CHUNK = 5000  # ids per IN (...) list


@dataclass(frozen=True, slots=True)
class Catalogue:
    known: dict[int, str]  # datastream id -> observation type
    ranges: dict[int, validate.ValueRange]  # datastreams whose observed property has a range


# Per database URL: (catalogue version, the catalogue).
_catalogue: dict[str, tuple[int, Catalogue]] = {}
CATALOGUE = "datastreams"
VALID_RANGE = "valid_range"  # ObservedProperty.properties key: [min | null, max | null]


def bump_catalogue(*, session: Session) -> None:
    """Mark the datastream catalogue changed (entities calls this on every datastream change)."""
    token = secrets.randbits(62)  # random: a rolled-back bump never matches a committed one
    row = session.get(SensingWatermark, CATALOGUE)
    if row is None:
        session.add(SensingWatermark(name=CATALOGUE, value=token))
    else:
        row.value = token
    session.flush()


def version(*, session: Session) -> int:
    """The catalogue's current token (0 before any datastream was made through ``entities``)."""
    cursor = raw_cursor(session)
    pg = timeseries.is_pg(session)
    cursor.execute(
        "SELECT value FROM sensing_watermark WHERE name = " + ("%s" if pg else "?"), (CATALOGUE,)
    )
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def value_range(name: str, properties: Any) -> validate.ValueRange | None:
    """An observed property's physical range from its ``properties`` (JSON text or a dict);
    None when it has none or it is malformed (min > max, not numbers)."""
    if isinstance(properties, str):
        try:
            properties = json.loads(properties)
        except ValueError:
            return None
    raw = properties.get(VALID_RANGE) if isinstance(properties, dict) else None
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        return None
    lo, hi = raw
    if not all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in raw):
        return None
    low = -math.inf if lo is None else float(lo)
    high = math.inf if hi is None else float(hi)
    return validate.ValueRange(low, high, name) if low <= high else None


def current(*, session: Session) -> Catalogue:
    """The datastream catalogue (cached per database; reloaded when the version moves)."""
    version_now = version(session=session)
    cursor = raw_cursor(session)
    url = str(session.get_bind().engine.url)
    cached = _catalogue.get(url)
    if cached is None or cached[0] != version_now:
        cursor.execute("SELECT id, name, properties FROM sta_observed_property")
        bounds = {i: r for i, name, props in cursor.fetchall() if (r := value_range(name, props))}
        cursor.execute("SELECT id, observation_type, observed_property_id FROM sta_datastream")
        rows = cursor.fetchall()
        known = {i: otype for i, otype, _ in rows}
        ranges = {i: bounds[p] for i, _, p in rows if p in bounds} if bounds else {}
        cached = (version_now, Catalogue(known, ranges))
        _catalogue[url] = cached
    return cached[1]


def known_datastreams(*, session: Session) -> dict[int, str]:
    """Datastream id → observation type (cached per database; reloaded when the version moves)."""
    return current(session=session).known


def check_batch(
    session: Session,
    readings: Sequence[Any],
    now: datetime,
    limits: validate.Limits,
    known: dict[int, str] | None = None,
    ranges: Mapping[int, validate.ValueRange] | None = None,
) -> validate.Checked:
    """Validate against the cached catalogue; look up ids it misses (added without a bump).

    ``known``, ``ranges``: the catalogue already read for this batch (the door validates slice
    by slice); without ``known`` both are read here.
    """
    if known is None:
        catalogue = current(session=session)
        known, ranges = catalogue.known, catalogue.ranges
    checked = validate.check(readings, known=known, now=now, limits=limits, ranges=ranges)
    unknown = [r.index for r in checked.rejected if r.reason == validate.Reason.unknown_datastream]
    if not unknown:
        return checked
    retry = [readings[i] for i in unknown]
    found = _lookup(
        raw_cursor(session), timeseries.is_pg(session), list(validate.datastream_ids(retry))
    )
    if not found:
        return checked
    known.update(found)
    again = validate.check(retry, known=known, now=now, limits=limits, ranges=ranges)
    kept = [r for r in checked.rejected if r.reason != validate.Reason.unknown_datastream]
    kept += [validate.Rejection(unknown[r.index], r.reason, r.message) for r in again.rejected]
    kept.sort(key=lambda r: r.index)
    return validate.Checked(checked.accepted + again.accepted, kept)


def _lookup(cursor: Any, pg: bool, ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    if pg:
        cursor.execute("SELECT id, observation_type FROM sta_datastream WHERE id = ANY(%s)", (ids,))
        out.update(cursor.fetchall())
        return out
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        cursor.execute(
            "SELECT id, observation_type FROM sta_datastream WHERE id IN ("
            + ",".join("?" * len(chunk))
            + ")",
            chunk,
        )
        out.update(cursor.fetchall())
    return out
