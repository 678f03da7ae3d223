"""A scheduler that reads new requests only every N decode steps (pool field `recv_interval`, SGLang's
`--scheduler-recv-interval`; docs/stacks.md): hand-checked step by step on a two-request trace."""

from __future__ import annotations

from pathlib import Path

import pytest

import infera
from helpers import program

# Request 0 arrives at 0 and decodes for many steps; request 1 arrives at 15 ms, during the first decode step.
# Every step costs about step_overhead (10 ms): tiny's compute on toy is microseconds.
TRACE = "arrival_s,prompt_tokens,output_tokens\n0.0,100,{out}\n0.015,50,3\n"


def run(tmp_path: Path, interval: int, out: int = 20) -> infera.Results:
    (tmp_path / "trace.csv").write_text(TRACE.format(out=out))
    src = tmp_path / "t.infera"
    src.write_text(program(f"""
traffic tr {{ trace = "trace.csv" }}
system s {{ pool p: 1 x toy, step_overhead = 10 ms, recv_interval = {interval} }}
run r {{ model = tiny, traffic = tr, system = s, record = [requests, iterations] }}
"""))
    return infera.run(src)


def first_prefill_step_of_second(res: infera.Results) -> int:
    it = res.iterations.sort("step")
    steps = [s for s, p in zip(it["step"], it["prefill_tokens"]) if p == 50]
    return steps[0]


def test_every_step_polls_by_default(tmp_path: Path) -> None:
    # Step 0 is request 0's prefill, step 1 its first decode; request 1 joins the step after it arrived.
    res = run(tmp_path, 1)
    assert first_prefill_step_of_second(res) == 2


def test_an_arrival_waits_for_the_nth_decode_step(tmp_path: Path) -> None:
    """Prefill step 0 sets the counter past 4, the poll after it finds nothing and resets it; decode steps 1-4
    count 1..4 and the poll after step 4 takes request 1 in, so its prefill is step 5 (not 2): its TTFT grows by
    three steps of about 10 ms."""
    base, slow = run(tmp_path, 1), run(tmp_path, 4)
    assert first_prefill_step_of_second(slow) == 5
    it = slow.iterations.sort("step")
    assert it["prefill_tokens"].to_list()[1:5] == [0, 0, 0, 0]
    ttft = {r: res.requests.sort("request_id")["ttft_s"][1] for r, res in (("base", base), ("slow", slow))}
    end_of_step_5 = it["start_s"][5] + it["duration_s"][5]
    assert ttft["slow"] == pytest.approx(end_of_step_5 - 0.015, rel=1e-12)
    assert ttft["slow"] - ttft["base"] == pytest.approx(0.030, rel=0.01)
    # Request 0 was never waiting on anything: its TTFT is the same.
    assert slow.requests.sort("request_id")["ttft_s"][0] == base.requests.sort("request_id")["ttft_s"][0]


def test_a_scheduler_about_to_go_idle_takes_its_pending_requests_in(tmp_path: Path) -> None:
    # Request 0 finishes with step 1 (2 tokens), one decode step short of the poll: the idle loop receives
    # request 1 at once, so it is prefilled in step 2 just as with polling every step.
    assert first_prefill_step_of_second(run(tmp_path, 4, out=2)) == 2
    assert run(tmp_path, 4, out=2).requests["status"].to_list() == ["finished", "finished"]
