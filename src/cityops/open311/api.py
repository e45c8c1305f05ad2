"""The Open311 GeoReport v2 door at ``/open311/v2`` (XML and JSON by suffix).

Every error of this door, bad input included, is the spec's error list with its status: 400 for
a missing or bad argument or a malformed body, 403 for a missing or unknown api_key, 404 for an
unknown service_code, request, token or path. The legacy paths of the old ``open311`` client are
served too: ``service/{code}.{fmt}`` and ``api_key`` in the query string.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from cityops.api import limits
from cityops.api.deps import Ctx, SessionDep
from cityops.cases.rules import CaseRules
from cityops.cases.runtime import get_rules
from cityops.errors import CityOpsError, Forbidden, NotFound, ValidationFailed
from cityops.open311 import formats, service
from cityops.open311.formats import FORMATS, MEDIA, Fmt
from cityops.open311.schemas import ListQuery, parse_form, parse_json, request_create

PREFIX = "/open311/v2"
SPEC = "http://wiki.open311.org/GeoReport_v2"


def _fmt_of(path: str) -> Fmt:
    return "json" if path.endswith(".json") else "xml"


def spec_error(fmt: Fmt, status: int, description: str) -> Response:
    return Response(
        formats.error_body(fmt, status, description), status_code=status, media_type=MEDIA[fmt]
    )


class Open311Route(APIRoute):
    """Turns every error of this door into the spec's error list (never a 500 for bad input)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            fmt = _fmt_of(request.url.path)
            try:
                return await original(request)
            except CityOpsError as exc:  # 422 is the spec's 400 ("general failure")
                status = 400 if exc.status == 422 else exc.status
                reply = spec_error(fmt, status, exc.message)
                reply.headers.update(getattr(exc, "headers", None) or {})  # 429: Retry-After
                return reply
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                return spec_error(fmt, 400, str(first.get("msg", "invalid request")))

        return handler


router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route)


def _fmt(value: str) -> Fmt:
    if value not in FORMATS:
        raise NotFound(f"format {value!r} is not served: use .xml or .json", code="unknown_format")
    return "json" if value == "json" else "xml"


def _reply(fmt: str, root: str, body: Any, status: int = 200) -> Response:
    f = _fmt(fmt)
    return Response(formats.render(f, root, body), status_code=status, media_type=MEDIA[f])


def _rules(ctx: Ctx, session: Session) -> CaseRules:
    return get_rules(ctx, session)


@router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request) -> Response:
    """Service Discovery: this one production endpoint, XML and JSON."""
    base = str(request.base_url).rstrip("/") + PREFIX
    body = {
        "changeset": "2026-11-26T00:00:00+08:00",
        "contact": "城市运行管理服务平台 (cityops)",
        "key_service": "API keys are issued by the city's platform administrators",
        "endpoints": [
            {
                "specification": SPEC,
                "url": base,
                "changeset": "2026-11-26T00:00:00+08:00",
                "type": "production",
                "formats": [MEDIA["xml"].split(";")[0], MEDIA["json"].split(";")[0]],
            }
        ],
    }
    return _reply(fmt, "discovery", body)


@router.get("/services.{fmt}")
def services(fmt: str, ctx: Ctx, session: SessionDep) -> Response:
    return _reply(fmt, "services", service.services(_rules(ctx, session)))


@router.get("/services/{code}.{fmt}")
@router.get("/service/{code}.{fmt}", include_in_schema=False)  # the legacy client's path
def definition(code: str, fmt: str, ctx: Ctx, session: SessionDep) -> Response:
    f = _fmt(fmt)
    return _reply(f, "service_definition", service.definition(_rules(ctx, session), code))


def _api_key(request: Request, fields: dict[str, Any], ctx: Ctx) -> None:
    key = fields.pop("api_key", None) or request.query_params.get("api_key")
    if not key:
        raise Forbidden("api_key is required", code="api_key_missing")
    if str(key) not in ctx.settings.open311_keys:
        raise Forbidden("api_key is not valid", code="api_key_invalid")


async def _fields(request: Request) -> dict[str, Any]:
    """The POST body as one mapping: form-encoded (the spec) or a JSON object."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    try:
        if kind == "application/json":
            return parse_json(json.loads(raw or b"null"))
        text = raw.decode("utf-8")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(f"the body is malformed: {exc}", code="bad_request") from None
    if kind not in ("", "application/x-www-form-urlencoded"):
        raise ValidationFailed(
            "send application/x-www-form-urlencoded (or application/json)", code="bad_request"
        )
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError as exc:
        raise ValidationFailed(f"the form body is malformed: {exc}", code="bad_request") from None
    return parse_form(pairs)


FieldsDep = Annotated[dict[str, Any], Depends(_fields)]


@router.post("/requests.{fmt}")
def create_request(
    fmt: str, request: Request, fields: FieldsDep, ctx: Ctx, session: SessionDep
) -> Response:
    # Sync, so the intake runs in the thread pool: a write waiting for SQLite's one writer
    # must never block the event loop that the writer's own request needs to finish.
    f = _fmt(fmt)
    fields = dict(fields)
    fields.pop("jurisdiction_id", None)  # one jurisdiction is served: any id is this one
    _api_key(request, fields, ctx)
    limits.check_reports(request, None)
    data = request_create(fields)
    rules = _rules(ctx, session)
    body = service.create_request(session=session, rules=rules, data=data, at=rules.clock.now())
    return _reply(f, "service_requests", [body])


def _when(name: str, value: str | None, ctx: Ctx) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        raise ValidationFailed(
            f"{name} is not an ISO 8601 datetime such as 2026-11-01T00:00:00+08:00",
            code="bad_request",
        ) from None
    return at.replace(tzinfo=ctx.settings.tz) if at.tzinfo is None else at


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@router.get("/requests.{fmt}")
def list_requests(fmt: str, request: Request, ctx: Ctx, session: SessionDep) -> Response:
    f = _fmt(fmt)
    q = request.query_params
    statuses = _list(q.get("status"))
    if any(s not in ("open", "closed") for s in statuses):
        raise ValidationFailed("status is open or closed", code="bad_request")
    query = ListQuery(
        ids=_list(q.get("service_request_id")),
        service_codes=_list(q.get("service_code")),
        start=_when("start_date", q.get("start_date"), ctx),
        end=_when("end_date", q.get("end_date"), ctx),
        statuses=statuses,
    )
    rules = _rules(ctx, session)
    body = service.list_requests(session=session, rules=rules, query=query, now=rules.clock.now())
    return _reply(f, "service_requests", body)


@router.get("/requests/{request_id}.{fmt}")
def get_request(request_id: str, fmt: str, ctx: Ctx, session: SessionDep) -> Response:
    f = _fmt(fmt)
    body = service.get_request(session=session, rules=_rules(ctx, session), request_id=request_id)
    return _reply(f, "service_requests", body)


@router.get("/tokens/{token}.{fmt}")
def token(token: str, fmt: str, session: SessionDep) -> Response:
    f = _fmt(fmt)
    return _reply(f, "service_requests", service.resolve_token(session=session, token=token))


@router.api_route(  # a catch-all, not an operation (five would share one operationId)
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
def unknown(rest: str) -> Response:
    raise NotFound(f"/{rest} is not a GeoReport v2 resource", code="not_found")
