"""Kernel efficiency by shape (docs/cost-model.md): the chip fields reach the plan, bad values get located
errors, ``kernels = roofline`` gives the plain roofline bit for bit, and the catalog's H100 prices a small-M
matmul slower per FLOP than a large-M one."""

from __future__ import annotations

import pytest

import infera

SHAPED = """
chip fast {
  bf16 = 100 TFLOPS, fp8 = 200 TFLOPS, memory = 80 GB, memory_bandwidth = 1 TB/s, link_bandwidth = 100 GB/s
  gemm_efficiency = 0.9
  gemm_efficiency_fp8 = 0.6
  gemm_half_tokens = 64 tokens
  read_efficiency = 0.85
  read_half_bytes = 2 MB
  copy_efficiency = 0.6
  attention_efficiency = 0.5
  attention_half_context = 512 tokens
  attention_half_bytes = 8 MB
}
"""
RUN = """
use models.llama3_2_1b
traffic t { arrivals = burst, prompt = {prompt} tokens, output = 2 tokens, requests = {requests} }
system s {{ pool p: 1 x {chip}, max_batch = {requests}, chunked_prefill = false, step_overhead = 0 ms,
           max_batched_tokens = 100000 }}
run r {{ model = llama3_2_1b, traffic = t, system = s }}
"""


def _program(chip_text: str, chip: str, prompt: int = 64, requests: int = 1) -> str:
    run = RUN.replace("{prompt}", str(prompt)).replace("{requests}", str(requests))
    return chip_text + run.replace("{{", "{").replace("}}", "}").replace("{chip}", chip)


def test_shape_fields_reach_the_chips_and_engines_tables() -> None:
    plan = infera.compile_text(_program(SHAPED, "fast"))
    c = plan["chips"].to_pylist()[0]
    assert c["gemm_half_tokens"] == 64
    assert c["read_efficiency"] == 0.85 and c["copy_efficiency"] == 0.6
    assert c["read_half_bytes"] == 2e6 and c["attention_half_bytes"] == 8e6
    assert c["attention_efficiency"] == 0.5 and c["attention_half_context"] == 512
    eff = {(e["kind"], e["dtype"]): e["efficiency"] for e in plan["engines"].to_pylist()}
    assert eff[("tensor", "bf16")] == 0.9 and eff[("tensor", "fp8")] == 0.6
    assert eff[("vector", "bf16")] == 0.7  # the vector engine keeps compute_efficiency


def test_roofline_switch_zeroes_the_shape_and_restores_the_constant_efficiencies() -> None:
    plan = infera.compile_text(_program(SHAPED + "chip plain extends fast { kernels = roofline }", "plain"))
    c = plan["chips"].to_pylist()[0]
    assert all(c[k] == 0 for k in ("gemm_half_tokens", "read_efficiency", "copy_efficiency", "read_half_bytes",
                                   "attention_efficiency", "attention_half_context", "attention_half_bytes"))
    assert {e["efficiency"] for e in plan["engines"].to_pylist()} == {0.7}


def _durations(text: str) -> list[float]:
    return infera.simulate(infera.compile_text(text), requests=False).iterations.sort("step")["duration_s"].to_list()


def test_catalog_h100_roofline_is_the_old_pricing_exactly() -> None:
    """`kernels = roofline` on the catalog H100 prices exactly as the same chip written without any shape
    field (the datasheet figures with the constant efficiencies and the 3 us kernel overhead)."""
    old = """chip old { bf16 = 989.4 TFLOPS, fp8 = 1978.9 TFLOPS, int8 = 1978.9 TOPS, memory = 80 GB,
      memory_bandwidth = 3.35 TB/s, link_bandwidth = 900 GB/s, link_latency = 2 us, kernel_overhead = 3 us,
      power = 700 W }"""
    roof = "use chips.h100_sxm\nchip roof extends h100_sxm { kernels = roofline }\n"
    for prompt, requests in ((64, 1), (1024, 8)):
        a = _durations(_program(old, "old", prompt, requests))
        b = _durations(_program(roof, "roof", prompt, requests))
        shaped = _durations(_program("use chips.h100_sxm\n", "h100_sxm", prompt, requests))
        assert a == b
        assert shaped != a


def test_catalog_h100_prices_a_small_m_matmul_slower_per_flop() -> None:
    """Through the whole engine: the prefill step of 64 tokens costs more per token than one of 4096 on the
    shaped H100 by more than on its roofline (the matmuls' padded rows), and decode pays the fills."""
    def per_token(chip_text: str, chip: str, prompt: int) -> float:
        return _durations(_program(chip_text, chip, prompt))[0] / prompt

    shaped = "use chips.h100_sxm\n"
    roof = "use chips.h100_sxm\nchip roof extends h100_sxm { kernels = roofline }\n"
    ratio_shaped = per_token(shaped, "h100_sxm", 512) / per_token(shaped, "h100_sxm", 8192)
    ratio_roof = per_token(roof, "roof", 512) / per_token(roof, "roof", 8192)
    assert ratio_shaped > ratio_roof


@pytest.mark.parametrize("field, value, message", [
    ("gemm_efficiency", "1.5", "gemm_efficiency must be in (0, 1]"),
    ("read_efficiency", "0", "must be > 0"),
    ("gemm_efficiency_fp8", "2", "gemm_efficiency_fp8 must be in (0, 1]"),
    ("gemm_half_tokens", "5 GB", "needs a token count"),
    ("read_half_bytes", "3 us", "needs"),
    ("attention_half_context", "-4 tokens", ">= 0"),
    ("kernels", "measured", "must be one of shaped, roofline"),
])
def test_bad_shape_fields_are_located(field: str, value: str, message: str) -> None:
    text = _program(f"use chips.h100_sxm\nchip bad extends h100_sxm {{\n  {field} = {value}\n}}\n", "bad")
    with pytest.raises(infera.CompileError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        infera.compile_text(text)
    assert ":3:" in str(e.value)  # the line of the field
