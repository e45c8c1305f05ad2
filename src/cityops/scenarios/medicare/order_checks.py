"""Everything about an order that can be refused before anything is locked, for many at once.

One query per kind (persons, pharmacies, drugs, 家庭共济 bindings) for the whole batch, then
each order is checked on its own: line count, drug codes (format, catalogue), prescription,
pharmacy open now, delivery radius. A refused order gets its ``CityOpsError``; the others a
``Checked`` ready for payment.

The lookups read only the columns a payment needs, as plain tuples: loading ORM objects (with
their identity map and change tracking) for a few hundred rows cost more per order than the
payment's own statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.errors import CityOpsError, Conflict, NotFound, ValidationFailed
from cityops.geo.coords import haversine_m
from cityops.scenarios.medicare import codes
from cityops.scenarios.medicare.models import (
    Drug,
    Fixmedins,
    FixmedinsType,
    InsuredPerson,
    MutualAidBinding,
)
from cityops.scenarios.medicare.schemas import OrderIn
from cityops.settings import Settings
from cityops.store.bulk import one_of


class Person(NamedTuple):
    psn_no: str
    insutype: str
    insu_admdvs: str


class Shop(NamedTuple):
    id: int
    fixmedins_code: str
    fixmedins_type: FixmedinsType
    active: bool
    opening_hours: list[Any]
    lat: float
    lng: float
    delivery_radius_m: int


class Item(NamedTuple):
    """A catalogue drug, as much as an order needs of it."""

    id: int
    hilist_code: str
    hilist_name: str
    list_type: str
    kind: str
    rx_flag: bool


_PERSON = select(*(getattr(InsuredPerson, f) for f in Person._fields))
_SHOP = select(*(getattr(Fixmedins, f) for f in Shop._fields))
_ITEM = select(*(getattr(Drug, f) for f in Item._fields))


@dataclass(frozen=True, slots=True)
class Checked:
    person: Person
    shop: Shop
    lines: list[tuple[Item, int]]  # (drug, packs) in the order given
    providers: list[str]  # 家庭共济 providers to draw on, in order
    distance_m: float | None


def open_at(hours: list[list[int] | None], now_local: datetime) -> bool:
    minute = now_local.hour * 60 + now_local.minute
    today, yesterday = hours[now_local.weekday()], hours[(now_local.weekday() - 1) % 7]
    if today and today[0] <= minute < today[1]:
        return True
    return bool(yesterday and minute + 1440 < yesterday[1])


def _lines(settings: Settings, body: OrderIn) -> dict[str, int]:
    if len(body.lines) > settings.medicare_max_order_lines:
        raise ValidationFailed("too many lines in one order", code="too_many_lines")
    wanted: dict[str, int] = {}
    for line in body.lines:
        try:
            code = codes.parse(line.hilist_code).code
        except codes.BadDrugCode as exc:
            raise ValidationFailed(str(exc), code=f"drug_code_{exc.reason}") from exc
        if code in wanted:
            raise ValidationFailed(f"{code} appears twice; give one line", code="duplicate_line")
        if line.cnt > settings.medicare_max_line_count:
            raise ValidationFailed("too many packs on one line", code="line_count_too_large")
        wanted[code] = line.cnt
    return wanted


def check_all(
    *, session: Session, settings: Settings, bodies: list[OrderIn], now: datetime
) -> list[Checked | CityOpsError]:
    """Check every order; lookups are one query per kind for the whole batch."""
    wanted: list[dict[str, int] | CityOpsError] = []
    for body in bodies:
        try:
            wanted.append(_lines(settings, body))
        except CityOpsError as exc:
            wanted.append(exc)
    all_codes = {c for w in wanted if isinstance(w, dict) for c in w}
    psns = {b.psn_no for b in bodies}
    shop_codes = {b.fixmedins_code for b in bodies}
    persons = {
        r.psn_no: Person(*r)
        for r in session.execute(_PERSON.where(one_of(session, InsuredPerson.psn_no, psns)))
    }
    shops = {
        r.fixmedins_code: Shop(*r)
        for r in session.execute(_SHOP.where(one_of(session, Fixmedins.fixmedins_code, shop_codes)))
    }
    drugs = {
        r.hilist_code: Item(*r)
        for r in session.execute(_ITEM.where(one_of(session, Drug.hilist_code, all_codes)))
    }
    allowed = {r.strip() for r in settings.medicare_mulaid_relations.split(",") if r.strip()}
    providers: dict[str, list[str]] = {}
    for provider, beneficiary, relation in session.execute(
        select(MutualAidBinding.provider_psn_no, MutualAidBinding.beneficiary_psn_no,
               MutualAidBinding.relation)
        .where(one_of(session, MutualAidBinding.beneficiary_psn_no, psns),
               MutualAidBinding.ended_at.is_(None))
        .order_by(MutualAidBinding.bound_at, MutualAidBinding.id)
    ).all():  # fmt: skip
        if str(relation) in allowed:
            providers.setdefault(beneficiary, []).append(provider)
    local = now.astimezone(ZoneInfo(settings.time_zone))
    out: list[Checked | CityOpsError] = []
    for body, want in zip(bodies, wanted, strict=True):
        if isinstance(want, CityOpsError):
            out.append(want)
            continue
        try:
            out.append(_one(settings, body, want, persons, shops, drugs, providers, local))
        except CityOpsError as exc:
            out.append(exc)
    return out


def _one(
    settings: Settings, body: OrderIn, want: dict[str, int], persons: dict[str, Person],
    shops: dict[str, Shop], drugs: dict[str, Item], providers: dict[str, list[str]],
    local: datetime,
) -> Checked:  # fmt: skip
    person = persons.get(body.psn_no)
    if person is None:
        raise NotFound("no insured person with this psn_no", code="unknown_psn_no")
    shop = shops.get(body.fixmedins_code)
    if shop is None or not shop.active or shop.fixmedins_type != FixmedinsType.pharmacy:
        raise NotFound("no active designated pharmacy with this code", code="unknown_pharmacy")
    if not open_at(shop.opening_hours, local):
        raise Conflict("the pharmacy is closed now", code="pharmacy_closed")
    for code in want:
        if code not in drugs:
            raise NotFound(f"no drug with code {code} in the catalogue", code="unknown_drug_code")
    if settings.medicare_rx_needs_prescription and not body.prescription_no:
        rx = [c for c in want if drugs[c].rx_flag]
        if rx:
            raise ValidationFailed(
                "prescription drugs need an (electronic) prescription number",
                code="prescription_required", codes=rx,
            )  # fmt: skip
    distance = None
    if body.delivery:
        if body.lat is None or body.lng is None:
            raise ValidationFailed("a delivery needs lat and lng", code="delivery_address_missing")
        distance = haversine_m(shop.lng, shop.lat, body.lng, body.lat)
        if shop.delivery_radius_m <= 0 or distance > shop.delivery_radius_m:
            raise Conflict(
                "the address is beyond the pharmacy's delivery radius",
                code="beyond_delivery_radius", distance_m=round(distance),
                delivery_radius_m=shop.delivery_radius_m,
            )  # fmt: skip
    mine = providers.get(person.psn_no, []) if body.use_account else []
    if settings.medicare_mulaid_single_provider:
        mine = mine[:1]
    return Checked(person, shop, [(drugs[c], n) for c, n in want.items()], mine, distance)
