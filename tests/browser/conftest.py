"""Fixtures of the end-to-end browser tests (see README.md beside this file).

Playwright drives Debian's Chromium against the server named by
TECHTRADE_BASE_URL (`.ci/browser` starts one on the demo market). Every
browser context is watched: a console error, an uncaught page error or a
response with status >= 500 fails the test that caused it. `check_page`
runs axe-core's WCAG 2.1 A/AA rules over a page and saves a full-page
screenshot of it.
"""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TECHTRADE_CHROMIUM", "/usr/bin/chromium")
AXE_JS = Path(os.environ.get("TECHTRADE_AXE_JS", ROOT / "target/browser-assets/axe.min.js"))
SCREENSHOTS = ROOT / "target/screenshots"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# How long an action or an assertion may wait: a test takes a few seconds,
# and one that waits longer is failing.
TIMEOUT_MS = 8_000

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}
PHONE = {
    "viewport": {"width": 375, "height": 812},
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}


@pytest.fixture(scope="session")
def base_url():
    url = os.environ.get("TECHTRADE_BASE_URL")
    if not url:
        pytest.fail("TECHTRADE_BASE_URL is not set: run the tests with `bash .ci/browser`", pytrace=False)
    return url.rstrip("/")


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class Watch:
    """What went wrong in one browser context, as it happened."""

    def __init__(self, context):
        self.console_errors = []  # (text, url)
        self.page_errors = []
        self.server_errors = []  # "status method url"
        # Pages and htmx requests answered 4xx on purpose (a refused login
        # shown again with its error): Chromium logs each as a console
        # error, "Failed to load resource", which is no fault of the page.
        # A 4xx that htmx does not expect still fails: htmx logs its own
        # console error ("Response Status Error Code ..."). A script, style
        # sheet, image or font answered 4xx fails too.
        self.answered_4xx = set()
        context.on("console", self._console)
        context.on("weberror", lambda error: self.page_errors.append(str(error.error)))
        context.on("response", self._response)

    def _console(self, message):
        if message.type == "error":
            self.console_errors.append((message.text, message.location.get("url", "")))

    def _response(self, response):
        request = response.request
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {request.method} {response.url}")
        elif 400 <= response.status < 500 and request.resource_type in ("document", "xhr", "fetch"):
            self.answered_4xx.add(response.url)

    def problems(self):
        found = [f"server error: {line}" for line in self.server_errors]
        found += [f"page error: {error}" for error in self.page_errors]
        for text, url in self.console_errors:
            # Chromium asks for /favicon.ico once a session, by itself, and
            # logs a 404 as a console error: that would fail whichever test
            # happens to run first, so it is let through.
            if text.startswith("Failed to load resource") and (
                url in self.answered_4xx or urlsplit(url).path == "/favicon.ico"
            ):
                continue
            found.append(f"console error: {text}" + (f" ({url})" if url else ""))
        return found

    def assert_clean(self, where):
        problems = self.problems()
        if problems:
            # Reported once: the end of the test checks only what came later.
            self.console_errors.clear()
            self.page_errors.clear()
            self.server_errors.clear()
            pytest.fail(f"{where}:\n  " + "\n  ".join(problems), pytrace=False)


def new_context(browser, base_url, **options):
    """A browser context on the server under test, watched for errors."""
    context = browser.new_context(base_url=base_url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.watch = Watch(context)
    return context


@pytest.fixture
def context_factory(browser, base_url):
    """Makes watched contexts with other options (closed and checked after the test)."""
    contexts = []

    def make(**options):
        context = new_context(browser, base_url, **options)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        watch = context.watch
        context.close()
        watch.assert_clean("errors in the browser during the test")


@pytest.fixture
def page(context_factory):
    """A desktop page (1280x900, zh-CN)."""
    return context_factory(**DESKTOP).new_page()


@pytest.fixture
def phone(context_factory):
    """A phone page (375x812, touch, zh-CN)."""
    return context_factory(**PHONE).new_page()


@pytest.fixture
def nojs_page(context_factory):
    """A desktop page with JavaScript off: plain forms and links only."""
    return context_factory(**DESKTOP, java_script_enabled=False).new_page()


_axe_source = None


def _inject_axe(page):
    # Evaluated rather than added as a <script> tag (page.add_script_tag):
    # a Content-Security-Policy without 'unsafe-inline' blocks an inline
    # script tag, and logs that as a console error, but not an evaluation
    # through the DevTools protocol.
    global _axe_source
    if _axe_source is None:
        if not AXE_JS.is_file():
            pytest.fail(f"{AXE_JS} is missing: `bash .ci/browser --install-only` fetches it", pytrace=False)
        _axe_source = AXE_JS.read_text(encoding="utf-8")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source)


def axe_violations(page):
    """axe-core's WCAG 2.0/2.1 A and AA violations on the page, as readable lines."""
    _inject_axe(page)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS,
    )
    lines = []
    for violation in result["violations"]:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
        shown = ", ".join(targets[:3]) + (f", … ({len(targets)} in all)" if len(targets) > 3 else "")
        lines.append(f"{violation['id']} [{violation['impact']}] {violation['help']}: {shown}")
    return lines


def _short(url, limit=120):
    return url if len(url) <= limit else url[: limit - 1] + "…"


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def check_page(page, name, *, axe=True):
    """Screenshots the page to target/screenshots/<name>.png, then fails the
    test on any error seen so far in its browser context and on any axe
    violation. `axe=False` for a page without JavaScript, where axe cannot run."""
    assert re.fullmatch(r"[\w.-]+", name), f"screenshot name {name!r}"
    screenshot(page, name)
    page.context.watch.assert_clean(f"errors in the browser up to {name} ({_short(page.url)})")
    if axe:
        violations = axe_violations(page)
        if violations:
            pytest.fail(
                f"accessibility violations on {name} ({_short(page.url)}):\n  " + "\n  ".join(violations),
                pytrace=False,
            )
