"""End-to-end behaviour of the engine through the Python API, checked against hand calculations and laws."""

from __future__ import annotations

import math

import polars as pl
import pytest

import infera
from helpers import H, I, KV, KVB, L, Q, V, WB, most_in_flight, program, step_time

SINGLE = """
traffic one { arrivals = burst, prompt = 100 tokens, output = 5 tokens, requests = 1 }
system s { pool p: 1 x toy, step_overhead = 1 ms }
run r { model = tiny, traffic = one, system = s }
"""


def test_single_request_matches_hand_calculation() -> None:
    res = infera.simulate(infera.compile_text(program(SINGLE)))
    req = res.requests.row(0, named=True)
    P, O = 100, 5
    ttft = step_time(P, 1, P * (P + 1) / 2, P)
    assert req["ttft_s"] == pytest.approx(ttft, rel=1e-12)
    # Decode step k feeds token k: context before it is P + k - 1, it attends to P + k keys.
    decodes = [step_time(1, 1, P + k, P + k) for k in range(1, O)]
    assert req["finish_s"] - req["first_token_s"] == pytest.approx(sum(decodes), rel=1e-12)
    assert req["tpot_mean_s"] == pytest.approx(sum(decodes) / (O - 1), rel=1e-12)
    # The per-step log shows the same prices, in order.
    it = res.iterations.sort("step")
    assert it.height == O
    assert it["duration_s"].to_list() == pytest.approx([ttft, *decodes], rel=1e-12)
    assert it["prefill_tokens"].to_list() == [P, 0, 0, 0, 0]
    assert it["decode_tokens"].to_list() == [0, 1, 1, 1, 1]


def test_kernel_overhead_adds_a_fixed_time_per_compute_kernel() -> None:
    """`kernel_overhead` adds its time once per compute operator occurrence (docs/cost-model.md): the tiny model
    has 2 layers x 8 per-layer operators + embedding, final norm and LM head = 19 kernels a step; the
    all-reduces (tp = 1, free here) are not kernels of the chip."""
    base = infera.simulate(infera.compile_text(program(SINGLE))).iterations.sort("step")["duration_s"]
    text = program(SINGLE.replace("1 x toy", "1 x slow") + "chip slow extends toy { kernel_overhead = 5 us }")
    slow = infera.simulate(infera.compile_text(text)).iterations.sort("step")["duration_s"]
    assert (slow - base).to_list() == pytest.approx([19 * 5e-6] * 5, rel=1e-9)
    with pytest.raises(infera.CompileError, match="kernel_overhead"):
        infera.compile_text(program(SINGLE + "chip bad extends toy { kernel_overhead = 5 GB }"))


def test_kv_blocks_follow_memory_minus_weights() -> None:
    res = infera.simulate(infera.compile_text(program(SINGLE)))
    params = 2 * V * H + L * (H * (Q + 2 * KV) + Q * H + 3 * H * I + 2 * H) + H
    usable = 1e9 * 0.9
    kv_per_token = 2 * L * KV * KVB
    assert res.instances["kv_blocks"][0] == math.floor((usable - params * WB) / (kv_per_token * 16))


CHAT = """
traffic chat {
  arrivals = poisson(40 /s)
  prompt = lognormal(median = 300 tokens, sigma = 0.8, max = 2000)
  output = lognormal(median = 80 tokens, sigma = 0.8, max = 1000)
  requests = 4000
}
system s { pool p: 2 x toy, max_batch = 64, max_batched_tokens = 1024 }
slo fast { ttft.p99 < 1 s, tpot.p99 < 20 ms }
run r { model = tiny, traffic = chat, system = s, slo = fast, seed = 3 }
"""


@pytest.fixture(scope="module")
def chat_results() -> infera.Results:
    return infera.simulate(infera.compile_text(program(CHAT)))


def test_every_request_finishes_with_ordered_times(chat_results: infera.Results) -> None:
    r = chat_results.requests
    assert r.height == 4000
    assert r["request_id"].n_unique() == 4000
    assert (r["arrival_s"] <= r["first_scheduled_s"]).all()
    assert (r["first_scheduled_s"] <= r["first_token_s"]).all()
    assert (r["first_token_s"] <= r["finish_s"]).all()
    assert (r.filter(pl.col("output_tokens") > 1)["tpot_p99_s"] > 0).all()


def test_kv_use_never_exceeds_capacity(chat_results: infera.Results) -> None:
    cap = chat_results.instances.select("instance", "kv_blocks")
    it = chat_results.iterations.join(cap, on="instance")
    assert it.height > 0
    assert (it["kv_blocks_used"] <= it["kv_blocks"]).all()


def test_littles_law_on_the_decode_stage(chat_results: infera.Results) -> None:
    """L = λ W for the decode stage, with L from the step log and λ, W from the request table."""
    r, it = chat_results.requests, chat_results.iterations
    # Steady-state window: drop the first and last 10% of the simulated time.
    t0, t1 = r["arrival_s"].min(), r["finish_s"].max()
    lo, hi = t0 + 0.1 * (t1 - t0), t0 + 0.9 * (t1 - t0)
    steps = it.filter((pl.col("start_s") >= lo) & (pl.col("start_s") < hi))
    L_decode = (steps["decode_tokens"].cast(pl.Float64) * steps["duration_s"]).sum() / (hi - lo)
    done = r.filter((pl.col("first_token_s") >= lo) & (pl.col("first_token_s") < hi) & (pl.col("output_tokens") > 1))
    lam = done.height / (hi - lo)
    W = (done["finish_s"] - done["first_token_s"]).mean()
    assert L_decode == pytest.approx(lam * W, rel=0.05)
    # And the server keeps up with the offered load: completions per second match the Poisson rate.
    finished = r.filter((pl.col("finish_s") >= lo) & (pl.col("finish_s") < hi)).height / (hi - lo)
    assert finished == pytest.approx(40, rel=0.08)


def test_same_seed_same_frames() -> None:
    plan = infera.compile_text(program(CHAT))
    a, b = infera.simulate(plan), infera.simulate(infera.compile_text(program(CHAT)))
    assert a.requests.equals(b.requests)
    assert a.iterations.equals(b.iterations)
    assert a.summary.equals(b.summary)


def test_different_seed_different_stream() -> None:
    a = infera.compile_text(program(CHAT))["requests"]
    b = infera.compile_text(program(CHAT.replace("seed = 3", "seed = 4")))["requests"]
    assert a.column("prompt_tokens") != b.column("prompt_tokens")


def test_preemption_under_memory_pressure_still_finishes() -> None:
    text = program("""
traffic heavy { arrivals = burst, prompt = 1500 tokens, output = 600 tokens, requests = 64 }
system s { pool p: 1 x toy, memory_utilization = 0.05, max_batch = 64 }
run r { model = tiny, traffic = heavy, system = s }
""")
    res = infera.simulate(infera.compile_text(text))
    assert res.requests.height == 64
    assert res.requests["preemptions"].sum() > 0
    cap = res.instances["kv_blocks"][0]
    assert res.iterations["kv_blocks_used"].max() <= cap
    # Recomputation costs time: total prefill tokens exceed the prompts.
    assert res.iterations["prefill_tokens"].sum() > 64 * 1500


def test_closed_loop_keeps_at_most_users_in_flight() -> None:
    text = program("""
traffic bench { arrivals = closed(users = 8, jitter = 0 s), prompt = 200 tokens, output = 50 tokens,
                requests = 200 }
system s { pool p: 1 x toy }
run r { model = tiny, traffic = bench, system = s }
""")
    r = infera.simulate(infera.compile_text(text)).requests
    assert r.height == 200
    peak = most_in_flight(r["arrival_s"], r["finish_s"])
    assert peak == 8
    # The ideal client (no jitter) sends every user's first request at time 0.
    assert (r["arrival_s"] == 0).sum() == 8


def test_burst_is_batched_in_the_first_step() -> None:
    text = program("""
traffic b { arrivals = burst, prompt = 100 tokens, output = 10 tokens, requests = 32 }
system s { pool p: 1 x toy, max_batched_tokens = 4096 }
run r { model = tiny, traffic = b, system = s }
""")
    it = infera.simulate(infera.compile_text(text)).iterations.sort("step")
    assert it["prefill_tokens"][0] == 3200
    assert it["batch_size"][0] == 32


def test_chunked_prefill_splits_long_prompts() -> None:
    text = program("""
traffic b { arrivals = burst, prompt = 1000 tokens, output = 2 tokens, requests = 1 }
system s { pool p: 1 x toy, chunked_prefill = 256 tokens }
run r { model = tiny, traffic = b, system = s }
""")
    it = infera.simulate(infera.compile_text(text)).iterations.sort("step")
    assert it["prefill_tokens"].to_list()[:4] == [256, 256, 256, 232]


def test_prefill_first_policy_stalls_decodes() -> None:
    body = """
traffic t { arrivals = poisson(50 /s), prompt = 400 tokens, output = 100 tokens, requests = 300 }
system s { pool p: 1 x toy, policy = POLICY, max_batched_tokens = 512 }
run r { model = tiny, traffic = t, system = s }
"""
    first = infera.simulate(infera.compile_text(program(body.replace("POLICY", "prefill_first")))).iterations
    mixed = first.filter((pl.col("prefill_tokens") > 0) & (pl.col("decode_tokens") > 0))
    assert mixed.height == 0  # prefill-first never mixes the two in one step
    dfirst = infera.simulate(infera.compile_text(program(body.replace("POLICY", "decode_first")))).iterations
    assert dfirst.filter((pl.col("prefill_tokens") > 0) & (pl.col("decode_tokens") > 0)).height > 0


def test_least_tokens_router_balances_better_than_round_robin_on_skewed_traffic() -> None:
    body = """
traffic t { arrivals = poisson(60 /s), prompt = lognormal(median = 200 tokens, sigma = 1.5, max = 4000)
            output = lognormal(median = 100 tokens, sigma = 1.5, max = 2000), requests = 3000 }
system s { pool p: 4 x toy, max_batch = 64
           router = ROUTER }
run r { model = tiny, traffic = t, system = s, seed = 1 }
"""
    rr = infera.simulate(infera.compile_text(program(body.replace("ROUTER", "round_robin")))).summary
    lt = infera.simulate(infera.compile_text(program(body.replace("ROUTER", "least_tokens")))).summary
    assert lt["e2e_p99_s"][0] < rr["e2e_p99_s"][0]


def test_summary_energy_and_cost() -> None:
    res = infera.simulate(infera.compile_text(program(SINGLE)))
    s = res.summary.row(0, named=True)
    busy = res.instances["busy_s"][0]
    assert s["energy_j"] == pytest.approx(500 * busy + 100 * (s["duration_s"] - busy))
    assert s["cost_usd"] == pytest.approx(3.6 * s["duration_s"] / 3600)
    assert s["chips"] == 1 and s["requests"] == 1


def test_slo_goodput_counts_requests_within_targets() -> None:
    res = infera.simulate(infera.compile_text(program(CHAT.replace("ttft.p99 < 1 s", "ttft.p99 < 30 ms"))))
    r, s = res.requests, res.summary.row(0, named=True)
    met = ((r["ttft_s"] <= 0.03) & (r["tpot_mean_s"].fill_null(0) <= 0.02)).sum()
    assert r["slo_met"].sum() == met
    assert s["goodput_rps"] == pytest.approx(met / s["duration_s"])
    assert s["slo_attainment"] == pytest.approx(met / r.height)
    assert s["slo_pass"] == (r["ttft_s"].quantile(0.99, "linear") <= 0.03
                             and r["tpot_mean_s"].drop_nulls().quantile(0.99, "linear") <= 0.02)


def test_tensor_parallel_shards_operators_and_adds_all_reduce() -> None:
    two = infera.simulate(infera.compile_text(program(SINGLE.replace("1 x toy", "2 x toy, tp = 2"))))
    P = 100
    assert two.requests["ttft_s"][0] == pytest.approx(step_time(P, 1, P * (P + 1) / 2, P, tp=2), rel=1e-12)
    assert two.iterations["energy_j"][0] == pytest.approx(2 * 500 * two.iterations["duration_s"][0])


def test_summary_without_request_rows_is_identical() -> None:
    """The summary comes from the core's per-run statistics, so dropping every per-request row (for runs too
    big to keep them) changes nothing in it."""
    plan = infera.compile_text(program(CHAT))
    full = infera.simulate(plan)
    lean = infera.simulate(plan, requests=False, iterations=False)
    assert lean.requests.height == 0 and lean.iterations.height == 0
    assert lean.summary.equals(full.summary)
    # The same through the DSL: a run may ask to keep only its summary.
    dsl = infera.simulate(infera.compile_text(program(CHAT.replace("seed = 3 }", "seed = 3, record = [] }"))))
    assert dsl.requests.height == 0 and dsl.iterations.height == 0
    assert dsl.summary.equals(full.summary)
    # Summary percentiles agree with the per-request table.
    r = full.requests
    assert full.summary["ttft_p99_s"][0] == pytest.approx(r["ttft_s"].quantile(0.99, "linear"), rel=1e-12)
    assert full.summary["tpot_p50_s"][0] == pytest.approx(r["tpot_mean_s"].quantile(0.5, "linear"), rel=1e-12)


def test_record_field_is_validated() -> None:
    with pytest.raises(infera.CompileError, match="record must list some of requests, iterations, token_stats"):
        infera.compile_text(program(CHAT.replace("seed = 3 }", "seed = 3, record = [everything] }")))
