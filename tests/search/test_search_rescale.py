"""The max-rate search compiles each system once: a probe's plan must be the plan a compilation at the probe's
rate gives, table for table, whether the arrivals are rescaled or (with a duration) sampled again."""

from __future__ import annotations

import pytest

import infera
from helpers import program
from infera.plan.compiler import compile_program, run_specs
from infera.search import prober

TRAFFIC = """
traffic t {{ arrivals = poisson(20 /s), prompt = lognormal(median = 300 tokens, sigma = 0.5{cap})
            output = lognormal(median = 50 tokens, sigma = 0.5, max = 400), {size} }}
slo s {{ ttft.p90 < 50 ms }}
system a {{ pool gp: 2 x toy }}
system b {{ pool gp: 1 x toy }}
run r {{ model = tiny, traffic = t, systems = [a, b], slo = s, seed = 3 }}
"""

RATES = [20.0, 40.0, 10.0, 15.0, 17.5, 0.3125, 1234.5678]


def _probe_and_compiled(size: str, cap: str, system: str, rate: float):
    prog = infera.parse(program(TRAFFIC.format(size=size, cap=cap)))
    runs, traffics = run_specs(prog)
    (run,) = runs
    probe = prober(prog, run, system, traffics["t"])
    return (lambda: probe(rate)), (lambda: compile_program(prog, traffic_rates={"t": rate}, select=("r", system)))


@pytest.mark.parametrize("size, cap", [("requests = 300", ", max = 2000"), ("requests = 300", ""),
                                       ("requests = 300, duration = 8 s", ""), ("duration = 6 s", ", max = 2000")])
@pytest.mark.parametrize("system", ["a", "b"])
def test_a_probe_plan_is_the_plan_compiled_at_its_rate(size: str, cap: str, system: str) -> None:
    for rate in RATES:
        probe, compiled = _probe_and_compiled(size, cap, system, rate)
        got, want = probe(), compiled()
        assert got.tables.keys() == want.tables.keys()
        for name, table in want.tables.items():
            assert got[name].equals(table), (rate, name)


def test_a_probe_whose_arrivals_overflow_fails_as_the_compiler_does() -> None:
    probe, compiled = _probe_and_compiled("requests = 300", "", "a", 1e-310)
    with pytest.raises(infera.CompileError) as want:
        compiled()
    with pytest.raises(infera.CompileError) as got:
        probe()
    assert str(got.value) == str(want.value)
    assert "arrival times overflow to infinity" in str(got.value)
