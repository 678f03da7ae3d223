"""Per-pool utilisation and KV-cache use over time, from a run's per-step rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from infera.plot._common import PlotError, altair, empty_check, need, plain

if TYPE_CHECKING:
    from infera.results import Results

KEYS = ("run", "system", "pool")
STEP_COLUMNS = (*KEYS, "instance", "start_s", "duration_s", "kv_blocks_used")


def busy_before(starts: np.ndarray, durations: np.ndarray, t: np.ndarray) -> np.ndarray:
    """An instance's busy time before each ``t``: its steps (sorted by start, never overlapping) up to the
    one running at ``t``, that one only in part. Exact for any bin width, unlike counting step starts."""
    done = np.concatenate(([0.0], np.cumsum(durations)))
    k = np.searchsorted(starts, t, side="right") - 1
    inside = np.where(k >= 0, np.minimum(t - starts[np.maximum(k, 0)], durations[np.maximum(k, 0)]), 0.0)
    return done[np.maximum(k, 0)] * (k >= 0) + inside


def kv_at(starts: np.ndarray, used: np.ndarray, t: np.ndarray) -> np.ndarray:
    """KV blocks in use at each ``t``: as left by the last step started by then (none before the first)."""
    k = np.searchsorted(starts, t, side="right") - 1
    return np.where(k >= 0, used[np.maximum(k, 0)], 0).astype(float)


def pool_series(iterations: pl.DataFrame, instances: pl.DataFrame, bins: int) -> pl.DataFrame:
    """One row per (run, system, pool, time bin, measure): ``busy`` (share of the pool's instance-time spent
    in steps) and ``kv`` (blocks in use over the pool's KV capacity), in percent, at the bin's midpoint."""
    end = float((iterations["start_s"] + iterations["duration_s"]).max())
    edges = np.linspace(0.0, end, bins + 1)
    mid = (edges[:-1] + edges[1:]) / 2
    width = edges[1] - edges[0]
    rows: list[pl.DataFrame] = []
    capacity = instances.group_by(KEYS).agg(n=pl.len(), blocks=pl.col("kv_blocks").sum())
    steps = iterations.sort(*KEYS, "instance", "start_s")
    for key, pool in steps.group_by(KEYS, maintain_order=True):
        cap = capacity.filter(*(pl.col(k) == v for k, v in zip(KEYS, key)))
        n = int(cap["n"][0]) if cap.height else pool["instance"].n_unique()
        blocks = float(cap["blocks"][0]) if cap.height else 0.0
        busy = np.zeros(bins)
        kv = np.zeros(bins)
        for _, inst in pool.group_by("instance", maintain_order=True):
            s, d = inst["start_s"].to_numpy(), inst["duration_s"].to_numpy()
            b = busy_before(s, d, edges)
            busy += b[1:] - b[:-1]
            kv += kv_at(s, inst["kv_blocks_used"].to_numpy(), mid)
        base = {"run": str(key[0]), "system": str(key[1]), "pool": str(key[2])}
        rows.append(pl.DataFrame({**{k: [v] * bins for k, v in base.items()}, "time_s": mid,
                                  "measure": ["busy"] * bins, "percent": 100.0 * busy / (width * n)}))
        if blocks > 0:
            rows.append(pl.DataFrame({**{k: [v] * bins for k, v in base.items()}, "time_s": mid,
                                      "measure": ["KV cache in use"] * bins, "percent": 100.0 * kv / blocks}))
    return pl.concat(rows)


def utilisation(source: "pl.DataFrame | Results", instances: pl.DataFrame | None = None, *, bins: int = 100,
                run: str | None = None, system: str | None = None, width: int = 560, height: int = 180) -> Any:
    """Each pool's utilisation and KV-cache use over the run, one line per pool, in two panels.

    ``source`` is a :class:`~infera.Results` or its ``iterations`` frame; with a frame, pass the
    ``instances`` frame too (it gives each pool's instance count and KV capacity). The run's time is cut
    into ``bins`` equal bins; utilisation is the pool's instance-time inside steps in a bin over the bin's
    instance-time (idle instances count), and KV use is the blocks held at the bin's midpoint over the
    pool's capacity, both in percent. ``run`` and ``system`` keep only those rows; the lines are labelled
    ``system · pool`` (and run when there are several). Needs the per-step rows (not ``iterations=False``).
    """
    alt = altair()
    figure = "utilisation plot"
    if isinstance(source, pl.DataFrame):
        iterations = source
        if instances is None:
            raise PlotError(f"{figure}: pass the instances frame with the iterations frame "
                            "(it gives each pool's instance count and KV capacity), or pass the Results")
    else:
        iterations, instances = source.iterations, instances if instances is not None else source.instances
    if not isinstance(bins, int) or bins < 1:
        raise PlotError(f"{figure}: bins must be a positive whole number, not {bins!r}")
    need(iterations, STEP_COLUMNS, figure)
    need(instances, (*KEYS, "instance", "kv_blocks"), figure)
    iterations, instances = plain(iterations), plain(instances)
    for column, value in (("run", run), ("system", system)):
        if value is not None:
            iterations = iterations.filter(pl.col(column) == value)
            instances = instances.filter(pl.col(column) == value)
    empty_check(iterations, figure, "no per-step rows (simulate with iterations kept, or check run/system)")
    data = pool_series(iterations, instances, bins)
    label = [pl.col("system"), pl.col("pool")]
    if data["run"].n_unique() > 1:
        label.insert(0, pl.col("run"))
    data = data.with_columns(series=pl.concat_str(label, separator=" · "))
    return alt.Chart(data).mark_line().encode(
        x=alt.X("time_s:Q", title="time (s)"),
        y=alt.Y("percent:Q", title="percent", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("series:N", title="pool"),
        tooltip=["series:N", "measure:N", alt.Tooltip("time_s:Q", title="time (s)", format=".4~g"),
                 alt.Tooltip("percent:Q", format=".3~g")],
    ).properties(width=width, height=height).facet(
        row=alt.Row("measure:N", title=None, sort=["busy", "KV cache in use"])).properties(
        title="Pool utilisation and KV-cache use over time")
