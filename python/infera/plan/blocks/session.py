"""The ``session`` and ``system_prompt`` fields of a traffic block (or of a class within one):
``conversation(...)``, ``agent(...)`` and ``shared(...)`` → :mod:`infera.plan.traffic.sessions` specs.

:func:`compile_session` takes the block's :class:`Fields` and the block driver's own length-distribution
reader, so any block that reads lengths the traffic way can carry sessions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan.fields import Fields, as_quantity, describe
from infera.plan.traffic.lengths import LengthDist
from infera.plan.traffic.sessions import SessionSpec, SystemPrompt, TimeDist

#: Most turns or calls of one session, and parallel calls of one agent step (a bound on what one session
#: can expand to).
MAX_STEPS = 10_000

LengthReader = Callable[[ast.Value, str], LengthDist]


def compile_session(where: str, f: Fields, lengths: LengthReader) -> tuple[SessionSpec | None, SystemPrompt | None]:
    """Takes the ``session`` and ``system_prompt`` fields from ``f`` (either may be absent)."""
    session = _session(f.take("session"), where, lengths)
    system = _system_prompt(f.take("system_prompt"), where)
    return session, system


def _call(a: ast.Assign, funcs: tuple[str, ...], what: str) -> ast.Call:
    v = a.value
    if not isinstance(v, ast.Call) or v.func not in funcs:
        raise CompileError(f"{what} must be {' or '.join(f + '(...)' for f in funcs)}, got {describe(v)}", v.loc)
    if v.args:
        raise CompileError(f"{what}: {v.func}() takes named arguments only", v.loc)
    return v


def _count(f: Fields, key: str, lengths: LengthReader, default: LengthDist | None) -> LengthDist:
    a = f.take(key)
    if a is None:
        if default is None:
            raise CompileError(f"{f.where}: missing required field '{key}'", f.loc)
        return default
    d = lengths(a.value, f"{f.where}: {key}")
    if d.upper > MAX_STEPS:
        raise CompileError(f"{f.where}: {key} may be at most {MAX_STEPS:_} (give it a max)", a.value.loc)
    return d


def _session(a: ast.Assign | None, where: str, lengths: LengthReader) -> SessionSpec | None:
    if a is None:
        return None
    v = _call(a, ("conversation", "agent"), f"{where}: session")
    f = Fields(f"{where} {v.func}()", v.kwargs, v.loc)
    one = LengthDist("fixed", value=1)
    if v.func == "conversation":
        steps = _count(f, "turns", lengths, None)
        fanout, tool = one, one
    else:
        steps = _count(f, "calls", lengths, None)
        fanout = _count(f, "fanout", lengths, one)
        tool = lengths(f.require("tool_result").value, f"{f.where}: tool_result")
    think_a = f.take("think")
    think = _time_dist(think_a.value, f"{f.where}: think") if think_a is not None else TimeDist("fixed")
    max_context = f.quantity("max_context", ("tokens", "number"), math.inf)
    f.done()
    return SessionSpec(v.func, steps, think, max_context, fanout, tool)


def _time_dist(v: ast.Value, what: str) -> TimeDist:
    if isinstance(v, ast.Quantity):
        return TimeDist("fixed", value=as_quantity(v, ("time",), what, positive=False))
    if not isinstance(v, ast.Call) or v.func not in ("exponential", "uniform", "lognormal", "fixed") or v.args:
        raise CompileError(f"{what} must be a time (e.g. 5 s) or exponential(mean = T), uniform(min = T, "
                           f"max = T), lognormal(median = T, sigma = x), got {describe(v)}", v.loc)
    f = Fields(f"{what} {v.func}()", v.kwargs, v.loc)
    if v.func == "fixed":
        d = TimeDist("fixed", value=f.quantity("value", ("time",), required=True, positive=False))
    elif v.func == "exponential":
        d = TimeDist("exponential", mean=f.quantity("mean", ("time",), required=True))
    elif v.func == "uniform":
        lo = f.quantity("min", ("time",), 0.0, positive=False)
        hi = f.quantity("max", ("time",), required=True, positive=False)
        if hi < lo:
            raise CompileError(f"{what}: max ({hi:g} s) is below min ({lo:g} s)", v.loc)
        d = TimeDist("uniform", min=lo, max=hi)
    else:
        d = TimeDist("lognormal", median=f.quantity("median", ("time",), required=True),
                     sigma=f.quantity("sigma", ("number",), required=True, positive=False))
    f.done()
    return d


def _system_prompt(a: ast.Assign | None, where: str) -> SystemPrompt | None:
    if a is None:
        return None
    v = _call(a, ("shared",), f"{where}: system_prompt")
    f = Fields(f"{where} shared()", v.kwargs, v.loc)
    tokens = f.integer("tokens", required=True)
    variants = f.integer("variants", 1)
    f.done()
    assert tokens is not None and variants is not None
    if variants > MAX_STEPS:
        raise CompileError(f"{where}: shared() variants may be at most {MAX_STEPS:_}", v.loc)
    return SystemPrompt(tokens, variants)
