"""The domain role's facts: OpenLDAP slapd (see role.py for how it runs, client.py for how to reach it)."""

from __future__ import annotations

from strata.deploy.roles.spec import Port, RoleSpec


def validate(config) -> None:
    if "domain" in config.roles:
        SPEC.check_range(config.roles["domain"].options, "sync_seconds", 60, 86400)


SPEC = RoleSpec(
    name="domain",
    required=False,
    options={
        "port": (int, 18389),
        "base_dn": (str, "dc=strata,dc=local"),
        "api_group": (str, "api"),
        "sync_seconds": (int, 300),
        # With the monitor role: the cn=Monitor probe's metrics (domain/metrics.py; the monitor host only).
        "metrics_port": (int, 18166),
    },
    kinds={"base_dn": "dn", "api_group": "name"},
    ports=(Port("port"), Port("metrics_port", with_role="monitor")),
    validate=validate,
    fallback="Django's own accounts in the database",
    packages=("slapd", "ldap-utils"),
    # slapd.conf holds the directory admin's salted hash; after_start sets the app's and writer's passwords.
    secrets=("ldap_admin_password",),
    deploy_secrets=("ldap_app_password", "ldap_writer_password"),
)
