"""A self-contained HTML report comparing runs: a grouped bar chart of accuracy per dataset (inline
SVG, one bar per run and dataset, as in the MedAgentGym paper's comparison figure) and each run's
summary tables. No external CSS, scripts, fonts or images; every text is escaped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from math import radians, sin
from pathlib import Path
from typing import Any

from evaluation.summary import Stats, Summary, summarize, table
from trajectory.rundir import RunDir

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
BAR, BAR_GAP, GROUP_GAP, PLOT_H, MIN_PLOT_W = 28, 4, 36, 320, 520
TILT = 35  # degrees, for dataset labels wider than their group
CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; padding-left: .5rem; border-left: 6px solid; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .5rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }
th { background: #f4f4f4; } .key { text-align: left; } tr.overall td { font-weight: 600; background: #fafafa; }
details { margin: .5rem 0; } summary { cursor: pointer; color: #333; }
pre { background: #f6f6f6; padding: .5rem; overflow-x: auto; font-size: 12px; }
.meta { color: #555; }
"""


@dataclass(frozen=True)
class Run:
    path: Path
    label: str
    color: str
    summary: Summary
    metadata: dict[str, Any]


def write_report(run_dirs: list[Path], out: Path, title: str = "medgym evaluation report") -> Path:
    """Write one self-contained HTML file comparing `run_dirs`; return its path."""
    runs = load_runs(run_dirs)
    body = [f"<h1>{escape(title)}</h1>", _run_list(runs), "<h2 style=\"border-color:#999\">Accuracy per dataset</h2>",
            f'<div class="scroll">{bar_chart(runs)}</div>', *(_run_section(run) for run in runs)]
    head = ('<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style>")
    page = f'<!doctype html>\n<html lang="en"><head>{head}</head>\n<body>\n' + "\n".join(body) + "\n</body></html>\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def load_runs(run_dirs: list[Path]) -> list[Run]:
    loaded = [(path, RunDir(path)) for path in run_dirs]
    labels = [run_label(run.metadata(), path.name) for path, run in loaded]
    labels = [f"{label} ({path.name})" if labels.count(label) > 1 else label
              for label, (path, _) in zip(labels, loaded, strict=True)]
    return [Run(path, label, PALETTE[i % len(PALETTE)], summarize(run.rows()), run.metadata())
            for i, ((path, run), label) in enumerate(zip(loaded, labels, strict=True))]


def run_label(metadata: dict[str, Any], folder: str) -> str:
    """`agent (model)` from metadata.json (`agent` a kind or `{"kind"/"name", "model"}`), else the folder name."""
    agent = metadata.get("agent")
    details = agent if isinstance(agent, dict) else {}
    kind = (details.get("kind") or details.get("name")) if details else agent
    model = metadata.get("model") or details.get("model")
    if not kind:
        return folder
    return f"{kind} ({model})" if model else str(kind)


# -- chart ----------------------------------------------------------------------------------------
def bar_chart(runs: list[Run]) -> str:
    """Inline SVG: accuracy (0–100%) per dataset, one bar per run, with value labels and a legend."""
    datasets = sorted({s.dataset for run in runs for s in run.summary.datasets})
    group = len(runs) * BAR + max(len(runs) - 1, 0) * BAR_GAP
    slot = max(group + GROUP_GAP, MIN_PLOT_W / max(len(datasets), 1))
    widest = max((_width(d, 12) for d in datasets), default=0.0)
    tilted = widest > slot - 8
    left = max(60.0, widest * 0.82 - slot / 2 + 12) if tilted else 60.0
    plot_w = slot * max(len(datasets), 1)
    legend, legend_h = _legend(runs, left, left + plot_w)
    top = 12 + legend_h + 18
    bottom = top + PLOT_H
    height = bottom + (widest * sin(radians(TILT)) + 24 if tilted else 30)
    width = left + plot_w + 16
    parts = [f'<svg viewBox="0 0 {width:.0f} {height:.0f}" style="width:100%;max-width:{width:.0f}px;height:auto" '
             'font-family="system-ui, sans-serif" role="img" aria-label="Accuracy per dataset">',
             legend, _axes(left, plot_w, top)]
    for g, dataset in enumerate(datasets):
        x0 = left + g * slot + (slot - group) / 2
        parts += [_bar(run, i, dataset, x0 + i * (BAR + BAR_GAP), top) for i, run in enumerate(runs)]
        parts.append(_dataset_label(dataset, left + (g + 0.5) * slot, bottom, tilted))
    return "\n".join([*parts, "</svg>"])


def _axes(left: float, plot_w: float, top: float) -> str:
    lines = []
    for tick in range(0, 101, 20):
        y = top + PLOT_H * (1 - tick / 100)
        color = "#333" if tick == 0 else "#e3e3e3"
        lines.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" stroke="{color}"/>')
        lines.append(f'<text x="{left - 8:.1f}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#555">'
                     f"{tick}%</text>")
    x, middle = left - 46, top + PLOT_H / 2  # beside the tick labels
    lines.append(f'<text x="{x:.1f}" y="{middle:.1f}" font-size="12" text-anchor="middle" fill="#333" '
                 f'transform="rotate(-90 {x:.1f} {middle:.1f})">Accuracy</text>')
    return "\n".join(lines)


def _bar(run: Run, index: int, dataset: str, x: float, top: float) -> str:
    stats = _stats(run.summary, dataset)
    middle = x + BAR / 2
    if stats is None:  # this run has no episode of the dataset
        return (f'<text x="{middle:.1f}" y="{top + PLOT_H - 4:.1f}" font-size="9" text-anchor="middle" '
                f'fill="#999">n/a</text>')
    height = PLOT_H * stats.accuracy
    y = top + PLOT_H - height
    tip = f"{run.label} · {dataset}: {100 * stats.accuracy:.1f}% of {stats.episodes} episodes"
    value = f"{100 * stats.accuracy:.1f}".removesuffix(".0")
    return (f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{BAR}" height="{height:.1f}" fill="{run.color}">'
            f"<title>{escape(tip)}</title></rect>\n"
            f'<text x="{middle:.1f}" y="{y - 4:.1f}" font-size="10" text-anchor="middle" fill="#222">{value}</text>')


def _dataset_label(dataset: str, x: float, bottom: float, tilted: bool) -> str:
    if not tilted:
        return f'<text x="{x:.1f}" y="{bottom + 20:.1f}" font-size="12" text-anchor="middle">{escape(dataset)}</text>'
    y = bottom + 16
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="12" text-anchor="end" '
            f'transform="rotate(-{TILT} {x:.1f} {y:.1f})">{escape(dataset)}</text>')


def _legend(runs: list[Run], left: float, right: float) -> tuple[str, float]:
    items, x, y = [], left, 12.0
    for run in runs:
        width = 18 + _width(run.label, 12)
        if x > left and x + width > right:
            x, y = left, y + 20
        items.append(f'<rect class="swatch" x="{x:.1f}" y="{y:.1f}" width="12" height="12" fill="{run.color}"/>'
                     f'<text x="{x + 18:.1f}" y="{y + 10.5:.1f}" font-size="12">{escape(run.label)}</text>')
        x += width + 24
    return "\n".join(items), y - 12 + 14


def _width(text: str, size: float) -> float:
    """A rough rendered width of `text` (no font metrics without a browser)."""
    return len(text) * size * 0.62


def _stats(summary: Summary, dataset: str) -> Stats | None:
    return next((s for s in summary.datasets if s.dataset == dataset), None)


# -- tables ---------------------------------------------------------------------------------------
def _run_list(runs: list[Run]) -> str:
    items = "".join(f"<li>{escape(run.label)}: <code>{escape(str(run.path))}</code></li>" for run in runs)
    return f'<ul class="meta">{items}</ul>'


def _run_section(run: Run) -> str:
    summary = run.summary
    if summary.overall.episodes == 0:
        body = "<p>No finished episodes.</p>"
    else:
        body = (_table(*table(summary, "dataset"), keys=1) + "<details><summary>By category</summary>"
                + _table(*table(summary, "category"), keys=2) + "</details>")
    metadata = escape(json.dumps(run.metadata, indent=2, sort_keys=True, default=str))
    return (f'<section><h2 style="border-color:{run.color}">{escape(run.label)}</h2>'
            f'<p class="meta">{escape(run.path.name)} · {summary.overall.episodes} episodes, '
            f"{summary.overall.tasks} tasks, {summary.k} sample(s) per task</p>{body}"
            f"<details><summary>Run metadata</summary><pre>{metadata}</pre></details></section>")


def _table(header: list[str], rows: list[list[str]], keys: int) -> str:
    head = "".join(f'<th class="key">{escape(c)}</th>' if i < keys else f"<th>{escape(c)}</th>"
                   for i, c in enumerate(header))
    lines = []
    for number, row in enumerate(rows):
        css = ' class="overall"' if number == len(rows) - 1 else ""
        cells = "".join(f'<td class="key">{escape(c)}</td>' if i < keys else f"<td>{escape(c)}</td>"
                        for i, c in enumerate(row))
        lines.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"
