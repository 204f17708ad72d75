"""Headless Chromium, two people in two browser contexts: live updates arrive on open pages without a
reload (a message, the unread badge, a share), the stream comes back by itself after the event server
restarts, and the people pickers suggest from two letters on and work with the keyboard alone."""

from __future__ import annotations

import pytest

from strata.deploy.supervisor import Supervisor
from tests.support import in_site
from tests.support.browser import open_as as browser_open_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]
WAIT_MS = 15000


@pytest.fixture(scope="module")
def people(stack):
    stack.call(
        in_site.save_people,
        [
            {
                "username": name,
                "password": "correct horse battery " + name,
                "details": {"first_name": first, "last_name": "Livewire", "department": dept},
            }
            for name, first, dept in (("lb_ann", "Ann", "Sales"), ("lb_bob", "Bob", "Roads"))
        ],
    )


def open_as(browser, stack, username, path):
    """Sign in and open PATH, then wait until the page's event stream is open."""
    context, page, errors = browser_open_as(browser, stack, username, path)
    page.wait_for_selector("html[data-live=open]", timeout=WAIT_MS)
    page.evaluate("window.__noReload = true")  # a reload would wipe it out
    return context, page, errors


def test_a_message_and_a_share_appear_on_the_other_persons_open_page(stack, browser, people):
    bob_ctx, bob, _ = open_as(browser, stack, "lb_bob", "/files/")
    ann_ctx, ann, _ = open_as(browser, stack, "lb_ann", "/messages/")
    try:
        # Ann writes to Bob, picking him with the keyboard: two letters, Down, Enter.
        ann.fill("#id_to", "")
        ann.type("#id_to", "li")  # "Livewire": the last name
        ann.wait_for_selector("[role=listbox] [role=option]:has-text('Bob Livewire')", timeout=WAIT_MS)
        ann.press("#id_to", "ArrowDown")
        assert ann.get_attribute("#id_to", "aria-expanded") == "true"
        for _ in range(10):  # other people of the shared stack may match "li" too
            if "Bob Livewire" in ann.inner_text("[role=option][aria-selected=true]"):
                break
            ann.press("#id_to", "ArrowDown")
        ann.press("#id_to", "Enter")
        assert ann.input_value("#id_to") == "lb_bob"
        ann.fill("#id_subject", "Live")
        ann.fill("#id_body", "Bob, are you live?")
        ann.click("form[action='/messages/new/'] button[type=submit]")
        bob.wait_for_selector("#live-notices >> text=New message from Ann Livewire: Live", timeout=WAIT_MS)
        assert bob.inner_text("[data-unread-badge]") == "1"
        # Ann shares a folder with Bob through the share form's picker.
        folder = stack.call(in_site.make_folder, "lb_ann", "Live plans")
        ann.goto(f"{stack.url}/files/folder/{folder}/")
        ann.click("summary:has-text('Share, link')")
        ann.type("input[name=username][data-picker]", "bo")
        ann.wait_for_selector("[role=option]:has-text('Bob Livewire')", timeout=WAIT_MS)
        # Down to Bob Livewire (other Bobs of the shared stack may come first), then Enter.
        for _ in range(10):
            ann.press("input[name=username][data-picker]", "ArrowDown")
            if "Bob Livewire" in ann.inner_text("[role=option][aria-selected=true]"):
                break
        ann.press("input[name=username][data-picker]", "Enter")
        assert ann.input_value("input[name=username][data-picker]") == "lb_bob"
        ann.click("button:has-text('Share folder')")
        bob.wait_for_selector(
            "#live-notices >> text=Ann Livewire shared “Live plans” with you", timeout=WAIT_MS
        )
        assert bob.evaluate("window.__noReload") is True
    finally:
        bob_ctx.close()
        ann_ctx.close()


def test_the_stream_comes_back_after_the_event_server_restarts(stack, browser, people):
    conv = stack.call(in_site.start_conversation, "lb_ann", "lb_bob", "Restart", "before")
    bob_ctx, bob, _ = open_as(browser, stack, "lb_bob", f"/messages/c/{conv}/")
    try:
        sup = Supervisor(stack.config.var_dir)
        sup.stop("events")
        bob.wait_for_selector("html[data-live=reconnecting]", timeout=WAIT_MS)
        stack.call(in_site.post_reply, "lb_ann", conv, "said while the event server was down")
        sup.start("events")
        bob.wait_for_selector("#chat >> text=said while the event server was down", timeout=30000)
        stack.call(in_site.post_reply, "lb_ann", conv, "and after")
        bob.wait_for_selector("#chat >> text=and after", timeout=WAIT_MS)
        assert bob.evaluate("window.__noReload") is True
    finally:
        bob_ctx.close()


def test_the_picker_suggests_after_two_letters_and_follows_the_keyboard(stack, browser, people):
    ctx, page, errors = open_as(browser, stack, "lb_ann", "/messages/")
    try:
        page.type("#id_to", "l")
        page.wait_for_timeout(400)  # past the picker's delay: one letter asks nothing
        assert page.locator("[role=option]").count() == 0
        assert page.get_attribute("#id_to", "role") == "combobox"
        page.type("#id_to", "b")
        page.wait_for_selector("[role=option]:has-text('Bob Livewire')", timeout=WAIT_MS)
        option = page.locator("[role=option]").first
        assert "Roads" in option.inner_text()  # the department
        page.press("#id_to", "ArrowDown")
        assert option.get_attribute("aria-selected") == "true"
        assert page.get_attribute("#id_to", "aria-activedescendant") == option.get_attribute("id")
        page.press("#id_to", "Escape")
        assert page.locator("[role=option]").count() == 0
        assert page.get_attribute("#id_to", "aria-expanded") == "false"
        assert page.input_value("#id_to") == "lb"
        assert errors == []
    finally:
        ctx.close()
