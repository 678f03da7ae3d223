"""What ``infera plot`` draws from: a results folder, one Parquet file, or a ``.infera`` file simulated on
the spot; and the standard set of figures each of them supports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import polars as pl

from infera.exceptions import FileError
from infera.files import input_path
from infera.plot._common import PlotError
from infera.plot.cost import goodput_cost
from infera.plot.frontier import frontier
from infera.plot.latency import latency
from infera.plot.save import save
from infera.plot.timeline import timeline
from infera.plot.utilisation import utilisation

#: The figure kinds, by the name ``--kind`` takes, with the frame each draws from.
KINDS: dict[str, tuple[Callable[..., Any], str]] = {
    "latency": (latency, "summary"),
    "frontier": (frontier, "summary"),
    "goodput_cost": (goodput_cost, "summary"),
    "utilisation": (utilisation, "iterations"),
    "timeline": (timeline, "requests"),
}
FRAMES = ("sweep", "summary", "requests", "iterations", "instances")


@dataclass
class Frames:
    """The frames found; ``summary`` is a sweep's frame when there is one (each point a row)."""

    summary: pl.DataFrame | None = None
    requests: pl.DataFrame | None = None
    iterations: pl.DataFrame | None = None
    instances: pl.DataFrame | None = None

    def chart(self, kind: str, **options: Any) -> Any:
        """The figure ``kind`` drawn from these frames; an error naming the file it needs when absent."""
        if kind not in KINDS:
            raise PlotError(f"unknown plot kind {kind!r} (kinds: {', '.join(KINDS)})")
        make, needs = KINDS[kind]
        frame = getattr(self, needs)
        if frame is None or frame.height == 0:
            hint = "sweep.parquet or summary.parquet" if needs == "summary" else f"{needs}.parquet"
            raise PlotError(f"{kind} plot: no {needs} rows here (needs {hint}, or a .infera file)")
        if kind == "utilisation":
            if self.instances is None:
                raise PlotError("utilisation plot: needs instances.parquet beside iterations.parquet")
            return make(frame, self.instances, **options)
        return make(frame, **options)

    def available(self) -> list[str]:
        """The kinds these frames can draw (goodput against cost only when some chip has a price)."""
        kinds = []
        for kind, (_, needs) in KINDS.items():
            frame = getattr(self, needs)
            if frame is None or frame.height == 0:
                continue
            if kind == "goodput_cost" and not _priced(frame):
                continue
            if kind == "utilisation" and self.instances is None:
                continue
            kinds.append(kind)
        return kinds


def _priced(summary: pl.DataFrame) -> bool:
    return "cost_usd" in summary.columns and bool((summary["cost_usd"].fill_null(0) > 0).any())


def _one_file(path: Path) -> Frames:
    frame = pl.read_parquet(path)
    name = path.stem
    if name == "sweep" or "point" in frame.columns or "throughput_rps" in frame.columns:
        return Frames(summary=frame)
    if name in ("requests", "iterations", "instances"):
        return Frames(**{name: frame})
    raise PlotError(f"{path}: not a sweep, summary, requests, iterations or instances table")


def load(source: str | Path, **simulate: Any) -> Frames:
    """The frames at ``source``: a folder written by ``infera run --out`` (``sweep.parquet`` and/or
    ``summary``, ``requests``, ``iterations``, ``instances``), one of those Parquet files, or a ``.infera``
    file, which is run (its sweeps when it has any, else its runs; ``simulate`` passes options on)."""
    path = Path(source)
    if path.is_dir():
        found = {n: path / f"{n}.parquet" for n in FRAMES if (path / f"{n}.parquet").is_file()}
        if not found:
            raise FileError(path, "no sweep.parquet, summary.parquet, requests.parquet or iterations.parquet here")
        frames = {n: pl.read_parquet(p) for n, p in found.items()}
        return Frames(summary=frames.get("sweep", frames.get("summary")), requests=frames.get("requests"),
                      iterations=frames.get("iterations"), instances=frames.get("instances"))
    path = input_path(path)
    if path.suffix == ".parquet":
        return _one_file(path)
    from infera.api import simulate as run_plan
    from infera.dsl import parse_file
    from infera.dsl.ast import SweepBlock
    from infera.plan.compiler import compile_program

    program = parse_file(path)
    if any(isinstance(b, SweepBlock) for b in program.blocks):
        from infera.sweeps import sweep

        return Frames(summary=sweep(program, progress=False))
    results = run_plan(compile_program(program), **simulate)
    return Frames(summary=results.summary, requests=results.requests, iterations=results.iterations,
                  instances=results.instances)


def write_standard(frames: Frames, folder: str | Path, *, fmt: str = "svg") -> list[Path]:
    """Every figure ``frames`` can draw, written as ``folder/<kind>.<fmt>``; returns the paths."""
    return [save(frames.chart(kind), Path(folder) / f"{kind}.{fmt}") for kind in frames.available()]
