"""Sliding-window layers with attention sinks (gpt-oss) and gated delta-net linear attention (Qwen3-Next /
Qwen3.5): parameter counts, operators and cache sizes against hand counts written here from each model's
published config.json, independently of ``infera.plan.model``."""

from __future__ import annotations

import pytest

from infera.dsl import parse
from infera.plan import model as model_mod
from infera.plan.blocks.model import compile_model
from infera.plan.compiler import Compiler
from helpers import compile_error, program

BF16 = 2


def shape(body: str) -> model_mod.ModelShape:
    c = Compiler(parse(f"model m {{ {body} }}\n"))
    return compile_model(c.scope, c.scope.blocks["model"]["m"])


def ops_by_name(m: model_mod.ModelShape) -> dict[str, model_mod.Operator]:
    ops = model_mod.operators(m)
    assert len({o.name for o in ops}) == len(ops)
    return {o.name: o for o in ops}


# ----------------------------------------------------------------------------------------------------------
# gpt-oss-120b (openai/gpt-oss-120b config.json): 36 layers alternating sliding (128 tokens) and full
# attention, hidden 2880, 64 heads and 8 KV heads of 64, 128 experts of 2880 (top 4), vocab 201088, sinks.

GPT_OSS = ("layers = 36, hidden = 2880, heads = 64, kv_heads = 8, head_dim = 64, intermediate = 2880, "
           "vocab = 201088, experts = 128, experts_per_token = 4, sliding_window = 128 tokens, "
           "sliding_layers = 18, attention_sinks = true")


def test_gpt_oss_120b_hand_counts() -> None:
    m = shape(GPT_OSS)
    h, H, kv, d, L, E, k, f, V = 2880, 64, 8, 64, 36, 128, 4, 2880, 201088
    attn = h * (H + 2 * kv) * d + H * d * h + H  # q, k, v, o and one sink logit per head
    moe = E * 3 * h * f + h * E                  # experts and router
    params = 2 * V * h + L * (attn + 2 * h + moe) + h
    assert m.params() == params == 116_789_050_944
    # The model card's 116.83 B also counts the projections' and experts' biases (about 40 M).
    assert abs(params - 116.83e9) / 116.83e9 < 0.001
    active = 2 * V * h + L * (attn + 2 * h + k * 3 * h * f + h * E) + h
    assert m.active_params() == active
    # 5.13 B active without the embedding table (the card's "5.1B active").
    assert abs(active - V * h - 5.13e9) / 5.13e9 < 0.01
    ops = ops_by_name(m)
    assert (ops["attention"].count, ops["attention_window"].count) == (18, 18)
    assert not ops["attention"].window and ops["attention_window"].window
    for name in ("attention", "attention_window"):
        assert ops[name].flops_per_attn_pair == 4 * H * d
        assert ops[name].bytes_per_kv_token == 2 * kv * d * BF16
        # The sink: one more exponential and add per query and head, and its logit per head.
        assert ops[name].flops_per_token == 2 * H
        assert ops[name].weight_bytes == H * BF16
    assert ops["qkv_proj"].count == ops["o_proj"].count == 36
    assert sum(o.count * o.weight_bytes for o in ops.values()) == (params - V * h) * BF16


def test_gpt_oss_cache_stops_growing_at_the_window() -> None:
    m = shape(GPT_OSS)
    per_layer = 2 * 8 * 64 * BF16  # K and V of 8 heads of 64
    # Block groups of gcd(18, 18) = 18 layers: one of full layers, one of windowed layers.
    assert (m.kv_group_layers, m.kv_full_groups, m.kv_window_groups) == (18, 1, 1)
    assert m.kv_group_bytes_per_token() == 18 * per_layer == 36_864
    assert m.kv_bytes_per_token() == 36 * per_layer
    for n in (1, 100, 128, 129, 4096, 131072):
        assert m.cache_bytes(n) == 18 * per_layer * n + 18 * per_layer * min(n, 128)
    # Past the window only the full layers grow: half of the per-token bytes.
    assert m.cache_bytes(10_001) - m.cache_bytes(10_000) == 18 * per_layer


def test_uneven_sliding_layers_make_smaller_block_groups() -> None:
    # Gemma-3-style 5:1 (here 40 sliding of 48): groups of gcd(8, 40) = 8 layers, 1 full and 5 windowed.
    m = shape("layers = 48, hidden = 1024, heads = 8, intermediate = 4096, vocab = 1000, "
              "sliding_window = 1024 tokens, sliding_layers = 40")
    assert (m.kv_group_layers, m.kv_full_groups, m.kv_window_groups) == (8, 1, 5)
    # Every layer windowed (Mistral-7B-v0.1 style): one windowed group of all of them.
    m = shape("layers = 32, hidden = 1024, heads = 8, intermediate = 4096, vocab = 1000, "
              "sliding_window = 4096 tokens")
    assert (m.kv_group_layers, m.kv_full_groups, m.kv_window_groups) == (32, 0, 1)


# ----------------------------------------------------------------------------------------------------------
# Qwen3-Next-80B-A3B (Qwen/Qwen3-Next-80B-A3B-Instruct config.json), the hybrid Qwen3.5 builds on: 48
# layers, every 4th full attention (16 heads, 2 KV heads of 256), the other 36 gated delta-net with 16 key
# heads and 32 value heads of 128, a convolution of 4; 512 experts of 512 (top 10) + 1 shared; vocab 151936.

QWEN_NEXT = ("layers = 48, hidden = 2048, heads = 16, kv_heads = 2, head_dim = 256, intermediate = 512, "
             "vocab = 151936, experts = 512, experts_per_token = 10, shared_experts = 1, linear_layers = 36, "
             "linear_key_heads = 16, linear_value_heads = 32, linear_key_head_dim = 128, "
             "linear_value_head_dim = 128, linear_conv_kernel = 4")


def test_linear_attention_state_is_independent_of_the_context() -> None:
    m = shape(QWEN_NEXT)
    Hk, Hv, dk, dv, K = 16, 32, 128, 128, 4
    conv_channels = 2 * Hk * dk + Hv * dv                   # q, k and v go through the convolution
    per_layer = Hv * dk * dv + (K - 1) * conv_channels      # the delta-rule state + the convolution window
    assert per_layer == 524_288 + 24_576
    state = 36 * per_layer * BF16
    assert m.state_bytes() == state == 39_518_208
    full_kv = 12 * 2 * 2 * 256 * BF16  # 12 full layers, K and V of 2 heads of 256
    assert m.kv_bytes_per_token() == m.kv_group_bytes_per_token() == full_kv == 24_576
    for n in (1, 1000, 32_768, 262_144):
        assert m.cache_bytes(n) - full_kv * n == state


def test_linear_attention_operators_hand_counts() -> None:
    m = shape(QWEN_NEXT)
    h, Hk, Hv, dk, dv, K = 2048, 16, 32, 128, 128, 4
    ops = ops_by_name(m)
    proj = 2 * Hk * dk + 2 * Hv * dv + 2 * Hv  # q, k, v, z and the beta / decay gates
    C = 2 * Hk * dk + Hv * dv
    expect = {  # name: (count, flops per token, weight bytes, bytes per sequence)
        "linear_in_proj": (36, 2 * h * proj, h * proj * BF16, 0),
        "linear_conv": (36, 2 * K * C, C * K * BF16, 2 * (K - 1) * C * BF16),
        "linear_attention": (36, 7 * Hv * dk * dv, 2 * Hv * BF16, 2 * Hv * dk * dv * BF16),
        "linear_out_proj": (36, 2 * Hv * dv * h, Hv * dv * h * BF16, 0),
        "qkv_proj": (12, 2 * h * (16 + 4) * 256, h * 20 * 256 * BF16, 0),
    }
    for name, row in expect.items():
        o = ops[name]
        assert (o.count, o.flops_per_token, o.weight_bytes, o.bytes_per_seq) == row, name
    # Nothing of a linear layer scales with the context.
    assert all(ops[n].flops_per_attn_pair == ops[n].bytes_per_kv_token == 0 for n in expect if n != "qkv_proj")
    assert ops["attention"].count == 12
    # Parameters: the operators' weights are every parameter but the embedding table.
    V = 151936
    assert sum(o.count * o.weight_bytes for o in ops.values()) == (m.params() - V * h) * BF16
    assert abs(m.params() - 80e9) / 80e9 < 0.01  # published "80B" (the gated q projection adds 0.1 B)


@pytest.mark.parametrize("body, message", [
    ("sliding_layers = 2", "'sliding_layers' needs sliding_window"),
    ("sliding_window = 64 tokens, sliding_layers = 3", "sliding_layers (3) exceeds the 2 attention layers"),
    ("linear_key_heads = 2", "'linear_key_heads' needs linear_layers"),
    ("linear_layers = 2, linear_key_heads = 2, linear_value_heads = 2, linear_key_head_dim = 8, "
     "linear_value_head_dim = 8", "must leave at least one attention layer"),
    ("linear_layers = 1, linear_key_heads = 2, linear_value_heads = 3, linear_key_head_dim = 8, "
     "linear_value_head_dim = 8", "linear_value_heads (3) must be a multiple of linear_key_heads (2)"),
    ("linear_layers = 1, linear_key_heads = 2", "linear_value_heads"),
])
def test_bad_attention_fields_are_located_errors(body: str, message: str) -> None:
    text = program(f"model bad extends tiny {{ {body} }}\n")
    err = compile_error(text + "system s { pool p: 1 x toy }\ntraffic t { prompt = 10 tokens, output = 10 tokens }\n"
                        "run r { model = bad, traffic = t, system = s }\n")
    assert message in str(err)
    assert "bad.infera:" in str(err)
