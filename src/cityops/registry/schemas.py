"""API shapes of the registry: one schema per direction, coordinates as WGS84 ``{lat, lng}``."""

from __future__ import annotations

from datetime import date, datetime, time

from pydantic import BaseModel, ConfigDict, Field

from cityops.registry.models import ComponentState, DepartmentType, StaffRole


class LatLng(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class DepartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    type: DepartmentType
    jurisdiction_code: str
    level: str
    district_code: str | None
    active: bool


class DepartmentPage(BaseModel):
    items: list[DepartmentRead]
    total: int
    next_cursor: str | None


class StaffRead(BaseModel):
    id: int
    code: str
    name: str
    role: StaffRole
    department_id: int | None
    jurisdiction_code: str
    district_code: str | None
    street_code: str | None
    phone: str | None
    shift_start: time
    shift_end: time
    works_weekends: bool
    on_leave: bool
    active: bool
    open_cases: int
    position: LatLng | None
    position_at: datetime | None


class StaffPage(BaseModel):
    items: list[StaffRead]
    total: int
    next_cursor: str | None


class StaffPositionUpdate(BaseModel):
    """A worker's GPS fix; ``at`` defaults to the server's now. Older fixes are ignored."""

    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    at: datetime | None = None


class ComponentRead(BaseModel):
    id: int
    ident: str
    name: str
    category_code: str
    owner_department_id: int | None
    maintainer_department_id: int | None
    grid_code: str | None
    district_code: str | None
    street_code: str | None
    location: LatLng
    state: ComponentState
    installed_on: date | None


class ComponentNear(ComponentRead):
    distance_m: float


class ComponentPage(BaseModel):
    items: list[ComponentRead]
    total: int
    next_cursor: str | None


class ComponentCreate(BaseModel):
    """A new 部件; without ``ident`` the next free sequence number in its district is assigned."""

    ident: str | None = Field(
        default=None, description="17 digits: county 6 + class 5 + sequence 6"
    )
    name: str = Field(min_length=1, max_length=60)
    category_code: str = Field(description="5 digits: major 2 + minor 3, e.g. 01001 供水井盖")
    district_code: str | None = None
    street_code: str | None = None
    grid_code: str | None = None
    location: LatLng
    owner_department_id: int | None = None
    maintainer_department_id: int | None = None
    state: ComponentState = ComponentState.intact
    installed_on: date | None = None


class ComponentStateUpdate(BaseModel):
    state: ComponentState
