"""Sliding-window and linear-attention layers in the engine: the KV blocks a request holds, counted by hand
from docs/cost-model.md ("The KV cache"), over a long decode."""

from __future__ import annotations

import math

import polars as pl
import pytest

import infera
from helpers import TOY_CHIP

BS = 16  # block_size below
PROMPT, OUTPUT, WINDOW = 64, 1200, 256

LONG = f"""
traffic long {{ arrivals = burst, prompt = {PROMPT} tokens, output = {OUTPUT} tokens, requests = 1 }}
system s {{ pool p: 1 x toy, block_size = {BS} }}
"""


def model(name: str, extra: str) -> str:
    return (f"model {name} {{ layers = 4, hidden = 256, heads = 4, kv_heads = 2, head_dim = 64, "
            f"intermediate = 512, vocab = 1000{', ' + extra if extra else ''} }}\n")


def run(extra: str) -> infera.Results:
    text = TOY_CHIP + model("m", extra) + LONG + "run r { model = m, traffic = long, system = s }\n"
    return infera.simulate(infera.compile_text(text))


def blocks(tokens: int) -> int:
    return math.ceil(tokens / BS)


def used_by_context(res: infera.Results) -> list[tuple[int, int]]:
    """(context the step's tokens reach, KV blocks in use) per step of the lone request."""
    it = res.iterations.sort("step")
    ctx = (it["prefill_tokens"] + it["decode_tokens"]).cum_sum()
    return list(zip(ctx.to_list(), it["kv_blocks_used"].to_list()))


def test_full_attention_kv_grows_with_the_context() -> None:
    # One block group of all 4 layers: a block per 16 tokens of context.
    rows = used_by_context(run(""))
    assert all(used == blocks(ctx) for ctx, used in rows)
    assert rows[-1][1] == blocks(PROMPT + OUTPUT - 1) == 79


def test_sliding_window_kv_plateaus_at_the_window() -> None:
    # 2 full + 2 windowed layers: groups of gcd(2, 2) = 2 layers, one of each kind. A request holds a
    # block per 16 tokens in the full group, and at most 256 / 16 = 16 in the windowed group.
    rows = used_by_context(run(f"sliding_window = {WINDOW} tokens, sliding_layers = 2"))
    assert all(used == blocks(ctx) + blocks(min(ctx, WINDOW)) for ctx, used in rows)
    # Every layer windowed: the request's KV stops growing at the window.
    rows = used_by_context(run(f"sliding_window = {WINDOW} tokens"))
    assert all(used == blocks(min(ctx, WINDOW)) for ctx, used in rows)
    assert max(u for _, u in rows) == 16 and rows[-1][1] == 16
    assert [u for c, u in rows if c >= WINDOW] == [16] * sum(1 for c, _ in rows if c >= WINDOW)


def test_hybrid_linear_model_kv_grows_only_with_its_full_layers() -> None:
    linear = ("linear_layers = 3, linear_key_heads = 2, linear_value_heads = 4, linear_key_head_dim = 64, "
              "linear_value_head_dim = 64, linear_conv_kernel = 4")
    res = run(linear)
    plan = infera.compile_text(TOY_CHIP + model("m", linear) + LONG + "run r { model = m, traffic = long, system = s }")
    state = plan["pools"].column("state_blocks")[0].as_py()
    # One full layer: a block is 16 tokens x 2 KV heads x 64 x 2 (K, V) x 2 B = 8 KiB. The state of 3 layers
    # is 3 x (4 heads x 64 x 64 + 3 x (2 x 2 x 64 + 4 x 64) conv) x 2 B = 107,520 B = 13.1 -> 14 blocks.
    assert state == math.ceil(3 * (4 * 64 * 64 + 3 * (2 * 2 * 64 + 4 * 64)) * 2 / (16 * 2 * 64 * 2 * 2)) == 14
    rows = used_by_context(res)
    assert all(used == blocks(ctx) + state for ctx, used in rows)


def test_windowed_attention_is_cheaper_on_long_contexts_and_equal_inside_the_window() -> None:
    full, win = run(""), run(f"sliding_window = {WINDOW} tokens")
    f, w = full.iterations.sort("step"), win.iterations.sort("step")
    ctx = (f["prefill_tokens"] + f["decode_tokens"]).cum_sum()
    inside = ctx <= WINDOW
    assert f.filter(inside)["duration_s"].to_list() == w.filter(inside)["duration_s"].to_list()
    late = f.filter(ctx > 4 * WINDOW)["duration_s"] - w.filter(ctx > 4 * WINDOW)["duration_s"]
    assert (late > 0).all()


@pytest.mark.parametrize("extra", ["sliding_window = 40 tokens, sliding_layers = 3",
                                   "linear_layers = 2, linear_key_heads = 2, linear_value_heads = 2, "
                                   "linear_key_head_dim = 32, linear_value_head_dim = 32"])
def test_many_requests_under_memory_pressure_free_every_block(extra: str) -> None:
    text = (TOY_CHIP + model("m", extra) + """
traffic chat {
  arrivals = burst, prompt = uniform(min = 1, max = 300), output = uniform(min = 1, max = 200), requests = 600
}
system s { pool p: 1 x toy, block_size = 16, memory_utilization = 0.01, max_batch = 64 }
run r { model = m, traffic = chat, system = s, seed = 5 }
""")
    res = infera.simulate(infera.compile_text(text))
    assert res.requests.height == 600
    assert (res.requests["status"] == "finished").all()
    cap = res.instances["kv_blocks"][0]
    it = res.iterations
    assert it["kv_blocks_used"].max() <= cap
    # The pressure was real: requests were preempted and recomputed, and every block came back (a leak would
    # starve the queue; a double free fails the run).
    assert res.requests["preemptions"].sum() > 0
    assert it.filter(pl.col("step") == it["step"].max())["kv_blocks_used"][0] <= cap
