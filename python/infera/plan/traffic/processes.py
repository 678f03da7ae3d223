"""Arrival processes: one sampling function per kind and one line in :data:`ARRIVALS`.

Each function draws a compiled spec's arrival times (seconds, sorted) from its generator: a fixed number
of requests (``spec.requests``), those before ``spec.duration_s``, or the first N of those. The
inhomogeneous processes (piecewise, diurnal, on/off) are Poisson processes whose rate changes with time;
the piecewise and on/off ones are drawn by inverting the cumulative rate (exact), the diurnal one by
thinning (Lewis and Shedler, 1979). All are vectorised: a million arrivals take a fraction of a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from infera.plan.traffic.stream import TrafficSpec

Sampler = Callable[[TrafficSpec, np.random.Generator], np.ndarray]


def _bounded(arrival: np.ndarray, spec: TrafficSpec) -> np.ndarray:
    if spec.duration_s is not None:
        arrival = arrival[arrival < spec.duration_s]
    return arrival if spec.requests is None else arrival[: spec.requests]


def _renewal(spec: TrafficSpec, rng: np.random.Generator, gaps: Callable[[int], np.ndarray]) -> np.ndarray:
    """Arrivals whose gaps are independent draws of ``gaps(k)`` (k at a time); by count, or in blocks
    until the stream passes the duration, so the result does not depend on a guess of how many."""
    if spec.requests is not None:
        return _bounded(np.cumsum(gaps(spec.requests)), spec)
    assert spec.duration_s is not None
    chunks, t = [], 0.0
    expected = int(spec.rate * spec.duration_s * 1.1) + 16
    while t < spec.duration_s:
        block = t + np.cumsum(gaps(expected))
        chunks.append(block)
        t = float(block[-1])
    return _bounded(np.concatenate(chunks), spec)


def poisson(spec: TrafficSpec, rng: np.random.Generator) -> np.ndarray:
    """``poisson(rate)``: exponential gaps. By count, drawn as standard exponentials and rescaled (so a rate
    search can reuse them, :func:`infera.plan.traffic.arrivals.unit_gaps`); by duration, in blocks."""
    if spec.requests is not None:
        return _bounded(np.cumsum(rng.standard_exponential(spec.requests) * (1.0 / spec.rate)), spec)
    return _renewal(spec, rng, lambda k: rng.exponential(1.0 / spec.rate, k))


def gamma(spec: TrafficSpec, rng: np.random.Generator) -> np.ndarray:
    """``gamma(rate, cv)``: gamma-distributed gaps of mean ``1 / rate`` and coefficient of variation ``cv``
    (shape ``1 / cv^2``); cv = 1 is Poisson, cv > 1 burstier, cv < 1 more regular."""
    shape = 1.0 / spec.params["cv"] ** 2
    scale = 1.0 / (spec.rate * shape)
    return _renewal(spec, rng, lambda k: rng.gamma(shape, scale, k))


def constant(spec: TrafficSpec, rng: np.random.Generator) -> np.ndarray:
    """``constant(rate)``: one request every ``1 / rate`` seconds, the first at time zero (draws nothing)."""
    n = spec.requests if spec.requests is not None else math.ceil(spec.rate * spec.duration_s)
    return _bounded(np.arange(n, dtype=np.float64) / spec.rate, spec)


def burst(spec: TrafficSpec, rng: np.random.Generator) -> np.ndarray:
    """``burst``: every request at time zero."""
    assert spec.requests is not None
    return np.zeros(spec.requests)


def closed(spec: TrafficSpec, rng: np.random.Generator) -> np.ndarray:
    """``closed(users, think)``: no arrival times; the engine issues requests as users finish."""
    assert spec.requests is not None
    return np.full(spec.requests, np.nan)


def _unit_events(spec: TrafficSpec, rng: np.random.Generator, mass: float | None) -> np.ndarray:
    """Event times of a rate-1 Poisson process: ``spec.requests`` of them, or (by duration) those below
    ``mass``, the cumulative rate at the duration, drawn in blocks."""
    if spec.requests is not None:
        return np.cumsum(rng.standard_exponential(spec.requests))
    assert mass is not None
    events, total = [], 0.0
    while total < mass:
        block = total + np.cumsum(rng.standard_exponential(int(mass * 1.1) + 16))
        events.append(block)
        total = float(block[-1])
    events = np.concatenate(events)
    return events[events < mass]


def _cum(knots: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """The cumulative rate at each knot, the rate being ``rates[j]`` from ``knots[j]`` to the next."""
    return np.concatenate([[0.0], np.cumsum(np.diff(knots) * rates[:-1])])


def _mass_at(knots: np.ndarray, rates: np.ndarray, t: float) -> float:
    j = int(np.searchsorted(knots, t, side="right")) - 1
    return float(_cum(knots, rates)[j] + (t - knots[j]) * rates[j])


def _invert(events: np.ndarray, knots: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """The times at which the cumulative rate reaches each unit event (the last rate holds forever; a
    zero last rate ends the stream). A flat stretch (rate 0) is skipped: ``side="right"`` lands each event
    in the stretch after it, where the rate is positive."""
    cum = _cum(knots, rates)
    j = np.searchsorted(cum, events, side="right") - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        t = knots[j] + (events - cum[j]) / rates[j]
    return t[np.isfinite(t)]


def piecewise(spec: TrafficSpec, rng: np.random.Generator) -> np.ndarray:
    """``piecewise(at = [0 s, 600 s], rate = [2 /s, 8 /s])``: Poisson arrivals at ``rate[j]`` from
    ``at[j]`` until the next time (the last rate holds on), by inversion of the cumulative rate."""
    knots = np.asarray(spec.params["at"], dtype=np.float64)
    rates = np.asarray(spec.params["rates"], dtype=np.float64)
    mass = _mass_at(knots, rates, spec.duration_s) if spec.duration_s is not None else None
    return _bounded(_invert(_unit_events(spec, rng, mass), knots, rates), spec)


def diurnal(spec: TrafficSpec, rng: np.random.Generator) -> np.ndarray:
    """``diurnal(mean, amplitude, period, peak)``: Poisson arrivals at rate
    ``mean * (1 + amplitude * cos(2 pi (t - peak) / period))``, by thinning candidates drawn at the peak
    rate (per block: the candidates' gaps, then one acceptance uniform each)."""
    p = spec.params
    top = spec.rate * (1.0 + p["amplitude"])
    if spec.requests is not None:
        block = int(spec.requests * (1.0 + p["amplitude"]) * 1.1) + 16
    else:
        block = int(top * spec.duration_s * 1.1) + 16
    horizon = math.inf if spec.duration_s is None else spec.duration_s
    kept, t, count = [], 0.0, 0
    while t < horizon and (spec.requests is None or count < spec.requests):
        cand = t + np.cumsum(rng.standard_exponential(block) / top)
        u = rng.random(block)
        rate = spec.rate * (1.0 + p["amplitude"] * np.cos(2 * math.pi * (cand - p["peak_s"]) / p["period_s"]))
        keep = cand[u * top < rate]
        kept.append(keep)
        count += len(keep)
        t = float(cand[-1])
    return _bounded(np.concatenate(kept), spec)


def onoff(spec: TrafficSpec, rng: np.random.Generator) -> np.ndarray:
    """``onoff(rate_on, rate_off, mean_on, mean_off)``: a Markov-modulated Poisson process with two states
    (on first), each lasting an exponential time of its mean and sending at its rate, drawn by inversion
    along the state path. By duration the path is drawn first, up to the duration, then the unit events;
    by count the events first, then the path until it carries them all. The path grows in blocks of on/off
    cycles sized from what is still missing (at least 64), so its length is linear in the stream's."""
    p = spec.params
    rate_on, rate_off, mean_on, mean_off = p["rate_on"], p["rate_off"], p["mean_on_s"], p["mean_off_s"]
    knots: list[np.ndarray] = []
    end, mass = 0.0, 0.0

    def grow(cycles: int) -> None:
        nonlocal end, mass
        on = rng.standard_exponential(cycles) * mean_on
        off = rng.standard_exponential(cycles) * mean_off
        lengths = np.empty(2 * cycles)
        lengths[0::2], lengths[1::2] = on, off
        knots.append(end + np.concatenate([[0.0], np.cumsum(lengths)[:-1]]))
        end = float(knots[-1][-1] + lengths[-1])
        mass += float(on.sum() * rate_on + off.sum() * rate_off)

    if spec.duration_s is not None:
        while end < spec.duration_s:
            grow(max(64, math.ceil(1.1 * (spec.duration_s - end) / (mean_on + mean_off))))
    events = _unit_events(spec, rng, None) if spec.duration_s is None else None
    if events is not None:
        per_cycle = rate_on * mean_on + rate_off * mean_off
        while not knots or (len(events) and mass < events[-1]):
            grow(max(64, math.ceil(1.1 * (events[-1] - mass) / per_cycle) if len(events) else 64))
    k = np.concatenate(knots)
    r = np.tile([rate_on, rate_off], len(k) // 2)
    if events is None:
        events = _unit_events(spec, rng, _mass_at(k, r, spec.duration_s))
    return _bounded(_invert(events, k, r), spec)


#: Arrival kinds: the name a ``traffic`` block's ``arrivals = name(...)`` uses → its sampler.
ARRIVALS: dict[str, Sampler] = {"poisson": poisson, "gamma": gamma, "constant": constant, "piecewise": piecewise,
                                "diurnal": diurnal, "onoff": onoff, "burst": burst, "closed": closed}
