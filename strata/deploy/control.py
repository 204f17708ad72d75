"""What the control machine makes for each host: its certificates and its share of the secrets.

The control machine (the one that runs `make up`, `strata deploy` or `strata lab up`) holds the site's CA
key and the full secrets file in its var/. For each host of the topology it issues the certificates the
host's roles declare (Role.certificates) and writes the secrets those roles need (config.host_secret_keys)
into var/hosts/<host>/ (mode 0700): what the host receives, and nothing else. ca.key never goes there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from strata.deploy import config as cfgmod
from strata.deploy import pki
from strata.deploy.render import write
from strata.deploy.roles.base import all_roles
from strata.deploy.system import DeployError

HOSTS_DIR = "hosts"
SECRET_MODE, PUBLIC_MODE = 0o600, 0o644


@dataclass(frozen=True)
class HostFile:
    """A file of a host's bundle: PATH relative to the host's var/, and its mode there."""

    path: str
    mode: int

    @property
    def mode_text(self) -> str:
        return f"{self.mode:04o}"


def bundle_dir(control_var: Path, host: str) -> Path:
    return control_var / HOSTS_DIR / host


def host_files(config: cfgmod.Config, host: str) -> list[HostFile]:
    """Return the files HOST receives, in the order they are installed."""
    files = [HostFile("secrets.toml", SECRET_MODE), HostFile("pki/ca.crt", PUBLIC_MODE)]
    roles = all_roles()
    for name in config.roles_on(host):
        for req in roles[name].certificates(config, config.hosts[host]):
            files += [
                HostFile(f"pki/{req.stem}.crt", PUBLIC_MODE),
                HostFile(f"pki/{req.stem}.key", SECRET_MODE),
            ]
    return list(dict.fromkeys(files))


def _secrets_text(data: dict[str, str]) -> bytes:
    import json  # JSON string escapes are valid TOML basic-string escapes (as config.write_secrets).

    lines = ["# Strata secrets for this host only, from the control machine (mode 0600). Do not commit.\n"]
    lines += [f"{k} = {json.dumps(str(v))}\n" for k, v in sorted(data.items())]
    return "".join(lines).encode()


def build_bundles(config: cfgmod.Config, control_var: Path) -> tuple[dict[str, list[HostFile]], list[str]]:
    """Write every host's bundle under CONTROL_VAR/hosts/ from CONTROL_VAR's secrets and CA (made by
    `strata init`); return each host's files and what changed. Files unchanged are not rewritten."""
    ca = control_var / "pki"
    if not (ca / "ca.key").exists():
        raise DeployError(f"{ca / 'ca.key'} is missing: the control machine makes every host's certificates")
    secrets = _read(control_var / "secrets.toml")
    top = control_var / HOSTS_DIR
    top.mkdir(mode=0o700, exist_ok=True)
    os.chmod(top, 0o700)
    out: dict[str, list[HostFile]] = {}
    changed: list[str] = []
    roles = all_roles()
    for host in config.hosts:
        if not config.roles_on(host):
            continue
        d = bundle_dir(control_var, host)
        (d / "pki").mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(d, 0o700)
        keys = cfgmod.host_secret_keys(config, host)
        if write(
            d / "secrets.toml", _secrets_text({k: secrets[k] for k in keys if secrets.get(k)}), SECRET_MODE
        ):
            changed.append(f"{host}: secrets")
        if write(d / "pki" / "ca.crt", (ca / "ca.crt").read_bytes(), PUBLIC_MODE):
            changed.append(f"{host}: ca.crt")
        for name in config.roles_on(host):
            for req in roles[name].certificates(config, config.hosts[host]):
                if pki.ensure_server_cert(
                    d / "pki",
                    req.stem,
                    list(req.names),
                    list(req.addresses),
                    client_auth=req.client_auth,
                    ca_dir=ca,
                ):
                    changed.append(f"{host}: issued {req.stem}.crt")
                os.chmod(d / "pki" / f"{req.stem}.crt", PUBLIC_MODE)
        out[host] = host_files(config, host)
        _remove_strays(d, out[host])
    return out, changed


def install_bundle(control_var: Path, host: str, files: list[HostFile], host_var: Path) -> list[str]:
    """Copy HOST's bundle into HOST_VAR (what the playbook's copy tasks do on a real host: the lab's
    hosts share the control's filesystem); remove a CA key found there. Return the files changed."""
    src = bundle_dir(control_var, host)
    (host_var / "pki").mkdir(parents=True, exist_ok=True)
    os.chmod(host_var, 0o755)  # noqa: S103 - like var/ of `make up`: the services traverse it
    os.chmod(host_var / "pki", 0o755)  # noqa: S103 - the keys in it are 0600
    changed = [f.path for f in files if write(host_var / f.path, (src / f.path).read_bytes(), f.mode)]
    if (host_var / "pki" / "ca.key").exists():
        (host_var / "pki" / "ca.key").unlink()
        changed.append("removed pki/ca.key")
    return changed


def _remove_strays(d: Path, files: list[HostFile]) -> None:
    """Remove what a host no longer receives (a role moved away): its bundle is exactly FILES."""
    keep = {f.path for f in files}
    for p in sorted(d.rglob("*")):
        if p.is_file() and str(p.relative_to(d)) not in keep:
            p.unlink()


def _read(path: Path) -> dict[str, str]:
    import tomllib

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DeployError(f"{path}: cannot read the site's secrets: {exc}") from None
