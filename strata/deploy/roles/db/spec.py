"""The db role's facts: PostgreSQL 15 (see role.py for how it runs)."""

from __future__ import annotations

from strata.deploy.roles.spec import Link, OptionError, Port, RoleSpec


def validate(config) -> None:
    db = config.roles["db"].options
    SPEC.check_range(db, "pool_size", 1, 100)
    for key in ("name", "user"):
        value = db[key]
        if not (value.isascii() and value.replace("_", "").isalnum() and value[0].isalpha()):
            raise OptionError(SPEC.key(key), f"use letters, digits and '_': {value!r}")


SPEC = RoleSpec(
    name="db",
    required=True,
    options={"port": (int, 15432), "name": (str, "strata"), "user": (str, "strata"), "pool_size": (int, 4)},
    ports=(Port("port"),),
    validate=validate,
    links=(Link("db", "files", "database backups"),),
    packages=("postgresql-15",),
    secrets=("db_superuser_password",),
    # after_start creates (or updates) the app's login role with its password.
    deploy_secrets=("db_app_password",),
)
