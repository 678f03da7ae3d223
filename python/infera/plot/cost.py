"""Goodput against cost: how many requests per second meet the SLO for what the chips cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import polars as pl

from infera.plot._common import (PlotError, altair, default_by, empty_check, frame_of, need, ok_rows, plain,
                                 with_series)
from infera.plot.frontier import alt_field

if TYPE_CHECKING:
    from infera.results import Results

#: The cost axes: a fleet's rental rate, or what a million output tokens cost.
COSTS = {
    "per_hour": ("usd_per_hour", "cost ($/h)"),
    "per_million_tokens": ("usd_per_million_output_tokens", "cost ($ per million output tokens)"),
}


def goodput_cost(source: "pl.DataFrame | Results", *, cost: str = "per_hour", by: Sequence[str] | None = None,
                 per_chip: bool = False, width: int = 460, height: int = 320) -> Any:
    """Goodput (requests/s meeting the run's SLO) against cost, a point per row, coloured by system.

    ``cost="per_hour"`` puts the fleet's price per hour on x (``cost_usd / duration_s``, from the chips'
    ``price``); ``cost="per_million_tokens"`` puts ``usd_per_million_output_tokens``, which falls as a
    fleet is loaded. ``per_chip=True`` plots ``goodput_rps_per_chip`` instead of ``goodput_rps``.
    ``source`` is a sweep frame, a summary frame or a :class:`~infera.Results`; rows without a price
    (no chip sets ``price``) cannot be placed and are left out, and a frame with none is an error.
    """
    alt = altair()
    figure = "goodput-cost plot"
    frame = frame_of(source, "summary", figure)
    if cost not in COSTS:
        raise PlotError(f"{figure}: cost must be one of {', '.join(COSTS)}, not {cost!r}")
    column, title = COSTS[cost]
    y = "goodput_rps_per_chip" if per_chip else "goodput_rps"
    need(frame, [y, "cost_usd", "duration_s", "usd_per_million_output_tokens"], figure)
    frame = frame.with_columns(usd_per_hour=pl.col("cost_usd") / pl.col("duration_s") * 3600.0)
    data = with_series(plain(ok_rows(frame, [y, column]).filter(pl.col("cost_usd") > 0)), by, figure)
    empty_check(data, figure, "no row has a cost: set a chip's `price = … $/h`")
    keys = [c for c in ("sweep", "run", "system") if c in data.columns]
    axes = [c for c in data.columns if "." in c]
    data = data.select("series", *keys, *axes, y, column)
    return alt.Chart(data).mark_point(filled=True, size=60).encode(
        x=alt.X(f"{column}:Q", title=title, scale=alt.Scale(zero=False)),
        y=alt.Y(f"{y}:Q", title="goodput per chip (requests/s meeting the SLO)" if per_chip
                else "goodput (requests/s meeting the SLO)"),
        color=alt.Color("series:N", title=", ".join(by if by is not None else default_by(frame))),
        tooltip=[f"{c}:N" for c in keys] + [f"{alt_field(c)}:N" for c in axes] + [
            alt.Tooltip(f"{column}:Q", title=title, format=".4~g"), alt.Tooltip(f"{y}:Q", format=".4~g")],
    ).properties(width=width, height=height, title="Goodput against cost")
