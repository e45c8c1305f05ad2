"""消息通知: each step of a case told to its reporter and followers, in the step's transaction.

``step`` is called by ``service.record`` beside the ledger entry, so a notification is written
exactly when the step is, and never for a step that was rolled back. Who is told: the case's
reporter when a resident reported it (the resident channel), and everyone who follows it
(``case_follower``), but not the person who took the step. Internal steps (回退, 督办, 延期申请,
预警) are not told: they are not the resident's business; the steps that are, are in ``PHRASES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case as when
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from cityops.cases.masking import mask_text
from cityops.cases.models import Case, CaseFollower, Channel, Notification
from cityops.errors import NotFound

# The step as the resident reads it, after "案件 <no>（<title>）".
PHRASES: dict[str, str] = {
    "accept": "已受理",
    "file": "已立案",
    "void": "不予立案",
    "dispatch": "已派遣至处置部门",
    "start": "处置人员已开始处置",
    "feedback": "已处置完毕，等待核查",
    "verify_pass": "处置结果已核查通过",
    "verify_fail": "核查未通过，已退回重新处置",
    "confirm": "上报人已确认问题解决",
    "close": "已办结",
    "close_special": "已特殊结案",
    "evaluate": "已评价",
    "reopen": "已被上报人重开，重新处置",
    "shelve": "暂缓处置（挂账）",
    "restore": "恢复处置",
    "approve_extension": "处置时限已延长",
}
# Steps whose stated reason the resident is told.
REASONED = frozenset({"void", "close_special", "verify_fail", "reopen", "shelve"})
TEXT_LENGTH = 300


def recipients(session: Session, case: Case) -> set[int]:
    """The resident reporter and every follower of the case."""
    users = set(
        session.execute(
            select(CaseFollower.user_id).where(CaseFollower.case_id == case.id)
        ).scalars()
    )
    if case.reporter_user_id is not None and case.channel is Channel.resident:
        users.add(case.reporter_user_id)
    return users


def text(case: Case, action: str, payload: dict[str, Any]) -> str:
    """The notification's words (zh), personal data masked."""
    phrase = PHRASES[action]
    if action == "evaluate" and payload.get("satisfaction"):
        phrase += f"（{payload['satisfaction']} 星）"
    reason = payload.get("reason") if action in REASONED else None
    title = mask_text(case.title, names=[case.reporter_name])
    out = f"案件 {case.case_no}（{title}）{phrase}"
    if reason:
        out += "：" + mask_text(str(reason), names=[case.reporter_name])
    return out[:TEXT_LENGTH]


def step(
    *,
    session: Session,
    case: Case,
    action: str,
    at: datetime,
    payload: dict[str, Any],
    actor: int | None,
) -> None:
    """Notification rows for one step of ``case`` (already flushed with its new status)."""
    if action not in PHRASES:
        return
    users = recipients(session, case) - {actor}
    if not users:
        return
    words = text(case, action, payload)
    session.execute(
        insert(Notification),
        [
            {
                "user_id": uid,
                "case_id": case.id,
                "kind": action,
                "status": case.status,
                "text": words,
                "created_at": at,
                "read_at": None,
            }
            for uid in sorted(users)
        ],
    )


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Notification]
    total: int
    unread: int


def page(*, session: Session, user_id: int, limit: int, offset: int) -> Page:
    """A person's notifications: unread first, then newest first."""
    mine = Notification.user_id == user_id
    items = session.execute(
        select(Notification)
        .where(mine)
        .order_by(
            when((Notification.read_at.is_(None), 0), else_=1),
            Notification.created_at.desc(),
            Notification.id.desc(),
        )
        .limit(limit)
        .offset(offset)
    ).scalars()
    total, unread = session.execute(
        select(
            func.count(),
            func.count(when((Notification.read_at.is_(None), 1))),
        ).where(mine)
    ).one()
    return Page(list(items), int(total), int(unread))


def mark_read(*, session: Session, user_id: int, notification_id: int, at: datetime) -> None:
    """Mark one of the person's notifications read (again is harmless)."""
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"notification {notification_id} not found", code="notification_not_found")
    if row.read_at is None:
        row.read_at = at


def mark_all_read(*, session: Session, user_id: int, at: datetime) -> int:
    """Mark all the person's unread notifications read; how many were."""
    done = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=at)
    )
    return int(getattr(done, "rowcount", 0) or 0)
