"""Attention data parallelism (pool field ``dp_attention``): degree 1 is plain tensor parallelism, the KV
capacity of an MLA model grows with the degree by the hand count of docs/cost-model.md ("Attention data
parallelism"), and bad degrees are located errors. Step-time hand counts are in the core's
``cost/dp_tests.rs``."""

from __future__ import annotations

import pyarrow as pa
import pytest

import infera
from infera.plan.tables import Plan
from helpers import compile_error, program

DEEPSEEK = """
use models.deepseek_v3, chips.h200_sxm
traffic chat {
  arrivals = poisson(20 /s)
  prompt = lognormal(median = 1000 tokens, sigma = 0.8, max = 4096)
  output = lognormal(median = 100 tokens, sigma = 0.8, max = 512)
  requests = 120
}
system s { pool gp: 8 x h200_sxm, tp = 8, ep = 8, max_batched_tokens = 4096DP }
run r { model = deepseek_v3, traffic = chat, system = s, seed = 3 }
"""

TINY_RUN = """
traffic t { arrivals = poisson(50 /s), prompt = 200 tokens, output = 20 tokens, requests = 40 }
system s { pool p: 4 x toy, tp = 2DP }
run r { model = tiny, traffic = t, system = s, seed = 1 }
"""


def frames(res: infera.Results) -> dict[str, object]:
    return {"requests": res.requests, "iterations": res.iterations, "summary": res.summary}


@pytest.mark.parametrize("text", [DEEPSEEK, program(TINY_RUN)], ids=["deepseek_v3", "tiny"])
def test_degree_one_is_identical_to_plain_tensor_parallelism(text: str) -> None:
    plain = infera.simulate(infera.compile_text(text.replace("DP", "")))
    one = infera.simulate(infera.compile_text(text.replace("DP", ", dp_attention = 1")))
    for name, frame in frames(plain).items():
        assert frame.equals(frames(one)[name]), name  # type: ignore[attr-defined]
    # A higher degree changes the results (the attention block runs on the ranks).
    two = infera.simulate(infera.compile_text(text.replace("DP", ", dp_attention = 2")))
    assert not two.iterations["duration_s"].equals(plain.iterations["duration_s"])


def test_mla_kv_capacity_at_tp8_dp8_is_about_eight_times_dp1() -> None:
    blocks = {}
    for d in (1, 8):
        plan = infera.compile_text(DEEPSEEK.replace("DP", f", dp_attention = {d}"))
        blocks[d] = plan["pools"].to_pylist()[0]["kv_blocks"]
        assert plan["pools"].to_pylist()[0]["dp_attention"] == d
    # Hand count (deepseek-ai/DeepSeek-V3 config.json, fp8 weights, bf16 KV): one token's MLA latent is
    # 61 layers x (512 + 64) values x 2 bytes; at dp = 1 each of the 8 chips holds it (one shared head), at
    # dp = 8 only its request's rank (one chip) does.
    kv_token = 61 * (512 + 64) * 2
    usable = 8 * 141e9 * 0.9
    # Weights: every chip holds the norms, the router and the latent down-projections whole; the rest is
    # split over the 8 chips (counted once). Per layer the attention block's sharded weights are q_up
    # (1536 x 128 x 192), kv_up (512 x 128 x (128 + 128)) and o_proj (128 x 128 x 7168), and dp = 8 makes
    # 7 more copies of them.
    h, layers = 7168, 61
    # Per layer: the latent down-projection (h x (1536 + 512 + 64)), its two norms, the two layer norms; the
    # router (h x 256) in the 58 MoE layers; the final norm.
    replicated = layers * (h * (1536 + 512 + 64) + 1536 + 512 + 2 * h) + 58 * 256 * h + h
    params = 671_026_419_200  # DeepSeek-V3's parameter count as the catalog counts it (MTP module excluded)
    att = layers * (1536 * 128 * 192 + 512 * 128 * 256 + 128 * 128 * 7168)
    w1 = params + 7 * replicated
    w8 = w1 + 7 * att
    assert blocks[1] == int((usable - w1) // (kv_token * 8 * 16))
    assert blocks[8] == 8 * int(((usable - w8) / 8) // (kv_token * 16))
    # A token takes 8x less of the instance; the 7 more copies of the attention block's weights (~73 GB)
    # take part of that back: 8 x (room after w8) / (room after w1), about 6.3x the blocks.
    assert blocks[8] / blocks[1] == pytest.approx(8 * (usable - w8) / (usable - w1), rel=1e-4)
    assert 6.0 < blocks[8] / blocks[1] < 8.0


def test_plans_without_the_columns_load_as_degree_one() -> None:
    plan = infera.compile_text(program(TINY_RUN.replace("DP", "")))
    flags = {r["name"]: r["attention_dp"] for r in plan["operators"].to_pylist()}
    assert flags["attention"] and flags["qkv_proj"] and flags["attn_allreduce"] and flags["embedding"]
    assert not (flags["gate_up_proj"] or flags["mlp_allreduce"] or flags["lm_head"])
    old = Plan({**plan.tables, "pools": plan["pools"].drop_columns(["dp_attention"]),
                "operators": plan["operators"].drop_columns(["attention_dp"])})
    a, b = infera.simulate(plan), infera.simulate(old)
    assert a.iterations.equals(b.iterations)


def test_core_rejects_a_degree_that_does_not_divide_tp() -> None:
    plan = infera.compile_text(program(TINY_RUN.replace("DP", "")))
    pools = plan["pools"]
    i = pools.schema.get_field_index("dp_attention")
    bad = Plan({**plan.tables, "pools": pools.set_column(i, "dp_attention", pa.array([3], pa.uint32()))})
    with pytest.raises(infera.PlanError, match="dp_attention=3 must divide tp=2"):
        infera.check(bad)


def test_a_degree_that_does_not_divide_tp_is_a_located_compile_error() -> None:
    text = program(TINY_RUN.replace("DP", ", dp_attention = 3"))
    err = compile_error(text)
    line = next(n for n, s in enumerate(text.splitlines(), 1) if "dp_attention" in s)
    col = text.splitlines()[line - 1].index("dp_attention") + 1
    assert "dp_attention = 3 must divide tp = 2" in str(err)
    assert f"bad.infera:{line}:{col}" in str(err)


def test_kv_of_the_longest_request_must_fit_one_rank() -> None:
    # tiny caches 2 layers x 2 x 2 KV heads x 64 x 2 B = 1 KiB per token, on 2 of the 4 chips at dp = 1
    # (2 KV heads): a million tokens need 2.05 GB of the 3.6 GB usable. At dp = 4 a rank of one chip holds
    # them once (1.02 GB), but has only a quarter of the room (0.9 GB).
    tiny_chip = program("""
traffic t { arrivals = burst, prompt = 1000000 tokens, output = 1 tokens, requests = 1 }
system s { pool p: 4 x toy, tp = 4DP }
run r { model = tiny, traffic = t, system = s }
""")
    infera.compile_text(tiny_chip.replace("DP", ""))
    err = compile_error(tiny_chip.replace("DP", ", dp_attention = 4"))
    assert "must fit in one attention rank" in str(err)


def test_heads_split_over_an_attention_rank_not_over_tp() -> None:
    # tiny has 4 attention heads (2 KV heads). Under attention DP each rank of tp / dp_attention chips splits
    # them, so tp = 8 compiles with eight ranks of one chip, as SGLang's DP attention runs DeepSeek's 128 heads
    # at tp = 48; plain tp = 8 and ranks of 3 chips do not divide the heads.
    text = program(TINY_RUN.replace("4 x toy, tp = 2DP", "8 x toy, tp = 8DP").replace("8 x toy", "CHIPS x toy"))
    infera.simulate(infera.compile_text(text.replace("CHIPS", "8").replace("DP", ", dp_attention = 8")))
    assert "tp = 8 does not divide the 4 attention heads" in str(
        compile_error(text.replace("CHIPS", "8").replace("DP", "")))
    ranks_of_three = text.replace("CHIPS", "6").replace("tp = 8DP", "tp = 6, dp_attention = 2")
    assert "an attention rank of tp / dp_attention = 3 chips does not divide the 4 attention heads" in str(
        compile_error(ranks_of_three))
