"""``arrivals = ...`` of a traffic block or class → :class:`Arrivals`: one reader per kind and one line in
:data:`READERS` (the samplers are :data:`infera.plan.traffic.processes.ARRIVALS`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import traffic as traffic_mod
from infera.plan.fields import Fields, as_integer, as_quantity, describe
from infera.plan.specs import MAX_REQUESTS


@dataclass
class Arrivals:
    """A compiled arrival process: its kind, mean rate (open loop) or users (closed loop), and the kind's
    own parameters."""

    kind: str
    rate: float = 0.0
    users: int = 0
    think_s: float = 0.0
    ramp_up_s: float = 0.0
    jitter_s: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Bounds:
    """What bounds a stream (``requests``, ``duration``), with where to report a missing bound."""

    where: str
    requests: int | None
    duration_s: float | None
    loc: ast.Loc


Reader = Callable[[ast.Value, Bounds], Arrivals]


def _kwargs(v: ast.Value, b: Bounds, name: str, positional: tuple[str, ...] = ()) -> Fields:
    """The call's arguments as fields (the first ones may be positional, in the order ``positional``)."""
    if not isinstance(v, ast.Call):
        raise CompileError(f"{b.where}: {name}() needs arguments", v.loc)
    if len(v.args) > len(positional):
        raise CompileError(f"{b.where}: {name}() takes at most {len(positional)} positional argument(s)", v.loc)
    items = [ast.Assign(key, a, a.loc) for key, a in zip(positional, v.args)] + list(v.kwargs)
    return Fields(f"{b.where} {name}()", items, v.loc)


def _open_loop(kind: str, rate: float, b: Bounds, **params: Any) -> Arrivals:
    """An open-loop process of mean ``rate``: it needs a count or a duration, and at most
    ``MAX_REQUESTS`` requests expected in that duration."""
    if b.requests is None and b.duration_s is None:
        raise CompileError(f"{b.where}: give requests = N or duration = T", b.loc)
    if b.requests is None and rate * b.duration_s > MAX_REQUESTS:
        raise CompileError(f"{b.where}: {kind}({rate:g} /s) for {b.duration_s:g} s is about "
                           f"{rate * b.duration_s:.3g} requests, more than the {MAX_REQUESTS} a traffic block may "
                           f"have; set requests = N or a shorter duration", b.loc)
    return Arrivals(kind, rate=rate, params=params)


def poisson(v: ast.Value, b: Bounds) -> Arrivals:
    if not isinstance(v, ast.Call) or len(v.args) + len(v.kwargs) != 1:
        raise CompileError(f"{b.where}: poisson() takes one rate, e.g. poisson(8 /s)", v.loc)
    rv = v.args[0] if v.args else v.kwargs[0].value
    return _open_loop("poisson", as_quantity(rv, ("rate",), f"{b.where}: poisson rate"), b)


def gamma(v: ast.Value, b: Bounds) -> Arrivals:
    f = _kwargs(v, b, "gamma", ("rate", "cv"))
    rate = f.quantity("rate", ("rate",), required=True)
    cv = f.quantity("cv", ("number",), required=True)
    f.done()
    return _open_loop("gamma", rate, b, cv=cv)


def constant(v: ast.Value, b: Bounds) -> Arrivals:
    f = _kwargs(v, b, "constant", ("rate",))
    rate = f.quantity("rate", ("rate",), required=True)
    f.done()
    return _open_loop("constant", rate, b)


def _list(f: Fields, key: str, dims: tuple[str, ...], positive: bool) -> list[float]:
    a = f.require(key)
    if not isinstance(a.value, ast.ListValue) or not a.value.items:
        raise CompileError(f"{f.where}: '{key}' must be a non-empty list, e.g. [0 s, 600 s]", a.value.loc)
    return [as_quantity(x, dims, f"{f.where}: {key}", positive=positive) for x in a.value.items]


def piecewise(v: ast.Value, b: Bounds) -> Arrivals:
    f = _kwargs(v, b, "piecewise")
    at_loc = f.values["at"].value.loc if f.has("at") else v.loc
    at = _list(f, "at", ("time",), positive=False)
    rates = _list(f, "rate", ("rate",), positive=False)
    f.done()
    if len(at) != len(rates):
        raise CompileError(f"{b.where}: piecewise() needs one rate per time, got {len(at)} times and "
                           f"{len(rates)} rates", v.loc)
    if at[0] != 0 or any(y <= x for x, y in zip(at, at[1:])):
        raise CompileError(f"{b.where}: piecewise() times must start at 0 s and increase", at_loc)
    if not any(r > 0 for r in rates):
        raise CompileError(f"{b.where}: piecewise() needs a rate above zero somewhere", v.loc)
    if b.duration_s is None and rates[-1] == 0:
        raise CompileError(f"{b.where}: piecewise() ends at rate 0, so requests = N may never all arrive; "
                           f"give a duration", v.loc)
    # Mean rate over the duration (or the last rate, which holds on), for the request-count check.
    horizon = b.duration_s if b.duration_s is not None else at[-1] + 1.0
    edges = [*at, max(horizon, at[-1])]
    mass = sum(r * max(0.0, min(e1, horizon) - e0) for r, e0, e1 in zip(rates, edges, edges[1:]))
    mean = mass / horizon if b.duration_s is not None else rates[-1]
    return _open_loop("piecewise", max(mean, 1e-300), b, at=at, rates=rates)


def diurnal(v: ast.Value, b: Bounds) -> Arrivals:
    f = _kwargs(v, b, "diurnal", ("mean",))
    mean = f.quantity("mean", ("rate",), required=True)
    amp_a = f.values.get("amplitude")
    amplitude = f.quantity("amplitude", ("number",), required=True, positive=False)
    period = f.quantity("period", ("time",), required=True)
    peak = f.quantity("peak", ("time",), 0.0, positive=False)
    f.done()
    if amplitude > 1:
        raise CompileError(f"{b.where}: diurnal() amplitude is a fraction of the mean in [0, 1], got {amplitude:g}",
                           amp_a.value.loc if amp_a else v.loc)
    return _open_loop("diurnal", mean, b, amplitude=amplitude, period_s=period, peak_s=peak)


def onoff(v: ast.Value, b: Bounds) -> Arrivals:
    f = _kwargs(v, b, "onoff")
    rate_on = f.quantity("rate_on", ("rate",), required=True)
    rate_off = f.quantity("rate_off", ("rate",), 0.0, positive=False)
    mean_on = f.quantity("mean_on", ("time",), required=True)
    mean_off = f.quantity("mean_off", ("time",), required=True)
    f.done()
    mean = (rate_on * mean_on + rate_off * mean_off) / (mean_on + mean_off)
    return _open_loop("onoff", mean, b, rate_on=rate_on, rate_off=rate_off, mean_on_s=mean_on,
                      mean_off_s=mean_off)


def burst(v: ast.Value, b: Bounds) -> Arrivals:
    if isinstance(v, ast.Call) and (v.args or v.kwargs):
        raise CompileError(f"{b.where}: burst takes no arguments", v.loc)
    if b.requests is None:
        raise CompileError(f"{b.where}: burst arrivals need requests = N", b.loc)
    if b.duration_s is not None:
        raise CompileError(f"{b.where}: burst arrivals all come at time zero; a duration means nothing", b.loc)
    return Arrivals("burst")


def closed(v: ast.Value, b: Bounds) -> Arrivals:
    if not isinstance(v, ast.Call):
        raise CompileError(f"{b.where}: closed() needs users = N", v.loc)
    cf = Fields(f"{b.where} closed()", v.kwargs, v.loc)
    if v.args:
        users = as_integer(v.args[0], f"{b.where}: closed() users")
    else:
        users = cf.integer("users", required=True)
    think = cf.quantity("think", ("time",), 0.0, positive=False)
    ramp_up = cf.quantity("ramp_up", ("time",), traffic_mod.DEFAULT_RAMP_UP_S, positive=False)
    jitter = cf.quantity("jitter", ("time",), traffic_mod.DEFAULT_JITTER_S, positive=False)
    cf.done()
    if b.requests is None:
        raise CompileError(f"{b.where}: closed-loop traffic needs requests = N (a duration alone gives no "
                           f"bound on how many requests to prepare; add requests as the cap)", b.loc)
    return Arrivals("closed", users=users, think_s=think, ramp_up_s=ramp_up, jitter_s=jitter)


#: Arrival kinds → their readers (each kind's sampler has the same name in ``processes.ARRIVALS``).
READERS: dict[str, Reader] = {"poisson": poisson, "gamma": gamma, "constant": constant, "piecewise": piecewise,
                              "diurnal": diurnal, "onoff": onoff, "burst": burst, "closed": closed}


def read_arrivals(v: ast.Value, b: Bounds) -> Arrivals:
    func = v.func if isinstance(v, ast.Call) else v.id if isinstance(v, ast.Name) else None
    reader = READERS.get(func) if func is not None else None
    if reader is None:
        raise CompileError(f"{b.where}: arrivals must be poisson(rate), burst or closed(users = N) (or "
                           f"{', '.join(k + '(...)' for k in READERS if k not in ('poisson', 'burst', 'closed'))}), "
                           f"got {describe(v)}", v.loc)
    return reader(v, b)

