"""Headless Chromium on a stack with the file server: upload (chooser and drag-and-drop), share, download.

The page's own files.js does every upload through the resumable API, so these tests cover it end to end:
nginx (no request buffering) -> gunicorn -> SeaweedFS multipart, and the X-Accel-Redirect download.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support import in_site
from tests.support.stack import files_role_toml, running_stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

MIB = 1024 * 1024
UPLOAD_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def fstack():
    """A stack with the files role (SeaweedFS, 5 MiB parts) for this module only."""
    with running_stack("strata-filesui-", extra=files_role_toml()) as s:
        yield s


@pytest.fixture(scope="module")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="strata-filesui-data-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def grace(fstack):
    """A second person (name, password) to share with."""
    password = secrets.token_urlsafe(12)
    fstack.call(in_site.save_person, "grace", password, {"first_name": "Grace", "last_name": "Hopper"})
    return "grace", password


# Counts part PUTs in flight inside the page (the browser's own view, not the racy event stream).
COUNT_PARTS = """
(() => {
  let now = 0;
  window.__partsMax = 0;
  const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__part = method === "PUT" && String(url).includes("/parts/");
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    if (this.__part) {
      now++;
      window.__partsMax = Math.max(window.__partsMax, now);
      // readyState 4 comes before "load", so before the page's handler starts the next part.
      this.addEventListener("readystatechange", () => { if (this.readyState === 4) now--; });
    }
    return send.apply(this, arguments);
  };
})();
"""


def login(browser, stack, username, password, next_path="/files/"):
    context = browser.new_context(ignore_https_errors=True, accept_downloads=True)
    context.add_init_script(COUNT_PARTS)
    page = context.new_page()
    page.goto(stack.url + next_path)
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url("**/files/**")
    return context, page


def server_files(stack) -> dict:
    """Return {"files": {name: size} of live files, "open_uploads": n}, read on the server."""
    return stack.call(in_site.live_files)


def row(page, name):
    return page.locator(f'table.files tr.file-row[data-name="{name}"]')


def item(page, name):
    return page.locator("#upload .upload-item", has=page.locator(".upload-item__name", has_text=name))


def test_upload_share_and_download_in_a_browser(fstack, browser, grace, workdir):
    report = os.urandom(3 * MIB + 12345)  # one part
    video = os.urandom(11 * MIB + 7)  # three 5 MiB parts: exercises parallel parts
    paths = [workdir / "report.bin", workdir / "empty.txt", workdir / "video.bin"]
    paths[0].write_bytes(report)
    paths[1].write_bytes(b"")
    paths[2].write_bytes(video)

    context, page = login(browser, fstack, *fstack.admin)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    # What the page asked the API: upload sessions opened and parts sent.
    opened: dict[str, dict] = {}
    parts: list[str] = []

    def on_response(resp):
        if resp.url.endswith("/api/files/uploads/") and resp.request.method == "POST" and resp.status == 201:
            data = resp.json()
            opened[data["name"]] = data

    page.on("request", lambda r: parts.append(r.url) if "/parts/" in r.url and r.method == "PUT" else None)
    page.on("response", on_response)

    assert page.locator("nav.site-nav >> text=Files").count() == 1
    page.set_input_files("#id_files", [str(p) for p in paths])
    for p in paths:
        row(page, p.name).wait_for(timeout=UPLOAD_TIMEOUT_MS)
    for p in paths:
        it = item(page, p.name)
        assert it.get_attribute("data-state") == "done"
        assert it.locator("progress").evaluate("e => e.value") == 100
        assert it.locator(".upload-item__pct").inner_text() == "100%"
    # The zero-byte file is one part of zero bytes, and the server accepted exactly that.
    assert opened["empty.txt"]["parts"] == 1
    assert opened["empty.txt"]["size"] == 0
    assert sum(1 for u in parts if u.endswith(f"/{opened['empty.txt']['id']}/parts/1")) == 1
    assert opened["video.bin"]["parts"] == 3
    assert page.evaluate("window.__partsMax") == 2  # two parts in flight at most, files one at a time
    page.locator("#upload .quota", has_text="14.0").wait_for()  # the quota line follows the uploads
    assert errors == []
    on_server = server_files(fstack)
    assert on_server["files"] == {"report.bin": len(report), "empty.txt": 0, "video.bin": len(video)}
    assert on_server["open_uploads"] == 0

    # Server-rendered listing after a reload: the rows were real, not just added by the script.
    page.reload()
    assert row(page, "report.bin").count() == 1
    assert row(page, "empty.txt").count() == 1
    shots = os.environ.get("STRATA_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, "files-browse.png"), full_page=True)

    # Share the 3 MB file with grace; the file page then lists her among those with access.
    row(page, "report.bin").locator("a", has_text="report.bin").click()
    page.wait_for_url("**/files/file/**")
    page.fill("input[name=username]", grace[0])
    page.select_option("select[name=permission]", "read")
    page.click("form[action$='/share'] button[type=submit]")
    page.wait_for_url("**/files/file/**")
    assert "is shared" in page.locator(".messages").inner_text()
    assert "Grace Hopper" in page.locator(".access-list").inner_text()
    # A public link: its URL is shown on the page with a copy button.
    page.fill("input[name=max_downloads]", "3")
    page.click("form[action$='/link'] button[type=submit]")
    page.wait_for_url("**/files/file/**")
    link_url = page.locator(".link-item input[type=url]").first.input_value()
    assert link_url.startswith(fstack.url + "/s/")
    assert link_url in page.locator(".messages").inner_text()
    if shots:
        page.screenshot(path=os.path.join(shots, "files-file.png"), full_page=True)
    # A folder, shared read-only with grace from the folder page.
    page.click("nav.site-nav >> text=Files")
    page.fill("#id_newfolder", "Team")
    page.click("form[action$='/new-folder'] button[type=submit]")
    page.wait_for_url("**/files/folder/**")
    page.click(".folder-actions summary")
    page.fill(".folder-actions input[name=username]", grace[0])
    page.click(".folder-actions form[action$='/share'] button[type=submit]")
    page.wait_for_url("**/files/folder/**")
    assert "“Team” is shared." in page.locator(".messages").inner_text()
    assert errors == []
    context.close()

    # grace finds it under "Shared with me" and downloads the same bytes.
    context, page = login(browser, fstack, *grace)
    page.click("text=Shared with me")
    page.wait_for_url("**/files/shared/")
    page.click("table >> text=report.bin")
    page.wait_for_url("**/files/file/**")
    assert page.locator("form[action$='/share']").count() == 0  # read only: no share form
    assert page.locator(".crumbs a").inner_text() == "← Shared with me"  # not admin's space, a 404 for her
    with page.expect_download() as info:
        page.click("text=Download")
    download = info.value
    assert download.suggested_filename == "report.bin"
    assert Path(download.path()).read_bytes() == report
    # The shared folder opens read-only, with crumbs that lead back to what she can open.
    page.goto(fstack.url + "/files/shared/")
    page.click("table >> text=Team")
    page.wait_for_url("**/files/folder/**")
    assert page.locator(".crumbs").inner_text().split() == ["Shared", "with", "me", "/", "Team"]
    assert page.locator("#upload").count() == 0
    assert "can read this folder but not change it" in page.locator(".alert").inner_text()
    context.close()

    # Anyone with the public link downloads it without logging in.
    context = browser.new_context(ignore_https_errors=True, accept_downloads=True)
    page = context.new_page()
    page.goto(link_url)
    with page.expect_download() as info:
        page.click("text=Download")
    assert Path(info.value.path()).read_bytes() == report
    context.close()


def test_drag_and_drop_uploads(fstack, browser):
    context, page = login(browser, fstack, *fstack.admin)
    dt = page.evaluate_handle("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(["dropped by a test\\n"], "dropped.txt", {type: "text/plain"}));
        return dt;
    }""")
    page.dispatch_event("#upload", "dragenter", {"dataTransfer": dt})
    assert "is-dragover" in page.get_attribute("#upload", "class")  # the visible drag-over state
    page.dispatch_event("#upload", "drop", {"dataTransfer": dt})
    assert "is-dragover" not in page.get_attribute("#upload", "class")
    row(page, "dropped.txt").wait_for(timeout=UPLOAD_TIMEOUT_MS)
    assert item(page, "dropped.txt").get_attribute("data-state") == "done"
    assert server_files(fstack)["files"]["dropped.txt"] == 18
    context.close()


def test_too_large_is_refused_before_any_byte(fstack, browser):
    context, page = login(browser, fstack, *fstack.admin)

    # Lower the page's limit to 1000 bytes (the site's real limit is GiBs) so a small file exceeds it.
    def shrink_limit(route):
        resp = route.fetch()
        body = resp.text()
        start = body.index('data-max="') + len('data-max="')
        route.fulfill(response=resp, body=body[:start] + "1000" + body[body.index('"', start) :])

    page.route("**/files/space/**", shrink_limit)
    page.reload()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/api/files/uploads" in r.url else None)
    page.set_input_files(
        "#id_files", files=[{"name": "big.txt", "mimeType": "text/plain", "buffer": b"x" * 2000}]
    )
    it = item(page, "big.txt")
    it.locator(".upload-item__state", has_text="Too large").wait_for()
    assert it.get_attribute("data-state") == "error"
    assert sent == []
    assert "big.txt" not in server_files(fstack)["files"]
    context.close()


def test_failed_part_is_retried_then_resumed(fstack, browser):
    context, page = login(browser, fstack, *fstack.admin)
    data = os.urandom(6 * MIB)  # two parts; the second one keeps failing until the network is back
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.url.rsplit("/", 1)[1]) if "/parts/" in r.url else None)
    page.route("**/parts/2", lambda route: route.abort())
    page.set_input_files("#id_files", files=[{"name": "flaky.bin", "mimeType": "", "buffer": data}])
    it = item(page, "flaky.bin")
    retry = it.locator("button", has_text="Retry")
    retry.wait_for(timeout=UPLOAD_TIMEOUT_MS)  # after 1 try + 3 retries with backoff
    assert it.get_attribute("data-state") == "error"
    assert "connection failed" in it.locator(".upload-item__state").inner_text()
    assert puts.count("2") == 4
    assert puts.count("1") == 1
    shots = os.environ.get("STRATA_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, "files-upload-failed.png"))
    page.unroute("**/parts/2")
    with page.expect_response(lambda r: r.request.method == "GET" and "/api/files/uploads/" in r.url) as st:
        retry.click()
    assert st.value.json()["received"] == [1]  # resumed from what the server holds
    row(page, "flaky.bin").wait_for(timeout=UPLOAD_TIMEOUT_MS)
    assert puts.count("1") == 1  # part 1 was not sent again
    assert it.get_attribute("data-state") == "done"
    on_server = server_files(fstack)
    assert on_server["files"]["flaky.bin"] == len(data)
    assert on_server["open_uploads"] == 0
    context.close()


def test_file_and_folder_pages_query_count_does_not_grow(fstack):
    """The folder page with 2 vs 42 files and the file page with 1 vs 16 shares cost the same queries."""
    counts = fstack.call(in_site.folder_and_file_page_queries)
    assert counts["few"] == counts["many"], counts
    assert counts["many"]["file"] <= 15, counts
    assert counts["many"]["folder"] <= 15, counts


def test_refused_part_shows_the_server_message_and_cancel_frees_the_upload(fstack, browser):
    context, page = login(browser, fstack, *fstack.admin)
    message = "Part 1 must be 10 bytes, not 9."  # a refusal is not retried: sending it again cannot help
    page.route(
        "**/parts/1",
        lambda route: route.fulfill(
            status=400, content_type="application/json", body=json.dumps({"error": message})
        ),
    )
    page.set_input_files(
        "#id_files", files=[{"name": "refused.txt", "mimeType": "text/plain", "buffer": b"x" * 9}]
    )
    it = item(page, "refused.txt")
    cancel = it.locator("button", has_text="Cancel")
    cancel.wait_for(timeout=UPLOAD_TIMEOUT_MS)
    assert message in it.locator(".upload-item__state").inner_text()
    assert server_files(fstack)["open_uploads"] == 1  # reserved against the quota until cancelled
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        cancel.click()
    assert deleted.value.status == 204
    page.locator('#upload .upload-item[data-state="cancelled"]').wait_for()
    assert server_files(fstack)["open_uploads"] == 0
    assert row(page, "refused.txt").count() == 0
    context.close()


def _png(width: int, height: int) -> bytes:
    """A valid RGB PNG of WIDTH x HEIGHT, every pixel teal."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x00\x80\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_open_in_the_browser_shows_an_image_and_downloads_a_page(fstack, browser):
    """ "Open in the browser" on a picture shows it in Chromium (one Content-Disposition, inline); on an
    uploaded HTML page it downloads the file instead of running it."""
    context, page = login(browser, fstack, *fstack.admin)
    png = _png(7, 5)
    page.set_input_files(
        "#id_files",
        [
            {"name": "teal.png", "mimeType": "image/png", "buffer": png},
            {
                "name": "trap.html",
                "mimeType": "text/html",
                "buffer": b"<script>document.title='ran'</script>",
            },
        ],
    )
    for name in ("teal.png", "trap.html"):
        row(page, name).wait_for(timeout=UPLOAD_TIMEOUT_MS)
    files_url = page.url
    row(page, "teal.png").locator("a", has_text="teal.png").click()
    page.wait_for_url("**/files/file/**")
    page.click("text=Open in the browser")
    page.wait_for_url("**/download?inline=1")
    size = page.evaluate(
        "() => { const i = document.querySelector('img'); return i && [i.naturalWidth, i.naturalHeight]; }"
    )
    assert size == [7, 5]
    page.goto(files_url)
    row(page, "trap.html").locator("a", has_text="trap.html").click()
    page.wait_for_url("**/files/file/**")
    with page.expect_download() as info:
        page.click("text=Open in the browser")
    assert info.value.suggested_filename == "trap.html"
    assert Path(info.value.path()).read_bytes() == b"<script>document.title='ran'</script>"
    assert page.title() != "ran"
    context.close()
