"""Domain errors: each carries a stable code and the HTTP status it maps to."""

from __future__ import annotations

from typing import Any


class CityOpsError(Exception):
    """Base for errors the user caused or can act on; never a 500."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.detail = detail


class NotFound(CityOpsError):
    status = 404
    code = "not_found"


class ValidationFailed(CityOpsError):
    status = 422
    code = "validation_failed"


class Conflict(CityOpsError):
    """A stale update or a duplicate key."""

    status = 409
    code = "conflict"


class IllegalTransition(CityOpsError):
    status = 409
    code = "illegal_transition"


class Forbidden(CityOpsError):
    status = 403
    code = "forbidden"


class Unauthorized(CityOpsError):
    status = 401
    code = "unauthorized"


class CalendarUnknown(CityOpsError):
    """The working-day calendar does not cover a year; deadlines cannot be computed."""

    status = 422
    code = "calendar_year_unknown"


class PayloadTooLarge(CityOpsError):
    """A request body or batch over the configured limit."""

    status = 413
    code = "payload_too_large"


class QueueFull(CityOpsError):
    """The observation work stream is at its limit: slow down and retry; nothing was dropped."""

    status = 503
    code = "intake_queue_full"


class QueueUnavailable(CityOpsError):
    """The bus did not confirm a publish in time (or is unreachable): retry later."""

    status = 503
    code = "intake_queue_unavailable"
