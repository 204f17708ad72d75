"""Headless Chromium logs in as a directory (LDAP) person through nginx and sees their mirrored profile."""

from __future__ import annotations

import pytest

from tests.support.domain import start_domain_stack
from tests.support.stack import ok

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def dstack():
    yield from start_domain_stack("strata-domain-browser-")


def test_directory_person_logs_in_in_a_browser(dstack, browser):
    ok(
        dstack,
        "users",
        "add",
        "mae",
        "--first-name",
        "Mae",
        "--last-name",
        "Jemison",
        "--title",
        "Astronaut",
        "--department",
        "Flight",
        "--fax",
        "+1 555 0177",
        "--password-stdin",
        stdin="endeavour mission sts 47\n",
    )
    ok(dstack, "groups", "add", "crew")
    ok(dstack, "groups", "add-member", "crew", "mae")
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(dstack.url + "/people/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "mae")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert "correct username and password" in page.inner_text("main")
    page.fill("input[name=username]", "mae")
    page.fill("input[name=password]", "endeavour mission sts 47")
    page.click("button[type=submit]")
    page.wait_for_url("**/people/")
    page.click("text=My profile")
    page.wait_for_url("**/people/mae/")
    body = page.inner_text("main")
    assert "Mae Jemison" in body
    assert "Astronaut" in body
    assert "+1 555 0177" in body
    assert errors == []
    context.close()
