"""Regenerates docs/validation.md: infera's predictions beside published measurements and beside our own GPU
measurements (the latter from `validate_gpu.py`).

    python validation/validate.py            # writes docs/validation.md and prints the table

Each row of `validation/published.csv` is one published figure with its source. The script writes the
matching infera program (catalog model and chip, the benchmark's precision, batch, lengths and parallelism),
simulates it with infera's default efficiencies (no per-row tuning), and reports the error. Static-batch
throughput rows (TensorRT-LLM `gptSessionBenchmark`) are a burst of `batch` identical requests prefilled in one
step and decoded together; first-token rows are one request with one output token.
"""

from __future__ import annotations

import csv
import importlib.util
import statistics
import sys
import tempfile
from pathlib import Path

import infera

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "validation" / "published.csv"
OUT = ROOT / "docs" / "validation.md"
#: Kernel profiles measured on our own H100 (validation/gpu/h100), by the precision the rows run at.
H100_PROFILES = {"fp8": ROOT / "validation" / "h100_fp8_profile.csv",
                 "bf16": ROOT / "validation" / "h100_bf16_profile.csv"}

_spec = importlib.util.spec_from_file_location("validate_gpu", ROOT / "validation" / "validate_gpu.py")
validate_gpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(validate_gpu)  # type: ignore[union-attr]


def program(row: dict[str, str], profile: Path | None = None) -> str:
    """The row as an infera program; with ``profile``, the chip carries that calibration profile (whose
    ``model`` column must name the program's model block, ``m``)."""
    b, inp, out, tp = int(row["batch"]), int(row["input"]), int(row["output"]), int(row["tp"])
    chip = row["chip"]
    extra = ""
    if profile is not None:
        extra = f'chip measured extends {chip} {{ profile = "{profile.resolve().as_posix()}" }}'
        chip = "measured"
    return f"""
use chips.{row['chip']}, models.{row['model']}
{extra}
model m extends {row['model']} {{ weights = {row['weights']}, kv = {row['kv']} }}
traffic t {{ arrivals = burst, prompt = {inp} tokens, output = {out} tokens, requests = {b} }}
system s {{ pool p: {tp} x {chip}, tp = {tp}, max_batch = {b}, max_batched_tokens = {b * (inp + out)},
           chunked_prefill = false }}
run r {{ model = m, traffic = t, system = s }}
"""


def profile_for(row: dict[str, str], folder: Path) -> Path | None:
    """Our H100 kernel profile for the row's model, precision and tp, relabelled for the program's model block
    (``m``) and written into ``folder``; None if the row is not on an H100 or nothing was measured for it."""
    src = H100_PROFILES.get(row["weights"])
    if row["chip"] != "h100_sxm" or src is None:
        return None
    with src.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["model"] == row["model"] and r["tp"] == row["tp"]]
    if not rows:
        return None
    out = folder / f"{row['row']}.csv"
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({**r, "model": "m"} for r in rows)
    return out


def predict(row: dict[str, str], profile: Path | None = None) -> float:
    res = infera.simulate(infera.compile_text(program(row, profile), file=f"<validation:{row['row']}>"))
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


def summary_row(name: str, errors: list[float]) -> str:
    s = validate_gpu.error_stats(errors)
    return (f"| {name} | {s['n']} | {s['median']:.1f}% | {s['worst']:.1f}% | {s['within10']} | "
            f"{s['within25']} |")


def row_class(row: dict[str, str]) -> str:
    """The class a published row is summarised in: its model and what is measured."""
    if row["metric"] == "ttft_ms":
        what = f"first-token latency, {row['input']}-token prompt"
    elif row["metric"] == "tpot_ms":
        what = "time per output token (serving stack)"
    else:
        what = "throughput"
    return f"{row['model']}: {what}"


def class_table(rows: list[dict[str, str]], signed: list[float]) -> list[str]:
    """Median signed and absolute error per row class: a bias, not only a spread."""
    groups: dict[str, list[float]] = {}
    for row, e in zip(rows, signed):
        groups.setdefault(row_class(row), []).append(e)
    out = ["| class | rows | median error (signed) | median abs. error | range |", "|---|---|---|---|---|"]
    for name in sorted(groups):
        e = groups[name]
        out.append(f"| {name} | {len(e)} | {statistics.median(e):+.1f}% | {statistics.median(map(abs, e)):.1f}% | "
                   f"{min(e):+.0f}% to {max(e):+.0f}% |")
    return out


def gqa_table(rows: list[dict[str, str]], preds: list[float]) -> list[str]:
    """Mistral-7B (8 KV heads) against Llama-2-7B (32 KV heads, otherwise a similar 7B) in the same release,
    chip and lengths: the measured throughput ratio beside the ratio infera predicts."""
    by = {(r["source"], r["chip"], r["model"], r["input"], r["output"]): (float(r["measured"]), p)
          for r, p in zip(rows, preds) if r["metric"] == "output_tokens_per_s_per_gpu"}
    out = ["| chip | in/out | Mistral-7B / Llama-2-7B, measured | same ratio, infera |", "|---|---|---|---|"]
    for (src, chip, model, i, o), (m, p) in by.items():
        other = by.get((src, chip, "llama2_7b", i, o))
        if model != "mistral_7b" or other is None:
            continue
        out.append(f"| {chip} | {i}/{o} | {m / other[0]:.2f} | {p / other[1]:.2f} |")
    return out


def published_table() -> tuple[list[str], list[float], list[float], list[float], list[float], list[str]]:
    """Rows of the published table; absolute errors of every row, of the H100 rows, and of the H100 rows with
    our measured kernel profile; how far (%) the profile moves each H100 prediction; the per-class table."""
    rows = list(csv.DictReader(PUBLISHED.open()))
    lines, h100, h100_prof, shifts, signed, preds = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            pred = predict(row)
            meas = float(row["measured"])
            err = 100.0 * (pred - meas) / meas
            signed.append(err)
            preds.append(pred)
            prof = profile_for(row, Path(tmp))
            cal = ""
            if prof is not None:
                pp = predict(row, prof)
                perr = 100.0 * (pp - meas) / meas
                h100.append(abs(err))
                h100_prof.append(abs(perr))
                shifts.append(100.0 * abs(pp - pred) / pred)
                cal = f"{pp:,.4g} ({perr:+.1f}%)"
            lines.append(
                f"| {row['row']} | {row['model']} {row['weights']} | {row['chip']} x{row['tp']} | {row['batch']} | "
                f"{row['input']}/{row['output']} | {row['metric']} | {meas:,.4g} | {pred:,.4g} | {err:+.1f}% | "
                f"{cal} |")
    errors = [abs(e) for e in signed]
    return lines, errors, h100, h100_prof, shifts, class_table(rows, signed) + [""] + gqa_table(rows, preds)


def main() -> int:
    table, errors, h100, h100_prof, shifts, classes = published_table()
    sections, summaries, gen = [], [], {}
    for key in validate_gpu.MEASURED:
        text, errs = validate_gpu.section(key)
        sections.append(text)
        summaries += [summary_row(f"{key.upper()} (ours): {what}", e) for what, e in errs.items()]
        gen[key] = validate_gpu.error_stats(errs["generation, default model"])
    s = validate_gpu.error_stats(errors)
    text = TEMPLATE.format(
        h100_gen=f"{gen['h100']['median']:.1f}% (worst {gen['h100']['worst']:.1f}%)",
        h200_gen=f"{gen['h200']['median']:.1f}% (worst {gen['h200']['worst']:.1f}%)",
        shift=f"{max(shifts):.1f}%", classes="\n".join(classes),
        table="\n".join(table), median=s["median"], worst=s["worst"], n=s["n"], within10=s["within10"],
        within25=s["within25"],
        summaries="\n".join([summary_row("published: all rows, default model", errors),
                              summary_row("published: H100 rows our kernel profile covers, default model", h100),
                              summary_row("the same rows, + our H100 kernel profile", h100_prof),
                              *summaries]),
        measured="\n".join(sections))
    OUT.write_text(text)
    print(text)
    return 0


TEMPLATE = """# Validation: predictions beside measurements

Regenerate the whole page (it writes this file) with:

```sh
python validation/validate.py
```

Measured closed-loop serving runs (aiconfigurator's silicon sample and InferenceX, thousands of deployments
under TensorRT-LLM, vLLM and SGLang) are on their own page, [validation-serving.md](validation-serving.md),
regenerated by `python validation/serving.py`.

Two kinds of evidence, each row with its percentage error (infera − measured) / measured:

1. **Published serving benchmarks** (`validation/published.csv`, each figure with its source): TensorRT-LLM's
   performance tables (v0.5/v0.6.1 and v0.9.0: every row whose model and GPU are in the catalog) and the vLLM
   blog. Every row is simulated with the built-in catalog chip and model at
   the benchmark's precision, batch, lengths and tensor parallelism, with infera's **default** cost model
   (compute efficiency 0.7, memory efficiency 0.8, 3 µs per kernel on GPUs, step overhead 0.5 ms); nothing is
   fitted per row.
2. **Our own GPU measurements** (`validation/gpu/`): `validation/measure_gpu.py` run on an H100 and an H200,
   timing the operators of a Llama-3.1-8B layer and a real generation loop of random-weight Llama models,
   every kernel as CUDA-graph replay (no Python launch overhead) over copies of its weights large enough to
   defeat the L2 cache, as in a real forward pass.

## Summary

| set | rows | median abs. error | worst | within 10% | within 25% |
|---|---|---|---|---|---|
{summaries}

The aim is a median error within 10% and no GPU row over 25%. **Where it stands.** On our own measurements
the default model predicts the real generation loop with a median error of {h100_gen} on the H100 and
{h200_gen} on the H200, every row on the fast side (see "Generation" below for why). On published figures the
dense core is where it should be: the 19 Llama-2-7B throughput rows (three GPUs, two TensorRT-LLM releases)
have a median signed error near zero and a median absolute error of a few percent (table by class below).
Over all {n} published rows the median is {median:.1f}%: grouped-query-attention models, the MoE model and
first-token latencies miss, each for a reason shown below, none of them the chip's arithmetic or memory
figures. Our measured kernels confirm the last point: pricing the published H100 rows with the kernel times we
measured ourselves (last column of the big table) moves no prediction by more than {shift}.

## Published measurements

Static-batch throughput rows (TensorRT-LLM's `gptSessionBenchmark`) are a burst of `batch` identical
requests, prefilled in one step and decoded together; throughput is output tokens over the whole run, per GPU
as the source reports it. First-token rows are one request with one output token. The last column prices the
H100 rows with the calibration profile made from our H100 measurements (FP8 GEMMs of Llama-2-7B and of the
per-GPU shards of Llama-2-70B at tp = 2 and 4; bf16 operators of Llama-3.1-8B), relabelled for the row's
model block.

By class (signed error = (infera − published) / published: for throughput + means infera predicts a faster
system, for latency − does):

{classes}

Every row:

| row | model | chips | batch | in/out | metric | published | infera | error | infera + our H100 kernels |
|---|---|---|---|---|---|---|---|---|---|
{table}

**{n} rows: median absolute error {median:.1f}%, worst {worst:.1f}%; {within10} rows within 10%, {within25}
within 25%.**

### Where published rows miss, and why

* **Dense multi-head attention (Llama-2-7B) is the control.** Same software, same GPUs, same benchmark: its
  throughput rows sit around zero error. The two outliers are 128/128 at batch 768–896 on Hopper (+19% to
  +36%), where each step carries ~900 sequences and the host's per-sequence work per step (sampling,
  bookkeeping), which infera does not model, is no longer negligible.
* **Grouped-query attention (Mistral-7B, Llama-2-70B) is predicted too fast on Hopper.** Mistral-7B caches
  8 KV heads against Llama-2-7B's 32, so its decode steps read 4x fewer KV bytes, and infera predicts it
  1.3–2.4x faster than Llama-2-7B at the same shapes (table above). TensorRT-LLM measured the two within
  0–32% of each other on H100 and H200: the benchmarked kernels did not turn GQA into fewer bytes moved. The
  source says as much: its GQA decode kernels (XQA) were "experimental and not enabled by default", enabled
  only where they helped. Llama-2-70B (8 KV heads for 64 query heads) shows the same bias, and it shrinks as
  the software improves: v0.6.1's H100 rows are +36% to +170%, v0.9.0's +19% to +48%. What would fix these
  rows: a benchmark with a GQA-aware decode kernel, or an attention-kernel parameter for how many times K and
  V are read per query group (not modelled; infera prices the bytes a GQA-aware kernel must move). That
  pricing is right for such a kernel: on our H100, PyTorch's GQA attention at decode batch 32 over 8,193
  keys moves each KV head once, at 3.0 TB/s, within 14% of infera (attention table below).
* **Mixtral-8x7B throughput spreads from -45% to +265%.** `gptSessionBenchmark` sends `batch` identical
  requests, so every sequence routes every token to the same two experts, while infera assumes each token
  picks its experts independently (so a decode batch of 32 reads nearly all eight experts' weights). That
  makes the benchmark faster than infera (the A100 FP16 2,048/2,048 row, -45%); the release's FP8 MoE kernels
  pull the other way (its 2,048-token Mixtral prefill on H100 is only 1.8x faster than on A100 in FP16, for a
  6x higher peak), and the Hopper FP8 rows are +1% to +265%. The routing is a property of the benchmark's
  synthetic input, not of serving; a benchmark with real prompts would settle it.
* **First-token latency on short prompts (-33% to -53% at 128 tokens for the dense and GQA models).** A
  128-token prefill of a 7B model is 4 ms of kernels on an H100 by the roofline and by our own measurement
  of those shapes; the published 6.3 ms (v0.9.0) and 7 ms (v0.5) include the runtime's fixed cost per
  request (engine enqueue, context-phase setup, first sampling). On 2,048-token prompts, where kernels
  dominate, the dense A100 rows on one and four GPUs land within 0–5%. Setting `step_overhead` to the
  runtime's fixed cost would fit these rows; we do not, because it would be fitted per row.
* **vLLM before v0.6 (13 ms per token, Llama-3-8B, H100).** The blog attributes 33% of the time to the HTTP
  server and 29% to scheduling: CPU overheads outside the accelerator. infera predicts the accelerator's share
  (~6.9 ms; our own H100 measured a Llama-3.1-8B decode step at 6.6 ms). Setting `step_overhead` to the
  measured CPU time per step (~6 ms there) reproduces the figure. It stays as a reminder that a hardware-only
  model misses serving-stack overheads.

## Measured on our own GPUs

How to re-measure (needs torch and an H100/H200; ~1 minute of GPU time):

```sh
python validation/measure_gpu.py --out validation/gpu/h100         # writes the files below
infera calibrate validation/gpu/h100/measurements.csv -o validation/h100_bf16_profile.csv
infera calibrate validation/gpu/h100/measurements_fp8.csv -o validation/h100_fp8_profile.csv
python validation/validate.py                                      # regenerates this page
```

Files in each `validation/gpu/<gpu>/` folder: `environment.txt`, `peaks.csv` (sustained GEMM rate and
bandwidth), `measurements.csv` and `measurements_fp8.csv` (per-operator times, the input of
`infera calibrate`), `attention.csv` (attention at decode batch x context and prefill length: a kernel whose
time depends on two statistics, compared here rather than used as a profile curve), `generation.csv`, and
`log.txt` (the console log). Both GPUs ran the same script once, with the same software; the figures are
shipped as they came.

Reading the tables: **operators** show the roofline's known shape — GEMMs within ~15% across five decades of
token counts; one-token norms and SwiGLU are pure kernel overhead (the reason for `kernel_overhead`, 3 µs,
taken from these rows); SwiGLU at large token counts is 1.5x the model because PyTorch runs it as two
kernels (SiLU, then multiply: five passes over memory instead of a fused kernel's three). **Attention**
matches within ~15% where it moves real bytes (decode at batch ≥ 32, long prefill) and is underpriced where a
flash kernel's fixed work dominates (batch-1 decode, short prefill). **Generation** rows are end to end: the
loop is eager PyTorch with glue that production engines fuse and infera's operator list does not contain
(residual adds, KV-cache copies, transposes, the two-kernel SwiGLU), which is why every row is on the fast
side, by about the same share on both GPUs. The profile column replaces each operator with its own measured
time: it does not close that gap, which confirms the gap is the glue, not the priced operators.

{measured}
"""


if __name__ == "__main__":
    sys.exit(main())
