"""Server-sent events: case events as they commit, filtered to what the caller may see.

Browsers' EventSource cannot set headers, so the token may also come as ``?access_token=``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from cityops.api.deps import Ctx, oauth2
from cityops.auth.models import Role, User
from cityops.auth.scope import Principal
from cityops.auth.security import read_token
from cityops.bus.memory import Event
from cityops.errors import Unauthorized
from cityops.store.engine import reading

router = APIRouter(tags=["stream"])
HEARTBEAT_SECONDS = 15.0


def _principal(
    ctx: Ctx,
    header_token: Annotated[str | None, Depends(oauth2)],
    access_token: Annotated[str | None, Query()] = None,
) -> Principal:
    token = header_token or access_token
    if not token:
        raise Unauthorized("log in first", code="not_authenticated")
    claims = read_token(secret=ctx.settings.secret_key, token=token, now=ctx.clock.now())
    with reading(ctx.sessions) as session:  # a long-lived stream must not queue for the writer
        user = session.get(User, int(claims["sub"]))
        if user is None or not user.active:
            raise Unauthorized("account not found or disabled", code="invalid_token")
        return Principal(user.id, user.username, Role(user.role), user.scope_code, user.staff_id)


def may_see(user: Principal, event: Event) -> bool:
    """The stream shows the same cases the list would, and the alarms of the caller's area."""
    data = event.data
    if user.is_city_wide:
        return True
    if user.role == Role.resident:
        return False
    if user.role == Role.field_worker:
        return data.get("worker_id") == user.staff_id and user.staff_id is not None
    code = str(data.get("street_code") or data.get("jurisdiction_code") or "")
    return user.covers(code)


def sse_frame(event: Event) -> str:
    body = json.dumps(event.data, ensure_ascii=False, default=str)
    return f"event: {event.subject}\ndata: {body}\n\n"


@router.get("/stream")
async def stream(
    request: Request,
    ctx: Ctx,
    user: Annotated[Principal, Depends(_principal)],
    topic: str = "cases.*",
) -> StreamingResponse:
    """``text/event-stream`` of case events (``cases.report``, ``cases.dispatch``, …)."""
    loop = asyncio.get_running_loop()
    queue, unsubscribe = ctx.bus.subscribe_queue(topic, loop)

    async def frames() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if may_see(user, event):
                    yield sse_frame(event)
        finally:
            unsubscribe()

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
