"""Install mode of `make up`: the code, its virtualenv, the topology and the state where Debian services keep
theirs, whatever the checkout's location or mode (a clone in a 0700 home directory works).

    /opt/strata/releases/<release>   the checkout's tracked files, one directory per release (never changed)
    /opt/strata/current              symlink to the release the services run
    /opt/strata/wheels/<key>         the pinned dependencies as wheels (one set per requirements digest)
    /opt/strata/venv                 Debian's python3 venv: the wheels, and Strata (editable) from a release
    /etc/strata/strata.toml          the topology (`strata init` writes it when missing)
    /var/lib/strata                  site.var_dir: secrets, CA, rendered configs, data
    /var/log/strata                  site.log_dir: every server's log
    /usr/local/bin/strata            symlink to the venv's `strata`

$STRATA_PREFIX puts that whole tree under another directory (the tests' temp dir). Development mode
(`make up DEV=1`, automatic when not root or when the checkout has a ./strata.toml) keeps today's layout
inside the checkout. Standard library only: scripts/site.sh runs it with /usr/bin/python3 from the
checkout before any venv exists, without writing bytecode (nothing is written into the checkout).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = (
    "STRATA_PREFIX"  # the same name as strata.deploy.config.ENV_PREFIX (that module is not stdlib-only)
)
PYTHON = "/usr/bin/python3"  # Debian's: the service users run the venv too, never one under a 0700 home
# When the checkout is no git work tree (an unpacked archive), every file but these is the release.
SKIP_NAMES = {".git", ".venv", "var", "__pycache__", ".pytest_cache", ".ruff_cache", "build", "strata.toml"}
SKIP_SUFFIXES = (".pyc", ".egg-info")

Step = Callable[[str], None]


def _say(msg: str) -> None:
    print(f"strata: {msg}", flush=True)


@dataclass(frozen=True)
class Layout:
    """Where an installed site lives, under PREFIX ("/" on a real machine)."""

    prefix: Path = Path("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Layout:
        """Return the layout under $STRATA_PREFIX, or under / when it is unset."""
        prefix = environ.get(ENV_PREFIX) or "/"
        return cls(Path(prefix).absolute())

    def _at(self, path: str) -> Path:
        return self.prefix / path.lstrip("/")

    @property
    def opt(self) -> Path:
        return self._at("/opt/strata")

    @property
    def releases(self) -> Path:
        return self.opt / "releases"

    @property
    def current(self) -> Path:
        return self.opt / "current"

    @property
    def venv(self) -> Path:
        return self.opt / "venv"

    @property
    def wheels(self) -> Path:
        return self.opt / "wheels"

    @property
    def etc(self) -> Path:
        return self._at("/etc/strata")

    @property
    def config(self) -> Path:
        return self.etc / "strata.toml"

    @property
    def var(self) -> Path:
        return self._at("/var/lib/strata")

    @property
    def log(self) -> Path:
        return self._at("/var/log/strata")

    @property
    def command(self) -> Path:
        """The `strata` on PATH: a symlink to the venv's."""
        return self._at("/usr/local/bin/strata")

    def shell(self) -> str:
        """Return the layout as shell assignments (for scripts/site.sh)."""
        pairs = {
            "venv": self.venv,
            "config": self.config,
            "var_dir": self.var,
            "log_dir": self.log,
            "current": self.current,
        }
        return "".join(f"{k}={shlex.quote(str(v))}\n" for k, v in pairs.items())


# -- which mode ---------------------------------------------------------------------------------------


def choose_mode(dev: str, root: bool, local_config: bool, layout: Layout | None = None) -> tuple[str, str]:
    """Return ("dev" or "install", one line saying why) for `make up` with DEV=dev, as root or not, in a
    checkout that has (local_config) or has not a ./strata.toml; LAYOUT names the install's paths."""
    layout = layout or Layout()
    if dev.strip().lower() not in ("", "0", "no", "false"):
        return "dev", "development mode (DEV=1): .venv, ./strata.toml and ./var in the checkout"
    if not root:
        return "dev", "development mode (not root): .venv, ./strata.toml and ./var in the checkout"
    if local_config:
        return "dev", (
            "development mode: this checkout has a ./strata.toml from before, so the site stays in it "
            f"(move it away to install under {layout.opt} instead)"
        )
    return "install", (
        f"install mode: code in {layout.opt}, config in {layout.etc}, state in {layout.var}, "
        f"logs in {layout.log}"
    )


# -- the release --------------------------------------------------------------------------------------


def _git(checkout: Path, *args: str) -> str | None:
    """Return git's output in CHECKOUT, or None when it is no git work tree (or git is missing)."""
    if not (checkout / ".git").exists() or not shutil.which("git"):
        return None
    # No optional locks: `git status` must not rewrite the checkout's index. safe.directory: the checkout
    # may belong to another user than root.
    proc = subprocess.run(
        ["git", "-c", "safe.directory=*", "-C", str(checkout), *args],
        capture_output=True,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        check=False,
    )
    return proc.stdout.decode() if proc.returncode == 0 else None


def source_files(checkout: Path) -> list[str]:
    """Return the release's files, relative to CHECKOUT: git's tracked files as they are in the work
    tree (a tracked file deleted there is left out), or every file but SKIP_NAMES without git."""
    listed = _git(checkout, "ls-files", "-z")
    if listed is not None:
        names = [n for n in listed.split("\0") if n]
        return sorted(n for n in names if (checkout / n).is_file() or (checkout / n).is_symlink())
    out = []
    for dirpath, dirnames, filenames in os.walk(checkout):
        dirnames[:] = [d for d in dirnames if d not in SKIP_NAMES and not d.endswith(SKIP_SUFFIXES)]
        rel = Path(dirpath).relative_to(checkout)
        out += [str(rel / f) for f in filenames if f not in SKIP_NAMES and not f.endswith(SKIP_SUFFIXES)]
    return sorted(os.path.normpath(n) for n in out)


def content_digest(checkout: Path, files: list[str]) -> str:
    """Return a digest of FILES' names, executable bits and bytes (symlinks: their target)."""
    h = hashlib.sha256()
    for name in sorted(files):
        p = checkout / name
        if p.is_symlink():
            data, kind = os.readlink(p).encode(), b"l"
        else:
            data, kind = p.read_bytes(), b"x" if os.access(p, os.X_OK) else b"f"
        h.update(name.encode() + b"\0" + kind + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def release_name(commit: str | None, dirty: bool, digest: str) -> str:
    """Return the release's directory name: the commit's short hash, with '-dirty-' and the content
    digest when the work tree differs from it; 'src-' and the digest without git."""
    if not commit:
        return f"src-{digest[:12]}"
    return f"{commit[:12]}-dirty-{digest[:8]}" if dirty else commit[:12]


def checkout_release(checkout: Path) -> tuple[str, list[str]]:
    """Return the release name of CHECKOUT as it is now, and its files."""
    files = source_files(checkout)
    commit = (_git(checkout, "rev-parse", "HEAD") or "").strip() or None
    dirty = bool((_git(checkout, "status", "--porcelain", "--untracked-files=no") or "").strip())
    return release_name(commit, dirty, content_digest(checkout, files)), files


def copy_release(checkout: Path, files: list[str], target: Path) -> bool:
    """Copy FILES of CHECKOUT to TARGET (dirs 0755, files 0644 or 0755), whole or not at all; return
    False when TARGET already exists (a release never changes once made)."""
    if target.exists():
        return False
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for name in files:
        src, dst = checkout / name, tmp / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
            continue
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o755 if os.access(src, os.X_OK) else 0o644)
    _mkdir(tmp)
    # Whatever the umask: the service users read the code.
    for dirpath, _dirs, _files in os.walk(tmp):
        _mkdir(Path(dirpath))
    os.rename(tmp, target)
    return True


def _mkdir(path: Path) -> None:
    """Make PATH (and its parents) a directory the service users traverse and read: code, no secret."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o755)  # noqa: S103 - code and config only; the secrets are 0600 under the var dir


def relink(link: Path, target: str) -> bool:
    """Point the symlink LINK at TARGET (atomically); return False when it already did."""
    if link.is_symlink() and os.readlink(link) == target:
        return False
    tmp = link.with_name(f".{link.name}.{os.getpid()}.new")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)
    return True


# -- the virtualenv -----------------------------------------------------------------------------------


def requirements(release: Path) -> list[str]:
    """Return the release's pinned dependencies and its build backend (the editable install builds)."""
    with (release / "pyproject.toml").open("rb") as fh:
        data = tomllib.load(fh)
    return [*data["project"]["dependencies"], *data["build-system"]["requires"]]


def wheels_key(reqs: list[str]) -> str:
    return hashlib.sha256("\n".join(reqs).encode()).hexdigest()[:16]


def _pip(venv: Path, *args: str, what: str, step: Step = _say) -> None:
    # pip's own cache (root's) is kept: a second install, or another prefix, reuses its downloads.
    started = time.monotonic()
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
        raise SystemExit(f"strata: {what} failed: {lines[-1]}")
    step(f"{what}: {time.monotonic() - started:.1f}s")


def ensure_venv(layout: Layout, release: str, step: Step = _say) -> bool:
    """Make the venv run RELEASE: build the wheelhouse of its requirements once, create the venv from
    Debian's Python once, install Strata from the release (editable) with the wheels and no index;
    return False when it already ran RELEASE with those wheels (nothing reinstalled)."""
    code = layout.releases / release
    reqs = requirements(code)
    key = wheels_key(reqs)
    stamp = layout.venv / f".installed-{release}-{key}"
    if stamp.exists():
        return False
    python = os.environ.get("PYTHON", PYTHON)
    if not (layout.venv / "bin" / "python").exists():
        step(f"creating the virtualenv {layout.venv} with {python}")
        subprocess.run([python, "-m", "venv", str(layout.venv)], check=True)
    wheels = layout.wheels / key
    if not (wheels / ".complete").exists():
        step(f"building the wheelhouse {wheels} ({len(reqs)} pinned requirements)")
        _mkdir(layout.wheels)
        _pip(layout.venv, "wheel", "--wheel-dir", str(wheels), *reqs, what="pip wheel", step=step)
        _mkdir(wheels)
        (wheels / ".complete").touch()
    step(f"installing release {release} into {layout.venv}")
    _pip(
        layout.venv,
        "install",
        "--no-index",
        "--find-links",
        str(wheels),
        "-e",
        str(code),
        what="pip install",
        step=step,
    )
    for old in layout.venv.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return True


# -- install ------------------------------------------------------------------------------------------


def install(checkout: Path, layout: Layout, step: Step = _say) -> list[str]:
    """Install CHECKOUT's code as a release under layout.opt, make the venv run it, point `current` and
    the `strata` command at them; return what changed (empty: everything was in place)."""
    name, files = checkout_release(checkout)
    changed = []
    for d in (layout.opt, layout.releases, layout.etc, layout.command.parent):
        if not d.exists():
            _mkdir(d)
    if copy_release(checkout, files, layout.releases / name):
        changed.append(f"copied {len(files)} files to release {layout.releases / name}")
    if ensure_venv(layout, name, step):
        changed.append(f"installed release {name} into {layout.venv}")
    if relink(layout.current, f"releases/{name}"):
        changed.append(f"{layout.current} -> releases/{name}")
    if relink(layout.command, str(layout.venv / "bin" / "strata")):
        changed.append(f"{layout.command} -> {layout.venv / 'bin' / 'strata'}")
    return changed


def main(argv: list[str]) -> int:
    """Run `python3 -m strata.deploy.install mode|paths|install` for scripts/site.sh."""
    checkout = Path(__file__).resolve().parents[2]
    layout = Layout.from_env()
    command = argv[0] if argv else ""
    if command == "mode":
        local = (checkout / "strata.toml").exists()
        mode, why = choose_mode(os.environ.get("DEV", ""), os.geteuid() == 0, local, layout)
        print(mode)
        print(f"strata: {why}", file=sys.stderr)
        return 0
    if command == "paths":
        print(layout.shell(), end="")
        return 0
    if command == "install":
        changed = install(checkout, layout)
        for line in changed or [f"release {os.readlink(layout.current)} already installed: nothing to do"]:
            _say(line)
        return 0
    print("usage: python3 -m strata.deploy.install mode|paths|install", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
