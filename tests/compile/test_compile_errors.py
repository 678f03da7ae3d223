"""Each class of bad input is rejected at compile time, with its location and reason."""

from __future__ import annotations

import pytest

import infera
from helpers import compile_error, program

GOOD = """
traffic t { arrivals = poisson(5 /s), prompt = 100 tokens, output = 10 tokens, requests = 50 }
system s { pool p: 2 x toy, tp = 2 }
run r { model = tiny, traffic = t, system = s }
"""


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_good_program_compiles() -> None:
    plan = infera.compile_text(program(GOOD))
    assert plan.summary()["requests"] == 50
    infera.check(plan)


def test_unknown_name_is_located() -> None:
    text = program(GOOD.replace("model = tiny", "model = tinyy"))
    err = compile_error(text)
    assert err.loc.file == "bad.infera"
    assert err.loc.line == line_of(text, "model = tinyy")
    assert "unknown model 'tinyy'" in str(err)
    assert "known: tiny" in str(err)
    assert str(err).startswith(f"bad.infera:{err.loc.line}:")


def test_unknown_chip_in_pool_is_located() -> None:
    text = program(GOOD.replace("2 x toy", "2 x nochip"))
    err = compile_error(text)
    assert "unknown chip 'nochip'" in str(err)
    assert err.loc.line == line_of(text, "nochip")


def test_duplicate_name() -> None:
    text = program(GOOD + "\ntraffic t { arrivals = burst, prompt = 1 tokens, output = 1 tokens, requests = 1 }\n")
    err = compile_error(text)
    assert "duplicate traffic 't'" in str(err)
    dup = "traffic t { arrivals = burst, prompt = 1 tokens, output = 1 tokens, requests = 1 }"
    assert err.loc.line == text.splitlines().index(dup) + 1


def test_duplicate_field() -> None:
    text = program(GOOD.replace("requests = 50", "requests = 50, requests = 60"))
    assert "duplicate field 'requests'" in str(compile_error(text))


def test_wrong_unit_for_a_field() -> None:
    text = program(GOOD.replace("poisson(5 /s)", "poisson(5 GB)"))
    err = compile_error(text)
    assert "poisson rate needs a rate (/s)" in str(err)
    assert err.loc.line == line_of(text, "poisson(5 GB)")


def test_wrong_unit_on_chip_memory() -> None:
    text = program(GOOD).replace("memory = 1 GB", "memory = 1 TB/s")
    err = compile_error(text)
    assert "field 'memory' needs a size" in str(err)
    assert err.loc.line == line_of(text, "memory = 1 TB/s")


def test_unknown_field() -> None:
    text = program(GOOD.replace("tp = 2", "tp = 2, turbo = 3"))
    err = compile_error(text)
    assert "unknown field 'turbo'" in str(err)


def test_tp_must_divide_heads() -> None:
    text = program(GOOD.replace("2 x toy, tp = 2", "3 x toy, tp = 3"))
    err = compile_error(text)
    assert "tp = 3 does not divide the 4 attention heads" in str(err)
    assert err.loc.line == line_of(text, "pool p:")


def test_chips_must_divide_into_instances() -> None:
    text = program(GOOD.replace("2 x toy, tp = 2", "3 x toy, tp = 2"))
    assert "3 chips do not divide into instances of tp = 2" in str(compile_error(text))


def test_model_that_does_not_fit_reports_its_shortfall() -> None:
    big = GOOD + """
model big { layers = 80, hidden = 8192, heads = 64, kv_heads = 8, intermediate = 28672, vocab = 128256 }
run r2 { model = big, traffic = t, system = s }
"""
    err = compile_error(program(big))
    msg = str(err)
    assert "model 'big' does not fit" in msg
    assert "weights 141.1" in msg  # 70.6 B parameters in bf16
    assert "short by" in msg
    assert err.loc.line == line_of(program(big), "pool p:")


def test_kv_of_longest_request_must_fit() -> None:
    text = program(GOOD.replace("prompt = 100 tokens", "prompt = 2000000 tokens"))
    assert "longest request (2000010 tokens)" in str(compile_error(text))


def test_pool_with_no_chips() -> None:
    text = program(GOOD.replace("2 x toy, tp = 2", "0 x toy"))
    assert "a pool needs at least one chip" in str(compile_error(text))


def test_no_run_block() -> None:
    text = program("traffic t { arrivals = burst, prompt = 1 tokens, output = 1 tokens, requests = 1 }")
    assert "nothing to run" in str(compile_error(text))


def test_closed_loop_needs_a_request_count() -> None:
    text = program(GOOD.replace("arrivals = poisson(5 /s)", "arrivals = closed(users = 4)").replace(
        ", requests = 50", ", duration = 10 s"))
    assert "closed-loop traffic needs requests = N" in str(compile_error(text))


def test_unknown_catalog_entry() -> None:
    err = compile_error("use chips.h999\n" + program(GOOD))
    assert "no chip 'h999' in the catalog" in str(err)
    assert err.loc.line == 1


def test_catalog_entries_compile() -> None:
    text = """
use chips.h100_sxm, models.llama3_1_8b
traffic t { arrivals = poisson(5 /s), prompt = 100 tokens, output = 10 tokens, requests = 20 }
system s { pool p: 1 x h100_sxm }
run r { model = llama3_1_8b, traffic = t, system = s }
"""
    plan = infera.compile_text(text)
    model = plan["models"].to_pylist()[0]
    assert model["weight_bytes"] == pytest.approx(8.03e9 * 2, rel=0.01)  # 8.03 B parameters
    assert plan["chips"].to_pylist()[0]["memory_bw"] == 3.35e12


def test_extends_overrides_fields() -> None:
    text = """
use chips.h100_sxm, models.llama3_1_8b
model fp8_8b extends llama3_1_8b { weights = fp8 }
chip h100_lowclock extends h100_sxm { bf16 = 500 TFLOPS }
traffic t { arrivals = burst, prompt = 100 tokens, output = 10 tokens, requests = 1 }
system s { pool p: 1 x h100_lowclock }
run r { model = fp8_8b, traffic = t, system = s }
"""
    plan = infera.compile_text(text)
    assert plan["models"].to_pylist()[0]["weight_bytes"] == pytest.approx(8.03e9, rel=0.01)
    rates = {(e["kind"], e["dtype"]): e["flops"] for e in plan["engines"].to_pylist()}
    assert rates[("tensor", "bf16")] == 500e12
    assert rates[("tensor", "fp8")] == 1978.9e12


def test_a_prefill_only_pool_needs_a_budget_for_the_prompt_not_the_output() -> None:
    # Without chunks a prompt is one step; a prefill-only pool hands the KV cache on before any output, while
    # a decoding pool may recompute a preempted request's prompt and output together.
    text = program("""
traffic t { arrivals = poisson(5 /s), prompt = 100 tokens, output = 50 tokens, requests = 40 }
system s {
  pool pre: 1 x toy, role = prefill, chunked_prefill = false, max_batched_tokens = 100
  pool dec: 1 x toy, role = decode, chunked_prefill = false, max_batched_tokens = 150
  link pre -> dec { bandwidth = 50 GB/s }
}
run r { model = tiny, traffic = t, system = s }
""")
    plan = infera.compile_text(text)
    infera.check(plan)
    s = infera.simulate(plan).summary.row(0, named=True)
    assert (s["requests"], s["rejected"], s["output_tokens"]) == (40, 0, 40 * 50)
    err = compile_error(text.replace("max_batched_tokens = 150", "max_batched_tokens = 149"))
    assert "max_batched_tokens (149) must cover the longest request (150 tokens)" in str(err)
    err = compile_error(text.replace("max_batched_tokens = 100", "max_batched_tokens = 99"))
    assert "max_batched_tokens (99) must cover the longest request (100 tokens)" in str(err)
