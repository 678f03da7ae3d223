"""Design search: the cheapest serving design that meets an SLO, and the throughput/interactivity frontier.

>>> frame = infera.design("examples/design_search.infera")                        # doctest: +SKIP
>>> infera.designs.frontier(frame), infera.designs.cheapest(frame)                  # doctest: +SKIP

A file's ``design`` blocks name a model, traffic, an SLO, chip kinds and a budget; every mixed and split
design within the budget is enumerated (:mod:`infera.designs.space`), the ones the compiler would reject
are pruned without simulating (:mod:`infera.designs.fit`), and the rest run as sweep points
(:mod:`infera.designs.search`) on any sweep backend. The frame (:mod:`infera.designs.report`) has one row
per design. See docs/design.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from infera.designs.report import cheapest, design_frame, frontier
from infera.designs.search import Prepared, prepare
from infera.dsl import ast
from infera.exceptions import CompileError
from infera.files import output_dir, write_parquet
from infera.plan.blocks.chip import compile_chip
from infera.plan.compiler import design_specs
from infera.plan.scope import Scope
from infera.sweeps import program_of
from infera.sweeps.backends import backend as get_backend
from infera.sweeps.execute import SweepInterrupted, execute

__all__ = ["cheapest", "design", "frontier", "plan"]


def plan(source: str | Path | ast.Program, name: str | None = None) -> list[Prepared]:
    """The designs of ``source``'s design blocks (or the one called ``name``), pruned, not simulated."""
    program = program_of(source)
    specs = design_specs(program)
    if name is not None:
        specs = [s for s in specs if s.name == name]
    if not specs:
        what = f"no design '{name}'" if name is not None else "no design block"
        raise CompileError(f"{program.file}: {what}", ast.Loc(program.file, 1, 1))
    return [prepare(program, s) for s in specs]


def design(source: str | Path | ast.Program, *, name: str | None = None, backend: str = "local",
           workers: int | None = None, out: str | Path | None = None, progress: bool | None = None) -> pl.DataFrame:
    """Runs the design searches of ``source`` (a `.infera` path, source text or a parsed program), or only
    the block called ``name``, and returns one row per design (see :mod:`infera.designs.report`).

    ``backend``, ``workers`` and ``progress`` are :func:`infera.sweep`'s. ``out`` writes
    ``out/design.parquet`` (and the executor's ``out/sweep.parquet`` of the simulated points). Ctrl-C raises
    :class:`~infera.SweepInterrupted` whose ``frame`` is the design frame of the designs that finished.
    """
    run_backend = get_backend(backend)
    preps = plan(source, name)
    show = progress if progress is not None else os.isatty(2)
    frames = []
    for prep in preps:
        scope = Scope.of_program(prep.program)
        prices = {c: compile_chip(scope, scope.get(ast.ChipBlock, c, prep.spec.loc)).price_per_hour
                  for c in prep.spec.chips}
        try:
            points = execute(prep.program, prep.tasks, run_backend, workers=workers or os.cpu_count() or 1,
                             out=out, progress=show, order={prep.spec.name: 0})
        except SweepInterrupted as stop:
            frames.append(design_frame(prep, stop.frame, prices))
            frame = pl.concat(frames, how="diagonal_relaxed")
            _write(frame, out)
            raise SweepInterrupted(frame, stop.done, stop.total) from None
        frames.append(design_frame(prep, points, prices))
    frame = pl.concat(frames, how="diagonal_relaxed")
    _write(frame, out)
    return frame


def _write(frame: pl.DataFrame, out: str | Path | None) -> None:
    if out is not None:
        write_parquet(frame, output_dir(out) / "design.parquet")
