"""The Debian packages Strata needs, from each role's spec: one declaration for bootstrap.sh and Ansible.

`python3 -m strata.deploy.packages run|test` prints, one a line, what `make up` (run) or `make test`
(test) installs on this machine; `strata deploy` passes host_packages() and each role's list to the
playbook. Standard library only: scripts/bootstrap.sh runs it with Debian's python3 before the virtualenv
exists.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from strata.deploy.roles.registry import SPECS

if TYPE_CHECKING:
    from strata.deploy.config import Config

# Every host's: Python for the venv, the LDAP client libraries python-ldap's wheel links against, and
# nftables for the firewall `strata deploy` loads.
HOST = ("python3", "python3-venv", "ca-certificates", "libldap-2.5-0", "libsasl2-2", "nftables")
# The machine that runs `make up`: it builds python-ldap from source, runs the lab (one network namespace
# per host, each with a firewall from the matrix) and `strata deploy` (Ansible over SSH).
CONTROL = (
    "python3",
    "python3-venv",
    "ca-certificates",
    "libldap2-dev",
    "libsasl2-dev",
    "gcc",
    "libc6-dev",
    "python3-dev",
    "nftables",
    "iproute2",
    "iputils-ping",
    "openssh-client",
)
# `make test`: the browser tests, the benchmarks, one sshd per lab host for the Ansible test, testssl.sh
# (the web role's TLS profile), pebble (the ACME test server the web role's certbot talks to in the lab) and
# the WebDAV clients tests/integration/test_webdav.py drives (the litmus suite, rclone, cadaver, davfs2).
TEST = (
    "chromium",
    "fonts-liberation",
    "curl",
    "wrk",
    "openssh-server",
    "testssl.sh",
    "pebble",
    "litmus",
    "rclone",
    "cadaver",
    "davfs2",
)


def role_packages(config: Config | None = None) -> dict[str, list[str]]:
    """Return each role's packages by role name; with CONFIG, those its options ask for too (certbot when
    roles.web.tls = "acme")."""
    out = {}
    for name, spec in SPECS.items():
        options = config.roles[name].options if config is not None and name in config.roles else {}
        extra = [p for o in spec.option_packages if options.get(o.option) == o.value for p in o.packages]
        out[name] = list(dict.fromkeys([*spec.packages, *extra]))
    return out


# Every host's while the monitor role is enabled: the node exporter (strata.deploy.roles.monitor.role).
MONITORED_HOST = ("prometheus-node-exporter",)


def host_packages(config: Config | None = None) -> list[str]:
    """Return what every host of `strata deploy` needs whatever its roles (with CONFIG: the node exporter
    too while the monitor role is enabled)."""
    monitored = config is not None and config.enabled("monitor")
    return [*HOST, *(MONITORED_HOST if monitored else ())]


def local_packages(profile: str) -> list[str]:
    """Return what this machine needs to run every role (PROFILE "run"), and to test them ("test"): the
    tests use every option, so "test" adds the packages options ask for (certbot)."""
    if profile not in ("run", "test"):
        raise ValueError(f"unknown profile {profile!r} (run or test)")
    out = [*CONTROL, *(p for spec in SPECS.values() for p in spec.packages)]
    if profile == "test":
        out += [p for spec in SPECS.values() for o in spec.option_packages for p in o.packages]
        out += TEST
    return list(dict.fromkeys(out))


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("run", "test"):
        print("usage: python3 -m strata.deploy.packages run|test", file=sys.stderr)
        return 2
    print("\n".join(local_packages(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
