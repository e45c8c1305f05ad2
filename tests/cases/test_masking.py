"""What the public board may print: numbers and names masked, the rest of the text intact."""

from __future__ import annotations

import pytest

from cityops.cases.masking import coarse, mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话13812341234", "电话138****1234"),
        ("手机 138-1234-5678 谢谢", "手机 138****5678 谢谢"),
        ("+86 15912345678", "+86 159****5678"),
        ("8613812341234", "86138****1234"),
        ("身份证500107199001011234号", "身份证500*************34号"),
        ("ID 50010719900101123X", "ID 500*************3X"),
        ("ID 50010719900101123x。", "ID 500*************3x。"),
        ("老身份证500107900101123", "老身份证500**********23"),
        ("座机023-68881234", "座机023-****1234"),
        ("座机02368881234", "座机023-****1234"),
        ("(0851)88881234", "(0851)****1234"),
        ("010 12345678", "010 ****5678"),
        ("邮箱 zhangsan.home@example.com.cn", "邮箱 z***@example.com.cn"),
        # Things that are not personal numbers are left as they are.
        ("2026-11-25 3号楼 12栋 第5单元 401室", "2026-11-25 3号楼 12栋 第5单元 401室"),
        ("部件 50010701002000001 井盖", "部件 50010701002000001 井盖"),
        ("12345 热线, 110 报警", "12345 热线, 110 报警"),
        ("138123412345", "138123412345"),  # 12 digits: not a mobile number
    ],
)
def test_numbers_are_masked_as_chinese_apps_show_them(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def test_known_names_keep_only_their_first_character() -> None:
    text = "我是张三，张三丰是我邻居，请联系欧阳娜娜"
    assert mask_text(text, names=["张三", "欧阳娜娜", None, " ", "李"]) == (
        "我是张*，张*丰是我邻居，请联系欧***"
    )
    assert mask_text("李家沟的垃圾", names=["李"]) == "李家沟的垃圾"  # one character: left alone


def test_an_id_number_is_not_masked_again_as_a_phone_number() -> None:
    assert mask_text("13812341234 500107199001011234") == "138****1234 500*************34"


def test_a_point_is_rounded_to_about_a_hundred_metres() -> None:
    assert coarse(29.502_34, 106.502_67) == (29.502, 106.503)
    lat, lng = coarse(29.56789, 106.55555)
    assert abs(lat - 29.56789) * 111_000 <= 56 and abs(lng - 106.55555) * 97_000 <= 49
