"""Engine properties over random small systems and traffic (hypothesis).

For any system and traffic the compiler accepts, the simulation must obey the laws of its own model:
every request finishes or is rejected with a reason; each request's times are ordered and its token times
never go backwards; KV use never exceeds capacity; no instance idles while a request that fits waits for it;
the same seed gives the same frames. CI runs a bounded number of examples (see README, Testing).
"""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import infera
from helpers import program

import os

EXAMPLES = int(os.environ.get("INFERA_PROPERTY_EXAMPLES", "60"))
EPS = 1e-9


@st.composite
def scenarios(draw) -> str:
    n = draw(st.integers(1, 60))
    arrivals = draw(st.sampled_from(["poisson", "burst", "closed"]))
    if arrivals == "poisson":
        arr = f"poisson({draw(st.sampled_from([1, 10, 50, 400]))} /s)"
    elif arrivals == "burst":
        arr = "burst"
    else:
        arr = f"closed(users = {draw(st.integers(1, 16))}, think = {draw(st.sampled_from([0, 10]))} ms)"
    pmax = draw(st.sampled_from([64, 512, 1500]))
    omax = draw(st.sampled_from([1, 16, 300]))
    prompt = f"lognormal(median = {max(1, pmax // 4)} tokens, sigma = 1.0, max = {pmax})"
    output = f"uniform(min = 1, max = {omax})"
    block = draw(st.sampled_from([4, 16]))
    mem = draw(st.sampled_from([0.02, 0.05, 0.9]))
    max_batch = draw(st.sampled_from([1, 4, 64]))
    chunk = draw(st.sampled_from(["true", "false"]))
    mbt = 2048 if chunk == "true" and draw(st.booleans()) else 4096
    policy = draw(st.sampled_from(["decode_first", "prefill_first"]))
    router = draw(st.sampled_from(["round_robin", "least_tokens", "power_of_two"]))
    limits = draw(st.sampled_from(["", ", max_queue = 3", ", queue_timeout = 50 ms"]))
    common = (f"block_size = {block}, memory_utilization = {mem}, max_batch = {max_batch}, "
              f"chunked_prefill = {chunk}, max_batched_tokens = {mbt}, policy = {policy}{limits}")
    if draw(st.booleans()):
        system = f"""system s {{
  pool p: {draw(st.integers(1, 3))} x toy, {common}
  router = {router}
}}"""
    else:
        system = f"""system s {{
  pool pre: {draw(st.integers(1, 2))} x toy, role = prefill, {common}
  pool dec: {draw(st.integers(1, 2))} x toy, role = decode, {common}
  link pre -> dec {{ bandwidth = {draw(st.sampled_from([1, 100]))} GB/s, latency = 5 us }}
  prefill_router = {router}
}}"""
    return program(f"""
traffic t {{ arrivals = {arr}, prompt = {prompt}, output = {output}, requests = {n} }}
{system}
run r {{ model = tiny, traffic = t, system = s, seed = {draw(st.integers(0, 1000))} }}
""")


def compile_or_none(text: str) -> infera.Plan | None:
    """Some random systems are impossible (a KV cache too small for the longest request); the compiler
    rejects those with a located CompileError, which is itself a property."""
    try:
        return infera.compile_text(text)
    except infera.CompileError as err:
        assert err.loc is not None and err.reason
        return None


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_engine_laws_hold(text: str) -> None:
    plan = compile_or_none(text)
    if plan is None:
        return
    res = infera.simulate(plan)
    r, it, inst = res.requests, res.iterations, res.instances
    n = plan.summary()["requests"]
    # Every request finishes or is rejected with a reason.
    assert r.height == n
    assert set(r["status"].cast(pl.String).unique()) <= {"finished", "rejected_queue_full", "rejected_timeout"}
    done = r.filter(pl.col("status") == "finished")
    # Times are ordered per request; token times never go backwards.
    assert (done["arrival_s"] <= done["first_scheduled_s"] + EPS).all()
    assert (done["first_scheduled_s"] <= done["first_token_s"] + EPS).all()
    assert (done["first_token_s"] <= done["finish_s"] + EPS).all()
    multi = done.filter(pl.col("output_tokens") > 1)
    assert (multi["tpot_mean_s"] > 0).all() and (multi["tpot_p99_s"] > 0).all()
    assert (done["kv_wait_s"] >= 0).all() and (done["kv_transfer_s"] >= 0).all()
    # KV use never exceeds capacity.
    cap = inst.select("pool", "instance", "kv_blocks")
    joined = it.join(cap, on=["pool", "instance"])
    assert (joined["kv_blocks_used"] <= joined["kv_blocks"]).all()
    # No step carries more sequences than its pool's max_batch.
    limits = {p["name"]: p["max_batch"] for p in plan["pools"].to_pylist()}
    for (pool,), steps in it.group_by(["pool"]):
        assert steps["batch_size"].max() <= limits[pool]
    # Steps of one instance never overlap.
    for (_pool, _i), steps in it.group_by(["pool", "instance"]):
        s = steps.sort("start_s")
        ends = (s["start_s"] + s["duration_s"]).to_list()[:-1]
        assert all(e <= st + EPS for e, st in zip(ends, s["start_s"].to_list()[1:]))
    # No mixed instance idles while a request routed to it waits. (A prefill instance may: while a decode
    # pool pushes back, finished prefills keep their KV blocks there and new prompts do not fit.)
    mixed = set(res.pools.filter(pl.col("role") == "mixed")["pool"].to_list())
    for (pool, i), steps in it.group_by(["pool", "instance"]):
        if pool not in mixed:
            continue
        s = steps.sort("start_s")
        starts, ends = s["start_s"].to_list(), (s["start_s"] + s["duration_s"]).to_list()
        mine = done.filter((pl.col("prefill_pool") == pool) & (pl.col("prefill_instance") == i))
        for end, nxt in zip(ends[:-1], starts[1:]):
            if nxt > end + EPS:  # an idle gap
                waited = mine.filter((pl.col("arrival_s") < end - EPS) & (pl.col("first_scheduled_s") >= nxt - EPS)
                                     & (pl.col("preemptions") == 0))
                assert waited.height == 0, (pool, i, end, nxt)


@settings(max_examples=EXAMPLES // 3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_same_seed_same_frames(text: str) -> None:
    plan = compile_or_none(text)
    if plan is None:
        return
    a, b = infera.simulate(plan), infera.simulate(infera.compile_text(text))
    assert a.requests.equals(b.requests)
    assert a.iterations.equals(b.iterations)
    assert a.stats.equals(b.stats)
