"""Simulation results as Polars frames: ``requests``, ``iterations``, ``instances``, ``stats``, ``pools`` and
``summary``.

The core hands each table over as an Arrow C stream (``__arrow_c_stream__``); Polars takes its buffers
without copying. ``pools`` and ``summary`` are
derived from them by :mod:`infera.summary`, one row per (run, system[, pool]): throughput, goodput under the
run's SLO, latency percentiles, utilisation, energy and cost.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from infera._core import ArrowStream
from infera.files import output_dir, write_parquet
from infera.plan.tables import Plan
from infera.class_summary import summarize_classes
from infera.summary import pool_table, summarize


def _frame(stream: ArrowStream) -> pl.DataFrame:
    return pl.DataFrame(stream)


class Results:
    """What one simulation produced.

    Attributes are Polars DataFrames:

    - ``requests``: one row per request (arrival, queue delay, TTFT, TPOT mean and p99, end-to-end, tokens,
      preemptions, whether it met the SLO);
    - ``iterations``: one row per engine step (instance, start, duration, batch size, prefill and decode
      tokens, KV blocks in use, energy); empty when per-step output was turned off;
    - ``instances``: one row per instance (KV capacity in blocks, steps, busy time);
    - ``summary``: one row per run and system;
    - ``classes``: one row per run, system and traffic class (empty when no traffic has classes).
    """

    def __init__(self, plan: Plan, requests, iterations, instances, stats, classes) -> None:  # noqa: ANN001
        self.plan = plan
        self.requests = _frame(requests)
        self.iterations = _frame(iterations)
        self.instances = _frame(instances)
        #: Per-run statistics computed by the core (kept even when per-request rows are not).
        self.stats = _frame(stats)
        #: Per-(run, class) statistics computed by the core, each class judged by its own SLO.
        self.class_stats = _frame(classes)
        self._summary: pl.DataFrame | None = None
        self._classes: pl.DataFrame | None = None

    @property
    def pools(self) -> pl.DataFrame:
        """One row per (run, system, pool): role, chip, instances, utilisation, energy and cost."""
        return pool_table(self.plan, self.stats, self.instances)

    @property
    def summary(self) -> pl.DataFrame:
        if self._summary is None:
            self._summary = summarize(self.plan, self.stats, self.instances)
        return self._summary

    @property
    def classes(self) -> pl.DataFrame:
        """One row per (run, system, traffic class): requests, goodput against the class's own SLO,
        attainment, TTFT/TPOT/end-to-end means and percentiles, throughput (``docs/results.md``)."""
        if self._classes is None:
            self._classes = summarize_classes(self.stats, self.class_stats)
        return self._classes

    @property
    def plot(self):  # noqa: ANN201 - the accessor lives in the optional plotting module
        """The figures of these results: ``results.plot.latency()``, ``.frontier()``, ``.goodput_cost()``,
        ``.utilisation()``, ``.timeline(request_id)`` (Altair charts; see :mod:`infera.plot`)."""
        from infera.plot.accessor import ResultsPlot

        return ResultsPlot(self)

    def write_parquet(self, directory: str | Path) -> list[Path]:
        """Writes the five frames as Parquet files into ``directory`` (created if needed); a folder or file
        that cannot be made is a :class:`~infera.exceptions.FileError`."""
        out = output_dir(directory)
        paths = []
        for name in ("requests", "iterations", "instances", "pools", "summary"):
            frame: pl.DataFrame = getattr(self, name)
            paths.append(write_parquet(frame, out / f"{name}.parquet"))
        return paths

    def __repr__(self) -> str:
        return (f"Results(requests={self.requests.height}, iterations={self.iterations.height}, "
                f"runs={self.summary.height})")
