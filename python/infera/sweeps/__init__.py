"""Sweeps: the runs of a file repeated over parameter values, as one Polars frame.

>>> infera.sweep("examples/sweep_rate.infera")                                       # doctest: +SKIP
>>> infera.sweep("examples/quickstart.infera",
...              axes={"traffic.chat.arrivals.rate": ["10 /s", "20 /s"]})             # doctest: +SKIP

The frame has one row per point × run × system: ``sweep``, ``point``, a column per axis (named by its
path, values in SI units), every summary column, and ``error`` (null unless the point did not compile or
simulate). See docs/sweeps.md.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Mapping, Sequence

import polars as pl

from infera.dsl import ast, parse, parse_file
from infera.exceptions import CompileError
from infera.plan import overrides
from infera.plan.compiler import sweep_specs
from infera.sweeps.backends import BACKENDS, backend as get_backend
from infera.sweeps.execute import SweepInterrupted, execute
from infera.sweeps.points import tasks

__all__ = ["BACKENDS", "SweepInterrupted", "program_of", "sweep"]


def program_of(source: str | Path | ast.Program) -> ast.Program:
    """A parsed program from a path, source text (anything with a brace) or a program."""
    if isinstance(source, ast.Program):
        return source
    if isinstance(source, str) and "{" in source:
        return parse(source)
    return parse_file(source)


def sweep(source: str | Path | ast.Program, *, axes: Mapping[str, Sequence[object]] | None = None,
          mode: str = "grid", runs: Sequence[str] | None = None, backend: str = "local",
          workers: int | None = None, out: str | Path | None = None, progress: bool | None = None) -> pl.DataFrame:
    """Runs the sweep blocks of ``source`` (a `.infera` path, source text or a parsed program), or, with
    ``axes``, the sweep they describe instead: ``{path: [values]}`` where a value is DSL text (``"4 /s"``,
    ``"h200_sxm"``) or a Python number, as a ``mode = "grid"`` or ``"zip"`` over ``runs`` (default all).

    ``backend`` is ``"local"`` (worker processes, ``workers`` of them, default every core), ``"serial"`` or
    ``"ray"``. ``out`` writes ``out/sweep.parquet`` (and parts while it runs). ``progress`` shows a bar on
    stderr (default: when stderr is a terminal). Ctrl-C raises :class:`SweepInterrupted` with the points
    that finished (written to ``out`` too).
    """
    run_backend = get_backend(backend)
    program = program_of(source)
    if axes is not None:
        program = dataclasses.replace(program, blocks=[b for b in program.blocks if not isinstance(b, ast.SweepBlock)]
                                      + [_axes_block(axes, mode, runs)])
    specs = sweep_specs(program)
    if not specs:
        raise CompileError(f"{program.file}: no sweep block (or pass axes=...)", ast.Loc(program.file, 1, 1))
    flat = overrides.flatten(program)
    flat = dataclasses.replace(flat, blocks=[b for b in flat.blocks if not isinstance(b, ast.SweepBlock)])
    show = progress if progress is not None else os.isatty(2)
    return execute(flat, tasks(specs), run_backend, workers=workers or os.cpu_count() or 1, out=out,
                   progress=show, order={s.name: i for i, s in enumerate(specs)})


def _axes_block(axes: Mapping[str, Sequence[object]], mode: str, runs: Sequence[str] | None) -> ast.SweepBlock:
    """The ``axes`` of :func:`sweep` as a sweep block, parsed like one written in a file."""
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        return str(v)

    lines = [f"mode = {mode}"] + ([f"runs = [{', '.join(runs)}]"] if runs else [])
    lines += [f"{path} = [{', '.join(value(v) for v in values)}]" for path, values in axes.items()]
    text = "sweep axes {\n" + "\n".join(lines) + "\n}\n"
    (block,) = parse(text, file="<axes>").blocks
    assert isinstance(block, ast.SweepBlock)
    return block
