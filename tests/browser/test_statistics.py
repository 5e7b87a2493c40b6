"""The console's statistics in Chromium on the demo market: the figures
the page shows for this year so far are recomputed here, independently,
from the API's own lists (every listing, demand, deal, claim, round and
disbursement an official can read), and must be equal to the fen; the Excel
workbook the page hands out is read back with openpyxl and holds the same
numbers. Checked by axe-core and screenshotted on a desktop and a phone."""

import collections
import csv
import datetime
import io
import random

import openpyxl
from conftest import check_page
from playwright.sync_api import expect
from test_console import organisation, sign_in, submitted_listing
from test_workspace import DEMO_PASSWORD, api

CATEGORIES = ["development", "transfer", "license", "consulting", "service"]
ZH_CATEGORIES = {"development": "技术开发", "transfer": "技术转让", "license": "技术许可",
                 "consulting": "技术咨询", "service": "技术服务"}


def beijing_day(instant):
    """The market's calendar day of an API instant (`…Z`, UTC)."""
    if instant is None:
        return None
    moment = datetime.datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return (moment + datetime.timedelta(hours=8)).date()


def every(base_url, path, token):
    """Every item of a paged list."""
    page, items = 1, []
    separator = "&" if "?" in path else "?"
    while True:
        answer = api(base_url, "GET", f"{path}{separator}per_page=100&page={page}", None, token)
        items += answer["items"]
        if len(items) >= answer["total"] or not answer["items"]:
            return items
        page += 1


def registered_contract(base_url, official_token, rng):
    """A development contract of 120万 with 20万 non-technical, registered
    today with 核定 technology of 95万 (less than the 100万 declared)."""
    seller = organisation(base_url, rng, "institute")
    buyer = organisation(base_url, rng, "enterprise")
    listing = submitted_listing(base_url, seller, "高原光伏组件除尘机器人（统计）")
    api(base_url, "POST", f"/api/v1/listings/{listing}/review", {"decision": "approve"}, official_token)
    deal = api(base_url, "POST", "/api/v1/deals",
               {"listing_id": listing, "offer": {"amount_fen": 120_000_000, "trade_mode": "assignment"}},
               buyer["token"])
    api(base_url, "POST", f"/api/v1/deals/{deal['id']}/accept", {}, seller["token"])
    today = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date()
    api(base_url, "POST", f"/api/v1/deals/{deal['id']}/contract",
        {"category": "development", "total_amount_fen": 120_000_000, "non_technical_amount_fen": 20_000_000,
         "signed_on": today.isoformat(), "related_party": False}, seller["token"])
    api(base_url, "POST", f"/api/v1/deals/{deal['id']}/registration",
        {"decision": "register", "registered_technology_amount_fen": 95_000_000}, official_token)


def figures_from_the_api(base_url, token, start, end):
    """The report's figures for start..=end, from the API's lists."""
    within = lambda day: day is not None and start <= day <= end
    published = lambda kind: sum(
        1
        for status in ["draft", "pending_review", "published", "rejected", "withdrawn", "traded"]
        for item in every(base_url, f"/api/v1/{kind}?status={status}", token)
        if within(beijing_day(item.get("published_at")))
    )
    figures = {"listings": published("listings"), "demands": published("demands"),
               "opened": 0, "completed": 0}
    contracts = {c: [0, 0, 0, 0] for c in CATEGORIES + ["all"]}
    for deal in every(base_url, "/api/v1/deals", token):
        figures["opened"] += within(beijing_day(deal["created_at"]))
        figures["completed"] += deal["status"] == "completed" and within(beijing_day(deal["completed_at"]))
        registered = [r for r in deal["registrations"] if r["decision"] == "register"]
        if registered and within(beijing_day(registered[0]["created_at"])):
            total = deal["contract"]["total_amount_fen"]
            technology = registered[0]["registered_technology_amount_fen"]
            for key in (deal["contract"]["category"], "all"):
                row = contracts[key]
                row[0] += 1
                row[1] += total
                row[2] += technology
                row[3] += total - technology
    # Contracts signed off the platform and registered by the office count
    # alike, with their amounts as registered (crates/db/src/statistics.rs).
    for status in ["registered", "amendment_requested", "cancellation_requested"]:
        for application in every(base_url, f"/api/v1/registrations?status={status}", token):
            if application["deal_id"] is None and within(beijing_day(application["decided_at"])):
                total = application["registered_total_fen"]
                technology = application["registered_technology_amount_fen"]
                for key in (application["contract"]["category"], "all"):
                    row = contracts[key]
                    row[0] += 1
                    row[1] += total
                    row[2] += technology
                    row[3] += total - technology
    subsidies = collections.defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for claim in every(base_url, "/api/v1/subsidy/claims", token):
        claim = api(base_url, "GET", f"/api/v1/subsidy/claims/{claim['id']}", None, token)
        for review in claim["reviews"]:
            if review["level"] == 2 and review["decision"] == "approve" and within(beijing_day(review["created_at"])):
                subsidies[claim["program_id"]][0] += 1
                subsidies[claim["program_id"]][1] += review["amount_fen"] or claim["computed_amount_fen"]
    for round_ in every(base_url, "/api/v1/subsidy/rounds", token):
        if within(beijing_day(round_["closed_at"])):
            awarded = [c for c in every(base_url, f"/api/v1/subsidy/claims?program_id={round_['program_id']}&year={round_['year']}", token)
                       if c["final_amount_fen"] is not None]
            subsidies[round_["program_id"]][2] += len(awarded)
            subsidies[round_["program_id"]][3] += sum(c["final_amount_fen"] for c in awarded)
        for disbursement in every(base_url, f"/api/v1/subsidy/rounds/{round_['id']}/disbursements", token):
            if disbursement["status"] == "paid" and within(datetime.date.fromisoformat(disbursement["paid_on"])):
                subsidies[round_["program_id"]][4] += 1
                subsidies[round_["program_id"]][5] += disbursement["amount_fen"]
    return figures, contracts, subsidies


def shown(page, selector, attribute):
    return int(page.locator(selector).get_attribute(attribute))


def row_numbers(row):
    """A table row's figures as integers (counts and fen), in column order."""
    cells = row.locator("td")
    return [int(cells.nth(i).get_attribute("data-count") or cells.nth(i).get_attribute("data-fen"))
            for i in range(cells.count())]


def test_the_statistics_equal_the_sums_of_the_api_and_the_workbook_holds_them(page, base_url, context_factory, tmp_path):
    rng = random.Random()
    official = api(base_url, "POST", "/api/v1/auth/login",
                   {"email": "official@techtrade.invalid", "password": DEMO_PASSWORD})["token"]
    registered_contract(base_url, official, rng)

    sign_in(page, "official@techtrade.invalid", DEMO_PASSWORD)
    page.goto("/console")
    page.locator("nav.tabs a[href='/console/statistics']").click()
    expect(page.locator("#summary")).to_be_visible()
    expect(page.locator("svg.chart").first).to_be_visible()
    check_page(page, "console-statistics")

    start = datetime.date.fromisoformat(page.locator("#from").input_value())
    end = datetime.date.fromisoformat(page.locator("#to").input_value())
    assert start == end.replace(month=1, day=1), "this year so far"
    figures, contracts, subsidies = figures_from_the_api(base_url, official, start, end)
    assert contracts["development"][0] >= 1, "the contract registered above"

    assert shown(page, "#stat-listings", "data-count") == figures["listings"]
    assert figures["listings"] > 0, "the demo's listings were published over the last year"
    assert shown(page, "#stat-demands", "data-count") == figures["demands"]
    assert shown(page, "#stat-deals-opened", "data-count") == figures["opened"]
    assert shown(page, "#stat-deals-completed", "data-count") == figures["completed"]
    assert [shown(page, "#stat-contracts", "data-count"), shown(page, "#stat-total", "data-fen"),
            shown(page, "#stat-technology", "data-fen"), shown(page, "#stat-non-technical", "data-fen")] == contracts["all"]
    for category in CATEGORIES:
        assert row_numbers(page.locator(f"#by-category tbody tr[data-key={category}]")) == contracts[category], category
    assert row_numbers(page.locator("#by-category tfoot tr")) == contracts["all"]
    for program, expected in subsidies.items():
        assert row_numbers(page.locator(f"#subsidies tbody tr[data-key={program}]")) == expected, program
    # The months add up to the period.
    months = page.locator("#by-month tbody tr")
    monthly = [row_numbers(months.nth(i)) for i in range(months.count())]
    assert [sum(column) for column in zip(*monthly)][4:] == contracts["all"]

    # The workbook, read back: the same numbers, amounts in yuan to the fen.
    with page.expect_download() as download:
        page.locator("#xlsx-link").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == f"techtrade-statistics-{start}-{end}.xlsx"
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["概况", "按合同类别", "按月", "按市（州）", "后补助"]
    summary = {row[0]: row[1] for row in book["概况"].iter_rows(min_row=2, values_only=True)}
    fen = lambda yuan: round(yuan * 100)
    assert summary["起始日期"] == start.isoformat() and summary["截止日期"] == end.isoformat()
    assert summary["发布成果"] == figures["listings"]
    assert summary["新建交易"] == figures["opened"]
    assert [summary["认定登记合同"], fen(summary["合同成交额"]), fen(summary["技术交易额"]),
            fen(summary["非技术性款项"])] == contracts["all"]
    by_category = {row[0]: [row[1]] + [fen(v) for v in row[2:5]]
                   for row in book["按合同类别"].iter_rows(min_row=2, values_only=True)}
    for category in CATEGORIES:
        assert by_category[ZH_CATEGORIES[category]] == contracts[category], category
    assert by_category["合计"] == contracts["all"]
    subsidy_rows = {row[0]: [row[2], fen(row[3]), row[4], fen(row[5]), row[6], fen(row[7])]
                    for row in book["后补助"].iter_rows(min_row=2, values_only=True)}
    for program, expected in subsidies.items():
        assert subsidy_rows[program] == expected, program

    # The CSV says the same in fen.
    with page.expect_download() as download:
        page.locator("#csv-link").click()
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    totals = {row[2]: int(row[3]) for row in rows if row[0] == "total"}
    assert [totals["contracts_registered"], totals["total_amount_fen"], totals["technology_amount_fen"],
            totals["non_technical_amount_fen"]] == contracts["all"]

    # A region: Xining's sellers only; a period that ends before it starts
    # is refused on its field.
    page.select_option("#region", "6301")
    page.locator("#statistics-scope button").click()
    expect(page.locator("#summary-heading")).to_contain_text("西宁市")
    page.fill("#from", end.isoformat())
    page.fill("#to", start.isoformat())
    page.locator("#statistics-scope button").click()
    if start != end:
        expect(page.locator("#to-error")).to_contain_text("截止日期早于起始日期")
        check_page(page, "console-statistics-refused")

    phone = context_factory(viewport={"width": 375, "height": 812}, locale="zh-CN", is_mobile=True,
                            has_touch=True).new_page()
    sign_in(phone, "official@techtrade.invalid", DEMO_PASSWORD)
    phone.goto("/console/statistics")
    expect(phone.locator("#summary")).to_be_visible()
    check_page(phone, "console-statistics-phone")
