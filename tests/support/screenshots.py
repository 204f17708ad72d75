"""Take screenshots of the main pages at a desktop and a phone size, and write the axe-core report.

    .venv/bin/python -m tests.support.screenshots

starts a test stack (as the tests do: real servers on free ports in a temp dir), seeds a small workspace
(tests/support/in_site_look.py), then writes docs/screenshots/*.png and docs/accessibility.md.
"""

from __future__ import annotations

import sys

from tests.browser.conftest import ARGS, CHROMIUM
from tests.support import look
from tests.support.stack import REPO, running_stack

SHOTS = REPO / "docs" / "screenshots"
REPORT = REPO / "docs" / "accessibility.md"
# The pages shown in the README (file names without the size).
SHOWN = {
    "directory": "directory",
    "folder": "folder",
    "file and sharing form": "file",
    "conversation": "conversation",
}


def main() -> int:
    """Start a stack, measure and photograph its main pages; print where the files went."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    rows = []
    with running_stack("strata-shots-") as stack, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        seeded = look.seed(stack, "look")
        for size, viewport in look.SIZES.items():
            windows = look.sign_in(browser, stack, seeded, viewport)
            for page in look.main_pages(seeded) + look.more_pages(seeded):
                p = look.visit(windows, stack, page)
                violations = look.axe_violations(p)
                rows.append((page.name, size, violations))
                print(f"{page.name:24} {size:8} overflow={look.overflow(p):4} {look.by_impact(violations)}")
                for v in violations:
                    print(f"    {v['impact']:9} {v['id']}: {v['help']} {v['nodes'][:3]}")
                if page.name in SHOWN:
                    out = SHOTS / f"{SHOWN[page.name]}-{size}.png"
                    p.screenshot(path=str(out), full_page=False)
            look.close(windows)
        browser.close()
    checked = {page.name for page in look.main_pages(seeded)}
    REPORT.write_text(look.report_markdown(rows, checked))
    print(f"wrote {REPORT} and {len(list(SHOTS.glob('*.png')))} screenshots in {SHOTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
