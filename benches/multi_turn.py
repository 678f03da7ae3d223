"""Multi-turn chat traffic with shared prefixes, built in numpy with the stream contract's prefix fields, and
the prefix-caching speed benchmark (issue 12, item 10).

Sessions start as a Poisson process; each has a geometric number of turns, each turn sent a think time after
the previous one. Every session opens with one of a few shared system prompts; turn k's prompt is the system
prompt, the k earlier messages and replies, and a new message, so its segments are the previous turn's
segments plus the previous reply and the new message (identities chained by ``infera.plan.traffic.prefix``).

    python benches/multi_turn.py sessions 250000    # conversations from the DSL (each turn waits for the last)
    python benches/multi_turn.py bench 1000000      # the numpy stream: open-loop turns at fixed times
    python benches/multi_turn.py example FILE 400   # the numpy stream as a Parquet trace with prefix columns

Each runs without the prefix cache, with it, and with it and the prefix-aware router.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from infera.plan.traffic.prefix import chain, mix


def multi_turn(requests: int, seed: int = 1, session_rate: float = 20.0, mean_turns: float = 4.0,
               think_s: float = 8.0, system_prompts: int = 4) -> dict[str, np.ndarray]:
    """``requests`` requests sorted by arrival, as arrays of the stream contract."""
    rng = np.random.default_rng(seed)
    sessions = max(1, int(requests / mean_turns))
    turns = rng.geometric(1.0 / mean_turns, sessions)
    while turns.sum() < requests:  # rarely: the draw came up short
        turns = np.concatenate([turns, rng.geometric(1.0 / mean_turns, sessions)])
    turns = turns[: np.searchsorted(np.cumsum(turns), requests) + 1]
    turns[-1] -= turns.sum() - requests  # exactly `requests` requests
    sessions = len(turns)
    start = np.cumsum(rng.exponential(1.0 / session_rate, sessions))
    sys_id = rng.integers(0, system_prompts, sessions)
    sys_tokens = np.array([600, 1200, 300, 2000], dtype=np.int64)[sys_id % 4]
    n = int(turns.sum())
    sess = np.repeat(np.arange(sessions), turns)
    first = np.repeat(np.cumsum(turns) - turns, turns)
    k = np.arange(n) - first  # turn index within its session
    msg = np.clip(rng.lognormal(np.log(120), 0.8, n), 4, 2000).astype(np.int64)
    out = np.clip(rng.lognormal(np.log(200), 0.7, n), 4, 1000).astype(np.int64)
    arrival = start[sess] + k * think_s + rng.exponential(1.0, n) * (k > 0)
    # Segments of turn k: system prompt, then (message, reply) of each earlier turn, then its message.
    counts = 2 * k + 2
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    pos = np.arange(offsets[-1]) - np.repeat(offsets[:-1], counts)  # segment position within its request
    owner = np.repeat(np.arange(n), counts)
    turn_of_seg = (pos - 1) // 2  # which turn's message/reply this segment is (-1: the system prompt)
    src = first[owner] + np.maximum(turn_of_seg, 0)  # the request whose message/reply it is
    is_reply = (pos > 0) & (pos % 2 == 0)
    names = np.where(pos == 0, sys_id[sess[owner]].astype(np.uint64) + 1,
                     (src.astype(np.uint64) << np.uint64(1)) + is_reply.astype(np.uint64) + np.uint64(1 << 40))
    tokens = np.where(pos == 0, sys_tokens[sess[owner]], np.where(is_reply, out[src], msg[src]))
    ids = chain(offsets, names)
    prompt = np.add.reduceat(tokens, offsets[:-1])
    reply_name = (np.arange(n, dtype=np.uint64) << np.uint64(1)) + np.uint64(1) + np.uint64(1 << 40)
    output_id = mix(ids[offsets[1:] - 1], reply_name)
    order = np.argsort(arrival, kind="stable")
    c = counts[order]
    new_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(c, out=new_off[1:])
    gather = np.repeat(offsets[:-1][order], c) + (np.arange(new_off[-1]) - np.repeat(new_off[:-1], c))
    return {"arrival_s": arrival[order] - arrival.min(), "prompt_tokens": prompt[order].astype(np.uint32),
            "output_tokens": out[order].astype(np.uint32), "prefix_offsets": new_off,
            "prefix_ids": ids[gather], "prefix_tokens": tokens[gather].astype(np.uint32),
            "output_prefix_id": output_id[order]}


def write_parquet(path: str, t: dict[str, np.ndarray]) -> None:
    """The traffic as a Parquet trace with the prefix columns (docs/prefix-caching.md)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    offs = pa.array(t["prefix_offsets"], pa.int64())
    pq.write_table(pa.table({
        "arrival_s": t["arrival_s"], "prompt_tokens": t["prompt_tokens"], "output_tokens": t["output_tokens"],
        "prefix_ids": pa.LargeListArray.from_arrays(offs, pa.array(t["prefix_ids"], pa.uint64())),
        "prefix_tokens": pa.LargeListArray.from_arrays(offs, pa.array(t["prefix_tokens"], pa.uint32())),
        "output_prefix_id": t["output_prefix_id"]}), path)


BENCH = """use chips.h100_sxm, models.llama3_1_8b
traffic chat {{ arrivals = poisson(10 /s), prompt = 100 tokens, output = 100 tokens, requests = 1 }}
system s {{ pool gp: 16 x h100_sxm, max_batch = 256, max_batched_tokens = 2048, prefix_cache = {cache}
           router = {router} }}
run r {{ model = llama3_1_8b, traffic = chat, system = s, seed = 1, record = [] }}
"""


def bench(n: int) -> None:
    import pyarrow as pa

    import infera
    from infera.plan.tables import Plan

    t0 = time.perf_counter()
    traffic = multi_turn(n, session_rate=15.0)
    print(f"{len(traffic['arrival_s'])} requests, {len(traffic['prefix_ids'])} segments, "
          f"built in {time.perf_counter() - t0:.1f} s")
    offs = pa.array(traffic["prefix_offsets"], pa.int64())
    for cache, router in (("false", "least_tokens"), ("true", "least_tokens"), ("true", "prefix_aware")):
        plan = infera.compile_text(BENCH.format(cache=cache, router=router))
        m = len(traffic["arrival_s"])
        requests = pa.table({
            "workload": np.zeros(m, dtype=np.uint32), "arrival_s": traffic["arrival_s"],
            "prompt_tokens": traffic["prompt_tokens"], "output_tokens": traffic["output_tokens"],
            "send_delay_s": np.zeros(m),
            "prefix_ids": pa.LargeListArray.from_arrays(offs, pa.array(traffic["prefix_ids"], pa.uint64())),
            "prefix_tokens": pa.LargeListArray.from_arrays(offs, pa.array(traffic["prefix_tokens"], pa.uint32())),
            "output_prefix_id": traffic["output_prefix_id"]})
        pools = plan["pools"]
        blocks = pools.column("kv_blocks").to_numpy() if cache == "true" else np.zeros(pools.num_rows, np.uint64)
        pools = pools.append_column("prefix_cache_blocks", pa.array(blocks, pa.uint64()))
        plan = Plan({**plan.tables, "requests": requests, "pools": pools})
        t1 = time.perf_counter()
        res = infera.simulate(plan)
        s = res.summary.row(0, named=True)
        t2 = time.perf_counter()
        print(f"prefix_cache={cache} router={router}: simulate+summary {t2 - t1:.2f} s, "
              f"requests {s['requests']}, ttft p50 {s['ttft_p50_s']:.3f} s p99 {s['ttft_p99_s']:.3f} s, "
              f"hit rate {s.get('prefix_hit_rate') or 0:.3f}")


SESSIONS = """use chips.h100_sxm, models.llama3_1_8b
traffic chat {{
  arrivals = poisson(15 /s), requests = {sessions}
  prompt = lognormal(median = 120 tokens, sigma = 0.8, min = 4, max = 2000)
  output = lognormal(median = 200 tokens, sigma = 0.7, min = 4, max = 1000)
  session = conversation(turns = uniform(min = 1, max = 7), think = exponential(mean = 8 s))
  system_prompt = shared(tokens = 1000, variants = 4)
}}
system s {{ pool gp: 16 x h100_sxm, max_batch = 256, max_batched_tokens = 2048, prefix_cache = {cache}
           router = {router} }}
run r {{ model = llama3_1_8b, traffic = chat, system = s, seed = 1, record = [] }}
"""


def bench_sessions(sessions: int) -> None:
    """The same, with the traffic written as DSL conversations (mean 4 turns), so each turn is sent a think
    time after the previous one finished (the core's request dependencies)."""
    import infera

    for cache, router in (("false", "least_tokens"), ("true", "least_tokens"), ("true", "prefix_aware")):
        t0 = time.perf_counter()
        plan = infera.compile_text(SESSIONS.format(sessions=sessions, cache=cache, router=router))
        t1 = time.perf_counter()
        res = infera.simulate(plan)
        s = res.summary.row(0, named=True)
        t2 = time.perf_counter()
        print(f"prefix_cache={cache} router={router}: compile {t1 - t0:.1f} s, simulate+summary {t2 - t1:.2f} s, "
              f"requests {s['requests']}, ttft p50 {s['ttft_p50_s']:.3f} s p99 {s['ttft_p99_s']:.3f} s, "
              f"hit rate {s.get('prefix_hit_rate') or 0:.3f}")


def main() -> None:
    if sys.argv[1] == "bench":
        bench(int(sys.argv[2]))
    elif sys.argv[1] == "sessions":
        bench_sessions(int(sys.argv[2]))
    else:
        write_parquet(sys.argv[2], multi_turn(int(sys.argv[3]), seed=7, session_rate=3.0, think_s=6.0))


if __name__ == "__main__":
    main()
