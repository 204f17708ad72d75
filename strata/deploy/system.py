"""Small helpers around the operating system: service users, ownership, reachability, ports."""

from __future__ import annotations

import grp
import os
import pwd
import re
import socket
import stat
import subprocess
from pathlib import Path


class DeployError(Exception):
    """A problem that stops `strata up`, described in one line."""


def is_root() -> bool:
    return os.geteuid() == 0


def service_user(name: str) -> str | None:
    """Return NAME when running as root (the service runs as that user), else None (run as ourselves)."""
    if not is_root():
        return None
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise DeployError(
            f"system user {name!r} is missing: run `make up` (it installs packages and creates users)"
        ) from None
    return name


def ensure_system_user(name: str) -> None:
    """Create a locked system user without a home directory, if it is missing (root only)."""
    if not is_root():
        return
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            check=True,
        )


def chown(path: Path, user: str | None) -> None:
    if user:
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def make_dir(path: Path, user: str | None = None, mode: int = 0o755) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    chown(path, user)
    return path


def unreachable_for(path: Path, user: str) -> Path | None:
    """Return the first directory on the way to PATH that USER cannot traverse, or None."""
    pw = pwd.getpwnam(user)
    gids = {pw.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    p = Path(path).resolve()
    for d in [*reversed(p.parents), p]:
        if not d.exists():
            break
        st = d.stat()
        if not stat.S_ISDIR(st.st_mode):
            continue
        if st.st_uid == pw.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in gids:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return d
    return None


def require_reachable(path: Path, user: str | None, what: str) -> None:
    if not user:
        return
    blocked = unreachable_for(path, user)
    if blocked:
        raise DeployError(
            f"{what} {path} is not reachable by user {user!r}: directory {blocked} is "
            f"mode {stat.S_IMODE(blocked.stat().st_mode):04o}; run `make up` in install mode (as root, "
            f"without DEV=1 or a ./strata.toml: the site then lives under /opt/strata), or move the "
            f"checkout (or site.var_dir) under a directory others can traverse"
        )


def require_resolves(host: str, names: dict[str, str]) -> None:
    """Raise DeployError unless each name of NAMES resolves (here, on HOST) to its address."""
    for name, address in names.items():
        try:
            found = {str(info[4][0]) for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)}
        except (socket.gaierror, UnicodeError):
            found = set()
        if address not in found:
            said = f"resolves to {', '.join(sorted(found))}" if found else "does not resolve"
            raise DeployError(
                f"host {host}: {name} {said}; it must resolve to {address} (add `{address} {name}` to "
                "/etc/hosts or to your DNS; `strata deploy` writes it)"
            )


def port_free(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def run(
    cmd: list[str],
    *,
    user: str | None = None,
    env: dict | None = None,
    what: str,
    timeout: float = 300,
    cwd: str | Path | None = None,
) -> str:
    """Run CMD (as USER when given); raise DeployError naming WHAT with the command's last output line."""
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or f"exit code {proc.returncode}").splitlines()
        # The line that says what is wrong, not the summary some tools print last.
        key = [ln for ln in lines if re.search(r"\[emerg\]|FATAL|fatal:|Error:|\([a-z_.]+\.[EW]\d+\)", ln)]
        raise DeployError(f"{what} failed: {(key or lines)[0 if key else -1].strip()}")
    return proc.stdout
