"""The case state machine, as data: which action moves a case from which states to which.

Pure: no database, no clock. ``cases.service`` applies the result in one transaction with its
ledger entry.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cityops.cases.models import CaseStatus as S
from cityops.errors import IllegalTransition


class Action(enum.StrEnum):
    accept = "accept"  # 受理
    file = "file"  # 立案
    void = "void"  # 作废 / 不予立案
    dispatch = "dispatch"  # 派遣 (and 改派 after 回退)
    return_ = "return"  # 回退
    start = "start"  # 开始处置
    feedback = "feedback"  # 处置反馈
    verify_pass = "verify_pass"  # 核查通过
    verify_fail = "verify_fail"  # 核查不通过 → 返工
    close = "close"  # 结案
    close_special = "close_special"  # 特殊结案
    evaluate = "evaluate"  # 评价
    request_extension = "request_extension"  # 延期申请
    approve_extension = "approve_extension"  # 延期批准
    reject_extension = "reject_extension"  # 延期驳回
    shelve = "shelve"  # 挂账
    restore = "restore"  # 挂账恢复
    escalate = "escalate"  # 督办
    self_handle = "self_handle"  # 自处置
    confirm = "confirm"  # 群众确认已解决 (the reporter's verification evidence)
    reopen = "reopen"  # 群众重开 (closed as fixed, not fixed: rework)


OPEN_STATES = frozenset(
    {
        S.reported,
        S.accepted,
        S.filed,
        S.dispatched,
        S.in_progress,
        S.handled,
        S.verified,
        S.returned,
        S.shelved,
    }
)
# Each status as residents read it (进度): 已受理, 已立案, 已派遣, 处置中, 已核查, 已结案, ...
STATUS_ZH: dict[S, str] = {
    S.reported: "已上报", S.accepted: "已受理", S.filed: "已立案",
    S.dispatched: "已派遣", S.in_progress: "处置中",
    S.handled: "待核查", S.verified: "已核查", S.closed: "已结案",
    S.evaluated: "已评价", S.returned: "已回退", S.shelved: "挂账",
    S.void: "不予立案",
}  # fmt: skip
# States in which the handling clock runs (派遣 starts it; 挂账 stops it).
CLOCK_RUNNING = frozenset({S.dispatched, S.in_progress, S.returned})


@dataclass(frozen=True, slots=True)
class Edge:
    sources: frozenset[S]
    target: S | None  # None: the status stays (a side path that records a fact)


TRANSITIONS: dict[Action, Edge] = {
    Action.accept: Edge(frozenset({S.reported}), S.accepted),
    Action.file: Edge(frozenset({S.accepted}), S.filed),
    Action.void: Edge(frozenset({S.reported, S.accepted, S.filed}), S.void),
    Action.dispatch: Edge(frozenset({S.filed, S.returned}), S.dispatched),
    Action.return_: Edge(frozenset({S.dispatched, S.in_progress}), S.returned),
    Action.start: Edge(frozenset({S.dispatched}), S.in_progress),
    Action.feedback: Edge(frozenset({S.dispatched, S.in_progress}), S.handled),
    Action.verify_pass: Edge(frozenset({S.handled}), S.verified),
    Action.verify_fail: Edge(frozenset({S.handled}), S.in_progress),
    Action.close: Edge(frozenset({S.verified}), S.closed),
    Action.close_special: Edge(
        frozenset({S.filed, S.dispatched, S.in_progress, S.handled, S.returned, S.shelved}),
        S.closed,
    ),
    Action.evaluate: Edge(frozenset({S.closed}), S.evaluated),
    Action.request_extension: Edge(frozenset({S.dispatched, S.in_progress}), None),
    Action.approve_extension: Edge(frozenset({S.dispatched, S.in_progress}), None),
    Action.reject_extension: Edge(frozenset({S.dispatched, S.in_progress}), None),
    Action.shelve: Edge(frozenset({S.dispatched, S.in_progress}), S.shelved),
    Action.restore: Edge(frozenset({S.shelved}), S.dispatched),
    Action.escalate: Edge(
        frozenset({S.filed, S.dispatched, S.in_progress, S.returned, S.handled}), None
    ),
    Action.self_handle: Edge(frozenset({S.reported}), S.handled),
    Action.confirm: Edge(frozenset({S.handled, S.verified}), None),
    Action.reopen: Edge(frozenset({S.closed, S.evaluated}), S.dispatched),
}

ACTION_NAMES_ZH: dict[Action, str] = {
    Action.accept: "受理",
    Action.file: "立案",
    Action.void: "作废",
    Action.dispatch: "派遣",
    Action.return_: "回退",
    Action.start: "开始处置",
    Action.feedback: "处置反馈",
    Action.verify_pass: "核查通过",
    Action.verify_fail: "核查不通过(返工)",
    Action.close: "结案",
    Action.close_special: "特殊结案",
    Action.evaluate: "评价",
    Action.request_extension: "延期申请",
    Action.approve_extension: "延期批准",
    Action.reject_extension: "延期驳回",
    Action.shelve: "挂账",
    Action.restore: "挂账恢复",
    Action.escalate: "督办",
    Action.self_handle: "自处置",
    Action.confirm: "群众确认解决",
    Action.reopen: "群众重开",
}


def next_status(current: S, action: Action) -> S:
    """The status after ``action``; refuses an edge the machine does not have."""
    edge = TRANSITIONS[action]
    if current not in edge.sources:
        allowed = ", ".join(sorted(a.value for a in allowed_actions(current))) or "none"
        raise IllegalTransition(
            f"cannot {action.value} ({ACTION_NAMES_ZH[action]}) a case that is {current.value}; "
            f"allowed: {allowed}",
            status=current.value,
            action=action.value,
        )
    return edge.target if edge.target is not None else current


def allowed_actions(current: S) -> list[Action]:
    """Actions the machine accepts from ``current`` (for the UI's buttons)."""
    return [a for a, e in TRANSITIONS.items() if current in e.sources]
