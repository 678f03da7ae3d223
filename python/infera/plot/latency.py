"""Latency against throughput: p50 and p99 TTFT and TPOT of every system as its load rises."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import polars as pl

from infera.plot._common import (PlotError, altair, default_by, empty_check, frame_of, need, ok_rows, plain,
                                 with_series)

if TYPE_CHECKING:
    from infera.results import Results

#: Throughput columns of a summary or sweep frame, with their axis titles.
THROUGHPUT = {
    "throughput_rps": "throughput (requests/s)",
    "output_tokens_per_s": "output throughput (tokens/s)",
    "tokens_per_s": "throughput, prompt and output (tokens/s)",
    "throughput_rps_per_chip": "throughput per chip (requests/s)",
}
METRICS = ("ttft", "tpot")
QUANTILES = ("p50", "p99")


def latency(source: "pl.DataFrame | Results", *, x: str = "throughput_rps", by: Sequence[str] | None = None,
            quantiles: Sequence[str] = QUANTILES, width: int = 320, height: int = 260) -> Any:
    """p50 and p99 time to first token and time per output token against throughput, one line per system.

    ``source`` is a sweep frame (:func:`infera.sweep`), a summary frame or a :class:`~infera.Results`
    (its ``summary``). Each row is one point of a line; the points of a line are joined in sweep order
    (the ``point`` column) when there is one, else in order of throughput, so a curve that bends back past
    saturation is drawn as it happened. Rows of failed points (``error`` set) are left out.

    ``x`` is the throughput column (``throughput_rps``, ``output_tokens_per_s``, ``tokens_per_s`` or
    ``throughput_rps_per_chip``). ``by`` names the columns whose values make a line (default: ``system``,
    plus ``run`` and ``sweep`` when there are several); in a grid over rate and another axis, add that
    axis's column (``by=["system", "system.s.pool.gp.tp"]``). ``quantiles`` picks from ``p50``, ``p90``,
    ``p99``. Returns an Altair chart: TTFT and TPOT side by side, each with its own millisecond axis.
    """
    alt = altair()
    figure = "latency plot"
    frame = frame_of(source, "summary", figure)
    if x not in THROUGHPUT:
        raise PlotError(f"{figure}: x must be one of {', '.join(THROUGHPUT)}, not {x!r}")
    bad = [q for q in quantiles if q not in ("p50", "p90", "p99")]
    if bad or not quantiles:
        raise PlotError(f"{figure}: quantiles are p50, p90 or p99, not {bad or list(quantiles)}")
    columns = [f"{m}_{q}_s" for m in METRICS for q in quantiles]
    need(frame, [x, *columns], figure)
    order = "point" if "point" in frame.columns else x
    frame = with_series(plain(ok_rows(frame, [x])), by, figure)
    index = ["series", x] + ([order] if order != x else [])
    long = (frame.select(*index, *columns)
            .unpivot(index=index, on=columns,
                     variable_name="column", value_name="seconds")
            .drop_nulls("seconds")
            .with_columns(metric=pl.col("column").str.extract(r"^(\w+?)_").str.to_uppercase(),
                          quantile=pl.col("column").str.extract(r"_(p\d+)_s$"),
                          ms=pl.col("seconds") * 1e3)
            .drop("column", "seconds")
            .sort("series", order))
    empty_check(long, figure, "no row has both a throughput and latency figures")
    metric_order = [m.upper() for m in METRICS]
    chart = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X(f"{x}:Q", title=THROUGHPUT[x]),
        y=alt.Y("ms:Q", title="latency (ms)", scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", title=", ".join(_by_title(frame, by))),
        strokeDash=alt.StrokeDash("quantile:N", title="quantile", sort=list(quantiles),
                                   legend=alt.Legend(symbolType="stroke", symbolStrokeColor="gray")),
        order=alt.Order(f"{order}:Q"),
        tooltip=["series:N", "metric:N", "quantile:N", alt.Tooltip(f"{x}:Q", format=".3~g"),
                 alt.Tooltip("ms:Q", title="latency (ms)", format=".4~g")],
    ).properties(width=width, height=height)
    return chart.facet(column=alt.Column("metric:N", title=None, sort=metric_order)).resolve_scale(
        y="independent").properties(title="Latency against throughput")


def _by_title(frame: pl.DataFrame, by: Sequence[str] | None) -> list[str]:
    return list(by) if by is not None else default_by(frame) or ["series"]
