"""Prefix caching end to end (docs/prefix-caching.md): the prefix fields lowered into the plan, read from a
Parquet trace with located errors, the pool switches and stack defaults, the hit figures in the results,
decode-side hits in a disaggregated system, and the example's cached system beating the uncached one."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import infera
from helpers import ROOT, TINY_MODEL, TOY_CHIP
from infera.exceptions import CompileError
from infera.plan.traffic.trace import TraceError, load_trace

sys.path.insert(0, str(ROOT / "benches"))
from multi_turn import multi_turn, write_parquet  # noqa: E402


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prefix") / "turns.parquet"
    write_parquet(str(path), multi_turn(300, seed=5, session_rate=4.0, think_s=2.0))
    return path


def program(trace: Path, pool: str = "", router: str = "round_robin", extra: str = "") -> str:
    return TINY_MODEL + TOY_CHIP + f"""
traffic turns {{ trace = "{trace}" }}
system s {{
  pool gp: 2 x toy, block_size = 16{pool}
  router = {router}
  {extra}
}}
run r {{ model = tiny, traffic = turns, system = s }}
"""


def test_a_stream_without_prefixes_lowers_to_todays_plan() -> None:
    plan = infera.compile_text(TINY_MODEL + TOY_CHIP + """
traffic t { arrivals = poisson(10 /s), prompt = 100 tokens, output = 10 tokens, requests = 20 }
system s { pool gp: 1 x toy, prefix_cache = true }
run r { model = tiny, traffic = t, system = s }
""")
    assert "prefix_ids" not in plan["requests"].column_names
    assert "prefix_cache_blocks" not in plan["pools"].column_names
    assert "prefix_weight" not in plan["runs"].column_names
    res = infera.simulate(plan)
    assert "cached_tokens" not in res.requests.columns
    assert "prefix_hit_rate" not in res.summary.columns


def test_the_trace_prefix_fields_are_lowered_and_hit(trace: Path) -> None:
    t = multi_turn(300, seed=5, session_rate=4.0, think_s=2.0)
    plan = infera.compile_text(program(trace, router="prefix_aware", extra="prefix_weight = 2.5"))
    req = plan["requests"]
    assert req["prefix_ids"].to_pylist()[:3] == [
        t["prefix_ids"][t["prefix_offsets"][i]:t["prefix_offsets"][i + 1]].tolist() for i in range(3)]
    assert req["output_prefix_id"].to_numpy().tolist() == t["output_prefix_id"].tolist()
    assert plan["runs"]["prefix_weight"].to_pylist() == [2.5]
    kv = plan["pools"]["kv_blocks"].to_pylist()
    assert plan["pools"]["prefix_cache_blocks"].to_pylist() == kv
    res = infera.simulate(plan)
    r = res.requests
    assert (r["cached_tokens"] % 16 == 0).all()
    assert (r["cached_tokens"] < r["prompt_tokens"]).all()
    inst = res.instances
    assert inst["prefix_hit_tokens"].sum() == r["cached_tokens"].sum() > 0
    s = res.summary.row(0, named=True)
    assert s["saved_prefill_tokens"] == r["cached_tokens"].sum()
    assert s["prefix_hit_rate"] == pytest.approx(inst["prefix_hit_tokens"].sum() / inst["prefix_lookup_tokens"].sum())
    assert 0 < s["prefix_hit_rate"] < 1
    pools = res.pools.row(0, named=True)
    assert pools["prefix_hit_rate"] == pytest.approx(s["prefix_hit_rate"])


def test_switching_the_cache_off_or_to_zero_blocks_gives_no_hits_and_the_same_timings(trace: Path) -> None:
    off = infera.simulate(infera.compile_text(program(trace, ", prefix_cache = false")))
    zero = infera.simulate(infera.compile_text(program(trace, ", prefix_cache_blocks = 0")))
    on = infera.simulate(infera.compile_text(program(trace)))
    assert off.requests["cached_tokens"].sum() == 0
    assert off.requests.drop("cached_tokens").equals(zero.requests.drop("cached_tokens"))
    assert on.requests["cached_tokens"].sum() > 0
    assert on.summary["ttft_p50_s"][0] < off.summary["ttft_p50_s"][0]


def test_a_cap_bounds_the_cache(trace: Path) -> None:
    plan = infera.compile_text(program(trace, ", prefix_cache_blocks = 40"))
    assert plan["pools"]["prefix_cache_blocks"].to_pylist() == [40]
    capped = infera.simulate(plan).requests["cached_tokens"].sum()
    full = infera.simulate(infera.compile_text(program(trace))).requests["cached_tokens"].sum()
    assert 0 < capped < full


def test_stacks_enable_the_cache_and_the_pool_wins() -> None:
    from infera.plan.stacks import STACKS

    assert all(s.prefix_cache for s in STACKS.values())
    assert all("prefix_cache" in dict(s.sources) for s in STACKS.values())


def test_the_prefix_aware_router_keeps_conversations_where_they_are_cached(trace: Path) -> None:
    aware = infera.simulate(infera.compile_text(program(trace, router="prefix_aware")))
    rr = infera.simulate(infera.compile_text(program(trace, router="round_robin")))
    assert aware.requests["cached_tokens"].sum() > rr.requests["cached_tokens"].sum()


def test_the_decode_side_hits_its_own_cache_and_moves_less(trace: Path) -> None:
    def disagg(cache: str) -> infera.Results:
        return infera.simulate(infera.compile_text(TINY_MODEL + TOY_CHIP + f"""
traffic turns {{ trace = "{trace}" }}
system pd {{
  pool pre: 1 x toy, role = prefill, prefix_cache = {cache}
  pool dec: 1 x toy, role = decode, prefix_cache = {cache}
  link pre -> dec {{ bandwidth = 1 GB/s, latency = 10 us }}
  router = prefix_aware
}}
run r {{ model = tiny, traffic = turns, system = pd }}
"""))
    on, off = disagg("true"), disagg("false")
    dec = on.pools.filter(pl.col("pool") == "dec").row(0, named=True)
    assert dec["prefix_hit_tokens"] > 0
    assert on.requests["kv_transfer_s"].sum() < off.requests["kv_transfer_s"].sum()
    # Decode-side hits save transfer, not prefill: the summary counts the prefill pool's hits only.
    pre = on.pools.filter(pl.col("pool") == "pre").row(0, named=True)
    assert on.summary["saved_prefill_tokens"][0] == pre["prefix_hit_tokens"] == on.requests["cached_tokens"].sum()


def test_bad_prefix_rows_in_a_trace_are_located(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def write(ids: list[list[int]], toks: list[list[int]]) -> Path:
        path = tmp_path / "bad.parquet"
        pq.write_table(pa.table({"arrival_s": [0.0, 1.0], "prompt_tokens": [100, 100], "output_tokens": [5, 5],
                                 "prefix_ids": ids, "prefix_tokens": toks, "output_prefix_id": [0, 0]}), path)
        return path

    with pytest.raises(TraceError, match="2 entries for 1 prefix_ids") as e:
        load_trace(write([[1], [1]], [[10], [10, 20]]))
    assert e.value.line == 3
    with pytest.raises(TraceError, match="more than the prompt's 100"):
        load_trace(write([[1], [1]], [[101], [10]]))
    path = tmp_path / "half.parquet"
    pq.write_table(pa.table({"arrival_s": [0.0], "prompt_tokens": [10], "output_tokens": [5], "prefix_ids": [[1]]}),
                   path)
    with pytest.raises(TraceError, match="prefix columns come together"):
        load_trace(path)


def test_a_bad_prefix_field_is_a_located_compile_error(trace: Path) -> None:
    with pytest.raises(CompileError, match="prefix_cache.*true or false"):
        infera.compile_text(program(trace, ", prefix_cache = 3"))


def test_the_example_shows_the_cache_winning() -> None:
    res = infera.simulate(infera.compile_file(ROOT / "examples" / "prefix_caching.infera"), requests=False)
    s = {row["system"]: row for row in res.summary.iter_rows(named=True)}
    cached, plain = s["cached"], s["uncached"]
    assert cached["prefix_hit_rate"] > 0.5
    assert plain["saved_prefill_tokens"] == 0
    assert cached["ttft_p50_s"] < plain["ttft_p50_s"]
    assert cached["ttft_p90_s"] < plain["ttft_p90_s"]
    assert np.isclose(cached["requests"], plain["requests"])
