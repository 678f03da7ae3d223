"""Redundant expert slots (pool field ``redundant_experts``): extra copies of routed experts spread over the
expert-parallel ranks, as SGLang's ``--ep-num-redundant-experts`` and TensorRT-LLM's MoE load balancer slots
deploy DeepSeek at ep = 48. They make ep divide the slots rather than the experts, and cost memory; their
compile errors are with the other parallelism errors in test_models_parallel.py."""

from __future__ import annotations

import pytest

import infera
from infera.plan import model as model_mod
from helpers import compile_error

DEEPSEEK = """
use models.deepseek_v3, chips.gb200_gpu
traffic t { arrivals = burst, prompt = 1000 tokens, output = 10 tokens, requests = 4 }
system s { pool d: 48 x gb200_gpu, tp = 48, ep = 48, dp_attention = 48, node_size = 72EXTRA }
run r { model = deepseek_v3, traffic = t, system = s }
"""


def test_ep_48_over_256_experts_needs_32_redundant_slots() -> None:
    assert "ep = 48 does not divide the 256 experts" in str(compile_error(DEEPSEEK.replace("EXTRA", "")))
    assert "256 + 16 redundant experts" in str(compile_error(DEEPSEEK.replace("EXTRA", ", redundant_experts = 16")))
    plan = infera.compile_text(DEEPSEEK.replace("EXTRA", ", redundant_experts = 32"))
    assert infera.simulate(plan).requests.height == 4


def test_redundant_slots_hold_one_routed_experts_weights_each() -> None:
    # DeepSeek-V3: 58 MoE layers, each routed expert gate, up and down projections of 7168 x 2048 in fp8.
    from infera.dsl import parse
    from infera.plan.blocks.model import compile_model
    from infera.plan.compiler import Compiler

    c = Compiler(parse("use models.deepseek_v3\nmodel m extends deepseek_v3 { }\n"))
    shape = compile_model(c.scope, c.scope.blocks["model"]["m"])
    per_expert = 58 * 3 * 7168 * 2048 * 1
    assert model_mod.redundant_expert_bytes(shape, 32) == pytest.approx(32 * per_expert, rel=1e-12)
    assert model_mod.redundant_expert_bytes(shape, 0) == 0.0
    plans = {n: infera.compile_text(DEEPSEEK.replace("EXTRA", f", redundant_experts = {n}")) for n in (32, 80)}
    blocks = {n: p["pools"].to_pylist()[0]["kv_blocks"] for n, p in plans.items()}
    assert blocks[80] < blocks[32]
