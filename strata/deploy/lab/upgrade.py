"""`strata lab upgrade`: strata.deploy.upgrade's rolling upgrade across the lab's hosts, from its control.

Each step runs where its flows are allowed: the migrations on the first app host (`strata upgrade
--host-step migrate` in its namespace, which reaches the db host); nginx's pool and each app server's
/healthz on the web host(s) (web -> app is the web host's flow); the restarts through each app host's
supervisor socket (a file in its var/ tree); the drain is read from the app server's own network
namespace (/proc/<its pid>/net/tcp). Nothing opens another flow through the lab's firewalls.
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial

from strata.deploy import upgrade
from strata.deploy.config import AppInstance
from strata.deploy.lab.run import Lab
from strata.deploy.supervisor import Supervisor
from strata.deploy.system import DeployError
from strata.deploy.upgrade import Reach, Reread, Step, UpgradeResult


def _quiet(_msg: str) -> None:
    pass


def _on(host: str, step: Step, msg: str) -> None:
    step(f"{host}: {msg}")


def _idle(sup: Supervisor, inst: AppInstance) -> bool:
    """Return whether INST has no connection left, read in its own network namespace (its host's)."""
    return upgrade.established(inst.host.address, inst.port, f"/proc/{sup.pid(inst.name)}") == 0


def _step(lab: Lab, host: str, name: str, *args: str, step: Step = _quiet) -> dict:
    """Run `strata upgrade --host-step NAME` on HOST; relay its lines to STEP; return its JSON answer."""
    argv = [sys.executable, "-m", "strata.deploy.cli.main", "-c", str(lab.config_path), "upgrade"]
    proc = lab.run_in(host, [*argv, "--host-step", name, *args], timeout=1800, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 2 and name == "migrate":
        raise upgrade.MigrationRefused(proc.stderr.strip().removeprefix("strata: refused, nothing changed: "))
    if proc.returncode != 0 or not lines:
        text = (proc.stderr.strip() or proc.stdout.strip() or f"exit code {proc.returncode}").splitlines()
        raise DeployError(f"lab host {host}: upgrade step {name} failed: {text[-1].removeprefix('strata: ')}")
    for line in lines[:-1]:
        step(f"{host}: {line.removeprefix('• ')}")
    return json.loads(lines[-1])


def lab_upgrade(
    lab: Lab, step: Step = _quiet, contract: bool = False, drain_timeout: float = 0
) -> UpgradeResult:
    """Roll the lab onto the release site.code_dir names: migrate once on the first app host, static files
    on the web host(s), then each app host's servers one at a time out of every web host's pool, and its
    other Python programs (worker last)."""
    started = time.monotonic()
    config = lab.config()
    webs = [h.name for h in config.hosts_of("web")]
    apps = list(dict.fromkeys(h.name for h in config.hosts_of("app")))
    for host in [*webs, *apps]:
        if not lab.supervisor(host).running():
            raise DeployError(f"lab host {host}: its supervisor is not running: run `strata lab up`")
    answer = _step(lab, apps[0], "migrate", *(["--contract"] if contract else []), step=step)
    result = UpgradeResult(answer["code"], answer["migrations"])
    for web in webs:
        _step(lab, web, "static", step=step)

    def healthy(server: str) -> None:
        _step(lab, webs[0], "healthz", "--servers", server)

    def pool(drained: frozenset[str]) -> None:
        for web in webs:
            _step(lab, web, "pool", "--servers", ",".join(sorted(drained)))

    for host in apps:
        done = Reread(**_step(lab, host, "reread"))
        result.left += [f"{host}:{n}" for n in done.left]
        sup = lab.supervisor(host)
        for inst in [i for i in config.app_instances() if i.host.name == host]:
            reach = Reach(
                pool,
                partial(_idle, sup, inst),
                partial(sup.restart_with_config, inst.name),
                partial(healthy, upgrade.server_of(inst)),
            )
            # Instance names repeat on every app host (app-1, …): the host says which.
            seconds = upgrade.roll(config, inst, reach, drain_timeout, partial(_on, host, step))
            result.drained_s[f"{host}/{inst.name}"] = seconds
            result.restarted.append(f"{host}/{inst.name}")
        restarted = upgrade.finish_programs(config, sup, done, partial(_on, host, step))
        result.restarted += [f"{host}/{n}" for n in restarted]
    result.seconds = round(time.monotonic() - started, 2)
    return result
