"""Fits the shaped kernel-efficiency parameters of a measured GPU (docs/cost-model.md, "Kernel efficiency by
shape") to the operator timings `validation/measure_gpu.py` shipped in `validation/gpu/<gpu>/`.

    python validation/fit_efficiency.py [h100] [h200]     # prints the fitted fields and residuals per operator

The catalog chips `h100_sxm` and `h200_sxm` carry the numbers this prints. The fit is deterministic: each
group of parameters is fitted to the kernels it governs, by coordinate descent with golden-section steps on
the squared log error of time (so a 3 µs kernel counts as much as a 3 ms one), from fixed starting points:

1. bf16 weight matmuls (`measurements.csv`: qkv/o/gate_up/down projections, LM head): `gemm_efficiency`,
   `gemm_half_tokens`, `read_efficiency`, `read_half_bytes`;
2. vector kernels (norms, SwiGLU) are not fitted: below about twice the 50 MB L2 their input is what the
   previous kernel just wrote (L2-resident, faster than HBM), above it they run at 0.55-0.65 of HBM, and
   no one curve of the family fits both (a fitted copy efficiency came out at 0.99, above the read peak);
   they stay at the plain `memory_efficiency` with no fill term (their rows are printed for comparison);
3. attention (`attention.csv`, decode and prefill): `attention_efficiency`, `attention_half_context`,
   `attention_half_bytes`, with the read efficiency of 1;
4. FP8 weight matmuls (`measurements_fp8.csv`, per-GPU shards of Llama-2-7B/70B): `gemm_efficiency_fp8`,
   with 1's matmul shape.

The kernel overhead stays the catalog's measured 3 µs (`kernel_overhead`), shared with the roofline. The model
evaluated here is the one `rust/core/src/cost/efficiency.rs` prices (restated only to fit it quickly);
`validation/validate_gpu.py` then checks the fitted chip through the core itself.
"""

from __future__ import annotations

import csv
import math
import statistics
import sys
from pathlib import Path

import infera

ROOT = Path(__file__).resolve().parents[1]
GPUS = {"h100": "h100_sxm", "h200": "h200_sxm"}
MATMULS = ("qkv_proj", "o_proj", "gate_up_proj", "down_proj", "lm_head")


def _medians(path: Path, key) -> dict:  # noqa: ANN001
    groups: dict = {}
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            groups.setdefault(key(r), []).append(float(r["seconds"]))
    return {k: statistics.median(v) for k, v in groups.items()}


def _plan(chip: str, model: str, tp: int, weights: str) -> tuple[dict, dict, dict]:
    """The chip's datasheet rates and overhead, and the model's operators at `tp` with `weights` precision,
    from a compiled plan."""
    text = f"""use chips.{chip}, models.{model}
chip c extends {chip} {{ kernels = roofline, memory = 100000 GB }}
model m extends {model} {{ weights = {weights} }}
traffic t {{ arrivals = burst, prompt = 8 tokens, output = 2 tokens, requests = 1 }}
system s {{ pool p: {tp} x c }}
run r {{ model = m, traffic = t, system = s }}"""
    plan = infera.compile_text(text)
    c = plan["chips"].to_pylist()[0]
    eng = {(e["kind"], e["dtype"]): e["flops"] for e in plan["engines"].to_pylist()}
    ops = {o["name"]: o for o in plan["operators"].to_pylist()}
    return c, eng, ops


def _terms(op: dict, tp: int, kv_heads: int) -> dict:
    """Per-chip coefficients of one occurrence (the core's sharding: TP-sharded ops divided by tp)."""
    shard = tp if op["tp_shard"] else 1
    kv = min(tp, kv_heads) if op["tp_shard"] else 1
    return {"fpt": op["flops_per_token"] / shard, "fps": op["flops_per_sampled"] / shard,
            "fpp": op["flops_per_attn_pair"] / shard, "w": op["weight_bytes"] / shard,
            "bpt": op["bytes_per_token"] / shard, "bps": op["bytes_per_sampled"] / shard,
            "bkv": op["bytes_per_kv_token"] / kv}


def _rows(gpu: str) -> dict[str, list[dict]]:
    """Every measured kernel as (statistics, coefficients, rates, measured seconds), grouped for the fit."""
    data = ROOT / "validation" / "gpu" / gpu
    chip = GPUS[gpu]
    out: dict[str, list[dict]] = {"matmul": [], "vector": [], "attention": [], "fp8": []}
    cache: dict = {}

    def ctx(model: str, tp: int, weights: str = "bf16") -> tuple[dict, dict, dict]:
        if (model, tp, weights) not in cache:
            cache[(model, tp, weights)] = _plan(chip, model, tp, weights)
        return cache[(model, tp, weights)]

    for fname, group in (("measurements.csv", None), ("measurements_fp8.csv", "fp8")):
        meas = _medians(data / fname, lambda r: (r["model"], r["operator"], int(r["tp"]), float(r["x"])))
        for (model, name, tp, x), y in sorted(meas.items()):
            c, eng, ops = ctx(model, tp, group or "bf16")
            if name not in ops or (group == "fp8" and name not in MATMULS[:4]):
                continue
            op = ops[name]
            kind = "vector" if op["engine"] == "vector" else "matmul"
            rate = eng[("vector", "bf16")] if kind == "vector" else eng[("tensor", op["dtype"])]
            stats = {"T": x, "S": x if name == "lm_head" else 0.0, "A": 0.0, "K": 0.0}
            out[group or kind].append({"op": name, "model": model, "tp": tp, "x": x, "y": y, "kind": kind,
                                       "dtype": op["dtype"],
                                       "rate": rate, "bw": c["memory_bw"], "k": c["kernel_overhead_s"],
                                       "s": stats, **_terms(op, tp, 8)})
    att = _medians(data / "attention.csv", lambda r: (r["model"], r["phase"], int(r["batch"]), int(r["context"])))
    for (model, phase, b, n), y in sorted(att.items()):
        c, eng, ops = ctx(model, 1)
        op = ops["attention"]
        if phase == "decode":
            stats = {"T": b, "S": 0.0, "A": b * n, "K": b * n}
        else:
            stats = {"T": n, "S": 0.0, "A": n * (n + 1) / 2, "K": n}
        out["attention"].append({"op": f"attention {phase} b={b}", "model": model, "tp": 1, "x": n, "y": y,
                                 "dtype": op["dtype"],
                                 "kind": "attention", "rate": eng[("tensor", op["dtype"])], "bw": c["memory_bw"],
                                 "k": c["kernel_overhead_s"], "s": stats, **_terms(op, 1, 8)})
    return out


def predict(r: dict, p: dict) -> float:
    """One occurrence's seconds under parameters `p` (the formulas of efficiency.rs)."""
    s = r["s"]
    attention = r["kind"] == "attention"
    peak = p["attention_efficiency"] if attention else p.get(f"gemm_efficiency_{r['dtype']}", p["gemm_efficiency"])
    if r["kind"] == "vector":
        peak = 0.7
    flops = r["fpt"] * s["T"] + r["fps"] * s["S"] + r["fpp"] * s["A"]
    pad = 0.0
    if r["kind"] == "matmul":
        pad = p["gemm_half_tokens"] * (r["fpt"] + r["fps"] * min(s["S"], 1.0))
    elif attention:
        pad = p["attention_half_context"] * r["fpp"] * s["T"]
    compute = (flops + pad) / (r["rate"] * peak)
    eff = (p["copy_efficiency"] or 0.8) if r["kind"] == "vector" else p["read_efficiency"]
    fill = p["attention_half_bytes"] if attention else p["read_half_bytes"] if r["kind"] == "matmul" else 0.0
    nbytes = r["w"] + r["bpt"] * s["T"] + r["bps"] * s["S"] + r["bkv"] * s["K"] + fill
    return max(compute, nbytes / (r["bw"] * eff)) + r["k"]


def _loss(rows: list[dict], p: dict) -> float:
    return sum(math.log(predict(r, p) / r["y"]) ** 2 for r in rows)


def _golden(f, lo: float, hi: float, iters: int = 40) -> float:  # noqa: ANN001
    g = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return (a + b) / 2


#: Each parameter's search interval (a physical range) and its starting value.
BOUNDS = {"gemm_efficiency": (0.4, 1.0, 0.7), "gemm_half_tokens": (0.0, 1024.0, 0.0),
          "read_efficiency": (0.4, 1.0, 0.8), "read_half_bytes": (0.0, 64e6, 0.0),
          "copy_efficiency": (0.0, 1.0, 0.0), "attention_efficiency": (0.2, 1.0, 0.7),
          "attention_half_context": (0.0, 8192.0, 0.0), "attention_half_bytes": (0.0, 256e6, 0.0),
          "gemm_efficiency_fp8": (0.3, 1.0, 0.7)}


def _descend(rows: list[dict], p: dict, keys: tuple[str, ...], sweeps: int = 6) -> None:
    for _ in range(sweeps):
        for k in keys:
            lo, hi, _ = BOUNDS[k]

            def f(v: float, k: str = k) -> float:
                return _loss(rows, {**p, k: v})

            p[k] = _golden(f, lo, hi)


def fit(gpu: str) -> tuple[dict, dict[str, list[dict]]]:
    rows = _rows(gpu)
    p = {k: v for k, (_, _, v) in BOUNDS.items()}
    _descend(rows["matmul"], p, ("gemm_efficiency", "gemm_half_tokens", "read_efficiency", "read_half_bytes"))
    _descend(rows["attention"], p, ("attention_efficiency", "attention_half_context", "attention_half_bytes"))
    _descend(rows["fp8"], p, ("gemm_efficiency_fp8",), sweeps=1)
    return p, rows


def rounded(p: dict) -> dict:
    """The fitted values as the catalog writes them (2 significant figures for efficiencies)."""
    return {k: (round(v, 2) if "efficiency" in k else float(f"{v:.2g}")) for k, v in p.items()}


def catalog_fields(p: dict) -> str:
    q = rounded(p)
    return (f"  gemm_efficiency = {q['gemm_efficiency']}\n  gemm_efficiency_fp8 = {q['gemm_efficiency_fp8']}\n"
            f"  gemm_half_tokens = {q['gemm_half_tokens']:g} tokens\n"
            f"  read_efficiency = {q['read_efficiency']}\n  read_half_bytes = {q['read_half_bytes'] / 1e6:g} MB\n"
            f"  attention_efficiency = {q['attention_efficiency']}\n"
            f"  attention_half_context = {q['attention_half_context']:g} tokens\n"
            f"  attention_half_bytes = {q['attention_half_bytes'] / 1e6:g} MB")


def report(gpu: str) -> str:
    p, rows = fit(gpu)
    q = rounded(p)
    roof = {**{k: 0.0 for k in p}, "gemm_efficiency": 0.7, "read_efficiency": 0.8, "copy_efficiency": 0.8,
            "attention_efficiency": 0.7, "gemm_efficiency_fp8": 0.7}
    lines = [f"## {gpu} ({GPUS[gpu]})", "", "fitted catalog fields:", catalog_fields(p), "",
             "| operator | kernels | median abs error, shaped | worst | median abs error, roofline | worst |",
             "|---|---|---|---|---|---|"]
    for group in ("matmul", "vector", "attention", "fp8"):
        by: dict[str, list[dict]] = {}
        for r in rows[group]:
            by.setdefault(("fp8 " if group == "fp8" else "") + r["op"], []).append(r)
        for name, rs in by.items():
            e_s = [abs(100 * (predict(r, q) / r["y"] - 1)) for r in rs]
            e_r = [abs(100 * (predict(r, roof) / r["y"] - 1)) for r in rs]
            lines.append(f"| {name} | {len(rs)} | {statistics.median(e_s):.1f}% | {max(e_s):.1f}% | "
                         f"{statistics.median(e_r):.1f}% | {max(e_r):.1f}% |")
    return "\n".join(lines)


def main() -> int:
    for gpu in sys.argv[1:] or list(GPUS):
        print(report(gpu))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
