#!/usr/bin/env bash
# `make up`, `make down` and `make status`. Install mode (the default as root in a checkout without a
# ./strata.toml): the code and its venv under /opt/strata, the topology in /etc/strata, the state in
# /var/lib/strata and the logs in /var/log/strata, wherever this checkout is (strata/deploy/install.py).
# Development mode (DEV=1, not root, or a ./strata.toml from before): .venv, ./strata.toml and ./var.
# STRATA_PREFIX=DIR puts the install tree under DIR (the tests do).
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:-}
case $action in up|down|status) ;; *) echo "usage: scripts/site.sh up|down|status" >&2; exit 2 ;; esac
# Debian's Python, from the checkout, writing no bytecode into it.
install_py() { PYTHONPATH="$PWD" PYTHONDONTWRITEBYTECODE=1 "${PYTHON:-/usr/bin/python3}" -m strata.deploy.install "$@"; }
mode=$(install_py mode)

if [ "$mode" = dev ]; then
  strata=.venv/bin/strata
  case $action in
    up)
      bash scripts/bootstrap.sh run
      [ -e strata.toml ] || $strata init
      exec $strata up ;;
    down)
      if [ -x $strata ] && [ -e strata.toml ]; then exec $strata down; else echo "nothing to stop"; fi ;;
    status)
      exec $strata status ;;
  esac
  exit 0
fi

eval "$(install_py paths)"   # venv, config, var_dir, log_dir, current
strata=$venv/bin/strata
case $action in
  up)
    bash scripts/bootstrap.sh run none   # Debian packages and the service user; the venv is the installed one
    install_py install
    cd /   # nothing the site does writes into the checkout
    [ -e "$config" ] || "$strata" -c "$config" init --var-dir "$var_dir" --log-dir "$log_dir"
    exec "$strata" -c "$config" up ;;
  down)
    if [ -x "$strata" ] && [ -e "$config" ]; then cd / && exec "$strata" -c "$config" down; else echo "nothing to stop"; fi ;;
  status)
    if [ ! -x "$strata" ] || [ ! -e "$config" ]; then echo "strata: nothing installed: run \`make up\`" >&2; exit 2; fi
    cd / && exec "$strata" -c "$config" status ;;
esac
