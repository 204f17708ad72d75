"""Headless Chromium driven by the keyboard alone (Tab, Enter, arrows and typing; no click): Ann starts a
conversation with Bob through the people picker, replies in it, and shares a file with him; every control
reached on the way shows where the focus is.
"""

from __future__ import annotations

import pytest

from tests.support import in_site_look
from tests.support.browser import open_as

pytestmark = [pytest.mark.browser, pytest.mark.integration]

MAX_TABS = 80

# What the focused element shows: an outline, or (a visually hidden file input) its label's outline.
FOCUS_SHOWN = """() => {
  const e = document.activeElement;
  const shows = el => {
    const s = getComputedStyle(el);
    return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  };
  if (shows(e)) return true;
  return !!(e.labels && Array.from(e.labels).some(shows));
}"""


def tab_to(page, selector: str) -> int:
    """Press Tab until the element matching SELECTOR has the focus, checking that each stop on the way shows
    its focus; return how many presses it took."""
    for n in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.outerHTML.slice(0, 120)")
        assert page.evaluate(FOCUS_SHOWN), f"no visible focus on {focused}"
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return n
    raise AssertionError(f"{selector} not reached in {MAX_TABS} presses of Tab")


@pytest.fixture(scope="module")
def seeded(stack):
    return stack.call(in_site_look.seed_workspace, "kb")


def pick_bob(page, field: str, seeded) -> None:
    """Tab to the people picker FIELD, type part of Bob's name, take the first suggestion with Down, Enter."""
    tab_to(page, field)
    page.keyboard.type("Bob Ba")
    page.wait_for_selector(".picker__list:not([hidden]) [role=option]")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.input_value(field) == seeded["bob"]


def test_send_a_message_and_share_a_file_with_the_keyboard_alone(stack, browser, seeded):
    context, page, errors = open_as(browser, stack, seeded["ann"], "/messages/")
    try:
        # A new conversation: the picker suggests Bob from two letters on; Down and Enter take him.
        pick_bob(page, "#id_to", seeded)
        tab_to(page, "#id_subject")
        page.keyboard.type("Keyboard only")
        tab_to(page, "textarea#id_body")
        page.keyboard.type("Sent without touching the mouse.")
        tab_to(page, "form[action$='/messages/new/'] button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_url("**/messages/c/*/")
        assert "Sent without touching the mouse." in page.inner_text("#chat")
        # A reply in the conversation, sent by Enter on the Send button.
        tab_to(page, "#id_body")
        page.keyboard.type("And a second one.")
        tab_to(page, "#send-form button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_selector("#chat >> text=And a second one.")

        # Share the file with Bob, read and write: the picker again, then the permission by arrow key.
        page.goto(stack.url + f"/files/file/{seeded['file']}/")
        pick_bob(page, "input[name=username]", seeded)
        tab_to(page, "select[name=permission]")
        page.keyboard.press("ArrowDown")
        assert page.input_value("select[name=permission]") == "write"
        tab_to(page, "form[action$='/share'] button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_selector(".messages")
        assert "is shared" in page.inner_text(".messages")
        access = page.inner_text(".access-list")
        assert "Bob Baker" in access
        assert "read and write" in access
        assert errors == []
    finally:
        context.close()
