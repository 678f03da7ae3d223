"""Running a sweep's points: a backend computes them, this module deduplicates them, shows progress, writes
finished points as they come and survives Ctrl-C.

Finished points are written as Parquet parts (``DIR/sweep.parts/part-NNNNN.parquet``) every couple of
seconds, so even a killed sweep leaves its points on disk; at the end, or on Ctrl-C, they are gathered
into ``DIR/sweep.parquet`` (sorted by sweep and point, so every backend gives the same frame) and the parts
removed. Ctrl-C stops the backend (pending points are dropped, running ones abandoned) and raises
:class:`SweepInterrupted`, which carries the finished points.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import polars as pl

from infera.dsl import ast
from infera.files import output_dir, write_parquet
from infera.sweeps.points import Task

#: A backend: (flattened program, tasks, workers) → each task's frame, in any order, as it finishes.
Backend = Callable[[ast.Program, list[Task], int], Iterator[pl.DataFrame]]


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; ``frame`` holds the points that finished (also written, when writing)."""

    def __init__(self, frame: pl.DataFrame, done: int, total: int) -> None:
        super().__init__(f"sweep interrupted: {done} of {total} points finished")
        self.frame = frame
        self.done = done
        self.total = total


class Sink:
    """Collects point frames; with a directory, writes them as parts as they come and gathers them."""

    FLUSH_S = 2.0

    def __init__(self, out: str | Path | None, order: dict[str, int]) -> None:
        self.frames: list[pl.DataFrame] = []
        self.order = order
        self.dir = output_dir(out) if out is not None else None
        self.parts = self.dir / "sweep.parts" if self.dir is not None else None
        if self.parts is not None:
            shutil.rmtree(self.parts, ignore_errors=True)
            self.parts.mkdir()
        self.pending: list[pl.DataFrame] = []
        self.written = 0
        self.last = time.monotonic()

    def add(self, frame: pl.DataFrame) -> None:
        self.frames.append(frame)
        self.pending.append(frame)
        if time.monotonic() - self.last >= self.FLUSH_S:
            self.flush()

    def flush(self) -> None:
        if self.parts is not None and self.pending:
            write_parquet(pl.concat(self.pending, how="diagonal_relaxed"),
                          self.parts / f"part-{self.written:05d}.parquet")
            self.written += 1
        self.pending = []
        self.last = time.monotonic()

    def finish(self) -> pl.DataFrame:
        self.flush()
        frame = gather(self.frames, self.order)
        if self.dir is not None and self.parts is not None:
            write_parquet(frame, self.dir / "sweep.parquet")
            shutil.rmtree(self.parts, ignore_errors=True)
        return frame


def gather(frames: list[pl.DataFrame], order: dict[str, int]) -> pl.DataFrame:
    """The point frames as one, sorted by sweep (in declaration order), point, run and system."""
    if not frames:
        return pl.DataFrame({"sweep": [], "point": []}, schema={"sweep": pl.String, "point": pl.Int64})
    frame = pl.concat(frames, how="diagonal_relaxed")
    keys = ["sweep", "point"] + [c for c in ("run", "system") if c in frame.columns]
    rank = pl.col("sweep").replace_strict(order, return_dtype=pl.Int64)
    frame = frame.sort([rank] + keys[1:], nulls_last=True)
    error = frame.get_column("error") if "error" in frame.columns else None
    return frame.drop("error").with_columns(error) if error is not None else frame


def execute(program: ast.Program, tasks: list[Task], backend: Backend, *, workers: int, out: str | Path | None,
            progress: bool, order: dict[str, int]) -> pl.DataFrame:
    """Runs every distinct task once through ``backend`` and returns every task's frame."""
    distinct: dict[tuple[object, ...], Task] = {}
    copies: dict[tuple[str, int], list[Task]] = {}
    for t in tasks:
        first = distinct.setdefault(t.key, t)
        if first is not t:
            copies.setdefault((first.sweep, first.point), []).append(t)
    unique = list(distinct.values())
    sink = Sink(out, order)
    bar = _bar(len(tasks), progress)
    done = 0
    stream = backend(program, unique, max(1, min(workers, len(unique))))
    try:
        for frame in stream:
            sink.add(frame)
            row = frame.row(0, named=True)
            dupes = copies.get((row["sweep"], row["point"]), [])
            for d in dupes:
                sink.add(frame.with_columns(sweep=pl.lit(d.sweep), point=pl.lit(d.point, dtype=pl.Int64)))
            done += 1 + len(dupes)
            if bar is not None:
                bar.update(1 + len(dupes))
    except KeyboardInterrupt:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        if bar is not None:
            bar.close()
        raise SweepInterrupted(sink.finish(), done, len(tasks)) from None
    if bar is not None:
        bar.close()
    return sink.finish()


def _bar(total: int, progress: bool):  # noqa: ANN202 - a tqdm bar, imported only when shown
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="pt", desc="sweep", file=sys.stderr, dynamic_ncols=True)
