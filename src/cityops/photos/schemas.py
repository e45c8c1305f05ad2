"""API shapes of photos."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PhotoRead(BaseModel):
    """A stored photo: put ``ref`` in a case's ``photos``; show ``url`` in an ``<img>``."""

    ref: str = Field(description="photo:<sha256>.<ext>, for CaseCreate/TransitionCreate photos")
    url: str = Field(description="where to fetch it; no token needed")
    bytes: int
    type: str = Field(description="media type judged from the content")
