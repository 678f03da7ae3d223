"""One stream's fields (a plain traffic block's, or a class's merged with its block's) →
:class:`~infera.plan.traffic.TrafficSpec`: its arrival process (:mod:`.arrivals`), prompt and output lengths
(:mod:`.lengths`), their correlation, and its sessions or shared system prompt (:mod:`.session`)."""

from __future__ import annotations

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import traffic as traffic_mod
from infera.plan.blocks.arrivals import Bounds, read_arrivals
from infera.plan.blocks.lengths import length_dist
from infera.plan.blocks.session import compile_session
from infera.plan.fields import Fields, describe
from infera.plan.traffic.lengths import Empirical, LengthDist, Mixture

#: The fields that describe one stream; a class takes each it does not set from its block.
STREAM_KEYS = ("arrivals", "requests", "duration", "prompt", "output", "correlation", "session", "system_prompt")


def read_stream(name: str, where: str, f: Fields, loc: ast.Loc) -> traffic_mod.TrafficSpec:
    """One stream's arrivals and lengths from its fields (a plain block's, or a class's merged with its
    block's); every field must be consumed."""
    arr = f.require("arrivals")
    requests = f.integer("requests")
    duration = f.quantity("duration", ("time",))
    prompt = length_dist(f.require("prompt").value, f"{where}: prompt")
    output = length_dist(f.require("output").value, f"{where}: output")
    correlation = _correlation(f, where)
    _check_paired(where, f, prompt, output, correlation)
    session, system_prompt = compile_session(where, f, length_dist)
    f.done()
    a = read_arrivals(arr.value, Bounds(where, requests, duration, loc))
    if session is not None and a.kind == "closed":
        raise CompileError(f"{where}: a session's turns are sent as earlier ones finish; its arrivals give "
                           f"the session starts, so they must be open-loop arrivals, not closed()", arr.value.loc)
    return traffic_mod.TrafficSpec(name, a.kind, loc, a.rate, a.users, a.think_s, requests, duration, prompt,
                                   output, ramp_up_s=a.ramp_up_s, jitter_s=a.jitter_s, params=a.params,
                                   correlation=correlation, session=session, system_prompt=system_prompt)


def _correlation(f: Fields, where: str) -> float | None:
    """``correlation = 0.5``: prompt and output lengths joined by a Gaussian copula of that correlation."""
    a = f.take("correlation")
    if a is None:
        return None
    v = a.value
    if not isinstance(v, ast.Quantity) or v.dim != "number" or not -1 <= v.value <= 1:
        raise CompileError(f"{where}: correlation must be a number in [-1, 1], got {describe(v)}", v.loc)
    return float(v.value)


def _check_paired(where: str, f: Fields, prompt: LengthDist, output: LengthDist, rho: float | None) -> None:
    """``output = empirical(..., paired = true)`` takes each request's output from the row its prompt came
    from: the prompt must be an empirical column of the same file, and nothing else may join the two."""
    def nested(d: LengthDist) -> bool:
        return isinstance(d, Mixture) and any(
            (isinstance(p, Empirical) and p.paired) or nested(p) for p in d.parts)

    loc = f.loc
    if nested(prompt) or nested(output) or (isinstance(prompt, Empirical) and prompt.paired):
        raise CompileError(f"{where}: paired = true belongs on the output's empirical(), outside any mixture", loc)
    if not (isinstance(output, Empirical) and output.paired):
        return
    if not isinstance(prompt, Empirical) or prompt.source != output.source:
        raise CompileError(f"{where}: a paired output reads the rows of the prompt's file: give prompt = "
                           f"empirical(\"{output.source}\", column = ...)", loc)
    if rho is not None:
        raise CompileError(f"{where}: a paired output already takes its prompt's row; remove correlation", loc)
