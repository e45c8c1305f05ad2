"""智慧河长: the river list and map by jurisdiction, a section's chiefs, the GB 3838 assessment."""

from __future__ import annotations

from tests.e2e.conftest import Pages


def _rivers(page: object) -> dict[str, str]:
    page.wait_for_selector("[data-test=river-list] [data-river]")  # type: ignore[attr-defined]
    rows = page.query_selector_all("[data-test=river-list] [data-river]")  # type: ignore[attr-defined]
    return {r.query_selector("[data-test=river-name]").inner_text(): r.inner_text() for r in rows}


def _click_section(page: object) -> str:
    """Click the first drawn section on the map where nothing (a station) lies on top of it, as a
    person would."""
    page.wait_for_selector("[data-test=river-map] path[data-section]")  # type: ignore[attr-defined]
    code, x, y = page.evaluate(  # type: ignore[attr-defined]
        """() => {
          const p = document.querySelector('[data-test=river-map] path[data-section]')
          const m = p.getScreenCTM()
          for (const f of [0.3, 0.2, 0.4, 0.1, 0.6, 0.7, 0.8, 0.5]) {
            const pt = p.getPointAtLength(p.getTotalLength() * f)
            const x = pt.x * m.a + pt.y * m.c + m.e
            const y = pt.x * m.b + pt.y * m.d + m.f
            if (document.elementFromPoint(x, y) === p) return [p.dataset.section, x, y]
          }
          throw new Error('the section is covered everywhere')
        }"""
    )
    page.mouse.click(x, y)  # type: ignore[attr-defined]
    return str(code)


def test_dispatcher_sees_the_rivers_of_the_district_and_a_sections_chiefs(pages: Pages) -> None:
    page = pages.open("dispatcher", "/river")
    rivers = _rivers(page)
    assert "长江" in rivers  # the Yangtze passes 九龙坡
    assert "临江河" not in rivers  # 永川's river is outside the district
    assert all("个河段" in text for text in rivers.values())
    code = _click_section(page)
    panel = page.wait_for_selector("[data-test=section-panel] [data-test=section-chiefs] li")
    panel = page.query_selector("[data-test=section-panel]")
    text = panel.inner_text()
    assert "区级河长" in text and "街镇级河长" in text
    assert "责任单位" in text
    page.wait_for_function(
        "() => !document.querySelector('[data-test=section-street]').innerText.includes('…')"
    )
    assert code
    pages.shoot(page, "dispatcher-section")


def test_admin_sees_linjiang_and_its_sections(pages: Pages) -> None:
    page = pages.open("admin", "/river")
    rivers = _rivers(page)
    assert "临江河" in rivers and "长江" in rivers
    assert len(rivers) == 10
    page.click("[data-river] [data-test=river-name]:text-is('临江河')")
    page.wait_for_url("**/river/*")
    first = page.wait_for_selector(
        "[data-river].on [data-test^=section-]:not([data-test=section-panel])"
    )
    first.click()
    page.wait_for_selector("[data-test=section-panel] [data-test=section-chiefs] li")
    assert "临江河" in page.inner_text("[data-test=section-panel]")
    pages.shoot(page, "admin-linjiang")


def test_assessment_classifies_each_item_and_keeps_inputs_on_a_refusal(pages: Pages) -> None:
    pages.console.allow(r"422")
    page = pages.open("dispatcher", "/river")
    form = page.wait_for_selector("[data-test=assess-form]")
    form.query_selector("input[name=nh3n]").fill("1.2")
    form.query_selector("input[name=do]").fill("7.6")
    form.query_selector("input[name=codmn]").fill("4.2")
    page.click("[data-test=assess-submit]")
    result = page.wait_for_selector("[data-test=item-class-nh3n]")
    assert result.get_attribute("data-class") == "IV"
    assert page.get_attribute("[data-test=item-class-do]", "data-class") == "I"
    assert page.get_attribute("[data-test=item-class-codmn]", "data-class") == "III"
    assert "IV类" in page.inner_text("[data-test=section-class]")
    assert "轻度污染" in page.inner_text("[data-test=assess-grade]")
    assert "未达标" in page.inner_text("[data-test=attainment]")
    assert "氨氮" in page.inner_text("[data-test=main-pollutants]")
    assert "0.2" in page.inner_text("[data-test=main-pollutants]")  # (1.2 − 1.0) / 1.0
    page.locator("[data-test=assess-form]").scroll_into_view_if_needed()
    pages.shoot(page, "assessment")

    form.query_selector("input[name=ph]").fill("15")
    page.click("[data-test=assess-submit]")
    error = page.wait_for_selector("[data-test=assess-error]")
    assert "ph" in error.inner_text().lower() and "15" in error.inner_text()
    assert page.input_value("input[name=ph]") == "15"
    assert page.input_value("input[name=nh3n]") == "1.2"
    pages.shoot(page, "assessment-refused")


def test_black_odorous_readings_get_a_grade(pages: Pages) -> None:
    page = pages.open("admin", "/river")
    page.wait_for_selector("[data-test=assess-form]")
    page.fill("input[name=bo_transparency_cm]", "8")
    page.fill("input[name=bo_do]", "0.1")
    page.fill("input[name=bo_orp]", "-250")
    page.fill("input[name=bo_nh3n]", "16")
    page.click("[data-test=assess-submit]")
    assert "重度黑臭" in page.wait_for_selector("[data-test=black-odorous]").inner_text()


def test_the_page_reads_in_english(pages: Pages) -> None:
    page = pages.open("admin", "/river")
    page.wait_for_selector("[data-test=river-list] [data-river]")
    page.select_option("[data-test=locale]", "en")
    page.wait_for_selector("text=Water quality assessment")
    page.click("[data-test=river-name]:text-is('长江')")
    page.wait_for_selector("[data-river].on [data-test^=section-]").click()
    page.wait_for_selector("[data-test=section-panel] [data-test=section-chiefs] li")
    text = page.inner_text("[data-test=river-page]")
    assert "City chief" in text and "Vacant" in text
    assert "river." not in text  # no message key left untranslated
    pages.shoot(page, "english")
