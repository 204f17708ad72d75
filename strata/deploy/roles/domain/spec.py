"""The domain role's facts: OpenLDAP slapd (see role.py for how it runs, client.py for how to reach it)."""

from __future__ import annotations

from strata.deploy.roles.spec import OptionError, Port, RoleSpec


def validate(config) -> None:
    if "domain" not in config.roles:
        return
    domain = config.roles["domain"].options
    SPEC.check_range(domain, "sync_seconds", 60, 86400)
    parts = domain["base_dn"].split(",")
    if not all(p.startswith("dc=") and p[3:].replace("-", "").isalnum() and p[3:].isascii() for p in parts):
        raise OptionError(
            SPEC.key("base_dn"),
            f"use dc= components of letters, digits and '-', e.g. dc=example,dc=org: {domain['base_dn']!r}",
        )
    group = domain["api_group"]
    if not (group.isascii() and group.replace("-", "").replace("_", "").isalnum() and len(group) <= 64):
        raise OptionError(SPEC.key("api_group"), f"use letters, digits, '-' and '_': {group!r}")


SPEC = RoleSpec(
    name="domain",
    required=False,
    options={
        "port": (int, 18389),
        "base_dn": (str, "dc=strata,dc=local"),
        "api_group": (str, "api"),
        "sync_seconds": (int, 300),
    },
    ports=(Port("port"),),
    validate=validate,
    fallback="Django's own accounts in the database",
    packages=("slapd", "ldap-utils"),
    # slapd.conf holds the directory admin's salted hash; after_start sets the app's and writer's passwords.
    secrets=("ldap_admin_password",),
    deploy_secrets=("ldap_app_password", "ldap_writer_password"),
)
