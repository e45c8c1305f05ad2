"""Every error as JSON ``{"error": {"code", "message"}}`` with a 4xx status.

Never a 500 for bad input.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cityops.errors import CityOpsError

log = logging.getLogger(__name__)


def error_body(code: str, message: str, **detail: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if detail:
        body["detail"] = detail
    return {"error": body}


def install(app: FastAPI) -> None:
    @app.exception_handler(CityOpsError)
    async def _domain(_: Request, exc: CityOpsError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.detail),
            status_code=exc.status,
            headers=getattr(exc, "headers", None),  # e.g. Retry-After on 429
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "message": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        kinds = {e.get("type") for e in exc.errors()}
        code = "text_too_long" if kinds == {"string_too_long"} else "validation_failed"
        return JSONResponse(error_body(code, message, problems=problems), status_code=422)

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            error_body(
                "stale_update", "the case was changed by someone else; reload and try again"
            ),
            status_code=409,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return JSONResponse(
            error_body("conflict", "that would duplicate or orphan a record"), status_code=409
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # JSON integers have no size limit; SQLite's and PostgreSQL's stop at 64 bits. The
        # doors bound the numbers they know (ids, STA options, readings); this catches the rest.
        log.info("number out of range: %s", exc)
        return JSONResponse(
            error_body("number_out_of_range", "a number in the request is too large to store"),
            status_code=422,
        )

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL's answer to the same: "integer out of range", "value too long for type".
        log.info("value does not fit: %s", exc.orig)
        return JSONResponse(
            error_body("value_does_not_fit", "a value in the request does not fit its field"),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
        }.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
