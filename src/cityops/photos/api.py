"""Photo routes: upload (logged in), fetch (no token: the name is an unguessable content hash).

An ``<img src>`` cannot send an ``Authorization`` header, and a photo's name is the SHA-256 of
its bytes, so whoever can fetch it already knew the case that shows it (docs/api.md, "Photos").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from cityops.api import limits
from cityops.api.deps import Ctx, get_principal, oauth2
from cityops.auth.scope import Principal
from cityops.errors import PayloadTooLarge, ValidationFailed
from cityops.photos import service
from cityops.photos.schemas import PhotoRead
from cityops.store.engine import reading

router = APIRouter(tags=["photos"])

# Room for the multipart boundary and part headers around the file itself.
FORM_OVERHEAD = 64 * 1024
CACHE_FOREVER = "public, max-age=31536000, immutable"
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def _uploader(ctx: Ctx, token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    """The caller, checked in a read-only transaction: an upload over a slow phone link must not
    hold SQLite's writer while its body arrives."""
    with reading(ctx.sessions) as session:
        return get_principal(ctx, session, token)


def _capped(receive: Callable[[], Awaitable[Any]], limit: int) -> Callable[[], Awaitable[Any]]:
    """``receive`` that gives up past ``limit`` body bytes (a chunked body has no length)."""
    seen = 0

    async def wrapped() -> Any:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"body over {limit} bytes", code="photo_too_large")
        return message

    return wrapped


@router.post(
    "/photos",
    response_model=PhotoRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD_BODY,
)
async def upload_photo(
    request: Request, ctx: Ctx, user: Annotated[Principal, Depends(_uploader)]
) -> PhotoRead:
    """Upload one photo as the multipart field ``file``: JPEG, PNG or WebP, judged by content."""
    limits.check_photos(request, user)  # any logged-in user may upload; residents within limits
    max_bytes = ctx.settings.photo_max_bytes
    limit = max_bytes + FORM_OVERHEAD
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"a photo may be at most {max_bytes} bytes", code="photo_too_large")
    capped = Request(request.scope, _capped(request.receive, limit))
    async with capped.form(max_files=1, max_fields=8) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed(
                "send the photo as the multipart/form-data file field 'file'",
                code="missing_field",
            )
        stored = await run_in_threadpool(
            service.store,
            directory=ctx.settings.photo_dir,
            source=upload.file,
            max_bytes=max_bytes,
            max_pixels=ctx.settings.photo_max_pixels,
        )
    return PhotoRead(
        ref=stored.ref,
        url=f"/api/v1/photos/{stored.name}",
        bytes=stored.size,
        type=stored.format.media_type,
    )


@router.get("/photos/{name}", response_class=FileResponse)
def get_photo(name: str, ctx: Ctx) -> FileResponse:
    """The photo's bytes with its type; cached for a year (the content never changes)."""
    path, fmt = service.locate(directory=ctx.settings.photo_dir, name=name)
    return FileResponse(
        path,
        media_type=fmt.media_type,
        headers={"Cache-Control": CACHE_FOREVER, "X-Content-Type-Options": "nosniff"},
    )
