"""``traffic`` blocks → :class:`~infera.plan.traffic.TrafficSpec`: arrival process (Poisson, burst, closed
loop or a replayed trace) and the prompt and output length distributions."""

from __future__ import annotations

import math

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import traffic as traffic_mod
from infera.plan.blocks.session import compile_session
from infera.plan.blocks.trace import compile_trace
from infera.plan.fields import Fields, as_integer, as_quantity, describe
from infera.plan.scope import Scope, merged_items, only_items
from infera.plan.specs import MAX_REQUESTS, MAX_TOKENS


def _length_dist(v: ast.Value, what: str) -> traffic_mod.LengthDist:
    d = _length_dist_unchecked(v, what)
    for x in (d.value, d.min, d.max):
        if math.isfinite(x) and x > MAX_TOKENS:
            raise CompileError(f"{what}: at most {MAX_TOKENS:_} tokens per request, got {x:_.0f}", v.loc)
    return d


def _length_dist_unchecked(v: ast.Value, what: str) -> traffic_mod.LengthDist:
    if isinstance(v, ast.Quantity):
        return traffic_mod.LengthDist("fixed", value=as_integer(v, what))
    if isinstance(v, ast.Call) and v.func in ("lognormal", "uniform", "fixed"):
        if v.args:
            raise CompileError(f"{what}: {v.func}() takes named arguments only", v.loc)
        f = Fields(f"{what} {v.func}()", v.kwargs, v.loc)
        lo = f.integer("min", 1)
        hi = f.integer("max", None)
        if v.func == "lognormal":
            med = f.quantity("median", ("tokens", "number"), required=True)
            sigma = f.quantity("sigma", ("number",), required=True, positive=False)
            f.done()
            d = traffic_mod.LengthDist("lognormal", median=med, sigma=sigma, min=lo, max=hi or math.inf)
        elif v.func == "uniform":
            if hi is None:
                raise CompileError(f"{what}: uniform() needs max", v.loc)
            f.done()
            d = traffic_mod.LengthDist("uniform", min=lo, max=hi)
        else:
            val = f.integer("value", required=True)
            f.done()
            d = traffic_mod.LengthDist("fixed", value=val)
        if d.max < d.min:
            raise CompileError(f"{what}: max ({d.max:g}) is below min ({d.min:g})", v.loc)
        return d
    raise CompileError(f"{what} must be a token count (e.g. 512 tokens) or lognormal(...)/uniform(...), "
                       f"got {describe(v)}", v.loc)


def compile_traffic(scope: Scope, block: ast.TrafficBlock) -> traffic_mod.TrafficSpec:
    items = merged_items(scope, block)
    where = f"traffic '{block.name}'"
    only_items(items, (ast.Assign,), where)
    f = Fields(where, items, block.loc)
    f.take("source")  # where a catalog profile's figures come from
    if f.has("trace"):
        return compile_trace(where, f, block)
    arr = f.require("arrivals")
    requests = f.integer("requests")
    duration = f.quantity("duration", ("time",))
    prompt = _length_dist(f.require("prompt").value, f"{where}: prompt")
    output = _length_dist(f.require("output").value, f"{where}: output")
    session, system_prompt = compile_session(where, f, _length_dist)
    f.done()
    v = arr.value
    func = v.func if isinstance(v, ast.Call) else v.id if isinstance(v, ast.Name) else None
    kind, rate, users, think, ramp_up, jitter = "", 0.0, 0, 0.0, 0.0, 0.0
    if func == "poisson":
        if not isinstance(v, ast.Call) or len(v.args) + len(v.kwargs) != 1:
            raise CompileError(f"{where}: poisson() takes one rate, e.g. poisson(8 /s)", v.loc)
        rv = v.args[0] if v.args else v.kwargs[0].value
        rate = as_quantity(rv, ("rate",), f"{where}: poisson rate")
        kind = "poisson"
        if requests is None and duration is None:
            raise CompileError(f"{where}: give requests = N or duration = T", block.loc)
        if requests is None and rate * duration > MAX_REQUESTS:
            raise CompileError(f"{where}: poisson({rate:g} /s) for {duration:g} s is about {rate * duration:.3g} "
                               f"requests, more than the {MAX_REQUESTS} a traffic block may have; set requests = N "
                               f"or a shorter duration", block.loc)
    elif func == "burst":
        if isinstance(v, ast.Call) and (v.args or v.kwargs):
            raise CompileError(f"{where}: burst takes no arguments", v.loc)
        kind = "burst"
        if requests is None:
            raise CompileError(f"{where}: burst arrivals need requests = N", block.loc)
        if duration is not None:
            raise CompileError(f"{where}: burst arrivals all come at time zero; a duration means nothing",
                               block.loc)
    elif func == "closed":
        if not isinstance(v, ast.Call):
            raise CompileError(f"{where}: closed() needs users = N", v.loc)
        cf = Fields(f"{where} closed()", v.kwargs, v.loc)
        if v.args:
            users = as_integer(v.args[0], f"{where}: closed() users")
        else:
            users = cf.integer("users", required=True)
        think = cf.quantity("think", ("time",), 0.0, positive=False)
        ramp_up = cf.quantity("ramp_up", ("time",), traffic_mod.DEFAULT_RAMP_UP_S, positive=False)
        jitter = cf.quantity("jitter", ("time",), traffic_mod.DEFAULT_JITTER_S, positive=False)
        cf.done()
        kind = "closed"
        if requests is None:
            raise CompileError(f"{where}: closed-loop traffic needs requests = N (a duration alone gives no "
                               f"bound on how many requests to prepare; add requests as the cap)", block.loc)
    else:
        raise CompileError(f"{where}: arrivals must be poisson(rate), burst or closed(users = N), "
                           f"got {describe(v)}", v.loc)
    if session is not None and kind == "closed":
        raise CompileError(f"{where}: a session's turns are sent as earlier ones finish; its arrivals give "
                           f"the session starts, so they must be poisson(rate) or burst, not closed()", v.loc)
    return traffic_mod.TrafficSpec(block.name, kind, block.loc, rate, users, think, requests, duration, prompt,
                                   output, ramp_up_s=ramp_up, jitter_s=jitter, session=session,
                                   system_prompt=system_prompt)
