"""Rules, plans and categories are validated data: a bad entry is reported, never fatal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

T = TypeVar("T")


def parse_each(
    raw: Iterable[object],
    *,
    section: str,
    key_field: str,
    parse: Callable[[object], T],
    key: Callable[[T], str],
    dropped: str,
    key_name: str | None = None,
) -> tuple[list[T], list[str]]:
    """Parse every entry; return the good ones (first of each key wins) and one message per bad one.

    ``parse`` raises ValueError with the reason; ``dropped`` says what happens to a bad entry
    (e.g. "left out", "disabled").
    """
    good: list[T] = []
    errors: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        label = f"{section}[{i}]"
        if isinstance(entry, Mapping) and entry.get(key_field):
            label += f" ({entry.get(key_field)})"
        try:
            item = parse(entry)
        except ValueError as exc:
            errors.append(f"{label}: {exc}; {dropped}")
            continue
        if key(item) in seen:
            errors.append(f"{label}: duplicate {key_name or key_field} {key(item)}; {dropped}")
            continue
        seen.add(key(item))
        good.append(item)
    return good, errors
