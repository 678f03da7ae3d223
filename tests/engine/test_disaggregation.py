"""Prefill/decode disaggregation: pools with roles, KV transfer over links, back-pressure, routers."""

from __future__ import annotations

import polars as pl
import pytest

import infera
from helpers import KV_PER_TOKEN, ROOT, program, step_time

SPLIT = """
traffic one {{ arrivals = burst, prompt = 100 tokens, output = 5 tokens, requests = {n} }}
system split {{
  pool pre: 1 x toy, role = prefill, step_overhead = 1 ms
  pool dec: 1 x toy, role = decode, step_overhead = 1 ms
  link pre -> dec {{ bandwidth = 10 GB/s, latency = 50 us }}
}}
system mixed {{ pool gp: 1 x toy, step_overhead = 1 ms }}
run r {{ model = tiny, traffic = one, systems = [split, mixed] }}
"""


def simulate(body: str) -> infera.Results:
    return infera.simulate(infera.compile_text(program(body)))


def test_one_transfer_takes_bytes_over_bandwidth_plus_latency() -> None:
    res = simulate(SPLIT.format(n=1))
    r = res.requests.filter(pl.col("system") == "split").row(0, named=True)
    transfer = KV_PER_TOKEN * 100 / 10e9 + 50e-6
    assert r["kv_transfer_s"] == pytest.approx(transfer, rel=1e-12)
    assert r["kv_wait_s"] == 0
    P = 100
    prefill = step_time(P, 1, P * (P + 1) / 2, P)
    # The decode side streams the response: the first token reaches the client as the KV cache joins it.
    assert r["ttft_s"] == pytest.approx(prefill + transfer, rel=1e-12)
    decodes = sum(step_time(1, 1, P + k, P + k) for k in range(1, 5))
    assert r["finish_s"] == pytest.approx(prefill + transfer + decodes, rel=1e-12)
    assert (r["prefill_pool"], r["decode_pool"], r["transfers"], r["prefills"]) == ("pre", "dec", 1, 1)


def test_two_simultaneous_transfers_queue_on_the_link() -> None:
    res = simulate(SPLIT.format(n=2))
    split = res.requests.filter(pl.col("system") == "split").sort("kv_transfer_s")
    one = KV_PER_TOKEN * 100 / 10e9
    # Both prefills end together; the link serves them one after the other, each adding the latency, and each
    # first token comes from the decode side once its cache is there.
    assert split["kv_transfer_s"].to_list() == pytest.approx([one + 50e-6, 2 * one + 50e-6], rel=1e-12)
    own = simulate(SPLIT.format(n=2).replace("role = prefill,", "role = prefill, first_token = prefill,"))
    prefill = own.requests.filter(pl.col("system") == "split")["first_token_s"].to_list()
    assert prefill[0] == prefill[1]
    prefill = prefill[0]
    assert split["first_token_s"][0] == pytest.approx(prefill + one + 50e-6, rel=1e-12)
    assert split["first_token_s"][1] >= prefill + 2 * one + 50e-6


def test_infinitely_fast_link_with_identical_chips_matches_mixed_for_isolated_requests() -> None:
    """With no queueing and a free link, a split system serves each request exactly like one mixed
    instance: the same prefill step, then the same decode steps."""
    body = """
traffic sparse { arrivals = poisson(0.5 /s), prompt = lognormal(median = 300 tokens, sigma = 0.5, max = 800)
                 output = lognormal(median = 30 tokens, sigma = 0.5, max = 60), requests = 40 }
system split {
  pool pre: 1 x toy, role = prefill
  pool dec: 1 x toy, role = decode
  link pre -> dec { bandwidth = 1e15 TB/s, latency = 0 s }
}
system mixed { pool gp: 1 x toy }
run r { model = tiny, traffic = sparse, systems = [split, mixed], seed = 5 }
"""
    req = simulate(body).requests
    split = req.filter(pl.col("system") == "split").sort("request_id")
    mixed = req.filter(pl.col("system") == "mixed").sort("request_id")
    # Requests that overlapped with another one would interfere differently; keep the isolated ones.
    isolated = mixed.filter(pl.col("arrival_s") > pl.col("finish_s").shift(1).fill_null(-1.0))["request_id"]
    assert len(isolated) > 20
    s = split.filter(pl.col("request_id").is_in(isolated.implode()))
    m = mixed.filter(pl.col("request_id").is_in(isolated.implode()))
    assert s["ttft_s"].to_list() == pytest.approx(m["ttft_s"].to_list(), rel=1e-9)
    assert s["e2e_s"].to_list() == pytest.approx(m["e2e_s"].to_list(), rel=1e-9)


def test_decode_back_pressure_keeps_kv_within_capacity() -> None:
    body = """
traffic flood { arrivals = burst, prompt = 600 tokens, output = 300 tokens, requests = 60 }
system split {
  pool pre: 1 x toy, role = prefill
  pool dec: 1 x toy, role = decode, memory_utilization = 0.03
  link pre -> dec { bandwidth = 50 GB/s, latency = 10 us }
}
run r { model = tiny, traffic = flood, system = split }
"""
    res = simulate(body)
    req, it, inst = res.requests, res.iterations, res.instances
    assert req.height == 60
    cap = inst.filter(pl.col("pool") == "dec")["kv_blocks"][0]
    assert it.filter(pl.col("pool") == "dec")["kv_blocks_used"].max() <= cap
    # The decode pool could not take everyone at once: some caches waited on the prefill side.
    assert (req["kv_wait_s"] > 0).sum() > 0
    assert res.summary["kv_wait_p99_s"][0] > 0
    # Order of a request's life: first token, wait, transfer, then decoding to the end.
    assert (req["first_token_s"] + req["kv_wait_s"] + req["kv_transfer_s"] <= req["finish_s"] + 1e-12).all()


def test_every_request_prefills_and_moves_exactly_once() -> None:
    body = """
traffic chat { arrivals = poisson(30 /s), prompt = lognormal(median = 400 tokens, sigma = 0.7, max = 3000)
               output = lognormal(median = 60 tokens, sigma = 0.7, max = 600), requests = 1500 }
system split {
  pool pre: 2 x toy, role = prefill
  pool dec: 2 x toy, role = decode
  link pre -> dec { bandwidth = 25 GB/s, latency = 20 us }
  decode_router = round_robin
}
run r { model = tiny, traffic = chat, system = split, seed = 9 }
"""
    req = simulate(body).requests
    assert req.height == 1500
    assert (req["preemptions"] == 0).all()
    assert (req["prefills"] == 1).all()
    multi = req.filter(pl.col("output_tokens") > 1)
    assert (multi["transfers"] == 1).all() and (multi["decode_pool"] == "dec").all()
    assert (req.filter(pl.col("output_tokens") == 1)["transfers"] == 0).all()
    assert (req["prefill_pool"] == "pre").all()
    # The separate decode router (round robin) alternates between the two decode instances.
    counts = multi.group_by("decode_instance").len().sort("decode_instance")["len"].to_list()
    assert abs(counts[0] - counts[1]) <= 1


def test_split_protects_decode_from_prefill_interference() -> None:
    """DistServe's argument: with long prompts, prefill steps inflate a mixed pool's token latency; a split
    pool of the same chips keeps decode steps short."""
    body = """
chip slow extends toy { bf16 = 4 TFLOPS }
traffic longp { arrivals = poisson(40 /s), prompt = lognormal(median = 3000 tokens, sigma = 0.3, max = 6000)
                output = lognormal(median = 150 tokens, sigma = 0.3, max = 400), requests = 1000 }
system split {
  pool pre: 2 x slow, role = prefill
  pool dec: 2 x slow, role = decode
  link pre -> dec { bandwidth = 50 GB/s, latency = 10 us }
}
system mixed { pool gp: 4 x slow
               router = least_tokens }
run r { model = tiny, traffic = longp, systems = [split, mixed], seed = 2 }
"""
    s = simulate(body).summary
    split, mixed = (s.filter(pl.col("system") == n).row(0, named=True) for n in ("split", "mixed"))
    assert split["tpot_p99_s"] < 0.95 * mixed["tpot_p99_s"]
    assert split["throughput_rps"] == pytest.approx(mixed["throughput_rps"], rel=0.01)
    assert split["chips"] == mixed["chips"] == 4


def test_power_of_two_router_is_seeded_and_spreads_load() -> None:
    body = """
traffic t { arrivals = poisson(80 /s), prompt = 200 tokens, output = 40 tokens, requests = 2000 }
system s { pool p: 8 x toy
           router = power_of_two }
run r { model = tiny, traffic = t, system = s, seed = SEED }
"""
    a = simulate(body.replace("SEED", "1")).requests
    b = simulate(body.replace("SEED", "1")).requests
    c = simulate(body.replace("SEED", "2")).requests
    assert a.equals(b)
    assert not a["prefill_instance"].equals(c["prefill_instance"])
    counts = a.group_by("prefill_instance").len()["len"]
    assert counts.len() == 8 and counts.min() > 150


def test_pools_frame_reports_roles_and_utilisation() -> None:
    res = simulate(SPLIT.format(n=4))
    pools = res.pools.filter(pl.col("system") == "split").sort("pool")
    assert pools["pool"].to_list() == ["dec", "pre"]
    assert pools["role"].to_list() == ["decode", "prefill"]
    assert ((pools["utilization"] > 0) & (pools["utilization"] <= 1)).all()


@pytest.mark.parametrize(
    "system, message",
    [
        ("pool pre: 1 x toy, role = prefill\n pool dec: 1 x toy, role = decode",
         "prefill pool 'pre' has no link to a decode pool"),
        ("pool pre: 1 x toy, role = prefill\n pool dec: 1 x toy, role = decode\n"
         " link dec -> pre { bandwidth = 1 GB/s }",
         "a link carries KV caches from a prefill pool to a decode pool"),
        ("pool pre: 1 x toy, role = prefill\n link pre -> nowhere { bandwidth = 1 GB/s }",
         "no pool 'nowhere' in this system"),
        ("pool pre: 1 x toy, role = prefill\n pool dec: 1 x toy, role = decode\n link pre -> dec { latency = 1 us }",
         "missing required field 'bandwidth'"),
        ("pool dec: 1 x toy, role = decode", "decode pool 'dec' has no link from a prefill pool"),
    ],
)
def test_disaggregation_errors(system: str, message: str) -> None:
    body = f"""
traffic t {{ arrivals = burst, prompt = 10 tokens, output = 5 tokens, requests = 2 }}
system s {{
 {system}
}}
run r {{ model = tiny, traffic = t, system = s }}
"""
    with pytest.raises(infera.CompileError, match=message):
        infera.compile_text(program(body))


CAPACITY = """
chip slow extends toy { bf16 = 4 TFLOPS }
traffic longp { arrivals = poisson(20 /s), prompt = lognormal(median = 3000 tokens, sigma = 0.3, max = 6000)
                output = lognormal(median = 150 tokens, sigma = 0.3, max = 400), requests = 600 }
slo tight { ttft.p90 < 50 ms, tpot.p90 < 0.6 ms }
system split {
  pool pre: 2 x slow, role = prefill
  pool dec: 2 x slow, role = decode
  link pre -> dec { bandwidth = 50 GB/s, latency = 10 us }
}
system mixed { pool gp: 4 x slow
               router = least_tokens }
run cap { model = tiny, traffic = longp, systems = [split, mixed], slo = tight, seed = 2,
          search = max_rate(attainment = 90 %, tolerance = 2 %) }
"""


def _attainment(text: str, system: str, rate: float) -> float:
    from infera.plan.compiler import compile_program

    plan = compile_program(infera.parse(text), traffic_rates={"longp": rate}, select=("cap", system))
    return float(infera.simulate(plan).requests["slo_met"].mean())


def test_max_rate_search_brackets_its_answer() -> None:
    text = program(CAPACITY)
    table = infera.max_rate(text)
    assert table["system"].to_list() == ["split", "mixed"]
    for row in table.iter_rows(named=True):
        assert row["converged"]
        lo, hi = row["max_rate_rps"], row["failing_rate_rps"]
        assert lo < hi and (hi - lo) / hi <= 0.02
        # Checked independently: one simulation below meets the SLO for 90% of requests, one above fails.
        assert _attainment(text, row["system"], lo) >= 0.9
        assert _attainment(text, row["system"], hi) < 0.9
        assert row["max_rate_rps_per_chip"] == pytest.approx(lo / 4)
        assert row["requests_per_dollar"] == pytest.approx(lo * 3600 / (4 * 3.6))
    split, mixed = table["max_rate_rps"].to_list()
    assert split > mixed  # long prompts, tight TTFT and TPOT: the split reaches more goodput per chip


def test_max_rate_arguments_override_the_run(tmp_path) -> None:
    f = tmp_path / "cap.infera"
    f.write_text(program(CAPACITY))
    loose = infera.max_rate(f, attainment=0.5, tolerance=0.1)
    assert (loose["target_attainment"] == 0.5).all() and (loose["tolerance"] == 0.1).all()


def test_capacity_cli_writes_table(tmp_path, capsys) -> None:
    from infera.cli import main

    f = tmp_path / "cap.infera"
    f.write_text(program(CAPACITY))
    assert main(["capacity", str(f), "--tolerance", "0.05", "--out", str(tmp_path)]) == 0
    assert "max_rate_rps" in capsys.readouterr().out
    assert pl.read_parquet(tmp_path / "capacity.parquet").height == 2


def test_max_rate_needs_poisson_traffic_and_an_slo() -> None:
    with pytest.raises(infera.CompileError, match="needs an slo"):
        infera.compile_text(program(CAPACITY.replace("slo = tight,", "")))
    burst = CAPACITY.replace("arrivals = poisson(20 /s)", "arrivals = burst")
    with pytest.raises(infera.CompileError, match="not Poisson"):
        infera.max_rate(program(burst))


def test_worked_example_reproduces_the_documented_ordering() -> None:
    """docs/disaggregation.md: split beats the vLLM-like mixed fleet on long prompts under tight TPOT, and the
    mixed fleet beats the split on short prompts under a loose SLO."""
    example = ROOT / "examples" / "disaggregation.infera"
    table = infera.max_rate(example)
    rate = {(r["run"], r["system"]): r["max_rate_rps"] for r in table.iter_rows(named=True)}
    assert rate[("long_prompts", "split")] > 1.2 * rate[("long_prompts", "mixed")]
    assert rate[("short_prompts", "mixed")] > 1.2 * rate[("short_prompts", "split")]
    assert table["converged"].all()


def test_a_prefill_pool_may_stream_the_first_token_itself() -> None:
    """``first_token = prefill`` (Splitwise's design): the first token leaves as the prefill ends; the default,
    ``decode``, waits for the KV cache to reach the decode instance. Finish times do not change."""
    own = simulate(SPLIT.format(n=1).replace("role = prefill,", "role = prefill, first_token = prefill,"))
    streamed = simulate(SPLIT.format(n=1))
    a = own.requests.filter(pl.col("system") == "split").row(0, named=True)
    b = streamed.requests.filter(pl.col("system") == "split").row(0, named=True)
    P = 100
    assert a["ttft_s"] == pytest.approx(step_time(P, 1, P * (P + 1) / 2, P), rel=1e-12)
    assert b["ttft_s"] == pytest.approx(a["ttft_s"] + a["kv_transfer_s"], rel=1e-12)
    assert a["finish_s"] == b["finish_s"]
    assert b["tpot_mean_s"] < a["tpot_mean_s"]


def test_first_token_is_a_prefill_pools_field() -> None:
    with pytest.raises(infera.CompileError, match="first_token applies to a prefill pool") as e:
        simulate(SPLIT.format(n=1).replace("role = decode,", "role = decode, first_token = decode,"))
    assert e.value.loc is not None
    with pytest.raises(infera.CompileError, match="first_token.*must be one of decode, prefill"):
        simulate(SPLIT.format(n=1).replace("role = prefill,", "role = prefill, first_token = soon,"))
