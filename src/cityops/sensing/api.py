"""Sensing routes: the HTTP batch door, time series, latest values in a box, things, datastreams."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.policy import SensingAction, require_sensing
from cityops.clock import as_utc
from cityops.errors import CityOpsError, PayloadTooLarge, ValidationFailed
from cityops.sensing import door, entities, scaleout, service, timeseries
from cityops.sensing.models import Datastream, Thing
from cityops.sensing.schemas import (
    DatastreamRead,
    IngestRead,
    LatestPage,
    LatestRead,
    PointRead,
    RejectionRead,
    SeriesRead,
    ThingRead,
)

router = APIRouter(tags=["sensing"])


class MalformedBody(CityOpsError):
    status = 400
    code = "malformed_json"


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/observations", response_model=IngestRead)
async def post_observations(
    request: Request,
    ctx: Ctx,
    session: SessionDep,
    user: CurrentUser,
    message_id: Annotated[str | None, Header(alias="X-Message-Id", max_length=200)] = None,
) -> IngestRead:
    """Take a JSON array of up to 10,000 readings; duplicates are counted, bad items explained."""
    require_sensing(user, SensingAction.ingest)
    settings = ctx.settings
    raw = await _body(request, settings.sensing_max_body_bytes)
    try:
        items = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody(f"body is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise ValidationFailed("body must be a JSON array of readings", code="not_an_array")
    if len(items) > settings.sensing_max_batch:
        raise PayloadTooLarge(
            f"{len(items)} readings; at most {settings.sensing_max_batch} per request",
            code="batch_too_large",
        )

    def run() -> service.IngestResult:
        if scaleout.queues_work(ctx.bus):  # NATS: the workers store it and run the rules
            return scaleout.enqueue(
                session=session,
                readings=items,
                clock=ctx.clock,
                settings=settings,
                queue=cast(scaleout.WorkQueue, ctx.bus),
                message_id=message_id,
            )
        session.commit()  # it only read the caller; the door runs transactions of its own
        return door.take_in(  # rules first, then the store
            sessions=ctx.sessions,
            clock=ctx.clock,
            settings=settings,
            raws=items,
            source=f"http:{user.username}",
            message_id=message_id,
            bus=ctx.bus,
            reactor=door.reactor_in(ctx.extras),
        )

    result = await run_in_threadpool(run)
    rejected = [
        RejectionRead(index=r.index, reason=r.reason, message=r.message) for r in result.rejected
    ]
    if items and not result.accepted:
        raise ValidationFailed(
            "no reading was accepted",
            code="all_rejected",
            rejected=[r.model_dump() for r in rejected[:1000]],
        )
    return IngestRead(
        accepted=result.accepted,
        stored=result.stored,
        duplicates=result.duplicates,
        rejected=rejected,
    )


def _bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        parts = [float(p) for p in raw.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4:
        raise ValidationFailed("bbox is minLng,minLat,maxLng,maxLat", code="bad_bbox")
    min_lng, min_lat, max_lng, max_lat = parts
    if not (-180 <= min_lng <= max_lng <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ValidationFailed("bbox corners out of order or range", code="bad_bbox")
    return min_lng, min_lat, max_lng, max_lat


@router.get("/datastreams/latest", response_model=LatestPage)
def latest(
    session: SessionDep,
    user: CurrentUser,
    bbox: Annotated[str, Query(description="minLng,minLat,maxLng,maxLat (WGS84)")],
) -> LatestPage:
    """The latest value of every datastream inside the box."""
    require_sensing(user, SensingAction.read)
    min_lng, min_lat, max_lng, max_lat = _bbox(bbox)
    rows = timeseries.latest_in_bbox(
        session=session, min_lng=min_lng, min_lat=min_lat, max_lng=max_lng, max_lat=max_lat
    )
    return LatestPage(count=len(rows), items=[LatestRead(**r) for r in rows])


@router.get("/datastreams/{datastream_id}/observations", response_model=SeriesRead)
def series(
    datastream_id: int,
    ctx: Ctx,
    session: SessionDep,
    user: CurrentUser,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    agg: Literal["raw", "1m", "1h"] = "raw",
) -> SeriesRead:
    """A datastream's readings in [from, to) (default: the last day), raw or aggregated."""
    require_sensing(user, SensingAction.read)
    entities.get(session=session, model=Datastream, id=datastream_id)
    for value in (start, end):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed("from/to need a zone (Z or +08:00)", code="naive_time")
    stop = as_utc(end) if end else ctx.clock.now()
    begin = as_utc(start) if start else stop - timedelta(days=1)
    if begin >= stop:
        raise ValidationFailed("from must be before to", code="bad_range")
    points: list[dict[str, Any]] = timeseries.observations(
        session=session, datastream_id=datastream_id, start=begin, end=stop, agg=agg
    )
    return SeriesRead(datastream_id=datastream_id, agg=agg, points=[PointRead(**p) for p in points])


@router.get("/things", response_model=list[ThingRead])
def things(
    session: SessionDep,
    user: CurrentUser,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ThingRead]:
    require_sensing(user, SensingAction.read)
    rows = entities.list_(session=session, model=Thing, offset=offset, limit=limit)
    return [ThingRead.model_validate(r) for r in rows]


@router.get("/things/{thing_id}", response_model=ThingRead)
def thing(thing_id: int, session: SessionDep, user: CurrentUser) -> ThingRead:
    require_sensing(user, SensingAction.read)
    return ThingRead.model_validate(entities.get(session=session, model=Thing, id=thing_id))


@router.get("/datastreams", response_model=list[DatastreamRead])
def datastreams(
    session: SessionDep,
    user: CurrentUser,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DatastreamRead]:
    require_sensing(user, SensingAction.read)
    rows = entities.list_(session=session, model=Datastream, offset=offset, limit=limit)
    return [DatastreamRead.model_validate(r) for r in rows]


@router.get("/datastreams/{datastream_id}", response_model=DatastreamRead)
def datastream(datastream_id: int, session: SessionDep, user: CurrentUser) -> DatastreamRead:
    require_sensing(user, SensingAction.read)
    row = entities.get(session=session, model=Datastream, id=datastream_id)
    return DatastreamRead.model_validate(row)
