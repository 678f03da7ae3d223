"""Serving-stack profiles (docs/stacks.md): a pool's `stack` sets cited defaults, chosen by the chip where the
stack chooses them so, and every field set in the pool block wins."""

from __future__ import annotations

import pytest

import infera
from helpers import H100_8B, compile_error
from infera.plan.stacks import FIELDS, STACKS

COLUMNS = ("max_batch", "max_batched_tokens", "chunked_prefill", "policy", "block_size", "graph_max_tokens",
           "graph_prefill", "eager_launch_s", "step_overhead_s", "recv_interval")


def pool_row(chip: str, options: str, tp: int = 1, model: str = "llama3_1_8b") -> dict:
    text = f"""
use models.{model}
use chips.{chip}
traffic t {{ arrivals = poisson(1 /s), prompt = 128 tokens, output = 16 tokens, requests = 4 }}
system s {{ pool p: {tp} x {chip}, tp = {tp}{options} }}
run r {{ model = {model}, traffic = t, system = s }}
"""
    return infera.compile_text(text)["pools"].select(list(COLUMNS)).to_pylist()[0]


def test_every_profile_cites_every_field() -> None:
    for stack in STACKS.values():
        cited = set(FIELDS) | ({"per_rank"} if stack.per_rank else set())
        assert {f for f, _ in stack.sources} == cited, stack.name
        assert all(src.strip() for _, src in stack.sources)


def test_vllm_defaults_follow_its_engine_args() -> None:
    row = pool_row("h100_sxm", ", stack = vllm")
    assert row["max_batch"] == 1024 and row["max_batched_tokens"] == 8192
    assert row["chunked_prefill"] and row["policy"] == "decode_first" and row["block_size"] == 16
    assert row["graph_max_tokens"] == 512 and row["graph_prefill"]
    # A GPU under 70 GiB gets vLLM's smaller batch defaults.
    small = pool_row("tpu_v5e", ", stack = vllm", model="llama3_2_1b")
    assert small["max_batch"] == 256 and small["max_batched_tokens"] == 2048


def test_sglang_chooses_its_budget_and_graphs_by_gpu_memory_and_tp() -> None:
    h100, b200 = pool_row("h100_sxm", ", stack = sglang"), pool_row("b200", ", stack = sglang")
    assert (h100["max_batched_tokens"], b200["max_batched_tokens"]) == (8192, 16384)
    assert h100["policy"] == "prefill_first" and h100["block_size"] == 1 and not h100["graph_prefill"]
    assert h100["graph_max_tokens"] == 256
    assert pool_row("h100_sxm", ", stack = sglang", tp=4)["graph_max_tokens"] == 512


def test_trtllm_does_not_chunk_prefills_and_graphs_decode_batches_up_to_128() -> None:
    row = pool_row("h200_sxm", ", stack = trtllm")
    assert not row["chunked_prefill"] and row["max_batch"] == 2048 and row["block_size"] == 32
    assert row["graph_max_tokens"] == 128 and not row["graph_prefill"]


def test_stacks_whose_ranks_schedule_alone_give_an_attention_dp_instance_each_ranks_limits() -> None:
    # vLLM's DP ranks and TensorRT-LLM's attention-DP ranks each schedule under the stack's limits; SGLang
    # divides its limits among them. Graph capture is per rank in the core, so its default is not scaled.
    def row(stack: str, dp: int) -> dict:
        return pool_row("h200_sxm", f", stack = {stack}, ep = 8, dp_attention = {dp}", tp=8, model="deepseek_v3")

    for stack in ("vllm", "trtllm"):
        one, eight = row(stack, 1), row(stack, 8)
        assert eight["max_batch"] == 8 * one["max_batch"], stack
        assert eight["max_batched_tokens"] == 8 * one["max_batched_tokens"], stack
        assert eight["graph_max_tokens"] == one["graph_max_tokens"], stack
    assert row("sglang", 8)["max_batched_tokens"] == row("sglang", 1)["max_batched_tokens"]
    # A value written in the pool is the instance's, whatever the stack.
    assert pool_row("h200_sxm", ", stack = trtllm, ep = 8, dp_attention = 8, max_batched_tokens = 4096", tp=8,
                    model="deepseek_v3")["max_batched_tokens"] == 4096


def test_fields_set_in_the_pool_win_over_the_stack() -> None:
    row = pool_row("b200", ", stack = sglang, max_batched_tokens = 4096, policy = decode_first, "
                           "graph_max_tokens = 64, eager_launch = 10 us, step_overhead = 1 ms")
    assert row["max_batched_tokens"] == 4096 and row["policy"] == "decode_first"
    assert row["graph_max_tokens"] == 64 and row["eager_launch_s"] == pytest.approx(10e-6)
    assert row["step_overhead_s"] == pytest.approx(1e-3)
    assert row["block_size"] == 1  # still the stack's
    # chunked_prefill = N sets the budget and turns chunking on, over a stack that does not chunk.
    trt = pool_row("b200", ", stack = trtllm, chunked_prefill = 2048")
    assert trt["chunked_prefill"] and trt["max_batched_tokens"] == 2048


def test_without_a_stack_every_step_replays_a_graph() -> None:
    row = pool_row("h100_sxm", "")
    assert row["graph_max_tokens"] == 2**64 - 1 and row["eager_launch_s"] == 0.0


def test_an_unknown_stack_lists_the_known_ones() -> None:
    err = compile_error(H100_8B + """
traffic t { arrivals = poisson(1 /s), prompt = 128 tokens, output = 16 tokens, requests = 4 }
system s { pool p: 1 x h100_sxm, stack = tgi }
run r { model = llama3_1_8b, traffic = t, system = s }
""")
    assert "stack" in str(err) and "vllm" in str(err) and err.loc.line == 6


def test_an_eager_prefill_is_slower_than_a_graphed_one() -> None:
    def ttft(options: str) -> float:
        text = H100_8B + f"""
traffic t {{ arrivals = poisson(1 /s), prompt = 2048 tokens, output = 4 tokens, requests = 8 }}
system s {{ pool p: 1 x h100_sxm{options} }}
run r {{ model = llama3_1_8b, traffic = t, system = s, record = [requests] }}
"""
        return float(infera.simulate(infera.compile_text(text)).requests["ttft_s"].mean())

    graphed = ttft("")
    # 2048 tokens exceed the 512-token graphs: some 300 operators launched at 500 µs each (0.15 s) outlast the
    # GPU's 50 ms; within the graphs' size the same launch cost changes nothing.
    eager = ttft(", graph_max_tokens = 512, eager_launch = 500 us")
    assert eager > graphed + 0.08
    assert ttft(", graph_max_tokens = 4096, eager_launch = 500 us") == graphed


def test_every_stack_polls_for_new_requests_every_step_unless_told() -> None:
    """`recv_interval` defaults to 1 in all three profiles (each reads its input before every step); a recipe's
    `--scheduler-recv-interval` is set on the pool and wins; 0 is refused where it is written."""
    for stack in STACKS:
        assert pool_row("h200_sxm", f", stack = {stack}")["recv_interval"] == 1
    assert pool_row("h200_sxm", "")["recv_interval"] == 1
    assert pool_row("b200", ", stack = sglang, recv_interval = 30")["recv_interval"] == 30
    err = compile_error(H100_8B + """
traffic t { arrivals = poisson(1 /s), prompt = 128 tokens, output = 16 tokens, requests = 4 }
system s { pool p: 1 x h100_sxm, stack = sglang, recv_interval = 0 }
run r { model = llama3_1_8b, traffic = t, system = s }
""")
    assert "recv_interval" in str(err) and err.loc.line == 6
