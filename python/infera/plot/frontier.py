"""Throughput per chip against interactivity (output tokens/s per user), with the Pareto frontier marked: the
field's standard picture of what a fleet of chips trades between serving many users and serving each fast
(as in SemiAnalysis' InferenceMAX charts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import polars as pl

from infera.plot._common import altair, default_by, empty_check, frame_of, need, ok_rows, plain, with_series

if TYPE_CHECKING:
    from infera.results import Results


def pareto_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which points no other point beats on both ``x`` and ``y`` (higher is better on each): a point is off
    the frontier when another has ``x`` and ``y`` at least as high and one of them higher. Equal points are
    all on it. O(n log n): scan from the highest ``x`` down, keeping the best ``y`` seen at strictly higher
    ``x``."""
    order = np.lexsort((-y, -x))
    keep = np.zeros(len(x), dtype=bool)
    best = -np.inf
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and x[order[j]] == x[order[i]]:
            j += 1
        top = y[order[i]]  # the highest y among the points at this x
        if top > best:
            for k in order[i:j]:
                keep[k] = y[k] == top
            best = top
        i = j
    return keep


def interactivity(frame: pl.DataFrame) -> pl.DataFrame:
    """Adds ``tokens_per_s_per_user`` (1 / median TPOT: the decode speed the median request saw) and
    ``output_tokens_per_s_per_chip``, and whether each row is on the Pareto frontier (``frontier``)."""
    figure = "frontier plot"
    need(frame, ["tpot_p50_s", "output_tokens_per_s", "chips"], figure)
    frame = ok_rows(frame, ["tpot_p50_s", "output_tokens_per_s", "chips"]).filter(
        (pl.col("tpot_p50_s") > 0) & (pl.col("chips") > 0))
    frame = frame.with_columns(tokens_per_s_per_user=1.0 / pl.col("tpot_p50_s"),
                               output_tokens_per_s_per_chip=pl.col("output_tokens_per_s") / pl.col("chips"))
    mask = pareto_mask(frame["tokens_per_s_per_user"].to_numpy(), frame["output_tokens_per_s_per_chip"].to_numpy())
    return frame.with_columns(frontier=pl.Series(mask, dtype=pl.Boolean))


def frontier(source: "pl.DataFrame | Results", *, by: Sequence[str] | None = None, width: int = 480,
             height: int = 340) -> Any:
    """Output tokens/s per chip against output tokens/s per user, every configuration a point, the Pareto
    frontier drawn as a line through the configurations no other beats on both.

    ``source`` is a sweep frame, a summary frame or a :class:`~infera.Results`. Interactivity is
    ``1 / tpot_p50_s`` (what a median request's user sees while it decodes); throughput per chip is
    ``output_tokens_per_s / chips``. The frontier is taken over every row together (all systems and sweep
    points), since the question is which design is best at each interactivity. Points are coloured by
    ``by`` (default: ``system``, plus ``run`` and ``sweep`` when there are several); the frontier's points
    are filled and larger. Failed sweep points are left out.
    """
    alt = altair()
    figure = "frontier plot"
    frame = frame_of(source, "summary", figure)
    data = with_series(plain(interactivity(frame)), by, figure)
    empty_check(data, figure, "no row has a median TPOT, output throughput and chip count")
    keys = [c for c in ("point", "sweep", "run", "system") if c in data.columns]
    axes = [c for c in data.columns if "." in c]
    data = data.select("series", *keys, *axes, "tokens_per_s_per_user", "output_tokens_per_s_per_chip",
                       "frontier", "chips")
    x = alt.X("tokens_per_s_per_user:Q", title="interactivity (output tokens/s per user)")
    y = alt.Y("output_tokens_per_s_per_chip:Q", title="throughput (output tokens/s per chip)")
    tooltip = [f"{c}:N" for c in keys if c != "point"] + [f"{alt_field(c)}:N" for c in axes] + [
        alt.Tooltip("tokens_per_s_per_user:Q", title="tokens/s per user", format=".4~g"),
        alt.Tooltip("output_tokens_per_s_per_chip:Q", title="tokens/s per chip", format=".4~g"), "frontier:N"]
    base = alt.Chart(data)
    points = base.mark_point(filled=True).encode(
        x=x, y=y, color=alt.Color("series:N", title=", ".join(by if by is not None else default_by(frame))),
        size=alt.condition("datum.frontier", alt.value(90), alt.value(30)),
        opacity=alt.condition("datum.frontier", alt.value(1.0), alt.value(0.45)), tooltip=tooltip)
    line = base.transform_filter("datum.frontier").mark_line(color="black", strokeDash=[5, 3]).encode(
        x=x, y=y, order=alt.Order("tokens_per_s_per_user:Q"))
    return (line + points).properties(width=width, height=height,
                                      title="Throughput per chip against interactivity (dashed: Pareto frontier)")


def alt_field(column: str) -> str:
    """A column name as a Vega-Lite field: dots in a sweep path would otherwise mean nesting."""
    return column.replace(".", "\\.")
