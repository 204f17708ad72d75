"""Headless Chromium: a person makes an app password from the page menu, sees it once, uses it (the JSON
API answers as them), then revokes it (the API refuses it)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest

from tests.support import in_site
from tests.support.browser import open_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def api_me(stack, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(stack.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    context = ssl.create_default_context(cafile=str(stack.ca))
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_create_use_and_revoke_an_app_password(stack, browser):
    stack.call(
        in_site.save_people,
        [{"username": "ap_cy", "password": "correct horse battery ap_cy", "details": {"first_name": "Cy"}}],
    )
    context, page, errors = open_as(browser, stack, "ap_cy", "/people/")
    try:
        page.click("text=App passwords")
        page.wait_for_url("**/accounts/app-passwords/")
        assert "You have no app passwords." in page.inner_text("main")
        page.fill("#id_label", "laptop drive")
        page.click("button:has-text('Create an app password')")
        page.wait_for_selector("[data-app-password]")
        token = page.inner_text("[data-app-password]").strip()
        assert "shown only this once" in page.inner_text("main")
        assert page.locator("table tr", has_text="laptop drive").count() == 1
        status, me = api_me(stack, token)
        assert (status, me["kind"], me["name"]) == (200, "person", "ap_cy")

        # Shown once (the answer to the form, never stored): opening the page again does not show it.
        page.goto(stack.url + "/accounts/app-passwords/")
        assert page.locator("[data-app-password]").count() == 0
        assert token not in page.content()

        page.locator("table tr", has_text="laptop drive").locator("button", has_text="Revoke").click()
        page.wait_for_selector("text=You have no app passwords.")
        status, body = api_me(stack, token)
        assert status == 401
        assert "token" in body["error"]
        assert errors == []
    finally:
        context.close()
