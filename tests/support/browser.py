"""Browser helpers shared by the Playwright tests."""

from __future__ import annotations


def open_as(
    browser, stack, username: str, path: str, password: str | None = None, viewport: dict | None = None
):
    """Sign USERNAME in (password "correct horse battery USERNAME" unless given) in a new browser context
    and open PATH (in a window of VIEWPORT, Playwright's 1280x720 when None); return the context, the page
    and the list that collects the page's console errors."""
    context = browser.new_context(ignore_https_errors=True, **({"viewport": viewport} if viewport else {}))
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(stack.url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or "correct horse battery " + username)
    page.click("button[type=submit]")
    page.wait_for_url("**/people/**")
    page.goto(stack.url + path)
    return context, page, errors
