"""Overload: a queue limit and a queue timeout turn requests away, counted and reported, in bounded time."""

from __future__ import annotations

import polars as pl
import pytest

import infera
from helpers import most_in_flight, program

FLOOD = """
chip slow extends toy {{ bf16 = 2 TFLOPS }}
traffic flood {{ arrivals = poisson(2000 /s), prompt = 800 tokens, output = 100 tokens, requests = 20000 }}
system s {{ pool p: 2 x slow, max_batch = 32{opts} }}
slo ok {{ ttft < 1 s }}
run r {{ model = tiny, traffic = flood, system = s, slo = ok }}
"""


def run(opts: str) -> infera.Results:
    return infera.simulate(infera.compile_text(program(FLOOD.format(opts=opts))), iterations=False)


def test_queue_limit_rejects_and_bounds_the_queue() -> None:
    res = run(", max_queue = 50")
    r, s = res.requests, res.summary.row(0, named=True)
    assert r.height == 20000  # every request is reported, served or not
    full = r.filter(pl.col("status") == "rejected_queue_full")
    assert full.height > 10000
    assert s["rejected_queue_full"] == full.height and s["rejected"] == full.height
    assert s["requests"] == (r["status"] == "finished").sum()
    assert full["first_token_s"].null_count() == full.height
    assert (full["finish_s"] == full["arrival_s"]).all()  # turned away on arrival
    # At no time do more than 50 requests wait per instance (2 instances).
    served = r.filter(pl.col("status") == "finished")
    peak = most_in_flight(served["arrival_s"], served["first_scheduled_s"])
    assert peak <= 2 * 50
    assert not r.filter(pl.col("status") != "finished")["slo_met"].any()
    assert s["slo_attainment"] == pytest.approx(r["slo_met"].sum() / 20000)


def test_queue_timeout_rejects_requests_that_wait_too_long() -> None:
    res = run(", queue_timeout = 2 s")
    r = res.requests
    timed_out = r.filter(pl.col("status") == "rejected_timeout")
    assert timed_out.height > 0
    assert (timed_out["finish_s"] - timed_out["arrival_s"]).to_list() == pytest.approx([2.0] * timed_out.height)
    served = r.filter(pl.col("status") == "finished")
    assert (served["queue_s"] <= 2.0 + 1e-9).all()
    assert res.summary["rejected_timeout"][0] == timed_out.height


def test_without_limits_everything_is_eventually_served() -> None:
    r = run("").requests
    assert (r["status"] == "finished").all()
    assert r["queue_s"].max() > 10  # the queue grew without bound instead


def test_closed_loop_users_move_on_after_rejection() -> None:
    text = program("""
traffic bench { arrivals = closed(users = 64), prompt = 200 tokens, output = 50 tokens, requests = 500 }
system s { pool p: 1 x toy, max_batch = 4, max_queue = 8 }
run r { model = tiny, traffic = bench, system = s }
""")
    r = infera.simulate(infera.compile_text(text)).requests
    assert r.height == 500
    assert (r["status"] == "rejected_queue_full").sum() > 0
    assert (r["status"] == "finished").sum() > 0
