"""The benchmark report writer (bench/report.py): pure logic, no stack."""

from __future__ import annotations

import json

from bench.report import Figure, charts, history_line, markdown, table_rows

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def figures() -> list[Figure]:
    return [
        Figure("P1.livez_rps", "`/livez`", 1000, "req/s", chart="pages_rps", extra={"label": "/livez"}),
        Figure(
            "P1.folder_rps",
            "folder page",
            600,
            "req/s",
            against="`/livez` (same run)",
            base=1000,
            op="≥",
            target=0.5,
            chart="pages_rps",
        ),
        Figure("P1.folder_p99", "folder p99", 80, "ms", op="<", target=50, chart="pages_p99"),
        Figure(
            "P3.upload",
            "upload",
            70,
            "MiB/s",
            against="boto3 multipart",
            base=100,
            op="≥",
            target=0.8,
            chart="transfers",
        ),
        Figure("P3.boto3", "boto3", 100, "MiB/s", chart="transfers"),
        Figure("P6.after", "stack after", 900, "MiB", op="<", target=1430),
    ]


def test_relative_and_absolute_targets_are_judged():
    by_key = {f.key: f for f in figures()}
    assert by_key["P1.folder_rps"].passed() is True  # 0.6x >= 0.5x
    assert by_key["P1.folder_p99"].passed() is False  # 80 ms, not < 50 ms
    assert by_key["P3.upload"].passed() is False  # 0.7x, not >= 0.8x
    assert by_key["P6.after"].passed() is True
    assert by_key["P1.livez_rps"].passed() is None  # no target
    assert by_key["P3.upload"].ratio == 0.7


def test_table_rows_say_value_ratio_against_and_verdict():
    rows = table_rows(figures())
    assert rows[0].startswith("| item | what | measured | measured against")
    folder = next(r for r in rows if "folder page" in r)
    assert "600 req/s = **0.60×** 1000 req/s" in folder
    assert "`/livez` (same run)" in folder
    assert "≥ 0.5× `/livez`" in folder
    assert "| met |" in folder
    upload = next(r for r in rows if r.startswith("| P3 | upload"))
    assert "**not met**" in upload
    assert "≥ 0.8× boto3 multipart" in upload
    p99 = next(r for r in rows if "folder p99" in r)
    assert "< 50 ms" in p99
    assert "**not met**" in p99
    livez = next(r for r in rows if "`/livez` |" in r)
    assert livez.endswith("| — | — |  |")


def test_markdown_counts_targets_met_and_links_charts():
    text = markdown(figures(), {"when": "now", "charts": ["pages.png"]}, {"Split": ["a line"]})
    assert "2 of 4 targets met" in text
    assert "![pages.png](pages.png)" in text
    assert "## Split\n\na line" in text


def test_history_line_is_one_json_object_per_run():
    line = history_line(figures(), {"when": "now", "charts": ["x.png"], "seconds": 12.5})
    assert "\n" not in line
    data = json.loads(line)
    assert data["seconds"] == 12.5
    assert "charts" not in data
    assert data["figures"]["P3.upload"] == {
        "value": 70,
        "unit": "MiB/s",
        "base": 100,
        "ratio": 0.7,
        "target": "≥ 0.8",
        "passed": False,
    }


def test_charts_are_png_files(tmp_path):
    written = charts(figures(), tmp_path)
    assert sorted(p.name for p in written) == ["pages.png", "transfers.png"]
    for path in written:
        assert path.read_bytes()[:8] == PNG_MAGIC
        assert path.stat().st_size > 5000


def test_no_chart_without_figures_for_it(tmp_path):
    assert charts([Figure("P6.after", "stack", 1, "MiB")], tmp_path) == []
    assert list(tmp_path.iterdir()) == []
