"""The 4-bit float block formats (nvfp4, mxfp4) and an FP8 KV cache: weight bytes with their block scales,
the engine an FP4 matmul runs on (the chip's FP4 engine, else fp8), and the KV capacity an FP8 cache gives.
Expected figures are counted by hand from docs/cost-model.md ("Precisions")."""

from __future__ import annotations

import pytest

import infera
from helpers import H, I, KV, L, Q, TINY_MODEL, V
from infera import _core
from infera.dsl import parse
from infera.plan import hardware
from infera.plan import model as model_mod
from infera.plan.blocks.chip import compile_chip
from infera.plan.blocks.model import compile_model
from infera.plan.compiler import Compiler

# Parameters of `tiny` (tests/helpers.py): embedding and untied LM head, per layer qkv, o, gate/up/down
# and two norms, and the final norm.
TINY_PARAMS = 2 * V * H + L * (H * (Q + 2 * KV) + Q * H + 3 * H * I + 2 * H) + H


def compiled(text: str) -> Compiler:
    return Compiler(parse(text))


def model(text: str, name: str) -> model_mod.ModelShape:
    c = compiled(text)
    return compile_model(c.scope, c.scope.blocks["model"][name])


def catalog_chip(name: str):  # type: ignore[no-untyped-def]
    c = compiled(f"use chips.{name}\n")
    return compile_chip(c.scope, c.scope.blocks["chip"][name])


def test_the_core_defines_the_fp4_formats_and_python_prices_each_one() -> None:
    assert _core.PRECISIONS == ("fp32", "bf16", "fp16", "fp8", "int8", "nvfp4", "mxfp4", "int4")
    assert _core.PRECISION_FALLBACKS["nvfp4"] == ("nvfp4", "fp8", "bf16", "fp16", "fp32")
    assert _core.PRECISION_FALLBACKS["mxfp4"] == ("mxfp4", "fp8", "bf16", "fp16", "fp32")
    assert model_mod.DTYPE_BYTES["nvfp4"] == 0.5625  # 16 E2M1 values (8 bytes) + one E4M3 scale byte
    assert model_mod.DTYPE_BYTES["mxfp4"] == 0.53125  # 32 E2M1 values (16 bytes) + one E8M0 scale byte


@pytest.mark.parametrize("dtype, per_weight", [("nvfp4", 0.5 + 1 / 16), ("mxfp4", 0.5 + 1 / 32), ("int4", 0.5)])
def test_weight_bytes_of_a_small_model_count_the_block_scales(dtype: str, per_weight: float) -> None:
    text = TINY_MODEL + f"model q extends tiny {{ weights = {dtype} }}\n"
    q = model(text, "q")
    assert q.weight_bytes() == pytest.approx(TINY_PARAMS * per_weight, rel=1e-12)
    # A step reads every weight but the embedding table (looked up per token) at the same bytes per weight.
    step_reads = sum(o.count * o.weight_bytes for o in model_mod.operators(q))
    assert step_reads == pytest.approx((TINY_PARAMS - V * H) * per_weight, rel=1e-12)
    assert q.kv_bytes_per_token() == model(text, "tiny").kv_bytes_per_token()  # KV precision is independent


def _engine_of_matmuls(chip: str, weights: str) -> set[tuple[str, float]]:
    text = TINY_MODEL + f"model q extends tiny {{ weights = {weights} }}\n"
    spec = catalog_chip(chip)
    q = model(text, "q")
    picked = set()
    for op in model_mod.operators(q):
        if op.engine == "tensor" and not hardware.is_attention(op):
            j = hardware.engine_for(spec, op)
            assert j is not None, (chip, op.name)
            picked.add((spec.engines[j][1], spec.engines[j][2]))
    return picked


def test_an_nvfp4_matmul_runs_on_the_b200_fp4_engine_and_at_fp8_on_the_h100() -> None:
    assert _engine_of_matmuls("b200", "nvfp4") == {("nvfp4", 9000e12)}
    assert _engine_of_matmuls("b200", "mxfp4") == {("mxfp4", 9000e12)}
    assert _engine_of_matmuls("h100_sxm", "nvfp4") == {("fp8", 1978.9e12)}
    # The MI355X has an MXFP4 engine but none for NVFP4: nvfp4 work dequantises to fp8.
    assert _engine_of_matmuls("mi355x", "mxfp4") == {("mxfp4", 10066.3e12)}
    assert _engine_of_matmuls("mi355x", "nvfp4") == {("fp8", 5033.2e12)}


def test_nvfp4_prefill_is_faster_on_the_fp4_engine_and_no_faster_than_fp8_without_one() -> None:
    """A long prefill is compute bound: on a B200 nvfp4 halves the matmul time of fp8 (9 vs 4.5 PFLOPS);
    on an H100 nvfp4 matmuls run at the fp8 rate, so prefill costs what fp8 costs (the weight bytes differ,
    which a compute-bound step does not see), while decode, memory bound, reads 0.5625 instead of 1 byte
    per weight and is faster."""
    def steps(chip: str) -> tuple[dict[str, float], dict[str, float]]:
        text = (f"use chips.{chip}, models.llama3_1_8b\n"
                "model q8 extends llama3_1_8b { weights = fp8 }\n"
                "model q4 extends llama3_1_8b { weights = nvfp4 }\n"
                "traffic t { arrivals = burst, prompt = 4000 tokens, output = 8 tokens, requests = 1 }\n"
                f"system s {{ pool p: 1 x {chip}, max_batched_tokens = 4096 }}\n"
                + "".join(f"run {m} {{ model = {m}, traffic = t, system = s }}\n" for m in ("q8", "q4")))
        it = infera.simulate(infera.compile_text(text)).iterations
        pre = {m: it.filter((it["run"].cast(str) == m) & (it["prefill_tokens"] > 0))["duration_s"][0]
               for m in ("q8", "q4")}
        dec = {m: it.filter((it["run"].cast(str) == m) & (it["decode_tokens"] == 1))["duration_s"].mean()
               for m in ("q8", "q4")}
        return pre, dec

    pre, dec = steps("b200")
    assert pre["q4"] < pre["q8"] * 0.75
    pre, dec = steps("h100_sxm")
    assert pre["q4"] == pytest.approx(pre["q8"], rel=0.05)
    assert dec["q4"] < dec["q8"] * 0.8


def test_an_fp8_kv_cache_halves_the_bytes_per_token_and_doubles_the_blocks_that_fit() -> None:
    """Llama-3.1-8B on one H100: (80 GB x 0.9 - weights) / (KV bytes per token x 16) blocks, with 2 x 32
    layers x 8 KV heads x 128 values per token at 2 bytes (bf16) or 1 byte (fp8)."""
    text = ("use chips.h100_sxm, models.llama3_1_8b\n"
            "model kv8 extends llama3_1_8b { kv = fp8 }\n"
            "traffic t { arrivals = burst, prompt = 100 tokens, output = 4 tokens, requests = 1 }\n"
            "system s { pool p: 1 x h100_sxm }\n"
            "run bf { model = llama3_1_8b, traffic = t, system = s }\n"
            "run f8 { model = kv8, traffic = t, system = s }\n")
    res = infera.simulate(infera.compile_text(text))
    weights = model("use models.llama3_1_8b\n", "llama3_1_8b").weight_bytes()
    per_token = {"bf": 2 * 32 * 8 * 128 * 2, "f8": 2 * 32 * 8 * 128 * 1}
    blocks = dict(zip(res.instances["run"].cast(str).to_list(), res.instances["kv_blocks"].to_list()))
    for run, b in per_token.items():
        assert blocks[run] == (80e9 * 0.9 - weights) // (b * 16), run
    assert blocks["f8"] >= 2 * blocks["bf"]
