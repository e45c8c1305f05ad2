"""A septic tank (化粪池) with a CH4 detector and an exhaust fan, made the way a user would."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cityops.registry.models import Component
from cityops.sensing import entities
from cityops.sensing.models import Datastream, ObservedProperty, Sensor, Thing
from tests import citykit

TANK = "50010701901000007"


def septic_tank(ident: str = TANK) -> Component:
    """A 化粪池 部件 in grid 500107001001001 (street 500107001) of the small city."""
    return Component(
        ident=ident,
        name="化粪池",
        category_code="01901",
        grid_code="500107001001001",
        district_code="500107",
        street_code="500107001",
        lat=citykit.Y0 + 0.003,
        lng=citykit.X0 + 0.003,
    )


def tank_with_fan(s: Session, ident: str = TANK) -> tuple[int, int]:
    """(CH4 datastream id, fan thing id) on a 化粪池 in street 500107001 of the small city."""
    tank = septic_tank(ident)
    s.add(tank)
    s.flush()
    sensor = entities.create(session=s, model=Sensor, values={"name": "气体检测仪"})
    ch4 = entities.create(
        session=s,
        model=ObservedProperty,
        values={"name": "甲烷浓度", "properties": {"code": "CH4"}},
    )
    detector = entities.create(
        session=s, model=Thing, values={"name": "1号化粪池气体", "component_id": tank.id}
    )
    fan = entities.create(
        session=s,
        model=Thing,
        values={
            "name": "1号化粪池排风机",
            "component_id": tank.id,
            "is_actuator": True,
            "command_topic": "cityops/v1/things/fan/commands",  # a thing of its own in real use
            "properties": {"role": "fan"},
        },
    )
    ds = entities.create(
        session=s,
        model=Datastream,
        values={
            "name": "1号化粪池甲烷",
            "unit_of_measurement": {"name": "LEL", "symbol": "%LEL", "definition": ""},
            "thing_id": detector.id,
            "sensor_id": sensor.id,
            "observed_property_id": ch4.id,
        },
    )
    return ds.id, fan.id
