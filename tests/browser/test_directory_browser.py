"""Headless Chromium (Debian's) drives the real stack: log in over HTTPS, search the directory."""

from __future__ import annotations

import os

import pytest

from tests.support import in_site

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_login_and_search_in_a_browser(stack, browser):
    details = {
        "first_name": "Katherine",
        "last_name": "Johnson",
        "email": "kj@example.org",
        "phone": "+1 555 0142",
        "fax": "+1 555 0143",
        "title": "Mathematician",
        "department": "Flight",
    }
    stack.call(in_site.save_person, "katherine", details=details)
    # The page is checked against the site's own CA by the test client; the browser just trusts it here.
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(stack.url + "/people/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", stack.admin[0])
    page.fill("input[name=password]", stack.admin[1])
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url("**/people/**")
    page.fill("input[name=q]", "johnson")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=johnson**")
    row = page.locator("table tr", has_text="Katherine Johnson")
    assert row.count() == 1
    assert "Flight" in row.inner_text()
    page.click("text=Katherine Johnson")
    page.wait_for_url("**/people/katherine/")
    assert "+1 555 0143" in page.content()
    # The stylesheet loaded under the site's Content-Security-Policy, with no console errors.
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != "Times New Roman"
    assert errors == []
    shots = os.environ.get("STRATA_SCREENSHOTS")  # set to a directory to look at the pages
    if shots:
        page.screenshot(path=os.path.join(shots, "person.png"), full_page=True)
    page.click("nav >> text=Status")
    page.wait_for_url("**/status/")
    assert page.locator(".badge-fallback").count() == 3
    if shots:
        page.screenshot(path=os.path.join(shots, "status.png"), full_page=True)
    context.close()
