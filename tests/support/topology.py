"""A builder for strata.toml texts: site options, hosts and their addresses, roles and their options."""

from __future__ import annotations


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)


def _table(name: str, options: dict) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {_value(v)}\n" for k, v in options.items())


def topology(*, site: dict | None = None, hosts: dict[str, str], roles: dict[str, dict | list]) -> str:
    """Return a strata.toml text.

    HOSTS maps a host name to its address; ROLES maps a role name to its hosts (a list) or to its
    options (a dict with "hosts" and any role option), in the order given.
    """
    parts = [_table("site", site)] if site else []
    parts += [_table(f"hosts.{name}", {"address": address}) for name, address in hosts.items()]
    for role, spec in roles.items():
        options = {"hosts": spec} if isinstance(spec, list) else spec
        parts.append(_table(f"roles.{role}", options))
    return "\n".join(parts)
