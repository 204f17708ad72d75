"""`strata rotate`: new values for secrets and new certificates, made on the control machine.

The control machine keeps the CA key and the full secrets file, so rotation happens there: the named
secrets get fresh values in var/secrets.toml, and the named certificates are removed so that the next
bundle build (in `strata deploy`, `strata lab up` or, on one machine, `make up`) issues new ones. The
hosts apply them on their next `strata up`: a program whose inputs changed (configs, certificates,
secrets: strata.deploy.local.inputs_digest) is restarted, and the roles set rotated passwords on their
servers (the database's app role, the directory's service accounts, SeaweedFS's identities).
"""

from __future__ import annotations

from pathlib import Path

from strata.deploy import config as cfgmod
from strata.deploy import control
from strata.deploy.config import ConfigError
from strata.deploy.roles.base import all_roles

# Set once and never again: rotating them would lock the deployer out (PostgreSQL's superuser password
# is set by initdb only), belongs to a person (the first admin changes it in the web UI), or encrypts what
# is already stored (pgBackRest's repository cannot be read with another passphrase).
FIXED = ("db_superuser_password", "admin_password", cfgmod.ADMIN_HASH, "pgbackrest_cipher_pass")


def rotatable() -> list[str]:
    return [k for k in cfgmod.SECRET_MAKERS if k not in FIXED]


def rotate(config: cfgmod.Config, secrets: list[str], certificates: list[str]) -> list[str]:
    """Give SECRETS new values and remove the certificates named by CERTIFICATES (stems, or "all") from the
    control's copies; return what changed, one line each. Nothing is changed when an argument is wrong."""
    pki = config.var_dir / "pki"
    if not (pki / "ca.key").exists():
        raise ConfigError(
            pki / "ca.key", "", "missing: rotate on the control machine (the one that runs `strata deploy`)"
        )
    for key in secrets:
        if key not in rotatable():
            raise ConfigError(
                config.secrets_path, key, f"cannot be rotated (rotatable: {', '.join(rotatable())})"
            )
    roles = all_roles()
    stems = {
        req.stem: host
        for host in config.hosts
        for name in config.roles_on(host)
        for req in roles[name].certificates(config, config.hosts[host])
    }
    wanted = sorted(stems) if certificates == ["all"] else certificates
    for stem in wanted:
        if stem not in stems:
            raise ConfigError(
                config.path, stem, f"no such certificate (this topology has: {', '.join(sorted(stems))})"
            )
    changed = []
    if secrets:
        data, _ = cfgmod.ensure_secrets(config)
        for key in secrets:
            data[key] = cfgmod.SECRET_MAKERS[key]()
        cfgmod.write_secrets(config.secrets_path, data)
        changed += [f"new value for {key}" for key in secrets]
    for stem in wanted:
        # On one machine the control's own pki/ holds them; for other hosts, the bundles under var/hosts/.
        dirs = [pki, *(control.bundle_dir(config.var_dir, h) / "pki" for h in config.hosts)]
        for d in dirs:
            for path in (Path(d) / f"{stem}.crt", Path(d) / f"{stem}.key"):
                path.unlink(missing_ok=True)
        changed.append(f"{stem}.crt will be issued again")
    return changed
