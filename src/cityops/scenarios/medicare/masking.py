"""Masking a relative's identity (pure): someone else's personal data is shown only in part."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """张三 → 张*, 李秀英 → 李*英."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_no(no: str) -> str:
    return "*" * max(len(no) - 4, 0) + no[-4:]
