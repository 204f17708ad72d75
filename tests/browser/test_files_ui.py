"""Headless Chromium clicks every button and link of the files pages and checks what the person then sees:
download (bytes and name), move (the folder picker, by keyboard), share, unshare, create and revoke a
link, rename, trash, restore, empty trash, upload by chooser and by drop, an upload resumed after a
reload, what a read-only and a write share show, and a password-protected folder link.

Downloads are followed as a person's browser follows them (Playwright's expect_download), so they keep
working whatever host or redirect serves the bytes. One stack (with the file server) for the module.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support import in_site, in_site_files_ui
from tests.support.stack import files_role_toml, running_stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

MIB = 1024 * 1024
UPLOAD_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def fstack():
    """A stack with the files role (SeaweedFS, 5 MiB parts) for this module only."""
    with running_stack("strata-filesui2-", extra=files_role_toml()) as s:
        yield s


@pytest.fixture(scope="module")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="strata-filesui2-data-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def ada(fstack):
    """A second person (name, password) to share with."""
    password = secrets.token_urlsafe(12)
    fstack.call(in_site.save_person, "ada", password, {"first_name": "Ada", "last_name": "Lovelace"})
    return "ada", password


def login(browser, stack, username, password):
    context = browser.new_context(ignore_https_errors=True, accept_downloads=True)
    page = context.new_page()
    page.goto(stack.url + "/files/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    # Past the login form (whose own address holds "?next=/files/"), on the files pages.
    page.wait_for_url(lambda url: "/files/" in url and "/accounts/login/" not in url)
    errors: list[str] = []
    # Script errors only: the 404 and 410 pages a test opens on purpose log "Failed to load resource".
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def row(page, name):
    return page.locator(f'table.files tr.file-row[data-name="{name}"]')


def item(page, name):
    return page.locator("#upload .upload-item", has=page.locator(".upload-item__name", has_text=name))


def messages(page) -> str:
    return page.locator(".messages").inner_text()


def download(page, click) -> tuple[str, bytes]:
    """Click CLICK (a selector or locator) and return the (name, bytes) of the download it starts."""
    with page.expect_download() as info:
        if isinstance(click, str):
            page.click(click)
        else:
            click.click()
    return info.value.suggested_filename, Path(info.value.path()).read_bytes()


def kept_uploads(page) -> list[str]:
    """Return the keys of the uploads the page keeps in localStorage to resume after a reload."""
    return page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('strata.upload:'))")


def new_folder(page, name):
    page.fill("#id_newfolder", name)
    page.click("form[action$='/new-folder'] button[type=submit]")
    page.wait_for_url("**/files/folder/**")


def go_home(page):
    page.click("nav.site-nav >> text=Files")
    page.wait_for_url("**/files/space/**")


def click_below_preview(page, selector: str) -> None:
    """Click SELECTOR after scrolling it into view and letting two frames be drawn. With a preview frame
    from the content host on the page (another origin: another renderer process), headless Chromium routed
    a click made in the same step as Playwright's scroll to where the frame had been: no navigation."""
    target = page.locator(selector)
    target.scroll_into_view_if_needed()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    target.click()


def test_every_button_of_the_file_page(fstack, browser, ada):
    # Each click waits for the navigation it starts (expect_navigation): most lead back to the same URL,
    # where wait_for_url would return before the new page (with its preview from the content host) loads.
    context, page, errors = login(browser, fstack, *fstack.admin)
    new_folder(page, "Archive")
    go_home(page)
    body = b"the minutes of the meeting\n"
    page.set_input_files(
        "#id_files", files=[{"name": "minutes.txt", "mimeType": "text/plain", "buffer": body}]
    )
    row(page, "minutes.txt").wait_for(timeout=UPLOAD_TIMEOUT_MS)

    # The listing's Download link, then the file page's Download button: the right name and bytes.
    assert download(page, row(page, "minutes.txt").locator("a", has_text="Download")) == ("minutes.txt", body)
    row(page, "minutes.txt").locator("a", has_text="minutes.txt").click()
    page.wait_for_url("**/files/file/**")
    file_url = page.url
    assert download(page, ".file-card >> text=Download") == ("minutes.txt", body)

    # Rename.
    page.fill("form[action$='/rename'] input[name=name]", "minutes-final.txt")
    with page.expect_navigation(url=file_url):
        page.click("form[action$='/rename'] button[type=submit]")
    assert "Renamed." in messages(page)
    assert page.locator("h1").inner_text() == "minutes-final.txt"

    # Share with ada, then remove the share.
    page.fill("form[action$='/share'] input[name=username]", "ada")
    with page.expect_navigation(url=file_url):
        page.click("form[action$='/share'] button[type=submit]")
    assert "is shared" in messages(page)
    assert "Ada Lovelace" in page.locator(".access-list").inner_text()
    with page.expect_navigation(url=file_url):
        page.click(".access-list form[action*='/shares/'] button")
    assert "no longer shared with ada" in messages(page)
    assert "Ada Lovelace" not in page.locator(".access-list").inner_text()

    # Create a public link: it works for anyone; revoke it: it stops working.
    with page.expect_navigation(url=file_url):
        page.click("form[action$='/link'] button[type=submit]")
    link_url = page.locator(".link-item input[type=url]").first.input_value()
    assert link_url in messages(page)
    visitor = browser.new_context(ignore_https_errors=True, accept_downloads=True)
    vpage = visitor.new_page()
    vpage.goto(link_url)
    assert download(vpage, "text=Download") == ("minutes-final.txt", body)
    with page.expect_navigation(url=file_url):
        page.click(".link-item form[action$='/revoke'] button")
    assert "no longer works" in messages(page)
    assert page.locator(".link-item").count() == 0
    resp = vpage.goto(link_url)
    assert resp is not None
    assert resp.status == 404
    assert "does not exist" in vpage.locator("main").inner_text()
    visitor.close()

    # The text preview (a sandboxed frame from the content host) shows the file's text.
    preview = page.frame_locator(".preview iframe").locator("body")
    preview.get_by_text("the minutes of the meeting").wait_for()

    # Move, with the folder picker, by keyboard only: choose the folder with Space, submit with Enter.
    with page.expect_navigation(url="**/files/files/*/move"):
        click_below_preview(page, "text=Move…")
    current = page.get_by_label("My files (where it is now)")
    assert current.is_disabled()
    archive = page.get_by_label("My files / Archive")
    archive.focus()
    page.keyboard.press("Space")
    assert archive.is_checked()
    page.keyboard.press("Tab")  # out of the radio group, onto "Move here"
    with page.expect_navigation(url=file_url):
        page.keyboard.press("Enter")
    assert "“minutes-final.txt” moved to “Archive”" in messages(page)
    assert page.locator(".crumbs a").inner_text() == "← Archive"
    assert fstack.call(in_site_files_ui.file_state, "minutes-final.txt")["folder"] == "Archive"

    # Trash, restore, trash again, empty the trash.
    with page.expect_navigation(url="**/trash/"):
        click_below_preview(page, "form[action$='/trash'] button[type=submit]")
    assert "moved to the trash" in messages(page)
    trashed = page.locator("table tr", has_text="minutes-final.txt")
    assert trashed.count() == 1
    # The file's page now says where it went, and leads to the trash.
    page.goto(file_url)
    assert "“minutes-final.txt” is in the trash" in page.locator("main").inner_text()
    with page.expect_navigation(url="**/trash/"):
        page.click("text=Open the trash to restore it")
    with page.expect_navigation(url="**/trash/"):
        page.locator("table tr", has_text="minutes-final.txt").locator("button", has_text="Restore").click()
    assert "“minutes-final.txt” restored." in messages(page)
    assert fstack.call(in_site_files_ui.rows_named, "minutes-final.txt") == {"live": 1, "trash": 0}
    page.goto(file_url)
    with page.expect_navigation(url="**/trash/"):
        click_below_preview(page, "form[action$='/trash'] button[type=submit]")
    with page.expect_navigation(url="**/trash/"):
        page.click("text=Empty trash (deletes for good)")
    assert "Trash emptied (1 file(s) deleted for good)." in messages(page)
    assert "The trash is empty." in page.locator("table").inner_text()
    assert fstack.call(in_site_files_ui.rows_named, "minutes-final.txt") == {"live": 0, "trash": 0}
    resp = page.goto(file_url)
    assert resp is not None
    assert resp.status == 404
    assert "not available to you" in page.locator("main").inner_text()
    with page.expect_navigation(url="**/files/space/**"):
        page.click("text=Back to your files")
    assert errors == []
    context.close()


def test_drop_into_a_folder_then_move_the_folder(fstack, browser):
    context, page, errors = login(browser, fstack, *fstack.admin)
    new_folder(page, "Projects")
    go_home(page)
    new_folder(page, "Inbox")
    dt = page.evaluate_handle("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(["dropped into the inbox\\n"], "dropped.txt", {type: "text/plain"}));
        return dt;
    }""")
    page.dispatch_event("#upload", "dragenter", {"dataTransfer": dt})
    page.dispatch_event("#upload", "drop", {"dataTransfer": dt})
    row(page, "dropped.txt").wait_for(timeout=UPLOAD_TIMEOUT_MS)
    assert item(page, "dropped.txt").get_attribute("data-state") == "done"
    assert fstack.call(in_site_files_ui.file_state, "dropped.txt")["folder"] == "Inbox"

    page.click(".folder-actions summary")
    page.click("text=Move folder…")
    page.wait_for_url("**/files/folders/*/move")
    assert page.get_by_label("My files / Inbox").count() == 0  # not into itself
    page.get_by_label("My files / Projects").check()
    page.click("text=Move here")
    page.wait_for_url("**/files/folder/**")
    assert "“Inbox” moved to “Projects”" in messages(page)
    assert page.locator(".crumbs a").all_inner_texts() == ["My files", "Projects", "Inbox"]
    assert row(page, "dropped.txt").count() == 1
    assert errors == []
    context.close()


def test_every_button_of_the_folder_page(fstack, browser, ada):
    context, page, errors = login(browser, fstack, *fstack.admin)
    new_folder(page, "Team docs")
    folder_url = page.url
    body = b"the agenda\n"
    page.set_input_files(
        "#id_files", files=[{"name": "agenda.txt", "mimeType": "text/plain", "buffer": body}]
    )
    row(page, "agenda.txt").wait_for(timeout=UPLOAD_TIMEOUT_MS)

    # Rename the folder, share it, make a public link to it.
    page.click(".folder-actions summary")
    page.fill(".folder-actions form[action$='/rename'] input[name=name]", "Team notes")
    page.click(".folder-actions form[action$='/rename'] button[type=submit]")
    page.wait_for_url(folder_url)
    assert "Renamed." in messages(page)
    assert page.locator(".crumbs a").all_inner_texts()[-1] == "Team notes"
    page.click(".folder-actions summary")
    page.fill(".folder-actions form[action$='/share'] input[name=username]", "ada")
    page.select_option(".folder-actions select[name=permission]", "write")
    page.click(".folder-actions form[action$='/share'] button[type=submit]")
    page.wait_for_url(folder_url)
    assert "“Team notes” is shared." in messages(page)
    page.click(".folder-actions summary")
    page.click(".folder-actions form[action$='/link'] button[type=submit]")
    page.wait_for_url(folder_url)
    link_url = messages(page).split("Public link: ", 1)[1].split()[0]
    visitor = browser.new_context(ignore_https_errors=True, accept_downloads=True)
    vpage = visitor.new_page()
    vpage.goto(link_url)
    assert vpage.locator("h1").inner_text() == "Team notes"
    assert download(vpage, "main a:text-is('agenda.txt')") == ("agenda.txt", body)
    visitor.close()

    # Search finds the file; its page's Copy button copies a new link.
    page.fill("#id_fq", "agenda")
    page.click("form.search button[type=submit]")
    page.wait_for_url("**/files/search/**")
    page.click("table >> text=agenda.txt")
    page.wait_for_url("**/files/file/**")
    page.click("form[action$='/link'] button[type=submit]")
    page.wait_for_url("**/files/file/**")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=fstack.url)
    page.click(".link-item button[data-copy]")
    page.locator(".link-item button[data-copy]", has_text="Copied").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()").startswith(fstack.url + "/s/")

    # The folder to the trash (its page then says so), back from the trash with the Trash button.
    page.goto(folder_url)
    page.click(".folder-actions summary")
    page.click("text=Move folder to trash")
    page.wait_for_url("**/trash/")
    assert "“Team notes” moved to the trash." in messages(page)
    resp = page.goto(folder_url)
    assert resp is not None
    assert resp.status == 410
    assert "“Team notes” is in the trash" in page.locator("main").inner_text()
    go_home(page)
    page.click("nav.spaces >> text=Trash")
    page.wait_for_url("**/trash/")
    page.locator("table tr", has_text="Team notes").locator("button", has_text="Restore").click()
    page.wait_for_url("**/trash/")
    assert "“Team notes” restored." in messages(page)
    page.goto(folder_url)
    assert row(page, "agenda.txt").count() == 1
    assert errors == []
    context.close()


def test_upload_resumes_after_a_reload(fstack, browser, workdir):
    """Start an 11 MiB upload (three 5 MiB parts), reload while the last part is held back, choose the same
    file again: only the missing part is sent, and the file on the server has the right bytes."""
    data = os.urandom(11 * MIB + 5)
    path = workdir / "resume.bin"
    path.write_bytes(data)
    context, page, errors = login(browser, fstack, *fstack.admin)
    new_folder(page, "Uploads")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url.rsplit("/", 1)[1]) if "/parts/" in r.url else None)
    held: list = []
    page.route("**/parts/3", lambda route: held.append(route))  # never answered: the upload stops here
    page.on("dialog", lambda d: d.accept())  # "leave the page?" while an upload runs: yes
    with (
        page.expect_response(lambda r: r.url.endswith("/parts/2") and r.status == 200),
        page.expect_response(lambda r: r.url.endswith("/parts/1") and r.status == 200),
        page.expect_request(lambda r: r.url.endswith("/parts/3")),
    ):
        page.set_input_files("#id_files", str(path))
    assert sorted(sent) == ["1", "2", "3"]
    assert len(kept_uploads(page)) == 1  # the upload id, kept for later
    page.reload()
    page.unroute("**/parts/3")
    assert row(page, "resume.bin").count() == 0

    sent.clear()
    with page.expect_response(lambda r: r.request.method == "GET" and "/api/files/uploads/" in r.url) as st:
        page.set_input_files("#id_files", str(path))
    stored = st.value.json()["stored"]
    assert [p["number"] for p in stored] == [1, 2]
    assert stored[0]["sha256"] == hashlib.sha256(data[: 5 * MIB]).hexdigest()
    row(page, "resume.bin").wait_for(timeout=UPLOAD_TIMEOUT_MS)
    assert sent == ["3"]  # parts 1 and 2 were not sent again
    it = item(page, "resume.bin")
    assert it.get_attribute("data-state") == "done"
    assert kept_uploads(page) == []  # done: nothing left to resume
    state = fstack.call(in_site_files_ui.file_state, "resume.bin")
    assert state["folder"] == "Uploads"
    assert state["sha256"] == hashlib.sha256(data).hexdigest()
    assert fstack.call(in_site.live_files)["open_uploads"] == 0
    assert download(page, row(page, "resume.bin").locator("a", has_text="Download")) == ("resume.bin", data)
    assert errors == []
    context.close()


def test_resume_sends_again_a_part_whose_bytes_differ(fstack, browser, workdir):
    """A file with the same name, size and date but other bytes: the checksums differ, so every part is
    sent again (nothing is skipped on the strength of the name alone)."""
    first, second = b"a" * (5 * MIB) + b"tail", b"b" * (5 * MIB) + b"tail"
    path = workdir / "same-name.bin"
    path.write_bytes(first)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    context, page, errors = login(browser, fstack, *fstack.admin)
    new_folder(page, "Twins")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url.rsplit("/", 1)[1]) if "/parts/" in r.url else None)
    page.route("**/parts/2", lambda route: None)
    page.on("dialog", lambda d: d.accept())
    with (
        page.expect_response(lambda r: r.url.endswith("/parts/1") and r.status == 200),
        page.expect_request(lambda r: r.url.endswith("/parts/2")),
    ):
        page.set_input_files("#id_files", str(path))
    assert len(kept_uploads(page)) == 1
    page.reload()
    page.unroute("**/parts/2")
    path.write_bytes(second)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    sent.clear()
    page.set_input_files("#id_files", str(path))
    row(page, "same-name.bin").wait_for(timeout=UPLOAD_TIMEOUT_MS)
    assert sorted(sent) == ["1", "2"]
    assert item(page, "same-name.bin").get_attribute("data-state") == "done"
    state = fstack.call(in_site_files_ui.file_state, "same-name.bin")
    assert state["sha256"] == hashlib.sha256(second).hexdigest()
    assert errors == []
    context.close()


def test_read_only_and_write_shares_show_what_the_table_allows(fstack, browser, ada):
    ids = fstack.call(in_site_files_ui.shared_folders, fstack.admin[0], "ada", {"plan.txt": "the plan\n"})
    context, page, errors = login(browser, fstack, *ada)
    page.click("text=Shared with me")
    page.wait_for_url("**/files/shared/")

    # Read only: nothing that writes, anywhere.
    page.click("table >> text=Read only")
    page.wait_for_url("**/files/folder/**")
    assert "can read this folder but not change it" in page.locator(".alert").inner_text()
    for gone in ("#upload", "#id_files", "#id_newfolder", ".folder-actions"):
        assert page.locator(gone).count() == 0, gone
    assert row(page, "plan.txt").count() == 1
    row(page, "plan.txt").locator("a", has_text="plan.txt").click()
    page.wait_for_url("**/files/file/**")
    for gone in ("text=Move…", "text=Rename", "text=Move to trash", "text=Create link", "#h-access"):
        assert page.locator(gone).count() == 0, gone
    assert download(page, ".file-card >> text=Download") == ("plan.txt", b"the plan\n")
    resp = page.goto(fstack.url + f"/files/files/{ids['read']['files']['plan.txt']}/move")
    assert resp is not None
    assert resp.status == 403
    assert "not move it" in page.locator("main").inner_text()

    # Write: upload, new folder, rename, move, trash; no sharing or links (the table gives those to the
    # owner alone).
    page.goto(fstack.url + "/files/shared/")
    page.click("table >> text=Writable")
    page.wait_for_url("**/files/folder/**")
    assert page.locator("#upload").count() == 1
    assert page.locator("#id_newfolder").count() == 1
    page.click(".folder-actions summary")
    summary = page.locator(".folder-actions")
    assert summary.locator("text=Move folder…").count() == 1
    assert summary.locator("form[action$='/rename']").count() == 1
    assert summary.locator("form[action$='/trash']").count() == 1
    assert summary.locator("form[action$='/share']").count() == 0
    assert summary.locator("form[action$='/link']").count() == 0
    new_folder(page, "Drafts")  # inside Writable
    page.goto(fstack.url + f"/files/file/{ids['write']['files']['plan.txt']}/")
    assert page.locator("#h-access").count() == 0
    assert page.locator("form[action$='/link']").count() == 0
    page.click("text=Move…")
    page.wait_for_url("**/files/files/*/move")
    labels = [t.replace("📁 ", "").strip() for t in page.locator(".folder-picker label").all_inner_texts()]
    # Only folders shared with ada for writing (another test may have shared one more with her).
    assert [t for t in labels if "Writable" in t] == [
        "Shared with me / Writable (where it is now)",
        "Shared with me / Writable / Drafts",
    ]
    assert not any("Read only" in t or "My files" in t for t in labels)
    page.get_by_label("Shared with me / Writable / Drafts").check()
    page.click("text=Move here")
    page.wait_for_url("**/files/file/**")
    assert "moved to “Drafts”" in messages(page)
    assert errors == []
    context.close()


def test_password_folder_link_downloads_each_file(fstack, browser):
    context, page, errors = login(browser, fstack, *fstack.admin)
    new_folder(page, "Handout")
    files = {"one.txt": b"first handout\n", "two.txt": b"second handout\n"}
    page.set_input_files(
        "#id_files",
        files=[{"name": n, "mimeType": "text/plain", "buffer": b} for n, b in files.items()],
    )
    for name in files:
        row(page, name).wait_for(timeout=UPLOAD_TIMEOUT_MS)
    page.click(".folder-actions summary")
    page.fill(".folder-actions form[action$='/link'] input[name=password]", "open sesame")
    page.click(".folder-actions form[action$='/link'] button[type=submit]")
    page.wait_for_url("**/files/folder/**")
    link_url = messages(page).split("Public link: ", 1)[1].split()[0]
    assert errors == []
    context.close()

    visitor = browser.new_context(ignore_https_errors=True, accept_downloads=True)
    page = visitor.new_page()
    page.goto(link_url)
    page.fill("input[name=password]", "not the one")
    page.click("button[type=submit]")
    assert "That password is not right." in page.locator("main").inner_text()
    page.fill("input[name=password]", "open sesame")
    page.click("button[type=submit]")
    page.locator("main a", has_text="one.txt").wait_for()
    for name, body in files.items():
        assert download(page, f"a:text-is('{name}')") == (name, body)
    # Opened once: the folder page comes back without asking again.
    page.goto(link_url)
    assert page.locator("input[name=password]").count() == 0
    assert page.locator("a", has_text="one.txt").count() == 1
    visitor.close()
