"""Engine speed benchmarks (pytest-benchmark). Run on demand, not in CI:

    pytest benches/ --benchmark-enable --benchmark-columns=min,mean,max,rounds

Targets (issue "Engine speed"), one core of a 2-core machine, plan in → frames out:
1M chat requests on 16 mixed Llama-3.1-8B/H100 instances ≤ 5 s and ≤ 2 GiB peak; the same on 8 prefill +
8 decode ≤ 8 s; 10x the requests ≤ 11x the time; compiling a 1M-request plan ≤ 2 s. `benches/RESULTS.md`
records the figures.
"""

from __future__ import annotations

import pytest

import infera
from workloads import mixed, split


@pytest.fixture(scope="module")
def plans() -> dict[str, infera.Plan]:
    return {
        "mixed_100k": infera.compile_text(mixed(100_000)),
        "mixed_1m": infera.compile_text(mixed(1_000_000)),
        "split_1m": infera.compile_text(split(1_000_000)),
    }


def test_compile_1m_requests(benchmark) -> None:
    text = mixed(1_000_000)
    infera.compile_text(text)  # warm: grammar and catalog are built once per process
    plan = benchmark.pedantic(infera.compile_text, args=(text,), rounds=3, iterations=1)
    assert plan.summary()["requests"] == 1_000_000


def _simulate(plan: infera.Plan) -> infera.Results:
    res = infera.simulate(plan)
    res.summary  # frames out: the summary is part of the job
    return res


@pytest.mark.parametrize("name", ["mixed_100k", "mixed_1m", "split_1m"])
def test_simulate(benchmark, plans, name: str) -> None:
    res = benchmark.pedantic(_simulate, args=(plans[name],), rounds=3, iterations=1)
    assert res.requests.height == plans[name].summary()["requests"]


def _summary_only(plan: infera.Plan) -> infera.Results:
    res = infera.simulate(plan, requests=False, iterations=False, token_stats=False)
    res.summary
    return res


def test_simulate_summary_only_1m(benchmark, plans) -> None:
    """The same 1M-request run keeping no per-request or per-step rows: the summary from the core's
    statistics (issue 10 target: <= 1.0 s)."""
    res = benchmark.pedantic(_summary_only, args=(plans["mixed_1m"],), rounds=3, iterations=1)
    assert res.summary["requests"][0] == 1_000_000


@pytest.mark.parametrize("users", [8, 512])
def test_per_step_cost_is_flat_in_batch_size(benchmark, users: int) -> None:
    """A closed loop of `users` keeps the decode batch at `users`; time per engine step should not grow with
    it (the engine keeps decode aggregates incrementally)."""
    text = f"""
use chips.h100_sxm, models.llama3_1_8b
traffic t {{ arrivals = closed(users = {users}), prompt = 64 tokens, output = 2000 tokens,
             requests = {users * 4} }}
system s {{ pool p: 1 x h100_sxm, max_batch = 1024 }}
run r {{ model = llama3_1_8b, traffic = t, system = s }}
"""
    plan = infera.compile_text(text)
    res = benchmark.pedantic(infera.simulate, args=(plan,), kwargs={"token_stats": False}, rounds=5,
                             iterations=1)
    steps = res.iterations.height
    benchmark.extra_info["steps"] = steps
    benchmark.extra_info["mean_batch"] = float(res.iterations["batch_size"].mean())
    assert steps > 7000
