from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from tests import citykit


@pytest.fixture
def city(session_factory: sessionmaker[Session]) -> citykit.SmallCity:
    with session_factory.begin() as s:
        return citykit.build(s)


@pytest.fixture
def rules(session_factory: sessionmaker[Session], city: citykit.SmallCity, clock: FakeClock) -> Any:
    with session_factory() as s:
        return citykit.rules_for(s, clock)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work the test commits explicitly, like a request does."""
    s = session_factory()
    yield s
    s.rollback()
    s.close()
