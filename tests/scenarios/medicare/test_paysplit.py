"""The bill split: own account, then relatives' accounts in order, then cash (reference §4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.scenarios.medicare.paysplit import split


def test_own_first_then_the_relatives_in_binding_order_then_cash() -> None:
    s = split(total=1000, inscp=1000, own_balance=300, providers=[("A", 200), ("B", 900)])
    assert (s.acct_pay, s.mulaid, s.psn_cash_pay) == (300, (("A", 200), ("B", 500)), 0)
    s = split(total=1000, inscp=1000, own_balance=0, providers=[("A", 0), ("B", 100)])
    assert (s.acct_pay, s.mulaid, s.psn_cash_pay) == (0, (("B", 100),), 900)


def test_only_the_policy_scope_part_may_come_from_an_account() -> None:
    s = split(total=1000, inscp=600, own_balance=5000, providers=[("A", 5000)])
    assert (s.acct_pay, s.acct_mulaid_pay, s.psn_cash_pay) == (600, 0, 400)
    with pytest.raises(ValueError):
        split(total=100, inscp=200, own_balance=0, providers=[])


@given(
    total=st.integers(0, 10**7),
    share=st.floats(0, 1),
    own=st.integers(0, 10**7),
    providers=st.lists(st.integers(0, 10**6), max_size=4),
)
def test_every_fen_is_paid_once_and_no_account_is_overdrawn(
    total: int, share: float, own: int, providers: list[int]
) -> None:
    inscp = int(total * share)
    named = [(f"P{i}", b) for i, b in enumerate(providers)]
    s = split(total=total, inscp=inscp, own_balance=own, providers=named)
    assert s.acct_pay + s.acct_mulaid_pay + s.psn_cash_pay == total
    assert 0 <= s.acct_pay <= own and s.acct_pay + s.acct_mulaid_pay <= inscp
    assert all(0 < amount <= dict(named)[p] for p, amount in s.mulaid)
