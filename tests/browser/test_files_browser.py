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


def _pdf(text: str) -> bytes:
    """A valid one-page PDF showing TEXT."""
    stream = f"BT /F1 24 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def _wav(seconds: float) -> bytes:
    """A valid mono 8 kHz 8-bit WAV of SECONDS of silence."""
    import struct

    data = b"\x80" * int(8000 * seconds)
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


def _open_file_page(page, files_url: str, name: str) -> None:
    page.goto(files_url)
    row(page, name).locator("a", has_text=name).click()
    page.wait_for_url("**/files/file/**")


def test_previews_and_open_in_the_browser_from_the_content_host(fstack, browser):
    """The file page previews a picture, a PDF, a text and a sound from the content host (the site's CSP
    lets them in, nothing is refused); "Open in the browser" leads there and Chromium shows the picture
    and the PDF (one Content-Disposition, inline); an uploaded HTML page has no preview and downloads."""
    context, page = login(browser, fstack, *fstack.admin)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
    content = fstack.call(in_site.setting, "STRATA_CONTENT_ORIGIN")
    png, pdf, wav = _png(7, 5), _pdf("Strata PDF"), _wav(0.5)
    page.set_input_files(
        "#id_files",
        [
            {"name": "teal.png", "mimeType": "image/png", "buffer": png},
            {"name": "doc.pdf", "mimeType": "application/pdf", "buffer": pdf},
            {"name": "note.txt", "mimeType": "text/plain", "buffer": b"plain words, never HTML"},
            {"name": "hum.wav", "mimeType": "audio/wav", "buffer": wav},
            {
                "name": "trap.html",
                "mimeType": "text/html",
                "buffer": b"<script>document.title='ran'</script>",
            },
        ],
    )
    for name in ("teal.png", "doc.pdf", "note.txt", "hum.wav", "trap.html"):
        row(page, name).wait_for(timeout=UPLOAD_TIMEOUT_MS)
    files_url = page.url

    # A picture: previewed on the page, then shown on its own by "Open in the browser".
    _open_file_page(page, files_url, "teal.png")
    preview = page.locator(".preview img")
    assert preview.get_attribute("src").startswith(content + "/c/")
    page.wait_for_function("() => document.querySelector('.preview img').naturalWidth > 0")
    assert preview.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [7, 5]
    with page.expect_response(lambda r: r.url.startswith(content)) as got:
        page.click("text=Open in the browser")
    page.wait_for_url(content + "/c/**")
    assert got.value.header_values("content-disposition") == [
        "inline; filename=\"teal.png\"; filename*=UTF-8''teal.png"
    ]
    assert got.value.headers["content-security-policy"] == "sandbox; default-src 'none'"
    size = page.evaluate(
        "() => { const i = document.querySelector('img'); return i && [i.naturalWidth, i.naturalHeight]; }"
    )
    assert size == [7, 5]

    # A PDF: previewed in a sandboxed frame; opened, Chromium's PDF viewer shows it (no download).
    _open_file_page(page, files_url, "doc.pdf")
    frame = page.locator(".preview iframe")
    assert frame.get_attribute("src").startswith(content + "/c/")
    assert frame.get_attribute("sandbox") == ""
    downloads: list[str] = []
    page.on("download", lambda d: downloads.append(d.suggested_filename))
    with page.expect_response(lambda r: r.url.startswith(content)) as got:
        page.click("text=Open in the browser")
    page.wait_for_url(content + "/c/**")
    assert got.value.status == 200
    assert got.value.headers["content-type"] == "application/pdf"
    assert got.value.header_values("content-disposition")[0].startswith("inline;")
    viewer = next(f for f in _wait_frames(page) if f.url.startswith("chrome-extension://"))
    viewer.wait_for_selector("pdf-viewer", state="attached", timeout=15_000)
    assert downloads == []

    # Text: in a sandboxed frame, shown as text (never run as a page).
    _open_file_page(page, files_url, "note.txt")
    text = page.frame_locator(".preview iframe").locator("body")
    text.wait_for()
    assert text.inner_text().strip() == "plain words, never HTML"

    # A sound: an audio element whose metadata loads from the content host (Range requests).
    _open_file_page(page, files_url, "hum.wav")
    page.wait_for_function("() => document.querySelector('.preview audio').readyState >= 1", timeout=15_000)
    assert round(page.evaluate("() => document.querySelector('.preview audio').duration"), 1) == 0.5

    # An uploaded page: no preview; "Open in the browser" downloads it, nothing runs.
    _open_file_page(page, files_url, "trap.html")
    assert page.locator(".preview").count() == 0
    with page.expect_download() as info:
        page.click("text=Open in the browser")
    assert info.value.suggested_filename == "trap.html"
    assert info.value.url.startswith(content + "/c/")
    assert Path(info.value.path()).read_bytes() == b"<script>document.title='ran'</script>"
    assert page.title() != "ran"
    # Nothing the previews loaded was refused by the site's CSP ("Refused to load the image/media...",
    # "Refused to frame..."). Chromium's own viewer pages on the content host may have their inline style
    # refused there (default-src 'none'): that is the content host's sandbox at work.
    assert not [m for m in refused if m.startswith("Refused to")], refused
    context.close()


def _wait_frames(page, tries: int = 30):
    """Return the page's frames once Chromium's PDF viewer (an extension frame) is among them."""
    for _ in range(tries):
        if any(f.url.startswith("chrome-extension://") for f in page.frames):
            break
        page.wait_for_timeout(500)
    return page.frames
