"""The benchmark run's report: figures against the BRIEF's targets, as markdown, a JSON line and PNG charts.

Pure logic (no stack): bench.run measures, this module judges and writes. A Figure is one measured number
with what it was measured against in the same run; its target is either a fixed bound or a ratio of the
figure it was measured against.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

OPS = {"≥": operator.ge, "<": operator.lt, "≤": operator.le}


@dataclass
class Figure:
    """One measured number of the run.

    key: the BRIEF item and a short name (P1.folder_rps); what: what was measured; value and unit: the
    figure; against: what it was measured against in the same run (a label, and base: its value, so a
    ratio target reads value / base); op and target: the bound (value OP target, or value / base OP target
    when base is set); chart: which chart draws it (pages_rps, pages_p99, transfers), if any.
    """

    key: str
    what: str
    value: float
    unit: str = ""
    against: str = ""
    base: float | None = None
    op: str = ""
    target: float | None = None
    chart: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def item(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def ratio(self) -> float | None:
        return self.value / self.base if self.base else None

    @property
    def judged(self) -> float:
        """The number the target bounds: the ratio when the target is relative, else the value."""
        return self.ratio if self.base is not None and self.ratio is not None else self.value

    def passed(self) -> bool | None:
        """True or False against the target; None when the figure has none."""
        if self.target is None or not self.op:
            return None
        return bool(OPS[self.op](self.judged, self.target))

    def target_text(self) -> str:
        if self.target is None:
            return "—"
        if self.base is not None:
            return f"{self.op} {self.target:g}× {self.against_short()}"
        return f"{self.op} {self.target:g} {self.unit}".rstrip()

    def against_short(self) -> str:
        return self.against.split(" (", 1)[0]

    def value_text(self) -> str:
        text = fmt(self.value, self.unit)
        if self.base is not None and self.ratio is not None:
            text += f" = **{self.ratio:.2f}×** {fmt(self.base, self.unit)}"
        return text


def fmt(value: float, unit: str) -> str:
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:.{digits}f} {unit}".rstrip()


def verdict(fig: Figure) -> str:
    return {True: "met", False: "**not met**", None: ""}[fig.passed()]


def table_rows(figures: Iterable[Figure]) -> list[str]:
    """Return the markdown rows (header included) of FIGURES: item, what, measured, what it was measured
    against, target, verdict."""
    rows = [
        "| item | what | measured | measured against (same run) | target | |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        what = f.what + (f" ({f.note})" if f.note else "")
        against = f.against or "—"
        rows.append(
            f"| {f.item} | {what} | {f.value_text()} | {against} | {f.target_text()} | {verdict(f)} |"
        )
    return rows


def markdown(figures: list[Figure], meta: dict, sections: dict[str, list[str]] | None = None) -> str:
    """Return bench/reports/latest.md: the table of every figure, then SECTIONS (title: lines)."""
    judged = [f for f in figures if f.passed() is not None]
    met = sum(1 for f in judged if f.passed())
    lines = [
        "# Benchmarks (`make bench`)",
        "",
        f"Run {meta.get('when', '')} on {meta.get('host', '')} ({meta.get('cores', '?')} cores, client and "
        f"servers sharing them; load average {meta.get('load_start', 0):.1f} at the start, "
        f"{meta.get('load_end', 0):.1f} at the end), commit {meta.get('commit', '?')}, "
        f"{meta.get('seconds', 0):.0f} s in all. {met} of {len(judged)} targets met.",
        "",
        *table_rows(figures),
        "",
    ]
    for chart in meta.get("charts", []):
        lines += [f"![{chart}]({chart})", ""]
    for title, body in (sections or {}).items():
        lines += [f"## {title}", "", *body, ""]
    return "\n".join(lines)


def history_line(figures: list[Figure], meta: dict) -> str:
    """Return one JSON line for bench/reports/history.jsonl: the run's meta and each figure by key."""
    out = {k: v for k, v in meta.items() if k != "charts"}
    out["figures"] = {
        f.key: {
            "value": round(f.value, 3),
            "unit": f.unit,
            **({"base": round(f.base, 3), "ratio": round(f.ratio or 0, 3)} if f.base is not None else {}),
            **({"target": f"{f.op} {f.target:g}", "passed": f.passed()} if f.target is not None else {}),
        }
        for f in figures
    }
    return json.dumps(out, ensure_ascii=False, sort_keys=True)


def charts(figures: list[Figure], out_dir: Path) -> list[Path]:
    """Draw the pages chart (req/s and p99 per page) and the transfers chart (MiB/s per transfer), each
    with its target drawn; return the PNG files written."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    rps = [f for f in figures if f.chart == "pages_rps"]
    p99 = [f for f in figures if f.chart == "pages_p99"]
    if rps or p99:
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        _bars(left, rps, "req/s (wrk, 32 connections)", "requests per second")
        _bars(right, p99, "p99 latency", "ms")
        fig.suptitle("P1 pages: throughput and p99, target drawn in red")
        fig.tight_layout()
        path = out_dir / "pages.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    transfers = [f for f in figures if f.chart == "transfers"]
    if transfers:
        fig, ax = plt.subplots(figsize=(11, 4.2))
        _bars(ax, transfers, "MiB/s per transfer (bars) and the target (red line)", "MiB/s")
        fig.tight_layout()
        path = out_dir / "transfers.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def _bars(ax, figs: list[Figure], title: str, ylabel: str) -> None:
    labels = [f.extra.get("label", f.what) for f in figs]
    colors = []
    for f in figs:
        ok = f.passed()
        colors.append("#999999" if ok is None else "#3a7d44" if ok else "#c8553d")
    xs = range(len(figs))
    ax.bar(xs, [f.value for f in figs], color=colors)
    for x, f in zip(xs, figs, strict=True):
        if f.target is None:
            continue
        # The bound in the figure's own unit: a ratio target is drawn at target x base.
        y = f.target * f.base if f.base is not None else f.target
        ax.hlines(y, x - 0.45, x + 0.45, colors="red", linewidth=2)
        bound = f"{f.target:g}×" if f.base is not None else f"{f.target:g} {f.unit}"
        ax.annotate(f"target {f.op} {bound}", (x, y), fontsize=7, ha="center", va="bottom", color="red")
    for x, f in zip(xs, figs, strict=True):
        ax.annotate(f"{f.value:.0f}", (x, f.value), fontsize=7, ha="center", va="top", color="white")
    ax.set_xticks(list(xs), labels, rotation=20, ha="right", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)


def figure_dicts(figures: list[Figure]) -> list[dict]:
    return [asdict(f) for f in figures]
