"""What tests in more than one folder share: small `.infera` programs whose numbers are easy to check by hand,
the step price of the `tiny` model on the `toy` chip written out from docs/cost-model.md, and a few checks.
Tests in any folder import it as ``helpers`` (``pythonpath = ["tests"]`` in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pytest

import infera

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------------------
# Programs

# A tiny dense model and a chip with round figures and efficiencies of 1, so step times are easy to derive.
TINY_MODEL = """
model tiny {
  layers = 2, hidden = 256, heads = 4, kv_heads = 2, head_dim = 64
  intermediate = 512, vocab = 1000
}
"""
TOY_CHIP = """
chip toy {
  bf16 = 100 TFLOPS
  vector = 10 TFLOPS
  memory = 1 GB
  memory_bandwidth = 1 TB/s
  link_bandwidth = 100 GB/s
  link_latency = 1 us
  compute_efficiency = 1.0
  memory_efficiency = 1.0
  power = 500 W
  idle_power = 100 W
  price = 3.6 $/h
}
"""
# Some tests locate errors by line number in a program on this header: its text is fixed.
TINY = TINY_MODEL + TOY_CHIP

H100_8B = """
use models.llama3_1_8b
use chips.h100_sxm
"""


def program(body: str, header: str = TINY) -> str:
    return header + "\n" + body


def compile_error(text: str, file: str = "bad.infera") -> infera.CompileError:
    with pytest.raises(infera.CompileError) as info:
        infera.compile_text(text, file=file)
    return info.value


def most_in_flight(starts: Iterable[float], ends: Iterable[float]) -> int:
    """The most requests in the system at once, from when each entered and left it (a request leaving at the
    instant another enters counts first)."""
    events = sorted([(t, 1) for t in starts] + [(t, -1) for t in ends], key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, d in events:
        level += d
        peak = max(peak, level)
    return peak


# ---------------------------------------------------------------------------------------------------------
# Hand-derived step times for the `tiny` model on the `toy` chip (docs/cost-model.md, efficiencies of 1).

H, Q, KV, I, V, L = 256, 4 * 64, 2 * 64, 512, 1000, 2
WB = KVB = A = 2  # bf16 weights, KV and activations
TENSOR, VECTOR, BW = 100e12, 10e12, 1e12
TINY_WEIGHTS = (2 * V * H + L * (H * (Q + 2 * KV) + Q * H + 3 * H * I + 2 * H) + H) * WB  # bytes
KV_PER_TOKEN = 2 * L * KV * KVB  # 2 (K, V) x layers x kv_heads x head_dim x bf16 bytes


def op_time(flops: float, nbytes: float, rate: float) -> float:
    return max(flops / rate, nbytes / BW)


def in_node_all_reduce(p: int, m: float, bw: float, lat: float) -> float:
    """An all-reduce of ``m`` bytes over ``p`` chips of one node (docs/cost-model.md, "Parallelism and
    topology"): the fastest of a ring, a two-shot and a one-shot."""
    ring = 2 * (p - 1) / p * m / bw + 2 * (p - 1) * lat
    two_shot = 2 * ((p - 1) / p * m / bw + lat)
    one_shot = (p - 1) * m / bw + lat
    return min(ring, two_shot, one_shot)


def step_time(T: float, S: float, pairs: float, kv_read: float, overhead: float = 1e-3, tp: int = 1,
              link_bw: float = 100e9, link_lat: float = 1e-6) -> float:
    """One step of `tiny` on `toy`, written out operator by operator. Matmuls, attention and the activation
    are split over `tp` chips (KV heads too: tiny has 2); norms and the embedding are replicated; each layer
    adds two all-reduces of T x hidden activations (the fastest of ring, two-shot and one-shot)."""

    def sharded(flops: float, nbytes: float, rate: float) -> float:
        return op_time(flops / tp, nbytes / tp, rate)

    allreduce = 0.0 if tp == 1 else in_node_all_reduce(tp, T * H * A, link_bw, link_lat)
    per_layer = (
        op_time(5 * H * T, H * WB + 3 * H * A * T, VECTOR)  # attn_norm
        + sharded(2 * H * (Q + 2 * KV) * T, H * (Q + 2 * KV) * WB + (H + Q + 2 * KV) * A * T, TENSOR)  # qkv
        + sharded(4 * Q * pairs, (2 * Q * A + 2 * KV * KVB) * T + 2 * KV * KVB * kv_read, TENSOR)  # attention
        + sharded(2 * Q * H * T, Q * H * WB + (Q + H) * A * T, TENSOR)  # o_proj
        + allreduce
        + op_time(5 * H * T, H * WB + 3 * H * A * T, VECTOR)  # mlp_norm
        + sharded(4 * H * I * T, 2 * H * I * WB + (H + 2 * I) * A * T, TENSOR)  # gate_up
        + sharded(5 * I * T, 3 * I * A * T, VECTOR)  # swiglu
        + sharded(2 * I * H * T, I * H * WB + (I + H) * A * T, TENSOR)  # down
        + allreduce
    )
    return (
        overhead
        + op_time(0, (H * WB + H * A) * T, VECTOR)  # embedding
        + L * per_layer
        + op_time(5 * H * T, H * WB + 3 * H * A * T, VECTOR)  # final_norm
        + sharded(2 * H * V * S, H * V * WB + (H + V) * A * S, TENSOR)  # lm_head
    )
