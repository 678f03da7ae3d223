"""The server's front end (pool field `frontend_per_token`, docs/stacks.md): a request reaches its scheduler
only after the front end has tokenized its prompt, one request at a time in arrival order."""

from __future__ import annotations

from pathlib import Path

import pytest

import infera
from helpers import program

# Two requests at the same instant and a third 5 ms later; tiny's compute on toy is microseconds, so a prefill
# step costs about step_overhead (1 ms).
TRACE = "arrival_s,prompt_tokens,output_tokens\n0.0,1000,2\n0.0,1000,2\n0.005,100,2\n"


def run(tmp_path: Path, fields: str) -> infera.Results:
    (tmp_path / "trace.csv").write_text(TRACE)
    src = tmp_path / "t.infera"
    src.write_text(program(f"""
traffic tr {{ trace = "trace.csv" }}
system s {{ pool p: 1 x toy, step_overhead = 1 ms{fields} }}
run r {{ model = tiny, traffic = tr, system = s, record = [requests, iterations] }}
"""))
    return infera.run(src)


def first_step_start(res: infera.Results, prompt: int, seen: int = 0) -> float:
    it = res.iterations.sort("step")
    starts = [s for s, p in zip(it["start_s"], it["prefill_tokens"]) if p >= prompt]
    return starts[seen]


def test_without_a_front_end_requests_reach_the_scheduler_as_they_arrive(tmp_path: Path) -> None:
    res = run(tmp_path, "")
    assert res.iterations.sort("step")["start_s"][0] == pytest.approx(0.0, abs=1e-9)


def test_each_prompt_is_tokenized_in_turn_before_it_is_scheduled(tmp_path: Path) -> None:
    """10 µs per token: the first 1,000-token prompt is seen at 10 ms, the second at 20 ms (it queued behind
    the first), the 100-token one, sent at 5 ms while the front end was busy, at 21 ms."""
    res = run(tmp_path, ", frontend_per_token = 10 us")
    it = res.iterations.sort("step")
    assert it["start_s"][0] == pytest.approx(0.010, rel=1e-9)
    assert it["prefill_tokens"][0] == 1000
    # No step starts before the scheduler has the second request, except the first request's own steps.
    assert first_step_start(res, 1000, 1) >= 0.020 - 1e-12
    third = [s for s, p in zip(it["start_s"], it["prefill_tokens"]) if p in (100, 1100, 2100)]
    assert third and third[0] >= 0.021 - 1e-12
    ttft = res.requests.sort("request_id")["ttft_s"]
    # The first request's TTFT is its tokenization and then its own prefill step (sent at 0).
    assert ttft[0] == pytest.approx(it["start_s"][0] + it["duration_s"][0], rel=1e-12)
    assert ttft[1] >= 0.020
    assert ttft[2] >= 0.021 - 0.005


def test_the_stacks_set_a_front_end_and_a_pool_field_overrides_it(tmp_path: Path) -> None:
    from infera.plan.stacks import STACKS
    (tmp_path / "trace.csv").write_text(TRACE)
    cases = ((", stack = vllm", STACKS["vllm"].frontend_per_token_s),
             (", stack = sglang, frontend_per_token = 0 us", 0.0), ("", 0.0))
    for fields, want in cases:
        plan = infera.compile_text(program(f"""
traffic tr {{ trace = "{tmp_path / 'trace.csv'}" }}
system s {{ pool p: 1 x toy{fields} }}
run r {{ model = tiny, traffic = tr, system = s }}
"""))
        assert plan.tables["pools"].column("frontend_per_token_s").to_pylist() == [pytest.approx(want)]


def test_a_negative_cost_is_a_located_error() -> None:
    with pytest.raises(infera.CompileError) as e:
        infera.compile_text(program("""
traffic tr { arrivals = poisson(1 /s), prompt = 10 tokens, output = 2 tokens, requests = 2 }
system s { pool p: 1 x toy, frontend_per_token = -1 us }
run r { model = tiny, traffic = tr, system = s }
"""))
    assert "frontend_per_token" in str(e.value)


def test_a_front_end_of_several_workers_tokenizes_requests_side_by_side(tmp_path: Path) -> None:
    """Two workers at 10 µs per token: both 1,000-token prompts are seen at 10 ms, and the 100-token one
    (sent at 5 ms) by the first worker free, at 11 ms."""
    res = run(tmp_path, ", frontend_per_token = 10 us, frontend_workers = 2")
    it = res.iterations.sort("step")
    assert it["start_s"][0] == pytest.approx(0.010, rel=1e-9)
    # Both long prompts reached the scheduler together: the first step holds both.
    assert it["prefill_tokens"][0] == 2000
    ttft = res.requests.sort("request_id")["ttft_s"]
    serial = run(tmp_path, ", frontend_per_token = 10 us")
    assert ttft[1] < serial.requests.sort("request_id")["ttft_s"][1] - 0.005
    plan = infera.compile_text(program("""
traffic t { arrivals = poisson(1 /s), prompt = 10 tokens, output = 2 tokens, requests = 2 }
system s { pool p: 1 x toy, frontend_per_token = 10 us, frontend_workers = 3 }
run r { model = tiny, traffic = t, system = s }
"""))
    assert plan["pools"]["frontend_workers"].to_pylist() == [3]


def test_frontend_workers_must_be_a_positive_count(tmp_path: Path) -> None:
    with pytest.raises(infera.CompileError, match="frontend_workers"):
        infera.compile_text(program("""
traffic t { arrivals = poisson(1 /s), prompt = 10 tokens, output = 2 tokens, requests = 2 }
system s { pool p: 1 x toy, frontend_workers = 0 }
run r { model = tiny, traffic = t, system = s }
"""))
