"""Personal data out of what the public board (云上监督) shows: pure text and point functions.

How a masked value looks follows what Chinese apps show, so residents recognise it:

- mobile numbers keep the first three and last four digits: ``138****1234``;
- landlines keep the area code and last four: ``023-****5678``;
- ID numbers (身份证号, 18 or 15 characters) keep the first three and last two:
  ``500*************1X``;
- e-mail addresses keep the first character and the domain: ``z***@example.com``;
- names we know (the reporter's) keep their first character: ``张*``, ``欧**``.

A number is masked only where no digit touches it, so a masked ID is not masked again as a phone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_ID18 = re.compile(r"(?<![0-9A-Za-z])(\d{3})\d{13}(\d[\dXx])(?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<!\d)(\d{3})\d{10}(\d{2})(?!\d)")
_MOBILE = re.compile(r"(?<!\d)((?:\+?86[ -]?)?1[3-9]\d)[ -]?\d{4}[ -]?(\d{4})(?!\d)")
# Area codes: 010 and 02x have three digits, the others four.
_LANDLINE = re.compile(r"(?<!\d)(\(?0(?:[12]\d|[3-9]\d\d)\)?)([ -]?)\d{3,4}[ -]?(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9])[A-Za-z0-9._%+-]*(@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
# About 100 m: 0.001° of latitude is 111 m, of longitude 96 m at Chongqing's 29.5° N.
COARSE_DECIMALS = 3


def _stars(m: re.Match[str], hidden: int) -> str:
    return f"{m.group(1)}{'*' * hidden}{m.group(2)}"


def mask_ids(text: str) -> str:
    text = _ID18.sub(lambda m: _stars(m, 13), text)
    return _ID15.sub(lambda m: _stars(m, 10), text)


def mask_phones(text: str) -> str:
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)
    return _LANDLINE.sub(_landline, text)


def _landline(m: re.Match[str]) -> str:
    area, sep = m.group(1), m.group(2)
    return f"{area}{sep or ('' if area.endswith(')') else '-')}****{m.group(3)}"


def mask_emails(text: str) -> str:
    return _EMAIL.sub(lambda m: f"{m.group(1)}***{m.group(2)}", text)


def mask_names(text: str, names: Iterable[str | None]) -> str:
    """Each known name, longest first, as its first character and stars.

    A one-character "name" is left alone: replacing that character everywhere would garble
    the text and hide nothing.
    """
    known = {n.strip() for n in names if n and len(n.strip()) > 1}
    for name in sorted(known, key=len, reverse=True):
        text = text.replace(name, name[0] + "*" * (len(name) - 1))
    return text


def mask_text(text: str, *, names: Iterable[str | None] = ()) -> str:
    """The text with ID numbers, phone numbers, e-mail addresses and the given names masked."""
    return mask_emails(mask_phones(mask_ids(mask_names(text, names))))


def coarse(lat: float, lng: float) -> tuple[float, float]:
    """The point rounded to about 100 m: the block, not the door."""
    return round(lat, COARSE_DECIMALS), round(lng, COARSE_DECIMALS)
