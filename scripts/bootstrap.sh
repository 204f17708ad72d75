#!/usr/bin/env bash
# Install what Strata needs on Debian 12: system packages, the service user and the virtualenv.
# Idempotent: each step is skipped when already done. Run as root (make up / make test do).
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${1:-run}"   # run | test
venv="${2:-.venv}"    # none: only the packages and the user (install mode builds its own venv)
# Each role declares its Debian packages in strata/deploy/roles/<name>/spec.py; strata.deploy.packages adds
# what this machine needs to build, run the lab and test (standard library only: no venv needed yet).
mapfile -t packages < <(PYTHONPATH="$PWD" PYTHONDONTWRITEBYTECODE=1 python3 -m strata.deploy.packages "$profile")
[ ${#packages[@]} -gt 0 ] || { echo "strata: cannot list the Debian packages" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "strata: installing Debian packages: ${missing[*]}"
    # Never let a package start its own system instance: Strata runs private ones.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    # No default PostgreSQL cluster either (postgresql-common creates one unless told not to).
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
      mkdir -p /etc/postgresql-common
      echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
    fi
    # No system LDAP directory: the domain role runs its own slapd (PLATFORM.md).
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
    # No system mail server: the comms role runs its own Postfix (PLATFORM.md).
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Debian enables the exporters' and Prometheus's own units (all interfaces, no TLS): never start them,
  # at boot either; the monitor role runs private ones on the ports the firewall opens to it alone.
  if [ -d /run/systemd/system ]; then
    for unit in prometheus prometheus-node-exporter prometheus-postgres-exporter prometheus-nginx-exporter; do
      state=$(systemctl is-enabled "$unit" 2>/dev/null || true)
      if [ -n "$state" ] && [ "$state" != masked ]; then systemctl mask --now "$unit" >/dev/null; fi
    done
  fi
  getent passwd strata >/dev/null || useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin strata
else
  echo "strata: not root: skipping Debian packages (${packages[*]}) and the service user" >&2
fi

[ "$venv" = none ] && exit 0

# Debian's Python, not one under a private home directory: the service users run the venv too.
python=${PYTHON:-/usr/bin/python3}
if [ -x .venv/bin/python ] && [ "$(readlink -f .venv/bin/python)" != "$(readlink -f "$python")" ]; then
  echo "strata: recreating .venv with $python"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  echo "strata: creating the virtualenv in .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.installed-$profile
if [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  extra=""
  [ "$profile" = test ] && extra="[test]"
  .venv/bin/pip install -q --disable-pip-version-check --no-cache-dir -e ".$extra"
  touch "$stamp"
fi
