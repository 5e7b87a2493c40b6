"""The officials' console in Chromium on the demo market: a review queue
worked through (one listing published, another sent back with a reason its
owner then reads), a contract registered and its number seen by the buyer,
and a subsidy claim taken through level 1 and level 2 by two officials, the
first of whom is told why level 2 is not theirs. Every page is checked by
axe-core and screenshotted."""

import csv
import datetime
import io
import json
import random
import re
import urllib.request

from conftest import check_page
from playwright.sync_api import expect
from test_public import no_horizontal_scroll
from test_workspace import DEMO_PASSWORD, api, credit_code


def organisation(base_url, rng, kind):
    """A new organisation and its member's token, through the API."""
    n = rng.randrange(10**9)
    email, password = f"console{n}@example.cn", "a long console password 1"
    api(base_url, "POST", "/api/v1/organizations", {
        "organization": {"name": f"控制台测试单位{n}", "kind": kind, "credit_code": credit_code(rng), "region_code": "630100"},
        "user": {"email": email, "password": password, "name": "王工"},
    })
    token = api(base_url, "POST", "/api/v1/auth/login", {"email": email, "password": password})["token"]
    return {"email": email, "password": password, "token": token}


def submitted_listing(base_url, owner, title):
    body = {"kind": "achievement", "title": title, "summary": "湿法冶金回收镍钴锰锂，已完成中试。",
            "ipc": ["H01M10/54"], "maturity": "pilot", "trade_modes": ["assignment"],
            "price_fen": 100_000_000, "negotiable": True, "region_code": "630102"}
    listing = api(base_url, "POST", "/api/v1/listings", body, owner["token"])
    api(base_url, "POST", f"/api/v1/listings/{listing['id']}/submit", {}, owner["token"])
    return listing["id"]


def sign_in(page, email, password):
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.locator("form.stacked button[type=submit]").click()


def test_an_official_works_through_the_queues(page, base_url, context_factory):
    rng = random.Random()
    seller = organisation(base_url, rng, "university")
    buyer = organisation(base_url, rng, "enterprise")
    good = submitted_listing(base_url, seller, "高纯碳酸锂制备工艺（控制台）")
    weak = submitted_listing(base_url, seller, "一种电池（控制台）")

    # The official's header leads to the console: its queues and their ages.
    sign_in(page, "official@techtrade.invalid", DEMO_PASSWORD)
    page.goto("/console")
    expect(page.locator("#queue-listings")).to_be_visible()
    check_page(page, "console")

    # Reviews: publish one; sending the other back needs a reason.
    page.locator("nav.tabs a[href='/console/reviews']").click()
    expect(page.locator(f"#review-{good}")).to_be_visible()
    check_page(page, "console-reviews")
    page.locator(f"#review-{good} button.approve").click()
    expect(page.locator("#done")).to_be_visible()
    page.locator(f"#review-{weak} button.reject").click()
    expect(page.locator(f"#reason-{weak}-error")).to_be_visible()
    check_page(page, "console-review-refused")
    page.fill(f"#reason-{weak}", "摘要过短，请补充技术指标")
    page.locator(f"#review-{weak} button.reject").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator(f"#review-{weak}")).to_have_count(0)

    # The owner reads why in its workspace.
    owner = context_factory(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    sign_in(owner, seller["email"], seller["password"])
    owner.goto("/workspace/listings")
    expect(owner.locator("body")).to_contain_text("摘要过短，请补充技术指标")

    # A deal on the published one, contracted last year; the office registers it.
    last_year = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).year - 1
    deal = api(base_url, "POST", "/api/v1/deals",
               {"listing_id": good, "offer": {"amount_fen": 100_000_000, "trade_mode": "assignment"}}, buyer["token"])
    api(base_url, "POST", f"/api/v1/deals/{deal['id']}/accept", {}, seller["token"])
    api(base_url, "POST", f"/api/v1/deals/{deal['id']}/contract",
        {"category": "transfer", "total_amount_fen": 100_000_000, "non_technical_amount_fen": 10_000_000,
         "signed_on": f"{last_year}-03-01", "related_party": False}, seller["token"])
    page.goto("/console/registrations")
    item = page.locator(f"#deal-{deal['id']}")
    expect(item.locator("input[name=amount_yuan]")).to_have_value("900000")
    check_page(page, "console-registrations")
    item.locator("button.register").click()
    number = page.locator("#issued-number")
    expect(number).to_be_visible()
    issued = number.inner_text()
    buyer_page = context_factory(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    sign_in(buyer_page, buyer["email"], buyer["password"])
    buyer_page.goto(f"/workspace/deals/{deal['id']}")
    expect(buyer_page.locator("#registration-number")).to_contain_text(issued)

    # Paid last year; the seller claims Sanming's subsidy for that year
    # (Sanming's: the workspace journeys claim Qinghai's for the same year,
    # which a closed round would refuse).
    payment = api(base_url, "POST", f"/api/v1/deals/{deal['id']}/payments",
                  {"method": "offline", "amount_fen": 100_000_000, "paid_on": f"{last_year}-04-01",
                   "reference": "ICBC-CONSOLE-0001"}, buyer["token"])
    api(base_url, "POST", f"/api/v1/payments/{payment['id']}/confirm", {}, seller["token"])
    claim = api(base_url, "POST", "/api/v1/subsidy/claims",
                {"program_id": "sanming", "year": last_year, "role": "seller"}, seller["token"])

    # Level 1 by the first official: the frozen calculation, line by line.
    page.goto("/console/claims?level=1")
    entry = page.locator(f"#claim-{claim['id']}")
    expect(entry.locator(f"#lines-{claim['id']} tbody tr")).to_have_count(1)
    check_page(page, "console-claims-level-1")
    entry.locator("button.approve").click()
    expect(page.locator("#done")).to_be_visible()

    # Level 2 is not for the same official, who is told why.
    page.goto("/console/claims?level=2")
    expect(page.locator(f"#barred-{claim['id']}")).to_be_visible()
    check_page(page, "console-claims-level-2-barred")

    # The second official approves it.
    second = context_factory(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    sign_in(second, "reviewer@techtrade.invalid", DEMO_PASSWORD)
    second.goto("/console/claims?level=2")
    second.locator(f"#claim-{claim['id']} button.approve").click()
    expect(second.locator("#done")).to_be_visible()
    expect(second.locator(f"#claim-{claim['id']}")).to_have_count(0)
    check_page(second, "console-claims-level-2")
    stored = api(base_url, "GET", f"/api/v1/subsidy/claims/{claim['id']}", None, seller["token"])
    assert stored["status"] == "approved", stored

    # The round of Sanming's last year: what a close would pay, then the
    # close (leaving out claims still under review), the notice, and a
    # disbursement marked paid.
    page.goto(f"/console/rounds?program_id=sanming&year={last_year}")
    expect(page.locator("#outlook-lines")).to_contain_text("控制台测试单位")
    # What a lower top tier would cost, before deciding anything.
    page.fill("#simulate", '[[rules]]\nid = "seller-tiers"\ncap_per_year_fen = 300000')
    page.locator("#simulate-form button").click()
    expect(page.locator("#simulation-result")).to_be_visible()
    check_page(page, "console-rounds-outlook")
    if page.locator("#exclude").count():
        page.check("#exclude")
        page.fill("#exclude-reason", "本轮截止前未完成审核")
    page.locator("#close-round").click()
    expect(page.locator("#round-closed")).to_be_visible()
    row = page.locator("table#disbursements tr[data-status=pending]").first
    row.locator("input[name=reference]").fill("国库支付-CONSOLE-0001")
    row.locator("button.mark-paid").click()
    expect(page.locator("table#disbursements tr[data-status=paid]")).to_have_count(1)
    check_page(page, "console-rounds-closed")
    page.locator("#notice-link").click()
    expect(page.locator("table#awards")).to_contain_text("控制台测试单位")

    page.goto("/console/programs")
    expect(page.locator("#program-qinghai .digest")).to_be_visible()
    check_page(page, "console-programs")


def test_a_member_may_not_open_the_console(page):
    sign_in(page, "demo1@techtrade.invalid", DEMO_PASSWORD)
    response = page.goto("/console")
    assert response.status == 403
    expect(page.locator("h1")).to_be_visible()


def test_an_administrator_creates_an_official_who_signs_in(page, context_factory):
    rng = random.Random()
    sign_in(page, "admin@techtrade.invalid", DEMO_PASSWORD)
    page.goto("/console/users")
    check_page(page, "console-users")
    email = f"official{rng.randrange(10**9)}@kjt.qinghai.gov.cn"
    page.fill("#name", "新任审核员")
    page.fill("#email", email)
    page.select_option("#role", "official")
    page.fill("#password", "a long official password 1")
    page.locator("#create-user").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("table#staff")).to_contain_text(email)

    # The administrator chose the password: the newcomer is sent to set
    # their own before anything else.
    newcomer = context_factory(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    sign_in(newcomer, email, "a long official password 1")
    newcomer.goto("/console")
    expect(newcomer).to_have_url(re.compile(r"/account$"))
    expect(newcomer.locator("#password-change")).to_be_visible()
    check_page(newcomer, "account-password-change")
    newcomer.fill("#current", "a long official password 1")
    newcomer.fill("#new", "My own password 2")
    newcomer.fill("#new_again", "My own password 2")
    newcomer.locator("#change-password").click()
    expect(newcomer.locator("#done")).to_be_visible()
    newcomer.goto("/console")
    expect(newcomer.locator("#queue-listings")).to_be_visible()


def test_every_console_page_fits_a_phone(phone):
    sign_in(phone, "official@techtrade.invalid", DEMO_PASSWORD)
    for path in ["/console", "/console/reviews", "/console/registrations", "/console/office", "/console/claims?level=1",
                 "/console/rounds", "/console/programs", "/console/statistics"]:
        phone.goto(path)
        expect(phone.locator("nav.tabs").first).to_be_visible()
        no_horizontal_scroll(phone)
        name = "phone-" + path.strip("/").split("?")[0].replace("/", "-")
        check_page(phone, name)


def test_an_over_budget_round_pays_exactly_its_budget(page, base_url):
    """Qinghai's round two years back: eleven deals of 5000万, each claimed by
    its buyer and its seller at 1% capped at 50万 — 1100万 approved against
    a budget of 1000万. The official sees the pro-rating before closing,
    simulates a lower rate, closes, and the awards add up to the budget to
    the fen, on the console and on the public notice. (Two years back: the
    workspace journeys claim Qinghai's last year, which a closed round would
    refuse.)"""
    rng = random.Random()
    year = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).year - 2
    first = api(base_url, "POST", "/api/v1/auth/login",
                {"email": "official@techtrade.invalid", "password": DEMO_PASSWORD})["token"]
    second = api(base_url, "POST", "/api/v1/auth/login",
                 {"email": "reviewer@techtrade.invalid", "password": DEMO_PASSWORD})["token"]
    total = 5_000_000_000  # 5000万 yuan in fen
    for n in range(11):
        seller = organisation(base_url, rng, "university")
        buyer = organisation(base_url, rng, "enterprise")
        listing = submitted_listing(base_url, seller, f"盐湖提锂技术许可（预算测试 {n}）")
        api(base_url, "POST", f"/api/v1/listings/{listing}/review", {"decision": "approve"}, first)
        deal = api(base_url, "POST", "/api/v1/deals",
                   {"listing_id": listing, "offer": {"amount_fen": total, "trade_mode": "assignment"}}, buyer["token"])
        api(base_url, "POST", f"/api/v1/deals/{deal['id']}/accept", {}, seller["token"])
        api(base_url, "POST", f"/api/v1/deals/{deal['id']}/contract",
            {"category": "transfer", "total_amount_fen": total, "non_technical_amount_fen": 0,
             "signed_on": f"{year}-03-01", "related_party": False}, seller["token"])
        api(base_url, "POST", f"/api/v1/deals/{deal['id']}/registration",
            {"decision": "register", "registered_technology_amount_fen": total}, first)
        payment = api(base_url, "POST", f"/api/v1/deals/{deal['id']}/payments",
                      {"method": "offline", "amount_fen": total, "paid_on": f"{year}-04-01",
                       "reference": f"ICBC-BUDGET-{n:04}"}, buyer["token"])
        api(base_url, "POST", f"/api/v1/payments/{payment['id']}/confirm", {}, seller["token"])
        for party, role in ((buyer, "buyer"), (seller, "seller")):
            claim = api(base_url, "POST", "/api/v1/subsidy/claims",
                        {"program_id": "qinghai", "year": year, "role": role}, party["token"])
            assert claim["computed_amount_fen"] == 50_000_000, claim
            for official in (first, second):
                api(base_url, "POST", f"/api/v1/subsidy/claims/{claim['id']}/review", {"decision": "approve"}, official)

    sign_in(page, "official@techtrade.invalid", DEMO_PASSWORD)
    page.goto(f"/console/rounds?program_id=qinghai&year={year}")
    expect(page.locator("#approved-total")).to_contain_text("11,000,000.00")
    expect(page.locator("#would-prorate")).to_be_visible()
    expect(page.locator("#would-pay-total")).to_have_text("10,000,000.00 元")
    # Half the rate would fit the budget.
    page.fill("#simulate", '[[rules]]\nid = "buyer-converted-in-qinghai"\nrate = "0.5%"\n\n'
                           '[[rules]]\nid = "seller-from-qinghai"\nrate = "0.5%"')
    page.locator("#simulate-form button").click()
    expect(page.locator("#sim-simulated-total")).to_have_text("5,500,000.00 元")
    check_page(page, "console-rounds-over-budget")
    page.locator("#close-round").click()
    expect(page.locator("#round-closed")).to_be_visible()
    expect(page.locator("#final-total")).to_have_text("10,000,000.00 元")
    finals = [int(cell.get_attribute("data-fen")) for cell in page.locator("table#disbursements td[data-fen]").all()]
    assert len(finals) == 22 and sum(finals) == 1_000_000_000, finals

    page.locator("#notice-link").click()
    expect(page.locator("table#awards tbody tr")).to_have_count(22)
    round_id = page.url.rsplit("/", 1)[1]
    notice = api(base_url, "GET", f"/api/v1/subsidy/rounds/{round_id}")
    assert sum(item["final_amount_fen"] for item in notice["items"]) == 1_000_000_000
    assert max(item["final_amount_fen"] for item in notice["items"]) - min(item["final_amount_fen"] for item in notice["items"]) <= 1
    check_page(page, "notice-over-budget")


def test_a_user_ends_a_session_elsewhere_and_changes_the_password(page, base_url):
    rng = random.Random()
    member = organisation(base_url, rng, "enterprise")  # its API token is a session elsewhere
    sign_in(page, member["email"], member["password"])
    page.locator("header a.who").click()
    expect(page.locator("table#sessions tbody tr")).to_have_count(2)
    check_page(page, "account")
    page.locator("table#sessions tr:not([data-current]) button.end-session").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("table#sessions tbody tr")).to_have_count(1)
    page.fill("#current", member["password"])
    page.fill("#new", "a fresh browser passphrase 3")
    page.fill("#new_again", "a fresh browser passphrase 3")
    page.locator("#change-password").click()
    expect(page.locator("#done")).to_contain_text("密码已修改")
    assert api(base_url, "POST", "/api/v1/auth/login",
               {"email": member["email"], "password": "a fresh browser passphrase 3"})["token"]


def test_the_auditor_reads_and_exports_the_trail_and_an_administrator_cannot(page, context_factory, tmp_path):
    # A failed sign-in to find in the trail.
    stranger = context_factory(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    sign_in(stranger, "demo2@techtrade.invalid", "not the password 1")
    expect(stranger.locator(".form-error")).to_be_visible()

    sign_in(page, "auditor@techtrade.invalid", DEMO_PASSWORD)
    expect(page).to_have_url(re.compile(r"/console/audit$"))
    page.fill("#actor", "demo2@techtrade.invalid")
    page.fill("#action", "session")
    page.locator("#audit-filter button[type=submit]").click()
    denied = page.locator("#audit-records tbody tr[data-action='session.denied'][data-result='denied']")
    expect(denied.first).to_be_visible()
    denied.first.locator("summary").click()
    expect(denied.first.locator("dd").first).to_be_visible()
    check_page(page, "console-audit")

    with page.expect_download() as download:
        page.locator("#audit-export").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[0][:3] == ["seq", "time", "actor_id"]
    assert any(row[6] == "session.denied" and row[9] == "denied" for row in rows[1:]), rows

    # The system administrator, whose own actions are in it, is refused.
    admin = context_factory(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    sign_in(admin, "admin@techtrade.invalid", DEMO_PASSWORD)
    response = admin.goto("/console/audit")
    assert response.status == 403


def test_the_security_administrator_makes_an_auditor_and_changes_a_role(page, phone):
    rng = random.Random()
    sign_in(page, "secadmin@techtrade.invalid", DEMO_PASSWORD)
    # Signing in leads the security administrator to the staff page.
    expect(page).to_have_url(re.compile(r"/console/users$"))
    expect(page.locator("nav.tabs a[href='/console/reviews']")).to_have_count(0)
    email = f"auditor{rng.randrange(10**9)}@kjt.qinghai.gov.cn"
    page.fill("#name", "新任审计员")
    page.fill("#email", email)
    page.select_option("#role", "auditor")
    page.fill("#password", "a long auditor password 1")
    page.locator("#create-user").click()
    expect(page.locator("#done")).to_be_visible()
    row = page.locator("table#staff tbody tr", has_text=email)
    expect(row.locator(".disable-user")).to_be_visible()
    check_page(page, "console-users-security-administrator")

    # Another role: the select in the row, then its button.
    row.locator("select").select_option("secadmin")
    row.locator(".change-role").click()
    expect(page.locator("#done")).to_be_visible()
    row = page.locator("table#staff tbody tr", has_text=email)
    expect(row.locator("td").nth(2)).to_have_text("安全管理员")

    sign_in(phone, "secadmin@techtrade.invalid", DEMO_PASSWORD)
    phone.goto("/console/users")
    no_horizontal_scroll(phone)
    check_page(phone, "phone-console-users-security-administrator")


def upload(base_url, token, application_id, kind, name, data):
    """A document added to an application (multipart/form-data)."""
    boundary = "techtrade-browser-test"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
        "Content-Type: application/pdf\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(base_url + f"/api/v1/registrations/{application_id}/documents", method="POST")
    request.add_header("content-type", f"multipart/form-data; boundary={boundary}")
    request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, data=body, timeout=10) as response:
        return json.load(response)


def test_the_registration_office_registers_a_contract_signed_elsewhere(page, base_url, phone):
    """A university applies for a contract it signed off the platform; the
    registrar opens its contract text from the queue, registers it with a
    lower 技术交易额, and prints the certificate."""
    rng = random.Random()
    seller = organisation(base_url, rng, "university")
    body = {"contract": {
        "category": "development", "subcategory": "commissioned_development",
        "buyer": {"name": "西宁高原光伏科技有限公司", "credit_code": credit_code(rng), "region_code": "630104"},
        "total_amount_fen": 300_000_000, "non_technical_amount_fen": 4_000_000,
        "signed_on": datetime.date.today().isoformat(), "valid_until": "2029-12-31",
        "technology_field": "new_energy_and_efficiency", "ip_type": "patent",
        "government_project": True, "related_party": False,
    }}
    application = api(base_url, "POST", "/api/v1/registrations", body, seller["token"])
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    upload(base_url, seller["token"], application["id"], "contract", "光伏组件技术开发合同.pdf", pdf)
    api(base_url, "POST", f"/api/v1/registrations/{application['id']}/submit", {}, seller["token"])

    sign_in(page, "official@techtrade.invalid", DEMO_PASSWORD)
    page.goto("/console/office")
    item = page.locator(f"#application-{application['id']}")
    expect(item).to_be_visible()
    expect(item.locator(".documents a")).to_have_text("光伏组件技术开发合同.pdf")
    check_page(page, "console-office")
    item.locator("input[name=technology_yuan]").fill("2,900,000")
    item.locator("button.register").click()
    expect(page.locator("#issued-number")).to_be_visible()
    number = page.locator("#issued-number").inner_text()
    assert re.fullmatch(r"\d{16}", number), number

    page.goto(f"/registrations/{application['id']}/certificate")
    expect(page.locator("h1")).to_have_text("技术合同登记证明")
    expect(page.locator(".certificate")).to_contain_text(number)
    expect(page.locator(".certificate")).to_contain_text("2,900,000.00 元")
    check_page(page, "registration-certificate")

    sign_in(phone, seller["email"], seller["password"])
    phone.goto(f"/registrations/{application['id']}/certificate")
    no_horizontal_scroll(phone)
    check_page(phone, "phone-registration-certificate")


def test_a_seller_applies_for_registration_in_the_workspace(page, base_url, phone, tmp_path):
    """A university enters a contract it signed elsewhere, uploads its text
    (a file chosen in the browser), submits it; the registrar finds it in
    dispute, and the seller sees the longer deadline."""
    rng = random.Random()
    seller = organisation(base_url, rng, "university")
    sign_in(page, seller["email"], seller["password"])
    page.goto("/workspace/registrations")
    expect(page.locator("#no-applications")).to_be_visible()
    form = page.locator("#new-application")
    form.locator("[name='contract.category']").select_option("development")
    form.locator("[name='contract.subcategory']").select_option("commissioned_development")
    form.locator("[name='contract.buyer.name']").fill("海东高原农业科技有限公司")
    form.locator("[name='contract.buyer.credit_code']").fill(credit_code(rng))
    form.locator("[name='contract.buyer.region_code']").fill("630202")
    form.locator("[name='contract.total_amount_yuan']").fill("800,000")
    form.locator("[name='contract.non_technical_amount_yuan']").fill("50,000")
    form.locator("[name='contract.signed_on']").fill(datetime.date.today().isoformat())
    form.locator("[name='contract.valid_until']").fill("2028-12-31")
    form.locator("[name='contract.technology_field']").select_option("agriculture")
    check_page(page, "workspace-registrations")
    form.locator("#create-application").click()
    expect(page.locator("#done")).to_have_attribute("data-done", "created")

    pdf = tmp_path / "青稞种植技术开发合同.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    page.locator("#kind").select_option("contract")
    page.locator("#file").set_input_files(str(pdf))
    page.locator("#upload").click()
    expect(page.locator("#done")).to_have_attribute("data-done", "uploaded")
    expect(page.locator(".documents a")).to_have_text("青稞种植技术开发合同.pdf")
    page.locator("#submit-application").click()
    expect(page.locator("#done")).to_have_attribute("data-done", "submit")
    expect(page.locator(".deadline strong").first).to_be_visible()
    application_id = page.url.split("/workspace/registrations/")[1].split("?")[0]
    check_page(page, "workspace-registration")

    official = page.context.browser.new_context(base_url=base_url, locale="zh-CN").new_page()
    sign_in(official, "official@techtrade.invalid", DEMO_PASSWORD)
    official.goto("/console/office")
    item = official.locator(f"#application-{application_id}")
    item.locator("input[name=dispute_reason]").fill("买方对技术成果权属提出异议")
    item.locator(".dispute-form button").click()
    expect(official.locator("#done")).to_have_attribute("data-done", "disputed")
    expect(official.locator(f"#application-{application_id} .disputed")).to_be_visible()
    official.context.close()

    sign_in(phone, seller["email"], seller["password"])
    phone.goto(f"/workspace/registrations/{application_id}")
    expect(phone.locator(".disputed")).to_be_visible()
    no_horizontal_scroll(phone)
    check_page(phone, "phone-workspace-registration")
    phone.goto("/workspace/registrations")
    no_horizontal_scroll(phone)
    check_page(phone, "phone-workspace-registrations")
    # The same pages in English, on the phone.
    phone.goto(f"/workspace/registrations/{application_id}?lang=en")
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(phone.locator(".disputed")).to_have_text("The contract is in dispute: 30 working days")
    no_horizontal_scroll(phone)
    check_page(phone, "phone-workspace-registration-en")
    phone.goto("/workspace/registrations?lang=en")
    expect(phone.locator("#create-application")).to_have_text("Save as draft")
    no_horizontal_scroll(phone)
    check_page(phone, "phone-workspace-registrations-en")
