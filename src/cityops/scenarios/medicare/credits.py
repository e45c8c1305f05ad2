"""个人账户划入: crediting the employees' personal accounts, a month at a time.

The amounts come from the contribution system (the bureau's monthly file); this module does not
compute them. A batch is one transaction: each good row raises one balance, is kept as a credit
row and gets its ledger entry; a bad row is reported with its reason and the others go on; a row
already credited (same person, month and kind) is counted and skipped, so importing a file twice
credits nobody twice. Only employees' insurance (职工医保, ``insutype`` 310) has a personal account.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select, tuple_
from sqlalchemy.orm import Session

from cityops.ledger import service as ledger
from cityops.scenarios.medicare.credit_models import AccountCredit, CreditKind
from cityops.scenarios.medicare.models import Account, InsuredPerson
from cityops.store.bulk import insert_rows, set_by_key

EMPLOYEE_INSUTYPE = "310"  # 职工基本医疗保险: the only insurance with a personal account
MAX_CREDIT_FEN = 10_000_000  # ¥100,000 a month: far above any real credit, catches unit slips
MAX_BATCH = 10_000
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_CREDITS = cast(Table, AccountCredit.__table__)
_ACCOUNTS = cast(Table, Account.__table__)


@dataclass(frozen=True, slots=True)
class Credit:
    psn_no: str
    period: str
    amount: int
    kind: CreditKind = CreditKind.contribution


@dataclass(frozen=True, slots=True)
class CreditError:
    index: int
    psn_no: str
    code: str
    message: str


@dataclass
class CreditReport:
    credited: int = 0
    already: int = 0
    amount: int = 0  # fen credited by this batch
    errors: list[CreditError] = field(default_factory=list)


def _checked(items: Sequence[Credit], report: CreditReport) -> list[tuple[int, Credit]]:
    """The rows whose own fields are good and which do not repeat an earlier row of the batch."""
    seen: set[tuple[str, str, CreditKind]] = set()
    out: list[tuple[int, Credit]] = []
    for i, c in enumerate(items):
        problem = None
        if not _PERIOD.match(c.period):
            problem = ("bad_period", f"month {c.period!r} is not YYYY-MM")
        elif not 0 < c.amount <= MAX_CREDIT_FEN:
            problem = ("bad_amount", f"amount must be 1..{MAX_CREDIT_FEN} fen, got {c.amount}")
        elif (c.psn_no, c.period, c.kind) in seen:
            problem = ("duplicate_in_batch", "the same person, month and kind appear twice")
        if problem:
            report.errors.append(CreditError(i, c.psn_no, *problem))
            continue
        seen.add((c.psn_no, c.period, c.kind))
        out.append((i, c))
    return out


def credit_accounts(
    *, session: Session, items: Sequence[Credit], source: str, actor: str, at: datetime
) -> CreditReport:
    """Credit the good rows in the caller's transaction; see the module docstring."""
    report = CreditReport()
    rows = _checked(items, report)
    nos = sorted({c.psn_no for _, c in rows})
    insutype = dict(
        session.execute(
            select(InsuredPerson.psn_no, InsuredPerson.insutype).where(
                InsuredPerson.psn_no.in_(nos)
            )
        ).all()
    )
    good: list[tuple[int, Credit]] = []
    for i, c in rows:
        if c.psn_no not in insutype:
            report.errors.append(CreditError(i, c.psn_no, "unknown_person", "no such 参保人"))
        elif insutype[c.psn_no] != EMPLOYEE_INSUTYPE:
            report.errors.append(
                CreditError(i, c.psn_no, "no_personal_account",
                            f"insutype {insutype[c.psn_no]} has no personal account (only 310)")
            )  # fmt: skip
        else:
            good.append((i, c))
    nos = sorted({c.psn_no for _, c in good})
    if not nos:
        return report
    # Lock the accounts (in one order, as orders do) before reading what is credited already,
    # so a second import of the same file waits and then skips instead of failing.
    lock = select(Account.psn_no, Account.id, Account.balc).where(Account.psn_no.in_(nos))
    locked = list(session.execute(lock.order_by(Account.psn_no).with_for_update()).all())
    missing = sorted(set(nos) - {r.psn_no for r in locked})
    if missing:  # an employee without an account row yet: it opens at zero
        session.execute(insert(Account), [{"psn_no": n, "balc": 0, "version": 0} for n in missing])
        locked += session.execute(lock.where(Account.psn_no.in_(missing))).all()
    account = {r.psn_no: [r.id, r.balc] for r in locked}  # psn_no → [id, balance as it moves]
    keys = [(c.psn_no, c.period, c.kind.value) for _, c in good]
    done = set(
        session.execute(
            select(AccountCredit.psn_no, AccountCredit.period, AccountCredit.kind).where(
                tuple_(AccountCredit.psn_no, AccountCredit.period, AccountCredit.kind).in_(keys)
            )
        ).all()
    )
    credits: list[dict[str, object]] = []
    facts: list[ledger.Fact] = []
    for _, c in good:
        if (c.psn_no, c.period, c.kind) in done:
            report.already += 1
            continue
        account[c.psn_no][1] += c.amount
        balc = account[c.psn_no][1]
        credits.append({"psn_no": c.psn_no, "period": c.period, "kind": c.kind,
                        "amount": c.amount, "balc_after": balc, "source": source,
                        "credited_at": at})  # fmt: skip
        payload = {"period": c.period, "kind": c.kind.value, "amount": c.amount,
                   "balc": balc, "source": source}  # fmt: skip
        facts.append(ledger.Fact(actor, "medicare.account_credit",
                                 f"medicare_account:{c.psn_no}", payload))  # fmt: skip
        report.credited += 1
        report.amount += c.amount
    if credits:
        touched = {str(r["psn_no"]) for r in credits}
        set_by_key(
            session, _ACCOUNTS, "balc", sorted((account[p][0], account[p][1]) for p in touched)
        )
        insert_rows(session, _CREDITS, credits)
        ledger.append_many(session=session, at=at, facts=facts)
    return report


def recent_credits(
    *, session: Session, psn_nos: Sequence[str], limit: int = 6
) -> list[AccountCredit]:
    """The latest credits of these persons, newest first (for the resident's page)."""
    return list(
        session.scalars(
            select(AccountCredit)
            .where(AccountCredit.psn_no.in_(list(psn_nos)))
            .order_by(AccountCredit.period.desc(), AccountCredit.id.desc())
            .limit(limit)
        ).all()
    )
