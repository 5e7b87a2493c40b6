"""A person's own account in the browser: a second factor set up by
scanning a QR code (the test plays the authenticator app), recovery codes
shown once, and signing in with the password and then a code."""

import base64
import hashlib
import hmac
import random
import re
import struct
import time

from conftest import check_page
from playwright.sync_api import expect
from test_workspace import register


def app_code(secret, steps_ahead=0):
    """What an authenticator app holding `secret` (base 32) shows: RFC 6238
    with HMAC-SHA-1, six digits, 30-second steps."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(time.time() // 30) + steps_ahead
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 15
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def test_a_member_sets_up_a_second_factor_and_signs_in_with_a_code(page, context_factory):
    rng = random.Random()
    register(page, rng)

    page.goto("/account")
    email = page.locator("#who dd").nth(1).inner_text()
    page.locator("#start-second-factor").click()
    expect(page.locator("#totp-qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    check_page(page, "account-second-factor-scan")

    # A wrong code is shown on its field; the app's code turns it on.
    page.fill("#confirm-code", "000000")
    page.locator("#confirm-second-factor").click()
    expect(page.locator("#confirm-code-error")).to_be_visible()
    page.fill("#confirm-code", app_code(secret))
    page.locator("#confirm-second-factor").click()
    codes = page.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    assert re.fullmatch(r"[0-9a-z]{4}(-[0-9a-z]{4}){3}", codes.first.inner_text())
    check_page(page, "account-recovery-codes")
    page.goto("/account")
    expect(page.locator("#recovery-codes")).to_have_count(0)  # shown once
    expect(page.locator("#second-factor-on")).to_be_visible()

    # Another browser: the password, then the code, then the workspace.
    other = context_factory(viewport={"width": 375, "height": 812}, is_mobile=True, locale="zh-CN").new_page()
    other.goto("/login")
    other.fill("#email", email)
    other.fill("#password", "a long browser password 1")
    other.locator("form.stacked button[type=submit]").click()
    expect(other.locator("#code-form")).to_be_visible()
    check_page(other, "login-code-phone")
    other.fill("#code", "123456")
    other.locator("#verify-code").click()
    expect(other.locator("#code-error")).to_be_visible()
    # The confirmation used this step's code: the app's next one is taken.
    other.fill("#code", app_code(secret, 1))
    other.locator("#verify-code").click()
    expect(other).to_have_url(re.compile(r"/workspace$"))


def test_the_account_page_in_english_fits_a_phone(context_factory):
    rng = random.Random()
    phone = context_factory(viewport={"width": 375, "height": 812}, is_mobile=True, locale="en").new_page()
    register(phone, rng)
    phone.goto("/account?lang=en")
    phone.locator("#start-second-factor").click()
    expect(phone.locator("#totp-qr svg")).to_be_visible()
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    wide = phone.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 376)
        .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
        .slice(0, 12)""")
    assert width <= 375, f"the page is {width} px wide on a 375 px phone: {wide}"
    check_page(phone, "account-second-factor-phone-en")
