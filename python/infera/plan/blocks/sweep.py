"""``sweep`` blocks → :class:`SweepSpec`: which runs to repeat, over which parameter values, as a grid or
zipped.

An axis is ``path = values``: a list (``[2 /s, 4 /s]``, ``[h100_sxm, h200_sxm]``), ``range(a, b, step = s)``
or ``range(a, b, count = n)`` (evenly spaced, both ends included), ``geometric(a, b, count = n)`` (evenly
spaced in log), or one value. Each path is checked here against the program's blocks
(:func:`infera.plan.overrides.apply` with the axis's first value), so a path that names nothing is an error
at compile time, located at the axis and naming the path; a value the field does not accept is reported,
at the value, when its point is compiled.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import overrides
from infera.plan.fields import Fields, as_integer, as_quantity
from infera.plan.scope import Scope, only_items

MODES = ("grid", "zip")
#: At most this many points per sweep (a grid multiplies quickly).
MAX_POINTS = 1_000_000


@dataclass(frozen=True)
class AxisSpec:
    path: tuple[str, ...]
    values: tuple[ast.Value, ...]
    loc: ast.Loc

    @property
    def name(self) -> str:
        """The axis's column in the sweep frame: its path as written."""
        return ".".join(self.path)


@dataclass(frozen=True)
class SweepSpec:
    name: str
    runs: tuple[str, ...]
    mode: str
    axes: tuple[AxisSpec, ...]
    loc: ast.Loc

    def points(self) -> list[tuple[ast.Value, ...]]:
        """Every point, one value per axis: the grid in row-major order (the last axis varies fastest), or
        the axes' values paired in order."""
        columns = [a.values for a in self.axes]
        if self.mode == "zip":
            return list(zip(*columns))
        return list(itertools.product(*columns))


def compile_sweep(scope: Scope, block: ast.SweepBlock, program: ast.Program) -> SweepSpec:
    where = f"sweep '{block.name}'"
    items = list(block.items)
    only_items(items, (ast.Assign, ast.SweepAxis), where)
    f = Fields(where, [i for i in items if isinstance(i, ast.Assign)], block.loc)
    mode = f.choice("mode", MODES, "grid")
    runs = _runs(scope, f, where)
    f.done()
    axes = [ast_axis for ast_axis in items if isinstance(ast_axis, ast.SweepAxis)]
    if not axes:
        raise CompileError(f"{where}: no axes (write e.g. traffic.chat.arrivals.rate = [2 /s, 4 /s])", block.loc)
    seen: dict[tuple[str, ...], ast.Loc] = {}
    specs = []
    flat = overrides.flatten(program)
    for a in axes:
        if a.path in seen:
            raise CompileError(f"{where}: '{'.'.join(a.path)}' swept twice (first at {seen[a.path]})", a.loc)
        seen[a.path] = a.loc
        values = _values(a.value, f"{where}: '{'.'.join(a.path)}'")
        overrides.apply(flat, a.path, values[0], a.loc)
        specs.append(AxisSpec(a.path, values, a.loc))
    if mode == "zip" and len({len(s.values) for s in specs}) > 1:
        lengths = ", ".join(f"{s.name} has {len(s.values)}" for s in specs)
        raise CompileError(f"{where}: zipped axes need as many values each ({lengths})", block.loc)
    count = len(specs[0].values) if mode == "zip" else math.prod(len(s.values) for s in specs)
    if count > MAX_POINTS:
        raise CompileError(f"{where}: {count} points is more than {MAX_POINTS:,}", block.loc)
    return SweepSpec(block.name, runs, mode, tuple(specs), block.loc)


def _runs(scope: Scope, f: Fields, where: str) -> tuple[str, ...]:
    declared = scope.all(ast.RunBlock)
    one, many = f.take("run"), f.take("runs")
    if one is not None and many is not None:
        raise CompileError(f"{where}: give either run or runs, not both", many.loc)
    if one is None and many is None:
        return tuple(declared)
    given = [one.value] if one is not None else list(many.value.items) if isinstance(many.value, ast.ListValue) \
        else [many.value]  # type: ignore[union-attr]
    names = []
    for v in given:
        if not isinstance(v, ast.Name):
            raise CompileError(f"{where}: run(s) must name run blocks", v.loc)
        scope.get(ast.RunBlock, v.id, v.loc)
        names.append(v.id)
    if not names:
        raise CompileError(f"{where}: runs must name at least one run", many.loc)  # type: ignore[union-attr]
    return tuple(dict.fromkeys(names))


def _values(v: ast.Value, what: str) -> tuple[ast.Value, ...]:
    if isinstance(v, ast.ListValue):
        if not v.items:
            raise CompileError(f"{what}: an empty list has no points", v.loc)
        return v.items
    if isinstance(v, ast.Call) and v.func in ("range", "geometric"):
        return _spaced(v, what)
    return (v,)


def _spaced(v: ast.Call, what: str) -> tuple[ast.Value, ...]:
    usage = (f"{what}: write range(from, to, step = s), range(from, to, count = n) or "
             f"geometric(from, to, count = n)")
    if len(v.args) != 2 or len(v.kwargs) != 1:
        raise CompileError(usage, v.loc)
    lo, hi = v.args
    kw = v.kwargs[0]
    if not isinstance(lo, ast.Quantity) or not isinstance(hi, ast.Quantity) or lo.dim != hi.dim:
        raise CompileError(f"{what}: {v.func}() needs two numbers of the same unit", v.loc)
    dims = (lo.dim,)
    a = as_quantity(lo, dims, f"{what}: from", positive=False)
    b = as_quantity(hi, dims, f"{what}: to", positive=False)
    if b < a:
        raise CompileError(f"{what}: {v.func}() runs from low to high", v.loc)
    if kw.key == "step" and v.func == "range":
        step = as_quantity(kw.value, dims, f"{what}: step")
        span = (b - a) / step * (1 + 1e-12)  # a subnormal step overflows this to infinity
        if not span < MAX_POINTS:
            raise CompileError(f"{what}: a step of {step:g} gives more than {MAX_POINTS:,} values", v.loc)
        n = math.floor(span) + 1
        if n > MAX_POINTS:
            raise CompileError(f"{what}: {n} values is more than {MAX_POINTS:,}", v.loc)
        xs = [a + i * step for i in range(n)]
    elif kw.key == "count":
        n = as_integer(kw.value, f"{what}: count", dims=("number",))
        if n > MAX_POINTS:
            raise CompileError(f"{what}: {n} values is more than {MAX_POINTS:,}", v.loc)
        if v.func == "geometric":
            if a <= 0:
                raise CompileError(f"{what}: geometric() starts above 0", v.loc)
            xs = [a * (b / a) ** (i / (n - 1)) if n > 1 else a for i in range(n)]
        else:
            xs = [a + (b - a) * i / (n - 1) if n > 1 else a for i in range(n)]
        if n > 1:
            xs[-1] = b  # exactly the end written, not a rounding of it
    else:
        raise CompileError(usage, kw.loc)
    xs = [float(f"{x:.12g}") for x in xs]  # 0.1 + 2 * 0.1 is 0.3 here, not 0.30000000000000004
    integer = lo.is_integer and hi.is_integer and all(x == round(x) for x in xs)
    return tuple(ast.Quantity(value=float(round(x)) if integer else x, dim=lo.dim, unit="", loc=v.loc,
                              is_integer=integer) for x in xs)
