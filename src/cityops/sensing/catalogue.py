"""The datastream catalogue the intake validates against, cached per database.

Looking a batch's 10,000 ids up in ``sta_datastream`` cost ~2 us each (measured), as much as
storing the readings. The catalogue changes rarely, so it is cached and checked against a random
version token (one row) per batch; every datastream change through ``entities`` writes a new
token. An id the cache misses is looked up once (a datastream inserted behind our back).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.sensing import timeseries, validate
from cityops.sensing.models import SensingWatermark

_CHUNK = 5000  # ids per IN (...) list


def _cursor(session: Session) -> Any:
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]


# Per database URL: (catalogue version, datastream id -> observation type).
_catalogue: dict[str, tuple[int, dict[int, str]]] = {}
CATALOGUE = "datastreams"


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
    cursor = _cursor(session)
    pg = timeseries.is_pg(session)
    cursor.execute(
        "SELECT value FROM sensing_watermark WHERE name = " + ("%s" if pg else "?"), (CATALOGUE,)
    )
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def known_datastreams(*, session: Session) -> dict[int, str]:
    """Datastream id → observation type (cached per database; reloaded when the version moves)."""
    current = version(session=session)
    cursor = _cursor(session)
    url = str(session.get_bind().engine.url)
    cached = _catalogue.get(url)
    if cached is None or cached[0] != current:
        cursor.execute("SELECT id, observation_type FROM sta_datastream")
        cached = (current, dict(cursor.fetchall()))
        _catalogue[url] = cached
    return cached[1]


def check_batch(
    session: Session,
    readings: Sequence[Any],
    now: datetime,
    limits: validate.Limits,
    known: dict[int, str] | None = None,
) -> validate.Checked:
    """Validate against the cached catalogue; look up ids it misses (added without a bump).

    ``known``: the catalogue already read for this batch (the door validates slice by slice).
    """
    known = known_datastreams(session=session) if known is None else known
    checked = validate.check(readings, known=known, now=now, limits=limits)
    unknown = [r.index for r in checked.rejected if r.reason == validate.Reason.unknown_datastream]
    if not unknown:
        return checked
    retry = [readings[i] for i in unknown]
    found = _lookup(
        _cursor(session), timeseries.is_pg(session), list(validate.datastream_ids(retry))
    )
    if not found:
        return checked
    known.update(found)
    again = validate.check(retry, known=known, now=now, limits=limits)
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
