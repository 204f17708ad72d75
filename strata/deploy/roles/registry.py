"""Every role's SPEC, by name, in the order of strata.toml's documentation (required roles first).

Light: it imports the spec modules only (standard library), never the deployer's Role classes; those are
loaded by strata.deploy.roles.base.all_roles().
"""

from __future__ import annotations

import importlib

from strata.deploy.roles.app.spec import SPEC as APP
from strata.deploy.roles.comms.spec import SPEC as COMMS
from strata.deploy.roles.db.spec import SPEC as DB
from strata.deploy.roles.domain.spec import SPEC as DOMAIN
from strata.deploy.roles.files.spec import SPEC as FILES
from strata.deploy.roles.monitor.spec import SPEC as MONITOR
from strata.deploy.roles.spec import RoleSpec
from strata.deploy.roles.web.spec import SPEC as WEB

SPECS: dict[str, RoleSpec] = {s.name: s for s in (WEB, APP, DB, COMMS, DOMAIN, FILES, MONITOR)}


def start_order() -> tuple[str, ...]:
    """Return the role names so that each comes after the roles it depends on (then in SPECS order)."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ValueError(f"roles depend on each other in a cycle: {' -> '.join((*path, name))}")
        if name in order:
            return
        for dep in SPECS[name].depends_on:
            visit(dep, (*path, name))
        order.append(name)

    for name in SPECS:
        visit(name, ())
    return tuple(order)


START_ORDER = start_order()


def probe_of(name: str):
    """Return the health probe (config, secrets, host) -> Health of role NAME's client.py."""
    return importlib.import_module(f"strata.deploy.roles.{name}.client").probe
