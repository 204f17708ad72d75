"""Headless Chromium over the main pages at a desktop (1280x800) and a phone (390x844) size: no horizontal
scrolling, no serious or critical axe-core violation; at the phone size tables collapse into lists, the
upload drop zone becomes a button and the menu folds behind a button; one header (the person's name and
unread count) and titles that say where one is; the error pages wear the site's look.

One stack (the session's) and one window per person and size for the whole module.
"""

from __future__ import annotations

import pytest

from tests.support import in_site, look

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def seeded(stack):
    return look.seed(stack, "lk")


@pytest.fixture(scope="module", params=sorted(look.SIZES))
def windows(request, browser, stack, seeded):
    """One window per person at the size of this run ("desktop" or "phone")."""
    opened = look.sign_in(browser, stack, seeded, look.SIZES[request.param])
    try:
        yield request.param, opened
    finally:
        look.close(opened)


def test_every_main_page_fits_the_window_and_passes_axe(stack, seeded, windows):
    size, opened = windows
    problems = []
    for page in look.main_pages(seeded):
        p = look.visit(opened, stack, page)
        wider = look.overflow(p)
        if wider > 0:
            problems.append(f"{page.name} ({size}): {wider}px wider than the window")
        for v in look.axe_violations(p):
            if v["impact"] in ("serious", "critical"):
                problems.append(
                    f"{page.name} ({size}): {v['impact']} {v['id']} ({v['help']}) at {v['nodes'][:3]}"
                )
    assert problems == []


def test_header_titles_and_tables_at_this_size(stack, seeded, windows):
    size, opened = windows
    folder = look.Page("folder", f"/files/folder/{seeded['folder']}/", "ann")
    before = int(look.visit(opened, stack, folder).inner_text("[data-unread-badge]") or 0)
    stack.call(in_site.post_reply, seeded["bob"], seeded["conversation"], f"Seen on a {size}?")
    p = look.visit(opened, stack, folder)
    assert p.title().startswith("Reports · My files · Files · ")
    assert p.inner_text(".site-user") == "Ann Archer"
    # Bob wrote to Ann: the header's unread count says so, on every page (until she reads it, below).
    assert int(p.inner_text("[data-unread-badge]")) == before + 1
    row = p.locator("table.files tbody tr", has_text="q3-summary.txt")
    display = row.evaluate("tr => getComputedStyle(tr).display")
    drag_hint = p.locator(".drop-hint__drag")
    choose = p.locator("label[for=id_files]").bounding_box()
    if size == "phone":
        assert display == "block"  # the table is a list of cards
        assert row.locator("td[data-label=Size]").count() == 1
        assert not drag_hint.is_visible()
        assert choose is not None
        assert choose["width"] > 300
        assert not p.locator("#site-nav").is_visible()
        p.focus(".menu-toggle")
        p.keyboard.press("Enter")
        assert p.locator("#site-nav").is_visible()
        assert p.get_attribute(".menu-toggle", "aria-expanded") == "true"
    else:
        assert display == "table-row"
        assert drag_hint.is_visible()
        assert choose is not None
        assert choose["width"] < 300
        assert p.locator("#site-nav").is_visible()
        assert not p.locator(".menu-toggle").is_visible()
    p = look.visit(opened, stack, look.Page("conversation", f"/messages/c/{seeded['conversation']}/", "ann"))
    assert p.title().startswith("Quarterly report · Messages · ")


def test_error_pages_wear_the_site_look(stack, seeded, windows):
    _, opened = windows
    p = opened["ann"]
    response = p.goto(stack.url + "/no-such-page/")
    assert response is not None
    assert response.status == 404
    assert p.title().startswith("Page not found · ")
    assert p.locator(".error-page h1").inner_text() == "Page not found"
    assert p.inner_text(".site-user") == "Ann Archer"
    # The stylesheet applies: the card has the surface colour, not the browser's default transparent.
    background = p.locator(".error-page").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    response = opened[None].goto(stack.url + "/no-such-page/")
    assert response is not None
    assert response.status == 404
    assert opened[None].locator(".error-page a", has_text="Log in").count() == 1
