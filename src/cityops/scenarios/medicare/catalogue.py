"""Pure catalogue helpers: pinyin initials, strength normalisation and the 四同 product key.

"The same product" (四同) is the same generic name, manufacturer, dosage form and strength; the
pack may differ (24 tablets or 48), so offers of one product compare by unit price (fen per
tablet, capsule, bag…). Strengths are normalised first so ``0.25g`` and ``250mg`` are one
strength (reference §5.2: normalise spec strings before grouping).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

_MASS = {"kg": 1e9, "g": 1e6, "mg": 1e3, "μg": 1.0, "ug": 1.0, "mcg": 1.0}
_VOLUME = {"l": 1000.0, "ml": 1.0}
_UNITS = {"万iu": ("IU", 1e4), "iu": ("IU", 1.0), "u": ("U", 1.0), "万u": ("U", 1e4)}
_STRENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Zμ万]+)\s*$")


@lru_cache(maxsize=65536)
def pinyin_initials(name: str) -> str:
    """Upper-case pinyin initials of the Chinese characters (阿莫西林胶囊 → AMXLJN)."""
    letters = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(p[:1] for p in letters if p).upper()


def normal_strength(raw: str) -> str:
    """A canonical strength: masses in mg, volumes in ml, units as IU/U; else the text trimmed.

    Compound strengths (``10ml:0.5g``, ``0.25g×24``'s spec part) keep each part normalised.
    """
    parts = re.split(r"[:：/]", raw.replace(" ", ""))
    return ":".join(_one_strength(p) for p in parts)


def _one_strength(part: str) -> str:
    m = _STRENGTH.match(part)
    if not m:
        return part.lower()
    value, unit = float(m[1]), m[2]
    low = unit.lower()
    if low in _MASS:
        return f"{_fmt(value * _MASS[low] / 1000.0)}mg"
    if low in _VOLUME:
        return f"{_fmt(value * _VOLUME[low])}ml"
    if low in _UNITS:
        name, factor = _UNITS[low]
        return f"{_fmt(value * factor)}{name}"
    return f"{_fmt(value)}{low}"


def _fmt(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def product_key(*, name: str, maker_code: str, form: str, strength: str) -> str:
    """The 四同 key: generic name, manufacturer, dosage form, normalised strength."""
    return f"{name.strip()}|{maker_code}|{form.strip()}|{normal_strength(strength)}"


def unit_price(price_fen: int, pack_qty: int) -> float:
    """Fen per smallest unit (tablet, capsule, bag) so packs of 12 and 24 compare."""
    if pack_qty <= 0:
        raise ValueError("pack quantity must be positive")
    return price_fen / pack_qty
