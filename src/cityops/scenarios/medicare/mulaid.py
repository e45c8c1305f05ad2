"""家庭共济 bindings made and cancelled by the resident who provides (reference §4).

The provider is one of the login's insured persons: a 职工 (insutype 310) with a personal
account. The beneficiary is named by 个人编号 and name (both must match), the relation must be
one of ``medicare_mulaid_relations``, and with ``medicare_mulaid_single_provider`` a beneficiary
has at most one active provider. A cancellation sets ``ended_at`` and keeps the row, so the
settlements that drew on the binding keep their history. Each change is one ledger entry in the
caller's transaction.

Concurrency: the beneficiary's row is locked (``FOR UPDATE`` on PostgreSQL, the writer lock on
SQLite) before its bindings are read, so two providers binding one person at once cannot both
pass the single-provider check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from cityops.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cityops.ledger import service as ledger
from cityops.scenarios.medicare.masking import mask_name, mask_no
from cityops.scenarios.medicare.models import Account, InsuredPerson, MutualAidBinding, Relation
from cityops.scenarios.medicare.schemas import BindingIn, BindingList, BindingRead
from cityops.settings import Settings

EMPLOYEE_INSUTYPE = "310"  # 职工基本医疗保险: the only insurance with a personal account


def allowed_relations(settings: Settings) -> set[str]:
    return {r.strip() for r in settings.medicare_mulaid_relations.split(",") if r.strip()}


def _my_persons(session: Session, user_id: int) -> dict[str, InsuredPerson]:
    return {
        p.psn_no: p
        for p in session.scalars(select(InsuredPerson).where(InsuredPerson.user_id == user_id))
    }


def list_bindings(*, session: Session, user_id: int, include_ended: bool = False) -> BindingList:
    """Bindings where one of my persons provides or benefits, newest first."""
    mine = _my_persons(session, user_id)
    prov, ben = aliased(InsuredPerson), aliased(InsuredPerson)
    query = (
        select(MutualAidBinding, prov.psn_name, ben.psn_name)
        .join(prov, prov.psn_no == MutualAidBinding.provider_psn_no)
        .join(ben, ben.psn_no == MutualAidBinding.beneficiary_psn_no)
        .where(or_(MutualAidBinding.provider_psn_no.in_(mine),
                   MutualAidBinding.beneficiary_psn_no.in_(mine)))
        .order_by(MutualAidBinding.bound_at.desc(), MutualAidBinding.id.desc())
    )  # fmt: skip
    if not include_ended:
        query = query.where(MutualAidBinding.ended_at.is_(None))
    return BindingList(
        items=[_read(b, p_name, b_name, set(mine)) for b, p_name, b_name in session.execute(query)]
    )


def _read(b: MutualAidBinding, p_name: str, b_name: str, mine: set[str]) -> BindingRead:
    def shown(no: str, name: str) -> tuple[str, str]:
        return (no, name) if no in mine else (mask_no(no), mask_name(name))

    p_no, p_shown = shown(b.provider_psn_no, p_name)
    b_no, b_shown = shown(b.beneficiary_psn_no, b_name)
    return BindingRead(
        id=b.id, role="provider" if b.provider_psn_no in mine else "beneficiary",
        provider_psn_no=p_no, provider_name=p_shown, beneficiary_psn_no=b_no,
        beneficiary_name=b_shown, relation=Relation(b.relation).value, bound_at=b.bound_at,
        ended_at=b.ended_at, active=b.ended_at is None,
    )  # fmt: skip


def _provider(session: Session, mine: dict[str, InsuredPerson], wanted: str | None) -> str:
    """The provider among my persons: a 职工 with an account, named or the only one."""
    if wanted is not None and wanted not in mine:
        raise Forbidden("you may bind only from your own insured persons", code="not_your_account")
    with_account = set(
        session.scalars(select(Account.psn_no).where(Account.psn_no.in_(mine))).all()
    )
    able = sorted(
        no for no, p in mine.items() if p.insutype == EMPLOYEE_INSUTYPE and no in with_account
    )
    if wanted is not None:
        if wanted not in able:
            raise Conflict(
                "only an employee (职工) with a personal account can provide for a relative",
                code="provider_has_no_account",
            )
        return wanted
    if not able:
        raise Conflict(
            "none of your insured persons is an employee (职工) with a personal account",
            code="provider_has_no_account",
        )
    if len(able) > 1:
        raise ValidationFailed(
            "several of your persons could provide: say which in provider_psn_no",
            code="provider_required", choices=able,
        )  # fmt: skip
    return able[0]


def bind(
    *, session: Session, settings: Settings, user_id: int, body: BindingIn, now: datetime,
    actor: str,
) -> BindingRead:  # fmt: skip
    """Bind a close relative to my account after every check; refusals write nothing."""
    allowed = allowed_relations(settings) & {r.value for r in Relation}
    if body.relation not in allowed:
        raise ValidationFailed(
            f"relation {body.relation!r} is not allowed for 家庭共济",
            code="relation_not_allowed", allowed=sorted(allowed),
        )  # fmt: skip
    mine = _my_persons(session, user_id)
    provider = _provider(session, mine, body.provider_psn_no)
    if body.beneficiary_psn_no == provider:
        raise ValidationFailed("a person cannot be bound to themself", code="cannot_bind_self")
    person = session.scalar(
        select(InsuredPerson).where(InsuredPerson.psn_no == body.beneficiary_psn_no)
        .with_for_update()
    )  # fmt: skip
    if person is None:
        raise NotFound("no insured person with this psn_no", code="beneficiary_not_found")
    if body.beneficiary_name.strip() != person.psn_name:
        raise ValidationFailed(
            "the name does not match the insured person's record", code="name_mismatch"
        )
    active = session.scalars(
        select(MutualAidBinding.provider_psn_no).where(
            MutualAidBinding.beneficiary_psn_no == person.psn_no,
            MutualAidBinding.ended_at.is_(None),
        )
    ).all()
    if provider in active:
        raise Conflict("this relative is already bound to your account", code="already_bound")
    if active and settings.medicare_mulaid_single_provider:
        raise Conflict(
            "this relative is already bound to another provider; that binding must end first",
            code="beneficiary_has_provider",
        )
    binding = MutualAidBinding(
        provider_psn_no=provider, beneficiary_psn_no=person.psn_no,
        relation=Relation(body.relation), bound_at=now,
    )  # fmt: skip
    session.add(binding)
    session.flush()
    _record(session, now, actor, "medicare.mulaid_bind", binding)
    return _read(binding, mine[provider].psn_name, person.psn_name, set(mine))


def cancel(
    *, session: Session, user_id: int, binding_id: int, now: datetime, actor: str
) -> BindingRead:
    """End one of my bindings as its provider; the row stays, with ``ended_at``."""
    mine = _my_persons(session, user_id)
    binding = session.scalar(
        select(MutualAidBinding).where(MutualAidBinding.id == binding_id).with_for_update()
    )
    if binding is None or (
        binding.provider_psn_no not in mine and binding.beneficiary_psn_no not in mine
    ):
        raise NotFound("no such binding of yours", code="binding_not_found")
    if binding.provider_psn_no not in mine:
        raise Forbidden("only the provider can cancel a binding", code="not_provider")
    if binding.ended_at is not None:
        raise Conflict("this binding has already ended", code="binding_ended")
    binding.ended_at = now
    session.flush()
    names = dict(
        session.execute(
            select(InsuredPerson.psn_no, InsuredPerson.psn_name).where(
                InsuredPerson.psn_no.in_([binding.provider_psn_no, binding.beneficiary_psn_no])
            )
        ).all()
    )
    _record(session, now, actor, "medicare.mulaid_cancel", binding)
    return _read(
        binding, names[binding.provider_psn_no], names[binding.beneficiary_psn_no], set(mine)
    )


def _record(session: Session, now: datetime, actor: str, action: str, b: MutualAidBinding) -> None:
    """The ledger entry: numbers and relation only, no names (the ledger is forever)."""
    payload: dict[str, Any] = {
        "provider_psn_no": b.provider_psn_no, "beneficiary_psn_no": b.beneficiary_psn_no,
        "relation": Relation(b.relation).value,
    }  # fmt: skip
    ledger.append(
        session=session, at=now, actor=actor, action=action,
        subject=f"medicare_mulaid:{b.id}", payload=payload,
    )  # fmt: skip
