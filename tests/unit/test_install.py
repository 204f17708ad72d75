"""The pure parts of install mode: the layout under a prefix, the mode `make up` picks, the release's name
and copy, the config written for it, and site.log_dir (no server, no pip)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from strata.deploy import config as cfgmod
from strata.deploy import install
from strata.deploy import local as deploy
from strata.deploy.roles.base import HostContext
from strata.deploy.supervisor import Supervisor


def test_layout_maps_every_directory_under_the_prefix():
    real = install.Layout.from_env({})
    assert (real.opt, real.etc, real.var, real.log) == (
        Path("/opt/strata"),
        Path("/etc/strata"),
        Path("/var/lib/strata"),
        Path("/var/log/strata"),
    )
    assert (real.venv, real.current, real.config, real.command) == (
        Path("/opt/strata/venv"),
        Path("/opt/strata/current"),
        Path("/etc/strata/strata.toml"),
        Path("/usr/local/bin/strata"),
    )
    test = install.Layout.from_env({install.ENV_PREFIX: "/tmp/p"})
    assert test.releases == Path("/tmp/p/opt/strata/releases")
    assert test.config == Path("/tmp/p/etc/strata/strata.toml")
    assert test.log == Path("/tmp/p/var/log/strata")
    assert "config=/tmp/p/etc/strata/strata.toml\n" in test.shell()
    assert install.ENV_PREFIX == cfgmod.ENV_PREFIX


@pytest.mark.parametrize(
    ("dev", "root", "local_config", "mode", "said"),
    [
        ("", True, False, "install", "install mode"),
        ("0", True, False, "install", "install mode"),
        ("1", True, False, "dev", "DEV=1"),
        ("yes", True, False, "dev", "DEV=1"),
        ("", False, False, "dev", "not root"),
        ("", True, True, "dev", "./strata.toml from before"),
    ],
)
def test_mode(dev, root, local_config, mode, said):
    got, why = install.choose_mode(dev, root, local_config)
    assert got == mode
    assert said in why
    assert "\n" not in why


def test_release_names():
    commit = "0123456789abcdef0123"
    assert install.release_name(commit, False, "f" * 64) == "0123456789ab"
    assert install.release_name(commit, True, "abcdef12" + "0" * 56) == "0123456789ab-dirty-abcdef12"
    assert install.release_name(None, False, "9" * 64) == "src-999999999999"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo), *args],
        check=True,
        capture_output=True,
    )


def test_release_of_a_git_checkout(tmp_path):
    repo = tmp_path / "co"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "a.py").write_text("A = 1\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(repo / "run.sh", 0o755)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    (repo / "untracked.txt").write_text("not in a release")
    clean, files = install.checkout_release(repo)
    assert files == ["pkg/a.py", "run.sh"]
    assert len(clean) == 12
    assert "-dirty-" not in clean

    (repo / "pkg" / "a.py").write_text("A = 2\n")
    dirty, _ = install.checkout_release(repo)
    assert dirty.startswith(clean + "-dirty-")
    (repo / "pkg" / "a.py").write_text("A = 3\n")
    assert install.checkout_release(repo)[0] not in (clean, dirty)  # the content names it

    # Copied whole, readable by everyone, executables kept executable; never rewritten once made.
    target = tmp_path / "releases" / dirty
    target.parent.mkdir()
    assert install.copy_release(repo, files, target)
    assert (target / "pkg" / "a.py").read_text() == "A = 3\n"
    assert not (target / "untracked.txt").exists()
    assert (target / "pkg").stat().st_mode & 0o777 == 0o755
    assert (target / "pkg" / "a.py").stat().st_mode & 0o777 == 0o644
    assert (target / "run.sh").stat().st_mode & 0o777 == 0o755
    assert not install.copy_release(repo, files, target)
    assert [p.name for p in target.parent.iterdir()] == [dirty]  # no temp dir left


def test_release_without_git_skips_the_checkouts_own_state(tmp_path):
    (tmp_path / "strata").mkdir()
    (tmp_path / "strata" / "x.py").write_text("")
    for skipped in ("var", ".venv", "strata/__pycache__"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "junk").write_text("")
    (tmp_path / "strata.toml").write_text("")
    name, files = install.checkout_release(tmp_path)
    assert files == ["strata/x.py"]
    assert name.startswith("src-")


def test_relink_is_atomic_and_idempotent(tmp_path):
    link = tmp_path / "current"
    assert install.relink(link, "releases/a")
    assert not install.relink(link, "releases/a")
    assert install.relink(link, "releases/b")
    assert os.readlink(link) == "releases/b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current"]


def test_requirements_come_from_the_release(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    reqs = install.requirements(repo)
    assert any(r.startswith("Django==") for r in reqs)
    assert any(r.startswith("setuptools") for r in reqs)  # the editable install builds without an index
    assert install.wheels_key(reqs) == install.wheels_key(list(reqs))
    assert install.wheels_key(reqs) != install.wheels_key([*reqs, "extra==1"])


def test_init_writes_the_install_layout_into_a_new_config(tmp_path):
    text = deploy.default_topology({"var_dir": "/var/lib/strata", "log_dir": "/var/log/strata"})
    config = cfgmod.parse(text, tmp_path / "etc" / "strata.toml")
    assert config.var_dir == Path("/var/lib/strata")
    assert config.log_dir == Path("/var/log/strata")
    assert "# data, logs, rendered configs" in text  # the comments stay
    with pytest.raises(ValueError, match="site.nope"):
        deploy.default_topology({"nope": "x"})


def test_log_dir_defaults_to_the_var_dir_and_is_the_only_place_logs_go(tmp_path):
    base = '[hosts.local]\naddress = "127.0.0.1"\n[roles.web]\nhosts = ["local"]\n'
    base += '[roles.app]\nhosts = ["local"]\n[roles.db]\nhosts = ["local"]\n'
    default = cfgmod.parse(base, tmp_path / "strata.toml")
    assert default.log_dir == tmp_path / "var" / "log"
    site = f'[site]\nlog_dir = "logs"\n{base}'
    config = cfgmod.parse(site, tmp_path / "strata.toml")
    assert config.log_dir == tmp_path / "logs"
    ctx = HostContext(config, {}, config.hosts["local"])
    assert ctx.log("app") == tmp_path / "logs" / "app"
    assert Supervisor(config.var_dir, config.log_dir).logdir == tmp_path / "logs" / "supervisor"
    with pytest.raises(cfgmod.ConfigError, match="site.log_dir"):
        cfgmod.parse(f'[site]\nlog_dir = "../x"\n{base}', tmp_path / "strata.toml")


def test_the_installed_config_is_the_default_outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv(cfgmod.ENV_CONFIG, raising=False)
    monkeypatch.setenv(cfgmod.ENV_PREFIX, str(tmp_path / "prefix"))
    monkeypatch.chdir(tmp_path)
    assert cfgmod.config_path() == tmp_path / "strata.toml"  # nothing installed: the usual error
    installed = tmp_path / "prefix" / "etc" / "strata" / "strata.toml"
    installed.parent.mkdir(parents=True)
    installed.write_text("")
    assert cfgmod.config_path() == installed
    (tmp_path / "strata.toml").write_text("")  # a checkout's own config wins
    assert cfgmod.config_path() == tmp_path / "strata.toml"
    assert cfgmod.config_path("other.toml") == tmp_path / "other.toml"


def test_install_runs_on_the_standard_library_alone():
    # scripts/site.sh runs it with Debian's python3 before any venv exists.
    repo = Path(__file__).resolve().parents[2]
    code = (
        "import sys; import strata.deploy.install; "
        "print(sorted(m for m in sys.modules if m.startswith('strata')))"
    )
    out = subprocess.run(
        ["/usr/bin/python3", "-I", "-c", f"import sys; sys.path.insert(0, {str(repo)!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
    ).stdout
    assert out.strip() == "['strata', 'strata.deploy', 'strata.deploy.install']"
