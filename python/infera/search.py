"""Capacity search: the highest arrival rate at which a system still meets its SLO.

DistServe's goodput: the highest request rate at which at least a given share of requests (90% by default)
meets every SLO target. For each system of a run, :func:`max_rate` re-simulates the run's Poisson traffic at
other rates (same seed, so every probe sees the same requests, only spaced differently), first doubling or
halving the rate until it brackets the answer, then bisecting until the bracket is within ``tolerance``
(relative). The answer is the highest rate simulated that met the target; the lowest that failed is reported
beside it, so the bracket is visible.

Each system is compiled once. With a fixed number of requests and no duration, a probe's plan is that plan
with its arrival times rescaled from the stream's unit-rate gaps (bit for bit what sampling at the probe's
rate gives). With a duration, the rate decides how many requests arrive in time and so every draw after the
arrivals: those probes compile the traffic again at their rate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import polars as pl

from infera.api import simulate
from infera.dsl import ast, parse, parse_file
from infera.exceptions import CompileError
from infera.plan import traffic as traffic_mod
from infera.plan.checks import check_stream
from infera.plan.compiler import compile_program, run_specs
from infera.plan.specs import RunSpec, SearchSpec
from infera.plan.tables import Plan


@dataclass
class Probe:
    rate: float
    attainment: float
    chips: int
    usd_per_hour: float


def _program(source: str | Path | ast.Program) -> ast.Program:
    if isinstance(source, ast.Program):
        return source
    # A string holding a block (braces) is source text; anything else names a file.
    if isinstance(source, str) and "{" in source:
        return parse(source)
    return parse_file(source)


def prober(program: ast.Program, run: RunSpec, system: str,
            traffic: traffic_mod.TrafficSpec) -> Callable[[float], Plan]:
    """The plan of a probe of one system at a given rate, the system compiled once."""
    gaps = traffic_mod.unit_gaps(traffic, run.seed)
    if gaps is None:
        return lambda rate: compile_program(program, traffic_rates={run.traffic: rate}, select=(run.name, system))
    plan = compile_program(program, select=(run.name, system))

    def at(rate: float) -> Plan:
        arrival = traffic_mod.poisson_arrivals(gaps, rate)
        check_stream(dataclasses.replace(traffic, rate=rate), arrival)
        return plan.with_column("requests", "arrival_s", arrival)

    return at


def _probe(plan: Plan, rate: float) -> Probe:
    res = simulate(plan, requests=False, iterations=False, token_stats=False)
    s = res.summary.row(0, named=True)
    usd_per_hour = s["cost_usd"] / s["duration_s"] * 3600 if s["duration_s"] > 0 else 0.0
    return Probe(rate, float(s["slo_attainment"]), int(s["chips"]), usd_per_hour)


def search_system(program: ast.Program, run: RunSpec, system: str, traffic: traffic_mod.TrafficSpec,
                  spec: SearchSpec) -> dict[str, object]:
    """Brackets and bisects the max rate of one system, starting at the traffic's rate; returns one result
    row."""
    probes: list[Probe] = []
    plan_at = prober(program, run, system, traffic)

    def ok(rate: float) -> bool:
        p = _probe(plan_at(rate), rate)
        probes.append(p)
        return p.attainment >= spec.attainment

    good: float | None = None
    bad: float | None = None
    rate = traffic.rate
    if ok(rate):
        good = rate
        while bad is None and len(probes) < spec.max_probes:
            rate *= 2
            if ok(rate):
                good = rate
            else:
                bad = rate
    else:
        bad = rate
        while good is None and len(probes) < spec.max_probes:
            rate /= 2
            if ok(rate):
                good = rate
            else:
                bad = rate
    while good is not None and bad is not None and (bad - good) / bad > spec.tolerance \
            and len(probes) < spec.max_probes:
        mid = (good + bad) / 2
        if ok(mid):
            good = mid
        else:
            bad = mid
    by_rate = {p.rate: p for p in probes}
    top = by_rate[good] if good is not None else None
    chips = probes[0].chips
    usd = probes[0].usd_per_hour
    return {
        "run": run.name,
        "system": system,
        "max_rate_rps": good,
        "failing_rate_rps": bad,
        "attainment_at_max": top.attainment if top else None,
        "attainment_at_failing": by_rate[bad].attainment if bad is not None else None,
        "target_attainment": spec.attainment,
        "tolerance": spec.tolerance,
        "probes": len(probes),
        "converged": good is not None and bad is not None and (bad - good) / bad <= spec.tolerance,
        "chips": chips,
        "usd_per_hour": usd,
        "max_rate_rps_per_chip": good / chips if good is not None else None,
        "requests_per_dollar": good * 3600 / usd if good is not None and usd > 0 else None,
    }


def max_rate(source: str | Path | ast.Program, *, run: str | None = None, attainment: float | None = None,
             tolerance: float | None = None, max_probes: int | None = None) -> pl.DataFrame:
    """For each system of a run, the highest Poisson rate at which ``attainment`` of requests meet the SLO.

    ``source`` is a `.infera` path, source text or a parsed program. The run's ``search = max_rate(...)``
    field gives the defaults; keyword arguments override them. Returns one row per system with the answer
    (``max_rate_rps``), the failing rate above it, both attainments, the probe count, and the answer per chip
    and per dollar.

    >>> infera.max_rate("examples/disaggregation.infera", run="long_prompts")   # doctest: +SKIP
    """
    program = _program(source)
    runs, traffics = run_specs(program)
    candidates = [r for r in runs if run is None or r.name == run]
    if run is None:
        searched = [r for r in candidates if r.search is not None]
        candidates = searched or candidates
    if not candidates:
        raise CompileError(f"no run '{run}' in {program.file}", ast.Loc(program.file, 1, 1))
    rows = []
    for r in candidates:
        if r.slo is None:
            raise CompileError(f"run '{r.name}': a max-rate search needs an slo", r.loc)
        traffic = traffics.get(r.traffic)
        if traffic is None or traffic.arrivals != "poisson":
            raise CompileError(f"run '{r.name}': a max-rate search varies a Poisson rate; traffic '{r.traffic}' "
                               f"is not Poisson", r.traffic_loc)
        base = r.search or SearchSpec()
        spec = SearchSpec(attainment if attainment is not None else base.attainment,
                          tolerance if tolerance is not None else base.tolerance,
                          max_probes if max_probes is not None else base.max_probes)
        for system, _ in r.systems:
            rows.append(search_system(program, r, system, traffic, spec))
    return pl.DataFrame(rows)
