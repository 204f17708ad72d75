"""Render role templates with Jinja2; a missing variable is an error (StrictUndefined)."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

_ROLES_DIR = Path(__file__).parent / "roles"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(_ROLES_DIR)),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 - these are server configs, not HTML
)


def render(template: str, **context) -> str:
    """Render roles/TEMPLATE (e.g. "web/templates/nginx.conf.j2")."""
    return _env.get_template(template).render(**context)


def listen_address(address: str) -> str:
    """Return ADDRESS as it appears before ':port' in a listen/bind directive (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address else address


def write(path: Path, data: str | bytes, mode: int = 0o644) -> bool:
    """Write DATA (text is UTF-8) to PATH atomically when it differs; return True when the file changed.
    The file's mode is set to MODE either way."""
    raw = data.encode() if isinstance(data, str) else data
    if path.exists() and path.read_bytes() == raw:
        os.chmod(path, mode)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(raw)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True
