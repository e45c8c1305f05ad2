"""The SensorThings API 1.1 door at ``/sta/v1.1`` (mounted beside ``/api/v1``, not under it).

Errors keep the STA shape ``{"code": <http status>, "type": "error", "message": ...}`` (plus
our stable ``error`` code and, for query options, the ``option`` and ``position``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError

from cityops.api.deps import Ctx, SessionDep
from cityops.auth.policy import SENSING_POLICY, SensingAction, require_sensing
from cityops.auth.scope import Principal
from cityops.errors import CityOpsError, NotFound, ValidationFailed
from cityops.sensing.sta.access import CallerDep
from cityops.sensing.sta.dataarray import create_observations
from cityops.sensing.sta.options import parse_options
from cityops.sensing.sta.patch import apply_json_patch
from cityops.sensing.sta.read import Reader, Target, check_expand, parse_path
from cityops.sensing.sta.schema import SETS, column, out_value
from cityops.sensing.sta.write import Writer

PREFIX = "/sta/v1.1"
CONFORMANCE = [
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
]


def sta_error(status: int, message: str, code: str, **detail: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": status, "type": "error", "message": message, "error": code}
    body.update({k: v for k, v in detail.items() if v not in (None, "")})
    headers = {"WWW-Authenticate": 'Basic realm="SensorThings"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


class StaRoute(APIRoute):
    """Turns every error of this door into the STA error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except CityOpsError as exc:
                return sta_error(exc.status, exc.message, exc.code, **exc.detail)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                return sta_error(400, str(first.get("msg", "invalid request")), "bad_request")
            except IntegrityError:
                return sta_error(409, "that would duplicate or orphan an entity", "conflict")
            except (DataError, ProgrammingError) as exc:  # e.g. name eq 5 on PostgreSQL
                reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid query"
                return sta_error(400, f"the query does not fit the data: {reason}", "bad_query")

        return handler


router = APIRouter(prefix=PREFIX, tags=["sensorthings"], route_class=StaRoute)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _reader(request: Request, ctx: Ctx, session: SessionDep) -> Reader:
    s = ctx.settings
    return Reader(
        session, base=_base(request), now=ctx.clock.now(),
        default_top=s.sta_default_top, max_top=s.sta_max_top,
    )  # fmt: skip


@router.get("", include_in_schema=False)
@router.get("/")
def service_root(request: Request, caller: CallerDep) -> dict[str, Any]:
    require_sensing(caller, SensingAction.read)
    base = _base(request)
    return {
        "value": [{"name": name, "url": f"{base}/{name}"} for name in SETS],
        "serverSettings": {"conformance": CONFORMANCE},
    }


@router.get("/{path:path}")
def read(path: str, request: Request, ctx: Ctx, session: SessionDep, caller: CallerDep) -> Response:
    require_sensing(caller, SensingAction.read)
    target = parse_path(path)
    params = dict(request.query_params)
    opts = parse_options(params)
    check_expand(target.es, opts)
    reader = _reader(request, ctx, session)
    if target.single:
        row = reader.one(target.es, target.where)
        if target.prop is None:
            return JSONResponse(reader.dump(target.es, row, opts))
        value = row.id if target.prop.attr == "id" else _prop_value(target, row)
        if target.raw_value:
            text = value if isinstance(value, str) else json.dumps(value)
            return PlainTextResponse(text)
        return JSONResponse({target.prop.name: value})
    url = f"{reader.base}/{path.strip('/')}"

    def next_url(top: int, skip: int) -> str:
        return url + "?" + urlencode(params | {"$top": str(top), "$skip": str(skip)})

    return JSONResponse(reader.collection(target.es, target.where, opts, next_url))


def _prop_value(target: Target, row: Any) -> Any:
    assert target.prop is not None
    return out_value(target.prop, row)


def _writer(ctx: Ctx, session: SessionDep, caller: Principal | None = None) -> Writer:
    manage = caller is None or SensingAction.manage in SENSING_POLICY.get(caller.role, ())
    return Writer(session, clock=ctx.clock, settings=ctx.settings, manage=manage)


@router.post("/CreateObservations", status_code=201)
def create_observations_action(
    request: Request, ctx: Ctx, session: SessionDep, caller: CallerDep, body: Any = Body(None)
) -> list[str]:
    require_sensing(caller, SensingAction.ingest)
    writer = _writer(ctx, session, caller)
    with writer.guard():
        return create_observations(writer, body, _base(request), ctx.clock.now())


@router.post("/{path:path}", status_code=201)
def create(
    path: str,
    request: Request,
    ctx: Ctx,
    session: SessionDep,
    caller: CallerDep,
    body: Any = Body(None),
) -> Response:
    target = parse_path(path)
    ingest = target.es.name == "Observations"
    require_sensing(caller, SensingAction.ingest if ingest else SensingAction.manage)
    if target.single or target.prop is not None:
        raise ValidationFailed("POST to a collection, e.g. Things or Things(1)/Datastreams")
    back: tuple[str, int] | None = None
    writer = _writer(ctx, session, caller)
    link_after = None
    if target.parent is not None:
        parent_es, parent_id, link = target.parent
        if link.fk_target:
            back = (link.fk_target, parent_id)
        else:
            link_after = (parent_es, parent_id, link)
    with writer.guard():
        ident = writer.create(target.es, body, back=back)
        if link_after is not None:
            parent_es, parent_id, link = link_after
            writer.link_existing(parent_es, parent_id, link, ident)
    reader = _reader(request, ctx, session)
    row = reader.one(target.es, column(target.es.rows, "id") == ident)
    location = reader.self_link(target.es, ident)
    return JSONResponse(
        reader.dump(target.es, row, parse_options({})),
        status_code=201,
        headers={"Location": location},
    )


def _single(path: str) -> Target:
    target = parse_path(path)
    if not target.single or target.prop is not None or target.ident is None:
        raise ValidationFailed("name one entity, e.g. Things(1)")
    return target


@router.patch("/{path:path}")
def patch(
    path: str,
    request: Request,
    ctx: Ctx,
    session: SessionDep,
    caller: CallerDep,
    body: Any = Body(None),
) -> Response:
    require_sensing(caller, SensingAction.manage)
    target = _single(path)
    assert target.ident is not None
    if isinstance(body, list):  # RFC 6902 JSON Patch, as frost-sta-client sends
        reader = _reader(request, ctx, session)
        current = reader.dump(target.es, reader.one(target.es, target.where), parse_options({}))
        body = apply_json_patch(current, body)
    writer = _writer(ctx, session)
    with writer.guard():
        writer.update(target.es, target.ident, body, replace=False)
    return Response(status_code=200)


@router.put("/{path:path}")
def put(
    path: str, ctx: Ctx, session: SessionDep, caller: CallerDep, body: Any = Body(None)
) -> Response:
    require_sensing(caller, SensingAction.manage)
    target = _single(path)
    assert target.ident is not None
    writer = _writer(ctx, session)
    with writer.guard():
        writer.update(target.es, target.ident, body, replace=True)
    return Response(status_code=200)


@router.delete("/{path:path}")
def delete(path: str, ctx: Ctx, session: SessionDep, caller: CallerDep) -> Response:
    require_sensing(caller, SensingAction.manage)
    target = _single(path)
    assert target.ident is not None
    if target.parent is not None:
        raise NotFound("delete an entity by its own path, e.g. Datastreams(2)")
    writer = _writer(ctx, session)
    with writer.guard():
        writer.delete(target.es, target.ident)
    return Response(status_code=200)
