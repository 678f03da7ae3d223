"""A sweep's points as work: each point is the program with its axes' values written in, compiled and
simulated on its own; the result is the point's summary rows beside a column per axis.

:func:`tasks` lists the points of every sweep and gives identical ones (the same runs and values, in any
sweep) one key, so each distinct plan is compiled and simulated once. :func:`run_point` is what a worker
runs: it needs nothing but the flattened program and the task, so it ships to a process or a Ray task.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

from infera.dsl import ast
from infera.exceptions import InferaError
from infera.plan import overrides
from infera.plan.blocks.sweep import SweepSpec


@dataclass(frozen=True)
class Task:
    sweep: str
    point: int
    runs: tuple[str, ...]
    paths: tuple[tuple[str, ...], ...]
    values: tuple[ast.Value, ...]

    @property
    def key(self) -> tuple[object, ...]:
        """Equal for points that compile to the same plan (values compared without their locations)."""
        return (self.runs, tuple(zip(self.paths, (text(v) for v in self.values))))


def tasks(specs: list[SweepSpec]) -> list[Task]:
    out = []
    for spec in specs:
        paths = tuple(a.path for a in spec.axes)
        out += [Task(spec.name, i, spec.runs, paths, values) for i, values in enumerate(spec.points())]
    return out


def program_at(program: ast.Program, task: Task) -> ast.Program:
    """The flattened program at one point: the axes' values set, only the sweep's runs kept, no sweeps."""
    for path, value in zip(task.paths, task.values):
        program = overrides.apply(program, path, value, value.loc)
    blocks = [b for b in program.blocks if not isinstance(b, ast.SweepBlock)
              and (not isinstance(b, ast.RunBlock) or b.name in task.runs)]
    return dataclasses.replace(program, blocks=blocks)


def run_point(program: ast.Program, task: Task) -> pl.DataFrame:
    """The summary of one point, its axes as leading columns; a point that does not compile or simulate
    gives one row with its ``error`` (a design that cannot fit is a result of a sweep, not a failure)."""
    from infera.api import simulate
    from infera.plan.compiler import compile_program

    head = {"sweep": task.sweep, "point": task.point}
    head.update({".".join(p): label(v) for p, v in zip(task.paths, task.values)})
    try:
        results = simulate(compile_program(program_at(program, task)), requests=False, iterations=False)
        summary = results.summary
    except InferaError as exc:
        return pl.DataFrame([{**head, "run": r, "system": s, "error": str(exc)} for r, s in _systems(program, task)])
    lead = pl.DataFrame([head] * summary.height)
    return pl.concat([lead, summary, pl.DataFrame({"error": [None] * summary.height}, schema={"error": pl.String})],
                     how="horizontal")


def _systems(program: ast.Program, task: Task) -> list[tuple[str, str]]:
    """The (run, system) rows a point would have had, read from its run blocks as written."""
    rows = []
    for b in program.blocks:
        if isinstance(b, ast.RunBlock) and b.name in task.runs:
            for item in b.items:
                if isinstance(item, ast.Assign) and item.key in ("system", "systems"):
                    names = item.value.items if isinstance(item.value, ast.ListValue) else (item.value,)
                    rows += [(b.name, n.id) for n in names if isinstance(n, ast.Name)]
    return rows or [(r, None) for r in task.runs]  # type: ignore[misc]


def label(v: ast.Value) -> object:
    """An axis value as a frame cell: numbers in SI units (whole numbers as integers), names as text."""
    if isinstance(v, ast.Quantity):
        return int(v.value) if v.is_integer and v.dim in ("number", "tokens") and v.value == int(v.value) \
            else v.value
    if isinstance(v, ast.Bool):
        return v.value
    if isinstance(v, (ast.Name, ast.String)):
        return v.id if isinstance(v, ast.Name) else v.value
    return text(v)


def text(v: ast.Value) -> str:
    """A value as DSL-like text without units (numbers in SI), e.g. ``poisson(8)`` or ``8 x h100_sxm``."""
    if isinstance(v, ast.Quantity):
        return f"{v.value!r}" if v.dim == "number" else f"{v.value!r}[{v.dim}]"
    if isinstance(v, ast.Name):
        return v.id
    if isinstance(v, ast.DottedName):
        return str(v)
    if isinstance(v, ast.String):
        return repr(v.value)
    if isinstance(v, ast.Bool):
        return "true" if v.value else "false"
    if isinstance(v, ast.ListValue):
        return "[" + ", ".join(text(i) for i in v.items) + "]"
    if isinstance(v, ast.ChipCount):
        return f"{text(v.count)} x {v.chip.id}"
    args = [text(a) for a in v.args] + [f"{k.key} = {text(k.value)}" for k in v.kwargs]
    return f"{v.func}({', '.join(args)})"
