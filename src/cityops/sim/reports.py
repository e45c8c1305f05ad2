"""A simulated city: reports arrive through every channel, and staff move cases along.

Deterministic by seed for a given sequence of calls; used by the demo and the tests.
"""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from cityops.auth.models import Role
from cityops.auth.scope import Principal, machine
from cityops.cases import intake, service
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseReport, CaseStatus, Channel
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate, Point, TransitionCreate
from cityops.errors import CityOpsError
from cityops.geo.models import Jurisdiction, Level

# 案件来源 mix, roughly as digital city-management centres report it.
CHANNEL_MIX = [
    (Channel.inspector, 45),
    (Channel.video, 20),
    (Channel.resident, 15),
    (Channel.hotline, 12),
    (Channel.sensor, 4),
    (Channel.patrol, 3),
    (Channel.leader, 1),
]
# The problems that dominate real case loads (codes of the catalogue).
COMMON = [
    "06010",
    "06012",
    "06011",
    "09009",
    "09010",
    "09006",
    "07001",
    "06013",
    "01037",
    "01002",
    "01003",
    "04002",
    "06036",
    "08004",
    "09005",
    "06042",
    "06028",
    "01001",
]
CENTER = machine("sim:center")  # the simulated city-management centre


class ReportSimulator:
    def __init__(self, *, seed: int = 11, districts: tuple[str, ...] = ()) -> None:
        self.rng = random.Random(seed)
        self.districts = districts
        self._grids: list[tuple[float, float]] | None = None

    def _places(self, session: Session) -> list[tuple[float, float]]:
        if self._grids is None:
            stmt = select(Jurisdiction.center_lat, Jurisdiction.center_lng).where(
                Jurisdiction.level == Level.grid, Jurisdiction.valid_to.is_(None)
            )
            if self.districts:
                stmt = stmt.where(Jurisdiction.district_code.in_(self.districts))
            self._grids = [
                (float(a), float(b))
                for a, b in session.execute(stmt)
                if a is not None and b is not None
            ]
        return self._grids

    def make_report(self, session: Session, rules: CaseRules) -> CaseCreate | None:
        places = self._places(session)
        if not places:
            return None
        lat, lng = self.rng.choice(places)
        codes = [c for c in COMMON if _known(rules, c)] or [c.code for c in rules.catalogue.all()]
        code = self.rng.choice(codes)
        channel = self.rng.choices([c for c, _ in CHANNEL_MIX], [w for _, w in CHANNEL_MIX])[0]
        name = rules.catalogue.get(code).name
        photo = self.rng.random() < 0.8
        return CaseCreate(
            category=code,
            channel=channel,
            location=Point(
                lat=lat + self.rng.uniform(-3e-4, 3e-4), lng=lng + self.rng.uniform(-3e-4, 3e-4)
            ),
            description=f"{name}，请尽快处理",
            photos=[f"sim://photo/{self.rng.getrandbits(40):x}.jpg"] if photo else [],
        )

    def step(self, *, session: Session, rules: CaseRules, now: datetime, reports: int) -> int:
        """New reports, then a share of open cases moved one step; returns changes made."""
        made = 0
        for _ in range(reports):
            data = self.make_report(session, rules)
            if data is None:
                break
            try:
                with session.begin_nested():
                    intake.report(session=session, rules=rules, data=data, actor=CENTER, at=now)
                made += 1
            except CityOpsError:
                continue
        return made + self._progress(session, rules, now, budget=reports * 2)

    def _progress(self, session: Session, rules: CaseRules, now: datetime, budget: int) -> int:
        rows = list(
            session.execute(
                select(Case)
                .where(Case.status.in_(list(NEXT)))
                .order_by(Case.updated_at)
                .limit(budget * 3)
            ).scalars()
        )
        self.rng.shuffle(rows)
        moved = 0
        for case in rows[:budget]:
            command, actor = self.next_step(case)
            if command is None:
                continue
            try:
                with session.begin_nested():
                    service.transition(
                        session=session,
                        rules=rules,
                        case_id=case.id,
                        command=command,
                        actor=actor,
                        at=now,
                    )
                moved += 1
            except CityOpsError:
                continue
        return moved

    @staticmethod
    def _ruled(case: Case) -> bool:
        """Filed by a rules plan (its report's ``external_ref`` is ``rule:<plan>:…``)."""
        session = object_session(case)
        assert session is not None
        ref = select(CaseReport.id).where(
            CaseReport.case_id == case.id, CaseReport.external_ref.like("rule:%")
        )
        return session.execute(ref.limit(1)).first() is not None

    def next_step(self, case: Case) -> tuple[TransitionCreate | None, Principal]:
        """What the simulated centre or worker does next with ``case`` (None: leave it)."""
        center = CENTER
        worker = Principal(
            0,
            f"sim:worker-{case.worker_id}",
            Role.field_worker,
            case.street_code,
            staff_id=case.worker_id,
        )
        roll = self.rng.random()
        action = NEXT[case.status]
        if case.status is CaseStatus.reported and roll < 0.05:
            return TransitionCreate(action=Action.void, reason="不属于受理范围"), center
        if case.status is CaseStatus.handled:
            if case.channel is Channel.sensor and self._ruled(case):
                return None, center  # 智能核查: the plan verifies it from the readings
            if roll < 0.1:
                return TransitionCreate(action=Action.verify_fail, reason="现场未处理到位"), center
            return TransitionCreate(  # the on-site photo: a resident's case closes only with it
                action=Action.verify_pass,
                verification_method="inspector",
                photos=["sim://photo/verify.jpg"],
            ), center
        if case.status is CaseStatus.closed:
            return TransitionCreate(
                action=Action.evaluate,
                satisfaction=self.rng.choices([5, 4, 3, 2, 1], [60, 25, 8, 4, 3])[0],
            ), center
        if action in (Action.start, Action.feedback):
            if case.worker_id is None:
                return None, center
            extra = {"photos": ["sim://photo/after.jpg"]} if action is Action.feedback else {}
            return TransitionCreate(action=action, **extra), worker
        return TransitionCreate(action=action), center


NEXT = {
    CaseStatus.reported: Action.accept,
    CaseStatus.accepted: Action.file,
    CaseStatus.filed: Action.dispatch,
    CaseStatus.returned: Action.dispatch,
    CaseStatus.dispatched: Action.start,
    CaseStatus.in_progress: Action.feedback,
    CaseStatus.handled: Action.verify_pass,
    CaseStatus.verified: Action.close,
    CaseStatus.closed: Action.evaluate,
}


def _known(rules: CaseRules, code: str) -> bool:
    try:
        rules.catalogue.get(code)
    except CityOpsError:
        return False
    return True
