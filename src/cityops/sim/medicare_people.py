"""Synthetic insured persons, personal accounts and 家庭共济 bindings, deterministic by seed.

Families of 1–5 people share a 参保地; about 70 % are 职工 (insutype 310, with a personal
account, balance lognormal around ¥800), the rest 城乡居民 (390, no account). In a family with a
职工 member, each other member is bound to the first 职工 as beneficiary with probability 0.6
(relation drawn from the close-relative list), so every beneficiary has one provider.

Sex (``gend`` "1"/"2") and birth date (``brdy``) follow the family: the first member is an
adult of 22–79, the second the spouse (the other sex, a few years apart), the others children
22–36 years younger (or the head's parents when that would be before birth); ages are as of
``AS_OF``. A minor is never a 职工. These come from a random stream of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from cityops.sim.medicare_market import MERGED, POPULATION

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌宇浩然欣怡子涵梓轩"
RELATIONS = ("spouse", "parent", "child", "sibling", "grandparent", "grandchild")
BOUND_AT = datetime(2024, 9, 1, tzinfo=UTC)
AS_OF = date(2026, 1, 1)
ADULT = 18


def _family(size: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    """(gend, age on AS_OF) for a family of ``size``: head, spouse, then children or parents."""
    head_age, head_sex = int(rng.integers(22, 80)), int(rng.integers(1, 3))
    out = [(str(head_sex), head_age)]
    for k in range(1, size):
        if k == 1:
            age, sex = max(20, head_age + int(rng.integers(-5, 6))), 3 - head_sex
        else:
            gap = int(rng.integers(22, 37))
            age = head_age - gap if head_age - gap >= 0 else min(head_age + gap, 99)
            sex = int(rng.integers(1, 3))
        out.append((str(sex), age))
    return out


def _birthday(age: int, rng: np.random.Generator) -> date:
    """A birth date that makes the person ``age`` on AS_OF."""
    return date(AS_OF.year - age - 1, 1, 1) + timedelta(days=int(rng.integers(0, 365)))


@dataclass
class People:
    persons: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    bindings: list[dict[str, Any]] = field(default_factory=list)


def generate(n: int, *, seed: int = 7) -> People:
    """About ``n`` persons in families, with accounts and bindings."""
    rng = np.random.default_rng([seed, 4108])
    ages = np.random.default_rng([seed, 4109])
    codes = sorted(POPULATION)
    weights = np.array([POPULATION[c] for c in codes], dtype=np.float64)
    out = People()
    i = 0
    while i < n:
        size = min(int(rng.integers(1, 6)), n - i)
        code = codes[int(rng.choice(len(codes), p=weights / weights.sum()))]
        adm = MERGED.get(code, code)
        surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
        members: list[tuple[str, bool]] = []
        for gend, age in _family(size, ages):
            i += 1
            psn_no = f"{adm}{i:014d}"
            employee = bool(rng.random() < 0.7) and age >= ADULT
            given = "".join(GIVEN[int(k)] for k in rng.integers(0, len(GIVEN), 2))
            out.persons.append(
                {
                    "id": i,
                    "psn_no": psn_no,
                    "psn_name": surname + given,
                    "insutype": "310" if employee else "390",
                    "insu_admdvs": adm,
                    "gend": gend,
                    "brdy": _birthday(age, ages),
                    "user_id": None,
                }
            )
            if employee:
                balc = int(rng.lognormal(np.log(80_000), 0.9))
                out.accounts.append({"id": len(out.accounts) + 1, "psn_no": psn_no,
                                     "balc": balc, "version": 0})  # fmt: skip
            members.append((psn_no, employee))
        providers = [p for p, emp in members if emp]
        if not providers:
            continue
        for psn_no, _emp in members:
            if psn_no != providers[0] and rng.random() < 0.6:
                out.bindings.append(
                    {
                        "id": len(out.bindings) + 1,
                        "provider_psn_no": providers[0],
                        "beneficiary_psn_no": psn_no,
                        "relation": RELATIONS[int(rng.integers(len(RELATIONS)))],
                        "bound_at": BOUND_AT,
                    }
                )
    return out
