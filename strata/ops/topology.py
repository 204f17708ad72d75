"""Draw the topology for the status page: hosts, the roles on them, the links between them, and health.

Drawn server-side as SVG (the strict CSP allows no script): the layout here, the markup in
templates/ops/topology.svg, colours in site.css by state class.
"""

from __future__ import annotations

from dataclasses import dataclass

from strata.deploy.config import LINKS, Config
from strata.deploy.health import UNCHECKED

# Hosts in rows by their highest layer: the web tier, the app servers, the servers behind them, the monitor.
LAYER = {"web": 0, "app": 1, "db": 2, "comms": 2, "domain": 2, "files": 2, "monitor": 3}
BOX_W, ROW_H, LINE_H, GAP, MARGIN, CURVE = 170, 150, 18, 24, 12, 50


@dataclass(frozen=True)
class Box:
    name: str
    address: str
    x: int
    y: int
    h: int
    roles: list[tuple[str, str, int]]  # (role, state, baseline y)

    @property
    def cx(self) -> int:
        return self.x + BOX_W // 2


@dataclass(frozen=True)
class Edge:
    path: str  # SVG path data
    state: str
    title: str


def _edge_path(a: Box, b: Box) -> str:
    """Return a straight line between tiers, or a curve below the row between hosts of one tier."""
    if a.y == b.y:
        bottom = a.y + max(a.h, b.h)
        return f"M{a.cx},{a.y + a.h} Q{(a.cx + b.cx) // 2},{bottom + CURVE} {b.cx},{b.y + b.h}"
    if a.y < b.y:
        return f"M{a.cx},{a.y + a.h} L{b.cx},{b.y}"
    return f"M{a.cx},{a.y} L{b.cx},{b.y + b.h}"


def layout(config: Config, roles: list, links: list) -> dict:
    """Return the boxes, edges and size of the drawing for the template."""
    state = {
        (r.role, h): "unchecked" if probe is UNCHECKED else "ok" if probe.ok else "down"
        for r in roles
        for h, probe in r.per_host
    }
    placed = {h: config.roles_on(h) for h in config.hosts}
    rows: dict[int, list[str]] = {}
    for host, on in placed.items():
        if on:
            rows.setdefault(min(LAYER[r] for r in on), []).append(host)
    width = max(len(r) for r in rows.values()) * (BOX_W + GAP) - GAP + 2 * MARGIN
    boxes = {}
    for i, layer in enumerate(sorted(rows)):
        hosts = rows[layer]
        left = (width - (len(hosts) * (BOX_W + GAP) - GAP)) // 2
        for j, host in enumerate(hosts):
            y = MARGIN + i * ROW_H
            lines = [
                (r, state.get((r, host), "fallback"), y + 54 + k * LINE_H) for k, r in enumerate(placed[host])
            ]
            boxes[host] = Box(
                host, config.hosts[host].address, left + j * (BOX_W + GAP), y, 44 + LINE_H * len(lines), lines
            )
    link_state = {(x.source, x.target): x.state for x in links}
    edges, seen = [], set()
    for source, target, purpose in LINKS:
        for s in config.hosts_of(source):
            for t in config.hosts_of(target):
                if s.name == t.name or (s.name, t.name) in seen:
                    continue
                seen.add((s.name, t.name))
                edges.append(
                    Edge(
                        _edge_path(boxes[s.name], boxes[t.name]),
                        link_state.get((source, target), "unused"),
                        f"{source} on {s.name} → {target} on {t.name}: {purpose}",
                    )
                )
    height = MARGIN * 2 + (len(rows) - 1) * ROW_H + max((b.h for b in boxes.values()), default=0) + CURVE
    return {
        "boxes": list(boxes.values()),
        "edges": edges,
        "width": width,
        "height": height,
        "box_w": BOX_W,
        "line_h": LINE_H,
    }
