"""The national insurance drug code (医保药品分类与代码) and the box traceability code (药品追溯码).

Western drugs, 23 characters: ``X`` + ATC level-4 class (5, e.g. ``A01AB``) + generic-name code
(letter + 3 digits) + dosage-form code (letter + 3 digits, A = tablets, B = injections) +
spec/packaging (4 digits) + manufacturer (5 digits): ``XA01ABD075A002010100571``.
Chinese patent medicines, 20 characters: ``Z`` + class (letter, 2 digits, 2 letters) +
name code (letter + 4 digits, dosage form embedded) + spec/packaging (4) + manufacturer (5):
``ZA04CAE0023010100166``. Source: reference §5.1 (checked there against many real codes).

The reference gives **no check digit** for either code, so validation is structural only: the
length, the prefix and each block's character classes. A typo in a digit that keeps the shape
passes here and is then refused as an unknown code by the catalogue.

Traceability code: 20 digits, the first 7 the product identifier (药品标识码) [secondary].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

WESTERN_LEN = 23
PATENT_LEN = 20
TRACE_LEN = 20


class DrugKind(StrEnum):
    western = "western"  # 西药
    patent = "patent"  # 中成药


@dataclass(frozen=True, slots=True)
class DrugCode:
    """A structurally valid code split into its blocks."""

    code: str
    kind: DrugKind
    category: str  # ATC level 4 (西药) or the 中成药 class
    name_code: str  # 通用名编码 (中成药: includes the dosage form)
    form_code: str | None  # 剂型编码; None for 中成药 (inside name_code)
    spec_pack: str  # 规格包装, 4 digits (internal 2+2 split unconfirmed)
    maker: str  # 生产企业, 5 digits

    @property
    def generic_key(self) -> str:
        """The code without its spec/pack and maker blocks: the same generic in the same form."""
        return self.code[: len(self.code) - 9]


class BadDrugCode(ValueError):
    """A code that cannot be a national drug code; ``reason`` is a stable machine word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_WESTERN = re.compile(
    r"X(?P<atc>[A-Z]\d{2}[A-Z]{2})(?P<name>[A-Z]\d{3})(?P<form>[A-Z]\d{3})"
    r"(?P<spec>\d{4})(?P<maker>\d{5})"
)
_PATENT = re.compile(
    r"Z(?P<cls>[A-Z]\d{2}[A-Z]{2})(?P<name>[A-Z]\d{4})(?P<spec>\d{4})(?P<maker>\d{5})"
)
_Block = tuple[int, int, str, str, str]
_BLOCKS_WESTERN: tuple[_Block, ...] = (
    (1, 6, r"[A-Z]\d{2}[A-Z]{2}", "bad_class", "ATC class (letter, 2 digits, 2 letters)"),
    (6, 10, r"[A-Z]\d{3}", "bad_name_code", "generic-name code (letter + 3 digits)"),
    (10, 14, r"[A-Z]\d{3}", "bad_form_code", "dosage-form code (letter + 3 digits)"),
    (14, 18, r"\d{4}", "bad_spec_pack", "spec/packaging (4 digits)"),
    (18, 23, r"\d{5}", "bad_maker", "manufacturer (5 digits)"),
)
_BLOCKS_PATENT: tuple[_Block, ...] = (
    (1, 6, r"[A-Z]\d{2}[A-Z]{2}", "bad_class", "class (letter, 2 digits, 2 letters)"),
    (6, 11, r"[A-Z]\d{4}", "bad_name_code", "name code (letter + 4 digits)"),
    (11, 15, r"\d{4}", "bad_spec_pack", "spec/packaging (4 digits)"),
    (15, 20, r"\d{5}", "bad_maker", "manufacturer (5 digits)"),
)


def normalise(raw: str) -> str:
    """Codes are upper case without spaces; people paste them with both."""
    return re.sub(r"[\s\-]", "", raw).upper()


def parse(raw: str) -> DrugCode:
    """Split a code into its blocks or raise ``BadDrugCode`` naming the first wrong block."""
    code = normalise(raw)
    if not code:
        raise BadDrugCode("empty", "the drug code is empty")
    head = code[0]
    if head == "X":
        expected, blocks, pattern = WESTERN_LEN, _BLOCKS_WESTERN, _WESTERN
    elif head == "Z":
        expected, blocks, pattern = PATENT_LEN, _BLOCKS_PATENT, _PATENT
    else:
        raise BadDrugCode(
            "bad_prefix", f"a drug code starts with X (西药) or Z (中成药), not {head!r}"
        )
    if len(code) != expected:
        kind = "western-drug" if head == "X" else "Chinese-patent-medicine"
        raise BadDrugCode(
            "bad_length", f"a {kind} code has {expected} characters, this one {len(code)}"
        )
    match = pattern.fullmatch(code)
    if match is None:
        for start, end, block, reason, label in blocks:
            if not re.fullmatch(block, code[start:end]):
                raise BadDrugCode(
                    reason, f"characters {start + 1}–{end} ({code[start:end]}) must be the {label}"
                )
        raise BadDrugCode("malformed", "the code does not have the national format")
    if head == "X":
        return DrugCode(
            code, DrugKind.western, match["atc"], match["name"], match["form"],
            match["spec"], match["maker"],
        )  # fmt: skip
    return DrugCode(
        code, DrugKind.patent, match["cls"], match["name"], None, match["spec"], match["maker"]
    )


def looks_like_code(text: str) -> bool:
    """Whether a search text is meant as a code (X/Z then a digit-bearing block), not pinyin."""
    t = normalise(text)
    return len(t) >= 4 and t[0] in "XZ" and any(c.isdigit() for c in t[1:4])


def trace_code(product_id: int, serial: int) -> str:
    """A synthetic 20-digit box code: the 7-digit product identifier, then a 13-digit serial."""
    if not 0 <= product_id < 10**7 or not 0 <= serial < 10**13:
        raise ValueError("product id or serial out of range")
    return f"{product_id:07d}{serial:013d}"


def check_trace_code(raw: str) -> str:
    """A traceability code is 20 digits; returns it or raises ``BadDrugCode``."""
    code = raw.strip()
    if len(code) != TRACE_LEN or not code.isdigit():
        raise BadDrugCode("bad_trace_code", "a traceability code (追溯码) is 20 digits")
    return code
