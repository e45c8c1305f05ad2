"""Drug codes (reference §5.1), pinyin initials and the 四同 key."""

from __future__ import annotations

import pytest

from cityops.scenarios.medicare import catalogue, codes


def test_real_codes_from_the_reference_parse_into_their_blocks() -> None:
    w = codes.parse("XA01ABD075A002010100571")
    assert (w.kind, w.category, w.name_code, w.form_code, w.spec_pack, w.maker) == (
        codes.DrugKind.western, "A01AB", "D075", "A002", "0101", "00571",
    )  # fmt: skip
    z = codes.parse("ZA04CAE0023010100166")
    assert (z.kind, z.category, z.name_code, z.spec_pack, z.maker) == (
        codes.DrugKind.patent, "A04CA", "E0023", "0101", "00166",
    )  # fmt: skip
    # Same generic from two makers: the same generic key.
    assert w.generic_key == codes.parse("xa01abd075a002010100483").generic_key


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("YA01ABD075A002010100571", "bad_prefix"),
        ("XA01ABD075A00201010057", "bad_length"),
        ("ZA04CAE00230101001660", "bad_length"),
        ("X101ABD075A002010100571", "bad_class"),
        ("XA01AB0075A002010100571", "bad_name_code"),
        ("XA01ABD0750002010100571", "bad_form_code"),
        ("XA01ABD075A0020A0100571", "bad_spec_pack"),
        ("XA01ABD075A00201010057X", "bad_maker"),
        ("ZA04CAE002A010100166", "bad_name_code"),
    ],
)
def test_malformed_codes_are_refused_with_the_wrong_block_named(raw: str, reason: str) -> None:
    with pytest.raises(codes.BadDrugCode) as err:
        codes.parse(raw)
    assert err.value.reason == reason


def test_trace_codes_are_twenty_digits_led_by_the_product_id() -> None:
    code = codes.trace_code(1234, 98)
    assert code == "00012340000000000098"
    assert codes.check_trace_code(code) == code
    with pytest.raises(codes.BadDrugCode):
        codes.check_trace_code("1234")


def test_pinyin_initials_and_code_like_queries() -> None:
    assert catalogue.pinyin_initials("阿莫西林胶囊") == "AMXLJN"
    assert catalogue.pinyin_initials("布洛芬缓释胶囊") == "BLFHSJN"
    assert codes.looks_like_code("XA01AB")
    assert not codes.looks_like_code("xlfh")


def test_same_product_key_ignores_how_the_strength_is_written() -> None:
    a = catalogue.product_key(
        name="阿莫西林胶囊", maker_code="00571", form="胶囊剂", strength="0.25g"
    )
    b = catalogue.product_key(
        name="阿莫西林胶囊", maker_code="00571", form="胶囊剂", strength="250mg"
    )
    c = catalogue.product_key(
        name="阿莫西林胶囊", maker_code="00483", form="胶囊剂", strength="0.25g"
    )
    assert a == b != c
    assert catalogue.normal_strength("5ml:15mg") == catalogue.normal_strength("5ml:0.015g")
    assert catalogue.unit_price(2400, 24) == 100.0
