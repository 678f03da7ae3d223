"""Errors of the simulated rows, the page that shows them, and the predicted-vs-measured figures."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from serving_run import METRICS, Outcome

#: Metrics each set measured, in the order the page shows them.
SET_METRICS = {"aiconfigurator": ("ttft_mean", "tpot_mean"),
               "inferencex": ("ttft_mean", "tpot_mean", "ttft_median", "tpot_median", "ttft_p99", "tpot_p99")}
LABELS = {"ttft_mean": "mean TTFT", "tpot_mean": "mean TPOT", "ttft_median": "median TTFT",
          "tpot_median": "median TPOT", "ttft_p99": "p99 TTFT", "tpot_p99": "p99 TPOT"}
BEGIN, END = "<!-- serving:begin (validation/serving.py writes this part) -->", "<!-- serving:end -->"


def error(o: Outcome, metric: str) -> float | None:
    """(infera − measured) / measured, or None where the row was not simulated or did not measure it."""
    if o.predicted is None or metric not in o.row.measured or o.row.measured[metric] <= 0:
        return None
    return (o.predicted[metric] - o.row.measured[metric]) / o.row.measured[metric]


def errors(outcomes: list[Outcome], metric: str) -> list[float]:
    return [e for o in outcomes if (e := error(o, metric)) is not None]


def median_abs(es: list[float]) -> float:
    return statistics.median(abs(e) for e in es) if es else float("nan")


def p90_abs(es: list[float]) -> float:
    return float(np.percentile([abs(e) for e in es], 90)) if es else float("nan")


def summary(outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    """Median |error| (and p90) per set and both together, for every metric a set measured: the figures the
    fidelity test bounds."""
    out: dict[str, dict[str, float]] = {}
    for name, sel in (("all", outcomes), *((s, [o for o in outcomes if o.row.set == s]) for s in SET_METRICS)):
        metrics = SET_METRICS["inferencex"] if name == "inferencex" else ("ttft_mean", "tpot_mean")
        out[name] = {"rows": float(sum(o.predicted is not None for o in sel))}
        for m in metrics:
            es = errors(sel, m)
            out[name][m] = median_abs(es)
            out[name][m + "_p90"] = p90_abs(es)
            out[name][m + "_signed"] = statistics.median(es) if es else float("nan")
    return out


def group_medians(outcomes: list[Outcome]) -> dict[tuple, dict[str, float]]:
    """Per group (model, chip, backend, precision, mode): rows and the median signed and absolute errors of
    mean TTFT and mean TPOT."""
    by = defaultdict(list)
    for o in outcomes:
        if o.predicted is not None:
            by[o.row.group].append(o)
    out = {}
    for g, sel in sorted(by.items()):
        d = {"rows": float(len(sel))}
        for m in ("ttft_mean", "tpot_mean"):
            es = errors(sel, m)
            d[m + "_signed"], d[m] = statistics.median(es), median_abs(es)
        out[g] = d
    return out


def _pct(x: float) -> str:
    return "—" if x != x else f"{x * 100:+.1f}%".replace("+-", "-")


def _abs(x: float) -> str:
    return "—" if x != x else f"{x * 100:.1f}%"


def markdown(outcomes: list[Outcome], figures: list[str]) -> str:
    s = summary(outcomes)
    simulated = [o for o in outcomes if o.predicted is not None]
    lines = [BEGIN, "", "## Summary", "",
             "Median and 90th percentile of |error|, error = (infera − measured) / measured, over the simulated "
             "rows; the signed median says which way infera leans (+: predicts slower).", "",
             "| set | rows simulated | mean TTFT: median \\|err\\| | p90 | signed | mean TPOT: median \\|err\\| "
             "| p90 | signed |", "|---|---|---|---|---|---|---|---|"]
    for name in ("all", *SET_METRICS):
        d = s[name]
        lines.append(f"| {name} | {int(d['rows'])} | {_abs(d['ttft_mean'])} | {_abs(d['ttft_mean_p90'])} | "
                     f"{_pct(d['ttft_mean_signed'])} | {_abs(d['tpot_mean'])} | {_abs(d['tpot_mean_p90'])} | "
                     f"{_pct(d['tpot_mean_signed'])} |")
    d = s["inferencex"]
    lines += ["", "InferenceX also reports medians and 99th percentiles over requests:", "",
              "| metric | median \\|err\\| | p90 | signed |", "|---|---|---|---|"]
    for m in SET_METRICS["inferencex"][2:]:
        lines.append(f"| {LABELS[m]} | {_abs(d[m])} | {_abs(d[m + '_p90'])} | {_pct(d[m + '_signed'])} |")

    by_backend = defaultdict(list)
    for o in simulated:
        by_backend[o.row.backend].append(o)
    lines += ["", "### By backend", "", "| backend | rows | mean TTFT: median \\|err\\| | signed | mean TPOT: "
              "median \\|err\\| | signed |", "|---|---|---|---|---|---|"]
    for b, sel in sorted(by_backend.items()):
        t, p = errors(sel, "ttft_mean"), errors(sel, "tpot_mean")
        lines.append(f"| {b} | {len(sel)} | {_abs(median_abs(t))} | {_pct(statistics.median(t))} | "
                     f"{_abs(median_abs(p))} | {_pct(statistics.median(p))} |")

    lines += ["", "### By group", "", "model × chip × backend × precision × mode; median of the group's errors.",
              "", "| model | chip | backend | precision | mode | rows | mean TTFT signed | \\|err\\| | "
              "mean TPOT signed | \\|err\\| |", "|---|---|---|---|---|---|---|---|---|---|"]
    for g, d in group_medians(outcomes).items():
        lines.append("| " + " | ".join(g) + f" | {int(d['rows'])} | {_pct(d['ttft_mean_signed'])} | "
                     f"{_abs(d['ttft_mean'])} | {_pct(d['tpot_mean_signed'])} | {_abs(d['tpot_mean'])} |")

    lines += ["", "### Predicted against measured", ""]
    lines += [f"![{f}](figures/{f})" for f in figures]

    reasons = Counter((o.row.set, o.row.reason) for o in outcomes if o.predicted is None)
    total = Counter(o.row.set for o in outcomes)
    per_set = ", ".join(f"{s}: {sum(v for (k, _), v in reasons.items() if k == s)} of {total[s]}"
                        for s in sorted(total))
    lines += ["", "### Rows not simulated, by reason", "",
              f"{sum(reasons.values())} of {len(outcomes)} rows ({per_set}).",
              "", "| reason | aiconfigurator | inferencex | all |", "|---|---|---|---|"]
    for reason in sorted({r for _, r in reasons},
                         key=lambda r: (-sum(v for (_, k), v in reasons.items() if k == r), r)):
        a, x = reasons[("aiconfigurator", reason)], reasons[("inferencex", reason)]
        lines.append(f"| {reason} | {a} | {x} | {a + x} |")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def write_page(page: Path, body: str) -> None:
    """Replace the generated part of ``page`` (between the markers) with ``body``; the prose around it stays."""
    text = page.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    page.write_text(head + body.rstrip("\n") + tail, encoding="utf-8")


def figures(outcomes: list[Outcome], folder: Path) -> list[str]:
    """One log-log predicted-vs-measured scatter per metric, coloured by backend, with the y = x line, as
    SVG. Altair and vl-convert-python come with the ``plot`` extra."""
    import altair as alt
    import vl_convert as vlc

    names = []
    for m in ("ttft_mean", "tpot_mean", "ttft_p99", "tpot_p99"):
        data = [{"measured_ms": o.row.measured[m] * 1e3, "infera_ms": o.predicted[m] * 1e3,
                 "backend": o.row.backend, "set": o.row.set}
                for o in outcomes if o.predicted is not None and m in o.row.measured and o.row.measured[m] > 0]
        lo = min(min(d["measured_ms"], d["infera_ms"]) for d in data)
        hi = max(max(d["measured_ms"], d["infera_ms"]) for d in data)
        scale = alt.Scale(type="log", domain=[lo, hi])
        points = alt.Chart(alt.Data(values=data)).mark_point(size=18, opacity=0.6, filled=True).encode(
            x=alt.X("measured_ms:Q", scale=scale, title=f"measured {LABELS[m]} (ms)"),
            y=alt.Y("infera_ms:Q", scale=scale, title=f"infera {LABELS[m]} (ms)"),
            color=alt.Color("backend:N", title="backend"), shape=alt.Shape("set:N", title="set"))
        diag = alt.Chart(alt.Data(values=[{"v": lo}, {"v": hi}])).mark_line(color="black", strokeDash=[4, 4]) \
            .encode(x=alt.X("v:Q", scale=scale), y=alt.Y("v:Q", scale=scale))
        chart = (diag + points).properties(width=420, height=420, title=f"{LABELS[m]}: infera vs measured")
        name = f"serving_{m}.svg"
        (folder / name).write_text(vlc.vegalite_to_svg(chart.to_dict()), encoding="utf-8")
        names.append(name)
    return names


def write_rows(outcomes: list[Outcome], path: Path) -> None:
    """Every simulated row, measured beside predicted (seconds), as CSV: the per-row view behind the tables."""
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["set", "id", "model", "chip", "backend", "precision", "mode", "isl", "osl", "users", "workers",
                    *(f"{m}_{k}" for m in METRICS for k in ("measured", "predicted"))])
        for o in outcomes:
            if o.predicted is None or o.row.deployment is None:
                continue
            r, d = o.row, o.row.deployment
            workers = sum(p.workers for p in d.pools if p.role != "prefill")
            w.writerow([r.set, r.id, r.model, r.chip, r.backend, r.precision, r.mode, d.isl, d.osl, d.users, workers,
                        *(v for m in METRICS for v in (r.measured.get(m, ""), o.predicted.get(m, "")))])
