"""Output shared by the CLI's commands: the consoles and the status tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

out = Console(soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
STATE_STYLE = {
    "ok": "green",
    "down": "bold red",
    "fallback": "yellow",
    "unused": "dim",
    "unchecked": "cyan",
    "off": "dim",
}


def print_status(config, roles, links, firewalls: list[tuple[str, str]] | None = None) -> int:
    """Print the roles and links reports, then which firewall guards each host of FIREWALLS (host,
    description); return 1 when a role is down."""
    table = Table(title=f"Strata roles — {config.url()}")
    for col in ("role", "seed", "hosts", "health", "details"):
        table.add_column(col)
    for r in roles:
        detail = f"{r.detail}: {r.fallback}" if r.state == "fallback" else r.detail
        state = "fallback in use" if r.state == "fallback" else r.state
        table.add_row(
            r.role,
            "required" if r.required else "optional",
            ", ".join(r.hosts) or "—",
            f"[{STATE_STYLE[r.state]}]{state}[/]",
            detail,
        )
    out.print(table)
    table_links = Table(title="Connection matrix")
    for col in ("from", "to", "why", "state", "details"):
        table_links.add_column(col)
    for link in links:
        table_links.add_row(
            link.source, link.target, link.purpose, f"[{STATE_STYLE[link.state]}]{link.state}[/]", link.detail
        )
    out.print(table_links)
    for host, description in firewalls or []:
        out.print(f"firewall on {host}: {description}", markup=False, highlight=False)
    return 0 if all(r.state != "down" for r in roles) else 1
