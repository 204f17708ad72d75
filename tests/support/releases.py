"""Releases for upgrade tests: A is the checkout's code as it is now, B is A plus an expand migration (a
nullable column on people_profile) and a response header naming it, so a test can tell which release
answered. An app server runs the release site.code_dir names (a `current` symlink switched at once)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.stack import REPO

MARKER = "X-Strata-Release"
ADD_NICKNAME = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("people", "{parent}")]
    operations = [
        migrations.AddField("profile", "nickname", models.CharField(max_length=40, null=True, blank=True)),
    ]
"""
# Release B's visible change: every answer names the release (wsgi.py, the app servers' entry point).
WSGI_MARKER = f"""

_release_application = application


def application(environ, start_response):
    def start(status, headers, exc_info=None):
        return start_response(status, [*headers, ("{MARKER}", "B")], exc_info)

    return _release_application(environ, start)
"""


def copy_checkout(dest: Path) -> None:
    """Copy the checkout's tracked files of strata/ (what the servers import), as they are now, to DEST."""
    names = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "strata"], capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, names.split("\0")):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)


def add_migration(release: Path, name: str, template: str) -> str:
    """Add people migration NAME (TEMPLATE after the release's latest) to RELEASE; return its label."""
    folder = release / "strata" / "people" / "migrations"
    parent = max(p.stem for p in folder.glob("[0-9][0-9][0-9][0-9]_*.py"))
    (folder / f"{name}.py").write_text(template.format(parent=parent))
    return f"people.{name}"


def make_b(a: Path, b: Path) -> str:
    """Make release B from A (the nickname column, the marker header); return its migration's label."""
    shutil.copytree(a, b, symlinks=True)
    label = add_migration(b, "0900_upgrade_nickname", ADD_NICKNAME)
    with (b / "strata" / "site" / "wsgi.py").open("a") as fh:
        fh.write(WSGI_MARKER)
    return label


def point(current: Path, release: Path) -> None:
    """Switch the CURRENT symlink to RELEASE at once (rename over it), as an admin deploying would."""
    tmp = current.with_name(current.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(release)
    os.replace(tmp, current)
