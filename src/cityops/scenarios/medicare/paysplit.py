"""How a pharmacy bill is split (pure): the personal account first, then 家庭共济, then cash.

At a designated pharmacy (med_type 41) the pool pays nothing; the insured's own personal account
(职工, insutype 310) pays what it can, then the account of a bound close relative (the provider),
in binding order, and the remainder is cash (reference §4). Only the policy-scope amount
(``inscp_amt``: listed 甲/乙 drugs) may come from an account.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Split:
    acct_pay: int  # own account
    mulaid: tuple[tuple[str, int], ...]  # (provider psn_no, amount) with amount > 0
    psn_cash_pay: int

    @property
    def acct_mulaid_pay(self) -> int:
        return sum(amount for _, amount in self.mulaid)


def split(*, total: int, inscp: int, own_balance: int, providers: list[tuple[str, int]]) -> Split:
    """Own balance, then each provider's balance in order, then cash; all integer fen."""
    if total < 0 or not 0 <= inscp <= total or own_balance < 0:
        raise ValueError("amounts must be non-negative and the in-scope part within the total")
    own = min(own_balance, inscp)
    rest = inscp - own
    mulaid: list[tuple[str, int]] = []
    for psn_no, balance in providers:
        if rest == 0:
            break
        take = min(max(balance, 0), rest)
        if take:
            mulaid.append((psn_no, take))
            rest -= take
    cash = total - own - sum(a for _, a in mulaid)
    return Split(own, tuple(mulaid), cash)
