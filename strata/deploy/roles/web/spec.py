"""The web role's facts: nginx in front of everything (see role.py for how it runs)."""

from __future__ import annotations

from strata.deploy.roles.spec import Link, Port, RoleSpec


def validate(config) -> None:
    SPEC.check_range(config.roles["web"].options, "workers", 1, 64)


SPEC = RoleSpec(
    name="web",
    required=True,
    multi_host=True,
    options={"http_port": (int, 18080), "https_port": (int, 18443), "workers": (int, 2)},
    ports=(Port("http_port"), Port("https_port")),
    validate=validate,
    links=(
        Link("web", "app", "proxied requests"),
        Link("web", "files", "file bytes after the app authorised them"),
    ),
    depends_on=("app",),
    packages=("nginx",),
)
