"""The report's HTML: tables from frames, the figures as Vega-Lite specs drawn in the page by the inlined
Vega JavaScript, and the inputs. Every value is escaped; nothing refers to a network address."""

from __future__ import annotations

import functools
import html
import json
import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from infera._core import __version__
from infera.plot import Frames
from infera.plot._common import vl_convert
from infera.sweeps.table import HEADLINE

#: What each figure shows, under its heading (docs/plots.md has the definitions).
CAPTIONS = {
    "latency": "p50 and p99 time to first token and time per output token against throughput, a line per system.",
    "frontier": "Output tokens/s per chip against output tokens/s per user; the Pareto frontier is dashed.",
    "goodput_cost": "Goodput (requests/s meeting the SLO) against the fleet's cost per hour.",
    "utilisation": "Each pool's busy share and KV-cache use over the run.",
    "timeline": "The median request's queue, prefill, KV transfer and decode, a lane per system.",
}
TITLES = {"latency": "Latency against throughput", "frontier": "Throughput per chip against interactivity",
          "goodput_cost": "Goodput against cost", "utilisation": "Pool utilisation and KV use",
          "timeline": "A request's timeline"}

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px; padding: 0 16px 48px; color: #1b1b1b; }
h1 { margin: 24px 0 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #ddd; }
nav a { margin-right: 14px; } .meta { color: #555; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
figure { margin: 24px 0; } figcaption { color: #555; margin-bottom: 6px; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 12px; overflow-x: auto; }
"""

# Draws each figure once the libraries have loaded; "rendered" on a figure says it was drawn (or why not).
# The export menu (SVG, PNG) works offline; the links to the online Vega editor are left out.
_DRAW = """
(function () {
  const specs = JSON.parse(document.getElementById("infera-specs").textContent);
  const options = {renderer: "svg", actions: {export: true, source: false, compiled: false, editor: false}};
  for (const [kind, spec] of Object.entries(specs)) {
    const el = document.getElementById("chart-" + kind);
    vegaEmbed(el, spec, options)
      .then(function () { el.dataset.rendered = "true"; })
      .catch(function (err) { el.dataset.rendered = "error"; el.textContent = "not drawn: " + err; });
  }
})();
"""


@dataclass
class Page:
    """What goes on the page; ``frames.summary`` is a sweep's frame when it has a ``point`` column."""

    frames: Frames
    pools: pl.DataFrame | None = None
    seeds: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"run": pl.String, "system": pl.String,
                                                                             "seed": pl.UInt64}))
    name: str | None = None
    text: str | None = None
    title: str | None = None


@functools.cache
def _bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (vl-convert bundles them, as ``plot.save`` does for a
    figure's page); built once per process, it takes seconds."""
    return vl_convert().javascript_bundle()


def render(page: Page) -> str:
    summary = page.frames.summary
    sweep = summary is not None and "point" in summary.columns
    kinds = page.frames.available()
    specs = {kind: page.frames.chart(kind).to_dict() for kind in kinds}
    title = page.title or (page.name.replace("\\", "/").rsplit("/", 1)[-1] if page.name else "infera report")
    sections: list[tuple[str, str, str]] = []
    if summary is not None and sweep:
        sections.append(("sweep", "Sweep", _sweep_tables(summary)))
    elif summary is not None:
        sections.append(("summary", "Summary", _scroll(_table(_by_metric(summary)))))
    if page.pools is not None and page.pools.height:
        sections.append(("pools", "Pools", _scroll(_table(page.pools))))
    if specs:
        sections.append(("figures", "Figures", "".join(_figure(k) for k in specs)))
    sections.append(("inputs", "Inputs", _inputs(page)))
    nav = "".join(f'<a href="#{key}">{head}</a>' for key, head, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{head}</h2>{content}</section>\n' for key, head, content in sections)
    what = f"{summary.height} rows of {summary['point'].n_unique()} sweep points" if sweep and summary is not None \
        else f"{summary.height if summary is not None else 0} run/system rows"
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<header><h1>{_e(title)}</h1><p class=\"meta\">infera {_e(__version__)} · {_e(what)}"
            f"{' · ' + _e(page.name) if page.name else ''}</p></header>\n<nav>{nav}</nav>\n{body}"
            f'<script type="application/json" id="infera-specs">{_json(specs)}</script>\n'
            f"<script>{_bundle()}</script>\n<script>{_DRAW}</script>\n</body>\n</html>\n")


def _sweep_tables(frame: pl.DataFrame) -> str:
    """The axes and headline metrics, and every column folded below them."""
    axes = [c for c in frame.columns if "." in c]
    keep = [c for c in ("sweep", "point", *axes, "run", "system", *HEADLINE, "error") if c in frame.columns]
    failed = frame.filter(pl.col("error").is_not_null()).height if "error" in frame.columns else 0
    note = f"<p>{failed} of {frame.height} rows did not compile or simulate (see their error).</p>" if failed else ""
    return (note + _scroll(_table(frame.select(keep)))
            + f"<details><summary>Every column ({len(frame.columns)})</summary>{_scroll(_table(frame))}</details>")


def _by_metric(summary: pl.DataFrame) -> pl.DataFrame:
    """One column per run and system, one row per metric (as the terminal prints it)."""
    labels = [f"{r}/{s}" for r, s in summary.select("run", "system").iter_rows()]
    metrics = [c for c in summary.columns if c not in ("run", "system")]
    columns: dict[str, list[str]] = {"metric": metrics}
    for label, row in zip(labels, summary.drop("run", "system").iter_rows()):
        columns[label] = [_cell(v) for v in row]
    return pl.DataFrame(columns)


def _figure(kind: str) -> str:
    return (f'<figure><h3>{_e(TITLES[kind])}</h3><figcaption>{_e(CAPTIONS[kind])}</figcaption>'
            f'<div class="chart" id="chart-{kind}" data-kind="{kind}"></div></figure>\n')


def _inputs(page: Page) -> str:
    rows = [("infera", __version__), ("source", page.name or "not given (pass source=)")]
    parts = ["<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"]
    if page.seeds.height:
        parts.append("<h3>Seeds</h3>" + _table(page.seeds))
    if page.text is not None:
        parts.append(f"<h3>Source</h3><pre>{_e(page.text)}</pre>")
    return "".join(parts)


def _table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(_cell(v))}</td>" for v in row) + "</tr>" for row in frame.iter_rows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _scroll(content: str) -> str:
    return f'<div class="scroll">{content}</div>'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _json(value: Any) -> str:
    """JSON that a browser's parser takes (a NaN or infinity is null) and that is safe inside a script
    element (no ``<`` can close it)."""
    return json.dumps(_finite(value), separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
