"""Deploy a topology to real servers with the Ansible playbook in deploy/ansible/ (`strata deploy`).

The control node (this machine) makes the site's secrets and CA once with `strata init`, issues every
host's certificates and writes its share of the secrets under var/hosts/<host>/ (strata.deploy.control:
the CA key and the first admin's password never leave this machine), packs the project
tree and a wheelhouse of the pinned dependencies, and runs ansible-playbook from this venv. The hosts need
no access to PyPI: their venv is built from the wheelhouse. Everything Ansible writes on this machine stays
under the project's var/ansible/.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from strata.deploy import config as cfgmod
from strata.deploy import control, packages
from strata.deploy import firewall as fwmod
from strata.deploy import local as deploy
from strata.deploy.config import ConfigError
from strata.deploy.roles.files.spec import names_to_resolve
from strata.deploy.system import DeployError
from strata.deploy.upgrade import server_of

PROJECT = Path(__file__).resolve().parents[2]
PLAYBOOK_DIR = PROJECT / "deploy" / "ansible"
# `strata deploy --rolling`: the new release on every host, each app host restarted out of the pools.
PLAYBOOKS = {False: "site.yml", True: "upgrade.yml"}
# What a host needs of the project tree: the code and what installs it.
SOURCE_PATHS = ("strata", "pyproject.toml", "README.md", "Makefile", "scripts")
SKIP_NAMES = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = (".pyc", ".egg-info", ".new")
GROUP_PREFIX = "strata_"


def state_dir() -> Path:
    """Return var/ansible/ of the project: Ansible's home, temp dirs and the packed releases."""
    return PROJECT / "var" / "ansible"


def inventory(
    config: cfgmod.Config, *, host_vars: dict[str, dict] | None = None, group_vars: dict | None = None
) -> dict:
    """Return an Ansible inventory for CONFIG: every host with a role in group `strata`, addressed by
    its topology address, and one group per enabled role (strata_web, strata_app, ...) in topology
    order (the first app host migrates the database)."""
    host_vars = host_vars or {}
    used = [h for h in config.hosts if config.roles_on(h)]
    groups: dict = {
        "strata": {
            "hosts": {h: {"ansible_host": config.hosts[h].address, **host_vars.get(h, {})} for h in used}
        }
    }
    for role in cfgmod.ROLE_NAMES:
        if config.enabled(role):
            groups[GROUP_PREFIX + role] = {"hosts": {h.name: None for h in config.hosts_of(role)}}
    # The playbook installs packages and users: it connects as root (or add ansible_become=true).
    return {"all": {"vars": {"ansible_user": "root", **(group_vars or {})}, "children": groups}}


def write_inventory(config: cfgmod.Config, path: str | os.PathLike, **kw) -> Path:
    """Write inventory(CONFIG) to PATH (YAML; JSON is YAML) and return it."""
    p = Path(path).absolute()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".new")
    tmp.write_text(
        f"# Written by `strata deploy --write-inventory` from {config.path}\n"
        + json.dumps(inventory(config, **kw), indent=2)
        + "\n"
    )
    os.replace(tmp, p)
    return p


def _source_files() -> list[Path]:
    files = []
    for rel in SOURCE_PATHS:
        top = PROJECT / rel
        if top.is_file():
            files.append(top)
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_NAMES and not d.endswith(SKIP_SUFFIXES))
            files += [Path(dirpath) / f for f in sorted(filenames) if not f.endswith(SKIP_SUFFIXES)]
    return files


def _pack(files: list[tuple[str, Path]], compress: bool) -> bytes:
    """Return a reproducible tar of FILES (name in the archive, path): same content, same bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uid, info.gid = path.stat().st_size, 0, 0, 0
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            with path.open("rb") as fh:
                tar.addfile(info, fh)
    data = buf.getvalue()
    return gzip.compress(data, mtime=0) if compress else data


def _store(directory: Path, prefix: str, data: bytes, suffix: str) -> Path:
    digest = hashlib.sha256(data).hexdigest()[:16]
    p = directory / f"{prefix}-{digest}{suffix}"
    if not p.exists():
        directory.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f"{p.name}.{os.getpid()}.new")
        tmp.write_bytes(data)
        os.replace(tmp, p)
    return p


def pack_source() -> Path:
    """Pack the project tree into var/ansible/releases/strata-src-HASH.tar.gz (kept when unchanged)."""
    data = _pack([(str(f.relative_to(PROJECT)), f) for f in _source_files()], compress=True)
    return _store(state_dir() / "releases", "strata-src", data, ".tar.gz")


def requirements() -> list[str]:
    """Return the pinned dependencies of pyproject.toml plus the build backend (for the editable install)."""
    with (PROJECT / "pyproject.toml").open("rb") as fh:
        data = tomllib.load(fh)
    return [*data["project"]["dependencies"], *data["build-system"]["requires"]]


def pack_wheels(step=deploy._quiet) -> Path:
    """Build (once per set of requirements) the wheelhouse the hosts install from; return its tar."""
    reqs = requirements()
    key = hashlib.sha256("\n".join(reqs).encode()).hexdigest()[:16]
    done = state_dir() / "releases" / f"wheels-{key}.name"
    if done.exists() and (state_dir() / "releases" / done.read_text().strip()).exists():
        return state_dir() / "releases" / done.read_text().strip()
    wheels = state_dir() / "wheels" / f"{key}-{os.getpid()}"
    step(f"building the wheelhouse for the hosts ({len(reqs)} requirements) in {wheels}")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--wheel-dir",
            str(wheels),
            *reqs,
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
        raise DeployError(f"pip wheel failed: {lines[-1]}")
    data = _pack([(f.name, f) for f in wheels.glob("*.whl")], compress=False)
    p = _store(state_dir() / "releases", "wheels", data, ".tar")
    done.write_text(p.name + "\n")
    shutil.rmtree(wheels)  # the tar is what the hosts get
    return p


@dataclass
class Bundle:
    """What the playbook copies to each host."""

    topology: Path
    secrets_dir: Path  # the control node's var/: its bundles for the hosts are in hosts/<host>/
    source: Path
    wheels: Path
    # Each host's nftables file, rendered here (render_firewalls); firewall=False: `--no-firewall`.
    firewall_files: dict[str, Path] = field(default_factory=dict)
    firewall: bool = True
    # Each role's Debian packages, with those its options ask for (certbot when roles.web.tls = "acme").
    role_packages: dict[str, list[str]] = field(default_factory=packages.role_packages)
    # Every host's packages (the node exporter too while the monitor role is enabled).
    host_packages: list[str] = field(default_factory=packages.host_packages)
    # What each host receives from its bundle (control.build_bundles).
    host_files: dict[str, list[control.HostFile]] = field(default_factory=dict)
    # Each app host's servers as nginx's pool names them ("address:port"): what `--rolling` drains.
    app_servers: dict[str, list[str]] = field(default_factory=dict)
    # Names each host must resolve that DNS need not know (its /etc/hosts gets them).
    host_names: dict[str, dict[str, str]] = field(default_factory=dict)

    def extra_vars(self) -> dict[str, object]:
        return {
            "strata_firewall": self.firewall,
            "strata_firewall_files": {h: str(p) for h, p in self.firewall_files.items()},
            "strata_topology": str(self.topology),
            "strata_bundles_dir": str(self.secrets_dir / control.HOSTS_DIR),
            "strata_host_files": {
                h: [{"path": f.path, "mode": f.mode_text} for f in files]
                for h, files in self.host_files.items()
            },
            "strata_src_archive": str(self.source),
            "strata_wheels_archive": str(self.wheels),
            # The Debian packages, declared once in the roles' specs (strata.deploy.packages).
            "strata_host_packages": self.host_packages,
            "strata_role_packages": self.role_packages,
            "strata_app_servers": self.app_servers,
            "strata_host_names": self.host_names,
        }


def render_firewalls(config: cfgmod.Config) -> dict[str, Path]:
    """Render each host's nftables file into var/ansible/firewall/ (named by content: several deploys may
    run at once); return them by host. Raise ConfigError if one would lock this machine out of SSH."""
    return {
        host: _store(
            state_dir() / "firewall", f"{host}", fwmod.render_for_deploy(config, host).encode(), ".nft"
        )
        for host in config.hosts
        if config.roles_on(host)
    }


def prepare(config_path=None, step=deploy._quiet, *, firewall: bool = True) -> Bundle:
    """Make the secrets and CA once (strata init), render the hosts' firewalls (unless not FIREWALL),
    pack the source and the wheelhouse."""
    config = cfgmod.load(config_path)
    # The control node only holds the site's secrets: its own STRATA_HOST/STRATA_VAR_DIR do not apply.
    for key in (cfgmod.ENV_HOST, cfgmod.ENV_VAR_DIR):
        if os.environ.get(key):
            raise ConfigError(
                config.path,
                key,
                "unset it: `strata deploy` keeps the site's secrets in site.var_dir of the topology",
            )
    if firewall:
        step("firewalls from the connection matrix (strata firewall show HOST prints one)")
        firewall_files = render_firewalls(config)
    else:
        step("no firewall: Strata's is removed from every host where an earlier deploy installed it")
        firewall_files = {}
    step("secrets and CA (strata init)")
    config, _ = deploy.init(config.path)
    step(f"each host's certificates and secrets (in {config.var_dir / control.HOSTS_DIR})")
    host_files, _changed = control.build_bundles(config, config.var_dir)
    step("packing the project tree")
    source = pack_source()
    return Bundle(
        config.path,
        config.var_dir,
        source,
        pack_wheels(step),
        firewall_files,
        firewall,
        packages.role_packages(config),
        packages.host_packages(config),
        host_files,
        {h.name: [server_of(i) for i in config.app_instances(h.name)] for h in config.hosts_of("app")},
        {h: names for h in config.hosts if (names := names_to_resolve(config, h))},
    )


ADMIN_SHOWN = "admin-password-shown"


def first_admin_once(config_path=None) -> tuple[str, str] | None:
    """Return the first admin's username and password the first time a deploy succeeds, then never
    again (a marker in the control's var/hosts/): the password is printed on this terminal only."""
    config = cfgmod.load(config_path)
    marker = config.var_dir / control.HOSTS_DIR / ADMIN_SHOWN
    if marker.exists():
        return None
    with config.secrets_path.open("rb") as fh:
        password = tomllib.load(fh)["admin_password"]
    marker.write_text("the first admin's password was printed by `strata deploy`\n")
    return config.site["admin_username"], password


def ansible_env() -> dict[str, str]:
    """Return the environment for ansible-playbook: its config, and its state under var/ansible/."""
    base = state_dir()
    for d in ("home", "tmp", "cp"):
        (base / d).mkdir(parents=True, exist_ok=True, mode=0o700)
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(PLAYBOOK_DIR / "ansible.cfg"),
        "ANSIBLE_HOME": str(base / "home"),
        "ANSIBLE_LOCAL_TEMP": str(base / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(base / "remote-tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(base / "cp"),
        "ANSIBLE_ASYNC_DIR": str(base / "async"),
        "ANSIBLE_NOCOLOR": "1",
    }


def playbook_command(
    inventory_path: str | os.PathLike,
    bundle: Bundle,
    extra: Sequence[str] = (),
    vars_file: Path | None = None,
    rolling: bool = False,
) -> list[str]:
    """Return the ansible-playbook command line, writing the bundle's variables to VARS_FILE (extra: more
    -e values from the user; ROLLING: upgrade.yml, the rolling upgrade, instead of site.yml)."""
    vars_file = vars_file or state_dir() / "tmp" / "strata-vars.json"
    vars_file.parent.mkdir(parents=True, exist_ok=True)
    vars_file.write_text(json.dumps(bundle.extra_vars(), indent=2) + "\n")
    argv = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(Path(inventory_path).absolute()),
        "-e",
        f"@{vars_file}",
    ]
    for e in extra:
        argv += ["-e", e]
    return [*argv, str(PLAYBOOK_DIR / PLAYBOOKS[rolling])]


def run(
    inventory_path: str | os.PathLike,
    config_path=None,
    extra: Sequence[str] = (),
    step=deploy._quiet,
    output=None,
    *,
    firewall: bool = True,
    rolling: bool = False,
) -> int:
    """Run the playbook (ROLLING: the rolling upgrade's) against INVENTORY_PATH; stream its output to
    OUTPUT (a file object, default stdout); return ansible-playbook's exit code."""
    if not Path(inventory_path).is_file():
        raise ConfigError(
            inventory_path,
            "",
            "no such inventory file (`strata deploy --write-inventory FILE` writes one from the topology)",
        )
    bundle = prepare(config_path, step, firewall=firewall)
    step("ansible-playbook " + str(PLAYBOOK_DIR / PLAYBOOKS[rolling]))
    # One variables file per run: several deploys (e.g. two labs' tests) may run at once.
    vars_file = state_dir() / "tmp" / f"strata-vars-{os.getpid()}.json"
    try:
        proc = subprocess.run(
            playbook_command(inventory_path, bundle, extra, vars_file, rolling),
            env=ansible_env(),
            stdout=output or sys.stdout,
            stderr=subprocess.STDOUT,
            cwd=PLAYBOOK_DIR,
        )
    finally:
        vars_file.unlink(missing_ok=True)
    return proc.returncode
