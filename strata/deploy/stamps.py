"""Skip a Django management command of `strata up` when nothing it depends on changed since it last passed.

Each of `up`'s management commands (check --deploy, collectstatic, migrate, the first admin) starts
Django afresh, a few seconds each: most of a warm `up`. A stamp remembers a digest of what a command read
the last time it succeeded on this host (the code and the installed packages, the config file, the
secrets, and for the database its migrations table); the command runs again as soon as any of them
differs, or when the stamp is missing. Stamps live under var/run/stamps (a fresh var dir runs them all).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

# Files under the project whose content never reaches a management command.
_SKIP_PARTS = {"__pycache__", ".git", "node_modules"}


@cache
def code_digest(project: Path) -> str:
    """Return a digest of the project's strata/ tree (each file's path and content: a release unpacked from
    `strata deploy`'s reproducible archive keeps no modification time), the installed distributions (name
    and version) and the Python version; computed once per process (about 1 MB read)."""
    h = hashlib.sha256(sys.version.encode())
    tree = project / "strata"
    for root, dirs, files in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_PARTS)
        for name in sorted(files):
            content = Path(root, name).read_bytes()
            h.update(f"{os.path.relpath(root, tree)}/{name}\0{len(content)}\0".encode() + content)
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    h.update("\0".join(dists).encode())
    return h.hexdigest()


def digest(parts: Iterable[str | bytes]) -> str:
    """Return a digest of PARTS (strings or bytes), in order."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


class Stamp:
    """The inputs a command last succeeded with, in a file of VAR/run/stamps."""

    def __init__(self, var: Path, name: str):
        self.path = var / "run" / "stamps" / name

    def fresh(self, inputs: str) -> bool:
        """Return True when the command last succeeded with INPUTS."""
        try:
            return self.path.read_text() == inputs
        except OSError:
            return False

    def write(self, inputs: str) -> None:
        """Remember that the command succeeded with INPUTS."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(inputs)
        tmp.replace(self.path)

    def forget(self) -> None:
        """Make the next run of the command unconditional."""
        self.path.unlink(missing_ok=True)
