"""What the public sees: the home page, search with facets, a listing, the
language switch, the site without JavaScript and on a phone, and the login
form. Each test starts from a fresh browser context on the demo market."""

import re
from urllib.parse import parse_qs, urlsplit

from conftest import check_page
from playwright.sync_api import expect

QUERY = "锂电池"
NOTHING = "zzzzqqqq不存在"
FACETS = ["ipc_subclass", "region", "trade_mode", "maturity", "patent_type", "legal_status", "type"]
CJK = re.compile(r"[\u4e00-\u9fff]")
# A Chinese application number: 8 or 12 digits, a dot, a check character.
APPLICATION_NUMBER = re.compile(r"\b(?:\d{12}|\d{8})\.[\dX]\b")
IPC_CODE = re.compile(r"\b[A-H]\d{2}[A-Z]\b")


def query_of(page):
    return parse_qs(urlsplit(page.url).query)


def settled(page):
    """Waits until the page has loaded and htmx has no request in flight."""
    page.wait_for_load_state()
    expect(page.locator(".htmx-request")).to_have_count(0)


def search(page, words=QUERY):
    """Searches from the home page's form, as a person would."""
    page.goto("/")
    box = page.locator("form[role=search] input[name=q]")
    box.fill(words)
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?(.*&)?q="))
    settled(page)
    assert urlsplit(page.url).path == "/search"
    assert query_of(page)["q"] == [words]


def total(page):
    text = page.locator("#total").inner_text()
    digits = re.search(r"\d[\d,，]*", text)
    assert digits, f"#total holds no number: {text!r}"
    return int(re.sub(r"\D", "", digits.group()))


def first_listing_link(page):
    link = page.locator("ol#results > li.result a.result-title[href^='/listings/']").first
    expect(link).to_be_visible()
    return link


def no_horizontal_scroll(page, width=375):
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} scrolls sideways at {width} px: scrollWidth {scroll_width}"


def test_home_offers_search_newest_items_and_figures(page):
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    form = page.locator("form[role=search]")
    expect(form).to_have_count(1)
    assert urlsplit(form.get_attribute("action") or "").path == "/search"
    assert (form.get_attribute("method") or "get").lower() == "get"
    box = form.locator("input[name=q]")
    expect(box).to_be_visible()
    assert box.evaluate("input => input.labels.length") > 0, "the search box has no <label>"

    expect(page.locator("section#newest-listings a[href^='/listings/']").first).to_be_visible()
    expect(page.locator("section#newest-demands")).to_be_visible()
    expect(page.locator("section#newest-demands a[href^='/demands/']").first).to_be_visible()
    figures = page.locator("section#figures")
    expect(figures).to_be_visible()
    expect(figures).to_contain_text(re.compile(r"\d"))
    check_page(page, "home")


def test_search_lists_highlighted_results_and_facets(page):
    search(page)
    results = page.locator("ol#results > li.result")
    expect(results.first).to_be_visible()
    count = results.count()
    assert total(page) >= count > 0

    for i in range(count):
        link = results.nth(i).locator("a.result-title")
        expect(link).to_have_count(1)
        href = link.get_attribute("href")
        assert re.fullmatch(r"/(listings|demands)/[^/?#]+", href), f"result {i + 1} links to {href!r}"

    marks = [text.strip() for text in page.locator("ol#results mark").all_inner_texts()]
    assert QUERY in marks, f"{QUERY} is not highlighted; marks: {marks}"
    for mark in marks:
        assert set(mark) & set(QUERY), f"<mark>{mark}</mark> is not a word searched for"

    facets = page.locator("nav#facets")
    expect(facets).to_be_visible()
    names = facets.locator("section.facet-group").evaluate_all("groups => groups.map(g => g.dataset.facet)")
    assert set(names) <= set(FACETS), f"unknown facet groups: {sorted(set(names) - set(FACETS))}"
    for name in ["ipc_subclass", "region"]:
        assert name in names, f"no {name} facet group; groups: {names}"
    for name in names:
        links = facets.locator(f"section.facet-group[data-facet='{name}'] a.facet")
        assert links.count() > 0, f"facet group {name} has no values"
        for i in range(links.count()):
            link = links.nth(i)
            assert link.get_attribute("data-value"), f"a value of facet {name} has no data-value"
            count_text = link.locator("span.count").inner_text()
            assert re.fullmatch(r"\s*\(?\d[\d,]*\)?\s*", count_text), f"facet {name} count {count_text!r}"

    for href in page.locator("nav#pages a").evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        assert parse_qs(urlsplit(href).query).get("q") == [QUERY], f"page link {href!r} loses the query"
    check_page(page, "search")


def test_facets_narrow_and_active_filters_come_off(page):
    search(page)
    before = total(page)
    ipc = page.locator("section.facet-group[data-facet='ipc_subclass'] a.facet").first
    value = ipc.get_attribute("data-value")
    count = int(re.sub(r"\D", "", ipc.locator("span.count").inner_text()))

    ipc.click()
    expect(page).to_have_url(re.compile(r"[?&]ipc="))
    chip = page.locator("a.active-filter[data-filter='ipc']")
    expect(chip).to_be_visible()
    settled(page)
    assert query_of(page)["ipc"] == [value]
    assert query_of(page)["q"] == [QUERY]
    after = total(page)
    assert after <= before
    assert after == count, f"the {value} facet said {count}, the filtered search finds {after}"
    check_page(page, "search-filtered")

    page.locator("section.facet-group[data-facet='region'] a.facet").first.click()
    expect(page).to_have_url(re.compile(r"[?&]region="))
    settled(page)
    assert query_of(page)["ipc"] == [value]
    assert total(page) <= after

    page.locator("a.active-filter[data-filter='ipc']").click()
    expect(page).not_to_have_url(re.compile(r"[?&]ipc="))
    settled(page)
    expect(page.locator("a.active-filter[data-filter='ipc']")).to_have_count(0)
    assert "region" in query_of(page)
    assert query_of(page)["q"] == [QUERY]
    check_page(page, "search-region")


def test_a_search_that_finds_nothing_suggests_something(page):
    search(page, NOTHING)
    empty = page.locator("#empty")
    expect(empty).to_be_visible()
    expect(empty).not_to_have_text(re.compile(r"^\s*$"))
    expect(page.locator("ol#results > li.result")).to_have_count(0)
    check_page(page, "search-empty")


def test_a_listing_shows_its_patents_classes_and_price(page):
    search(page)
    link = first_listing_link(page)
    title = link.inner_text().strip().rstrip("…").strip()
    link.click()
    expect(page).to_have_url(re.compile(r"/listings/[^/?#]+$"))
    settled(page)
    # A whole page, not one swapped into the search results' place.
    expect(page.locator("header.site-header")).to_have_count(1)
    heading = page.locator("h1")
    expect(heading).to_have_count(1)
    assert heading.inner_text().strip().startswith(title), f"h1 {heading.inner_text()!r}, result {title!r}"

    rows = page.locator("table#patents tbody tr")
    expect(rows.first).to_be_visible()
    for text in rows.all_inner_texts():
        assert APPLICATION_NUMBER.search(text), f"no application number in patent row {text!r}"
    ipc = page.locator("#ipc")
    expect(ipc).to_be_visible()
    assert IPC_CODE.search(ipc.inner_text()), f"no IPC code in #ipc: {ipc.inner_text()!r}"
    assert CJK.search(ipc.inner_text()), f"no Chinese title in #ipc: {ipc.inner_text()!r}"
    expect(page.locator("#price")).to_contain_text(re.compile("元|面议"))
    check_page(page, "listing")


def search_button(page):
    return page.locator("form[role=search]").locator("button, input[type=submit]").first


def button_text(button):
    return (button.inner_text() or button.get_attribute("value") or "").strip()


def test_the_language_switch_sticks(page):
    html = page.locator("html")
    page.goto("/?lang=en")
    expect(html).to_have_attribute("lang", "en")
    text = button_text(search_button(page))
    assert re.search(r"[A-Za-z]", text) and not CJK.search(text), f"English search button says {text!r}"
    check_page(page, "home-en")

    page.goto("/login")
    expect(html).to_have_attribute("lang", "en")

    page.goto("/?lang=zh-CN")
    expect(html).to_have_attribute("lang", "zh-CN")
    assert CJK.search(button_text(search_button(page))), "the Chinese search button is not in Chinese"
    page.goto("/login")
    expect(html).to_have_attribute("lang", "zh-CN")


def test_search_and_facets_work_without_javascript(nojs_page):
    page = nojs_page
    search(page)
    expect(page.locator("ol#results > li.result").first).to_be_visible()
    page.locator("section.facet-group[data-facet='ipc_subclass'] a.facet").first.click()
    expect(page).to_have_url(re.compile(r"[?&]ipc="))
    expect(page.locator("a.active-filter[data-filter='ipc']")).to_be_visible()
    expect(page.locator("ol#results > li.result").first).to_be_visible()
    # axe-core needs JavaScript; test_facets_narrow_and_active_filters_come_off checks these pages.
    check_page(page, "nojs-search-filtered", axe=False)


def test_search_and_listing_fit_a_phone(phone):
    phone.goto("/")
    no_horizontal_scroll(phone)
    check_page(phone, "phone-home")
    search(phone)
    expect(phone.locator("ol#results > li.result").first).to_be_visible()
    no_horizontal_scroll(phone)
    check_page(phone, "phone-search")
    first_listing_link(phone).click()
    expect(phone).to_have_url(re.compile(r"/listings/[^/?#]+$"))
    settled(phone)
    expect(phone.locator("header.site-header")).to_have_count(1)
    no_horizontal_scroll(phone)
    check_page(phone, "phone-listing")


DEMO_MEMBER = "demo1@techtrade.invalid"


def test_a_wrong_password_is_refused_with_the_email_kept(page):
    page.goto("/login")
    form = page.locator("form:has(input[name=password])")
    expect(form.locator("input[name=email]")).to_be_visible()
    expect(form.locator("input[name=password]")).to_have_attribute("type", "password")
    csrf = form.locator("input[name=csrf]")
    expect(csrf).to_have_attribute("type", "hidden")
    assert csrf.get_attribute("value"), "the csrf field is empty"
    check_page(page, "login")

    form.locator("input[name=email]").fill(DEMO_MEMBER)
    form.locator("input[name=password]").fill("not the password")
    form.locator("input[name=password]").press("Enter")
    alert = page.locator("[role=alert]")
    expect(alert).to_be_visible()
    expect(alert).not_to_have_text(re.compile(r"^\s*$"))
    settled(page)
    expect(page.locator("input[name=email]")).to_have_value(DEMO_MEMBER)
    check_page(page, "login-refused")


def test_a_login_post_without_the_csrf_field_is_forbidden(page):
    page.goto("/login")
    response = page.request.post(
        "/login",
        form={"email": DEMO_MEMBER, "password": "Techtrade-demo"},
        max_redirects=0,
    )
    assert response.status == 403, f"POST /login without csrf answered {response.status}"
