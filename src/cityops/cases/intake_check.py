"""Intake's first pass over each report: who may send it, what category, where (pure-ish).

A report without a category takes the classifier's guess (``understand.guesses_for``, one batch
call); one without a point takes the place its address or text names (gazetteer). Every report
is then located in the jurisdiction index with one vectorised lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases import understand
from cityops.cases.categories import Category
from cityops.cases.models import Case, Channel
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate
from cityops.errors import CityOpsError, Forbidden, NotFound, ValidationFailed
from cityops.geo.coords import gcj02_to_wgs84
from cityops.geo.index import Location
from cityops.photos import service as photos


@dataclass
class Item:
    """One report on its way through a batch: what was sent and what intake made of it."""

    data: CaseCreate
    category: Category
    lat: float
    lng: float
    place: Location | None = None
    link_to: int | None = None  # an open case in the database
    link_item: int | None = None  # an earlier report of this batch
    auto: bool = False
    case: Case | None = None
    dispatch_facts: dict[str, Any] | None = None
    guess: understand.Guess | None = None  # the category came from the text
    located: dict[str, Any] | None = None  # the point came from a place named in the text

    @property
    def needs_review(self) -> bool:
        return self.guess is not None and not self.guess.auto

    @property
    def category_code(self) -> str:
        return self.category.code


def checked_channel(actor: Principal, channel: Channel) -> None:
    if actor.role == Role.resident and channel is not Channel.resident:
        raise Forbidden("residents report through the resident channel", code="channel_forbidden")
    if actor.role != Role.resident and channel is Channel.resident and not actor.is_city_wide:
        raise Forbidden("staff report through a staff channel", code="channel_forbidden")


def validate(
    session: Session,
    rules: CaseRules,
    data: CaseCreate,
    actor: Principal,
    guess: understand.Guess | CityOpsError | None,
) -> Item:
    checked_channel(actor, data.channel)
    if isinstance(guess, CityOpsError):
        raise guess
    try:
        category = rules.catalogue.get(guess.top.code if guess else str(data.category))
    except NotFound as exc:
        raise ValidationFailed(exc.message, code="unknown_category") from exc
    if category.internal and data.channel is Channel.resident:
        raise ValidationFailed(
            f"category {category.code} is filed by staff only", code="unknown_category"
        )
    photos.require_known(data.photos, directory=rules.settings.photo_dir)
    if len(data.description) > rules.settings.max_text_length:
        raise ValidationFailed(
            f"description is longer than {rules.settings.max_text_length} characters",
            code="text_too_long",
        )
    located = None
    if data.location is None:
        match = understand.place_of(rules, session, data.address, data.title, data.description)
        if match is None:
            raise ValidationFailed(
                "no location, and the address and description name no known place",
                code="location_required",
            )
        lat, lng, located = match.place.lat, match.place.lng, understand.place_facts(match)
    else:
        lat, lng = data.location.lat, data.location.lng
        if data.location.crs == "GCJ-02":
            lng, lat = gcj02_to_wgs84(lng, lat)
    if (
        category.kind.value == "component"
        and data.component_ident is None
        and data.channel is Channel.sensor
    ):
        raise ValidationFailed(
            "a sensor report on a component needs component_ident", code="missing_field"
        )
    return Item(data, category, lat, lng, guess=guess, located=located)


def locate(rules: CaseRules, items: list[Item | CityOpsError]) -> None:
    good = [it for it in items if isinstance(it, Item)]
    if not good:
        return
    rows = rules.index.locate_many(
        np.array([it.lng for it in good]), np.array([it.lat for it in good])
    )
    for it, row in zip(good, rows, strict=True):
        place = rules.index.location(int(row)) if row >= 0 else None
        if place is not None and place.district_code and place.street_code:
            it.place = place
    for i, entry in enumerate(items):
        if isinstance(entry, Item) and entry.place is None:
            items[i] = ValidationFailed(
                f"({entry.lat:.6f}, {entry.lng:.6f}) is outside the city", code="outside_city"
            )
