"""Headless Chromium: one person sends a message, the other sees it arrive without reloading the page."""

from __future__ import annotations

import pytest

from tests.support import in_site
from tests.support.browser import open_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_message_arrives_for_the_other_person_without_reload(stack, browser):
    stack.call(
        in_site.save_people,
        [
            {"username": name, "password": "correct horse battery " + name, "details": {"first_name": first}}
            for name, first in (("br_ann", "Ann"), ("br_bob", "Bob"))
        ],
    )
    conv = stack.call(in_site.start_conversation, "br_ann", "br_bob", "Browser chat", "Hello Bob")
    path = f"/messages/c/{conv}/"
    bob_ctx, bob, bob_errors = open_as(browser, stack, "br_bob", path)
    ann_ctx, ann, ann_errors = open_as(browser, stack, "br_ann", path)
    try:
        assert bob.locator("#chat").inner_text().count("Hello Bob") == 1
        # A marker that a page reload would wipe out.
        bob.evaluate("window.__noReload = true")
        ann.evaluate("window.__noReload = true")
        ann.fill("#id_body", "Are you there, Bob? <i>not italic</i>")
        ann.click("#send-form button[type=submit]")
        ann.wait_for_selector("#chat >> text=Are you there, Bob?", timeout=10000)
        bob.wait_for_selector("#chat >> text=Are you there, Bob?", timeout=15000)
        assert "<i>not italic</i>" in bob.locator("#chat").inner_text()
        assert bob.evaluate("window.__noReload") is True
        assert ann.evaluate("window.__noReload") is True
        assert ann.input_value("#id_body") == ""
        # An empty message gets its reason shown, still without a reload.
        ann.evaluate("document.getElementById('id_body').removeAttribute('required')")
        ann.click("#send-form button[type=submit]")
        ann.wait_for_selector("#send-error:not([hidden])")
        assert "Write a message first" in ann.inner_text("#send-error")
        assert bob_errors == []
        assert [e for e in ann_errors if "400" not in e] == []
    finally:
        bob_ctx.close()
        ann_ctx.close()
