"""Regenerates docs/validation.md: infera's predictions beside published measurements.

    python validation/validate.py            # writes docs/validation.md and prints the table

Each row of `validation/published.csv` is one published figure with its source. The script writes the
matching infera program (catalog model and chip, the benchmark's precision, batch, lengths and parallelism),
simulates it with infera's default efficiencies (no per-row tuning), and reports the error. Static-batch
throughput rows (TensorRT-LLM `gptSessionBenchmark`) are a burst of `batch` identical requests prefilled in one
step and decoded together; first-token rows are one request with one output token.
"""

from __future__ import annotations

import csv
import statistics
import sys
from pathlib import Path

import infera

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "validation" / "published.csv"
OUT = ROOT / "docs" / "validation.md"


def program(row: dict[str, str]) -> str:
    b, inp, out, tp = int(row["batch"]), int(row["input"]), int(row["output"]), int(row["tp"])
    return f"""
use chips.{row['chip']}, models.{row['model']}
model m extends {row['model']} {{ weights = {row['weights']}, kv = {row['kv']} }}
traffic t {{ arrivals = burst, prompt = {inp} tokens, output = {out} tokens, requests = {b} }}
system s {{ pool p: {tp} x {row['chip']}, tp = {tp}, max_batch = {b}, max_batched_tokens = {b * (inp + out)},
           chunked_prefill = false }}
run r {{ model = m, traffic = t, system = s }}
"""


def predict(row: dict[str, str]) -> float:
    res = infera.simulate(infera.compile_text(program(row), file=f"<validation:{row['row']}>"))
    s = res.summary.row(0, named=True)
    req = res.requests
    metric, tp = row["metric"], int(row["tp"])
    if metric == "output_tokens_per_s_per_gpu":
        return s["output_tokens"] / s["duration_s"] / tp
    if metric == "output_tokens_per_s":
        return s["output_tokens"] / s["duration_s"]
    if metric == "ttft_ms":
        return 1e3 * float(req["ttft_s"].mean())
    if metric == "tpot_ms":
        return 1e3 * float(req["tpot_mean_s"].mean())
    raise ValueError(metric)


def main() -> int:
    rows = list(csv.DictReader(PUBLISHED.open()))
    lines = []
    errors = []
    for row in rows:
        pred = predict(row)
        meas = float(row["measured"])
        err = 100.0 * (pred - meas) / meas
        errors.append(abs(err))
        lines.append(
            f"| {row['row']} | {row['model']} {row['weights']} | {row['chip']} x{row['tp']} | {row['batch']} | "
            f"{row['input']}/{row['output']} | {row['metric']} | {meas:,.4g} | {pred:,.4g} | {err:+.1f}% |"
        )
    median = statistics.median(errors)
    worst = max(errors)
    table = "\n".join(lines)
    text = TEMPLATE.format(table=table, median=median, worst=worst, n=len(rows),
                           within10=sum(e <= 10 for e in errors), within25=sum(e <= 25 for e in errors))
    OUT.write_text(text)
    print(text)
    return 0


TEMPLATE = """# Validation: predictions beside published measurements

Regenerate the whole table (it writes this file) with:

```sh
python validation/validate.py
```

Inputs: `validation/published.csv` (each figure with its source). Every row is simulated with the built-in
catalog chip and model at the benchmark's precision, batch, lengths and tensor parallelism, with infera's
**default** efficiencies (compute 0.7, memory 0.8, step overhead 0.5 ms) — nothing is fitted per row.
Static-batch throughput rows (TensorRT-LLM's `gptSessionBenchmark`) are a burst of `batch` identical
requests, prefilled in one step and decoded together; throughput is output tokens over the whole run
(per GPU where the source reports per GPU). First-token rows are one request with one output token.

| row | model | chips | batch | in/out | metric | published | infera | error |
|---|---|---|---|---|---|---|---|---|
{table}

**{n} rows: median absolute error {median:.1f}%, worst {worst:.1f}%; {within10} rows within 10%, {within25}
within 25%.**

## Where rows miss, and why

The aim is a median error within 10% and no GPU row over 25%. **It is not met yet**: the single-GPU
throughput rows are (within 2–12% for Llama-2-7B on H100 and A100), but three classes of row miss:

* **Multi-GPU Llama-2-70B throughput on H100 (infera 1.4–2.9x too fast).** The same model on A100 x4 lands
  within 3–7% on two of three rows, so the dense-layer arithmetic is not the cause. What infera prices
  optimistically on a TP group is the communication: 2 µs per ring hop (catalog assumption) and the
  catalog's 900 GB/s NVLink figure, which the reference table flags as possibly bidirectional (450 GB/s
  each way). Raising the hop latency to 20 µs (typical of NCCL all-reduce on small decode messages) cuts
  the 2048/2048 row from 1,300 to 1,053 tok/s/GPU, still far from 547, so part of the gap is in
  TensorRT-LLM v0.6.1's FP8 path for 70B itself (its later releases report much higher figures for the same
  shapes). A measured profile of `attn_allreduce`/`mlp_allreduce` and the 70B GEMMs (the calibration
  format covers both) is the fix; the GPU script below measures them.
* **First-token latency at batch 1 (infera 33–61% too fast, worst at 128-token prompts).** A 128-token
  prefill is dominated by kernel launches and fixed per-layer costs that a roofline with one 0.5 ms step
  overhead does not see; at 2,048 tokens the A100 rows land within 1–5%. A measured profile fixes this
  class: it replaces the roofline with measured times per operator and shape.
* **vLLM before v0.6 (13 ms per token, Llama-3-8B, H100).** The blog attributes 33% of the time to the
  HTTP server and 29% to scheduling: CPU overheads outside the accelerator. infera predicts the
  accelerator's share (6.1 ms); setting `step_overhead` to the measured CPU time per step (~7 ms there)
  reproduces the figure. It stays in the table as a reminder that a hardware-only model misses
  serving-stack overheads.

The measuring script `validation/measure_gpu.py` (run where an H100/H200 is at hand) measures the GEMM and
attention shapes of a Llama-3.1-8B step and a real generation loop of a randomly initialised Llama, and writes
a calibration profile and a validation table from its own measurements.
"""


if __name__ == "__main__":
    sys.exit(main())
