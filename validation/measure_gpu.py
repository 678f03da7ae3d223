"""Measure a real accelerator to calibrate and validate infera (needs torch and a CUDA GPU: H100/H200).

    python validation/measure_gpu.py --out gpu_out/          # ~4 minutes on an H100
    python validation/measure_gpu.py --dry-run                # list what would be measured (no torch needed)

Writes into --out (each file as soon as its section ends, so a failure later keeps what came before):

* `environment.txt` — GPU name, torch and CUDA versions, SM count.
* `peaks.csv` — what the chip sustains: a large bf16 and fp8 GEMM (FLOP/s) and a device-to-device copy
  (bytes read + written per second), against which the catalog's efficiencies can be read.
* `measurements.csv` — per-operator timings (bf16, tp = 1) of one layer of Llama-3.1-8B and Llama-3.2-1B over
  token counts (projections, norms, SwiGLU) and sampled tokens (LM head), in the format `infera calibrate`
  reads (`docs/calibration.md`): columns `run, model, operator, tp, stat, x, seconds` (several runs per shape).
* `attention.csv` — the attention kernel (`scaled_dot_product_attention`, GQA) of the same models at decode
  batches x contexts and at prefill lengths: `run, model, tp, phase, batch, context, attn_pairs, kv_tokens,
  seconds`. Not a calibration input (see `attention_row`): `validate_gpu.py` compares it with the roofline.
* `measurements_fp8.csv` — the same for Llama-2-7B (tp = 1) and the per-GPU shards of Llama-2-70B at
  tp = 2 and 4, with the projections as FP8 (e4m3) GEMMs (`torch._scaled_mm`, bf16 out), the LM head, norms and
  SwiGLU in bf16; attention is left to the roofline (the FP8 KV cache of those runs is not measured here).
* `generation.csv` — a real generation loop of a randomly initialised Llama built from its config (no
  download): prefill time, mean decode-step time in eager mode, and the decode step replayed as a CUDA graph
  (the GPU's own time, without Python launch overhead), at several batch sizes.

Then, on any machine with infera:

    infera calibrate gpu_out/measurements.csv -o validation/h100_bf16_profile.csv
    infera calibrate gpu_out/measurements_fp8.csv -o validation/h100_fp8_profile.csv
    python validation/validate_gpu.py gpu_out/generation.csv --profile validation/h100_bf16_profile.csv

Nothing here runs in CI. Timings use CUDA events around back-to-back launches after warm-up (enough launches
for a group to last ~2 ms, at most `--repeat`), and record `--runs` such groups, each written as one row
(`infera calibrate` takes the median per shape).
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import traceback
from pathlib import Path

# Shapes from the models' config.json (the same figures as infera's catalog entries).
MODELS = {
    "llama3_1_8b": dict(layers=32, hidden=4096, heads=32, kv_heads=8, head_dim=128, intermediate=14336,
                        vocab=128256),
    "llama3_2_1b": dict(layers=16, hidden=2048, heads=32, kv_heads=8, head_dim=64, intermediate=8192,
                        vocab=128256),
    "llama2_7b": dict(layers=32, hidden=4096, heads=32, kv_heads=32, head_dim=128, intermediate=11008,
                      vocab=32000),
    "llama2_70b": dict(layers=80, hidden=8192, heads=64, kv_heads=8, head_dim=128, intermediate=28672,
                       vocab=32000),
}

TOKENS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
SAMPLED = [1, 8, 32, 64, 128, 256, 512]
DECODE_BATCHES = [1, 8, 32, 64, 128, 256]
DECODE_CONTEXTS = [128, 512, 2048, 8192]
PREFILL_LENGTHS = [128, 512, 1024, 2048, 4096, 8192]
# (measurement set, model, tp, matmul dtype, measure attention)
CONFIGS = [
    ("bf16", "llama3_1_8b", 1, "bf16", True),
    ("bf16", "llama3_2_1b", 1, "bf16", True),
    ("fp8", "llama2_7b", 1, "fp8", False),
    ("fp8", "llama2_70b", 2, "fp8", False),
    ("fp8", "llama2_70b", 4, "fp8", False),
]
# (model, batches, prompt, output) of the generation loop.
GENERATION = [
    ("llama3_2_1b", [1, 8, 32, 64, 128], 512, 64),
    ("llama3_1_8b", [1, 8, 32, 64], 512, 64),
    ("llama3_1_8b", [1], 128, 16),
    ("llama3_1_8b", [1], 2048, 16),
]
FIELDS = ["run", "model", "operator", "tp", "stat", "x", "seconds"]
ATTN_FIELDS = ["run", "model", "tp", "phase", "batch", "context", "attn_pairs", "kv_tokens", "seconds"]


def plan_shapes(model: str, tp: int, attention: bool) -> list[tuple[str, str, int, dict]]:
    """(operator, stat, x, shape) of every measurement of one layer of ``model``'s per-GPU shard at ``tp``."""
    m = MODELS[model]
    h, q, kv, f = m["hidden"], m["heads"] * m["head_dim"], m["kv_heads"] * m["head_dim"], m["intermediate"]
    out = []
    for t in TOKENS:
        out += [
            ("qkv_proj", "tokens", t, dict(kind="gemm", m=t, k=h, n=(q + 2 * kv) // tp)),
            ("o_proj", "tokens", t, dict(kind="gemm", m=t, k=q // tp, n=h)),
            ("gate_up_proj", "tokens", t, dict(kind="gemm", m=t, k=h, n=2 * f // tp)),
            ("down_proj", "tokens", t, dict(kind="gemm", m=t, k=f // tp, n=h)),
            # Norms are replicated on every chip of a TP group (full width); SwiGLU is sharded.
            ("attn_norm", "tokens", t, dict(kind="rmsnorm", m=t, n=h)),
            ("mlp_norm", "tokens", t, dict(kind="rmsnorm", m=t, n=h)),
            ("swiglu", "tokens", t, dict(kind="swiglu", m=t, n=f // tp)),
        ]
    for s in SAMPLED:
        out.append(("lm_head", "sampled", s, dict(kind="gemm_bf16", m=s, k=h, n=m["vocab"] // tp)))
    if attention:
        heads = dict(qh=m["heads"] // tp, kvh=m["kv_heads"] // tp, d=m["head_dim"])
        for b in DECODE_BATCHES:
            for c in DECODE_CONTEXTS:
                # A decode step: b queries, each attending to c + 1 keys.
                out.append(("attention", "attn_pairs", b * (c + 1), dict(kind="decode_attn", b=b, ctx=c + 1,
                                                                         **heads)))
        for n in PREFILL_LENGTHS:
            out.append(("attention", "attn_pairs", n * (n + 1) // 2, dict(kind="prefill_attn", n=n, **heads)))
    return out


def write_csv(path: Path, rows: list[dict], fields: list[str] | None = None) -> None:
    if not rows:
        return
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields or list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path} ({len(rows)} rows)", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="gpu_out")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=50, help="most launches timed as one group")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    if args.dry_run:
        total = 0
        for group, model, tp, dtype, attn in CONFIGS:
            shapes = plan_shapes(model, tp, attn)
            total += len(shapes)
            print(f"{group}: {model} tp={tp} {dtype}: {len(shapes)} shapes")
        print(f"{total} shapes x {args.runs} runs; generation loops: {GENERATION}")
        return 0

    import torch

    if not torch.cuda.is_available():
        print("a CUDA GPU is required", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    props = torch.cuda.get_device_properties(0)
    (out / "environment.txt").write_text(
        f"gpu: {torch.cuda.get_device_name()}\nsms: {props.multi_processor_count}\n"
        f"memory_gib: {props.total_memory / 2**30:.1f}\ntorch: {torch.__version__}\ncuda: {torch.version.cuda}\n")
    print((out / "environment.txt").read_text(), flush=True)
    failures = 0

    def section(name, fn) -> None:  # noqa: ANN001
        nonlocal failures
        try:
            fn()
        except Exception:  # noqa: BLE001 - keep the other sections' measurements
            failures += 1
            print(f"section {name} failed:", file=sys.stderr)
            traceback.print_exc()
        torch.cuda.empty_cache()

    section("peaks", lambda: write_csv(out / "peaks.csv", measure_peaks(torch, args)))
    rows: dict[str, list[dict]] = {"bf16": [], "fp8": [], "attention": []}
    for group, model, tp, dtype, attn in CONFIGS:
        section(f"{model} tp={tp}", lambda g=group, m=model, t=tp, d=dtype, a=attn:
                measure_operators(torch, args, m, t, d, a, rows[g], rows["attention"]))
        write_csv(out / "measurements.csv", rows["bf16"], FIELDS)
        write_csv(out / "measurements_fp8.csv", rows["fp8"], FIELDS)
        write_csv(out / "attention.csv", rows["attention"], ATTN_FIELDS)
    gen: list[dict] = []
    for model, batches, prompt, output in GENERATION:
        section(f"generation {model}", lambda m=model, bs=batches, p=prompt, o=output:
                gen.extend(measure_generation(torch, m, bs, p, o)))
        write_csv(out / "generation.csv", gen)
    print(f"done; {failures} section(s) failed", flush=True)
    return 1 if failures else 0


def timer(torch, args):  # noqa: ANN001, ANN201
    """A function timing a kernel as the GPU runs it: ``repeat`` back-to-back calls captured in one CUDA graph
    and replayed ``runs`` times (what a serving engine with CUDA graphs sees: no Python launch overhead), the
    seconds per call of each replay. ``fns`` are the same kernel on different copies of its weights (or KV),
    called in turn so that weights come from HBM as they do in a real forward pass, not from the L2 cache a
    repeated call on one copy would hit. Falls back to eager launches where capture fails."""

    def timed(fns) -> list[float]:  # noqa: ANN001
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for fn in fns[:3] * 2:
                fn()
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fns[-1]()
        e.record()
        torch.cuda.synchronize()
        one = max(s.elapsed_time(e) / 1e3, 1e-7)
        repeat = max(3, len(fns), min(args.repeat, math.ceil(2e-3 / one)))

        def calls() -> None:
            for i in range(repeat):
                fns[i % len(fns)]()

        try:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                calls()
            run = graph.replay
        except Exception as exc:  # noqa: BLE001
            print(f"  (graph capture failed: {exc}; timing eager launches)", flush=True)
            graph, run = None, calls
        run()
        torch.cuda.synchronize()
        times = []
        for _ in range(args.runs):
            s.record()
            run()
            e.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(e) / 1e3 / repeat)
        del graph
        return times

    return timed


def copies(nbytes: float, most: int) -> int:
    """Copies of a kernel's weights to cycle through so that they add up to > 2.5x a 50 MB L2 (1 if one is)."""
    return max(1, min(most, math.ceil(128e6 / max(nbytes, 1.0))))


def fp8_gemm(torch, m: int, k: int, n: int, dev: str):  # noqa: ANN001, ANN201
    """An FP8 (e4m3) GEMM m x k @ k x n with bf16 output; m is padded to 16 if the kernel needs it."""
    a = torch.randn(m, k, device=dev).to(torch.float8_e4m3fn)
    w = torch.randn(n, k, device=dev).to(torch.float8_e4m3fn)  # row-major n x k: w.t() is column-major
    one = torch.ones((), device=dev, dtype=torch.float32)

    def run(a=a):  # noqa: ANN001, ANN202
        return torch._scaled_mm(a, w.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)

    try:
        run()
        return run
    except RuntimeError:
        pad = torch.zeros(16 * math.ceil(m / 16), k, device=dev).to(torch.float8_e4m3fn)
        run(pad)
        return lambda: run(pad)


def measure_peaks(torch, args) -> list[dict]:  # noqa: ANN001
    timed = timer(torch, args)
    dev, rows = "cuda", []
    n = 8192
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    t = statistics.median(timed([lambda: a @ b]))
    rows.append({"what": "gemm_bf16_8192", "value": 2 * n**3 / t, "unit": "flop/s", "seconds": t})
    f8 = fp8_gemm(torch, n, n, n, dev)
    t = statistics.median(timed([f8]))
    rows.append({"what": "gemm_fp8_8192", "value": 2 * n**3 / t, "unit": "flop/s", "seconds": t})
    src = torch.empty(2**30, device=dev, dtype=torch.uint8)
    dst = torch.empty_like(src)
    t = statistics.median(timed([lambda: dst.copy_(src)]))
    rows.append({"what": "copy_1gib", "value": 2 * 2**30 / t, "unit": "byte/s", "seconds": t})
    big = torch.ones(2**31, device=dev, dtype=torch.bfloat16)  # 4 GiB read once per call
    t = statistics.median(timed([lambda big=big: big.sum()]))
    rows.append({"what": "read_4gib", "value": 2 * 2**31 / t, "unit": "byte/s", "seconds": t})
    del big
    x = torch.zeros(1, device=dev)
    t = statistics.median(timed([lambda: x.add_(1)]))
    rows.append({"what": "tiny_kernel", "value": t, "unit": "s", "seconds": t})
    for r in rows:
        print(f"peak {r['what']}: {r['value']:.4g} {r['unit']}", flush=True)
    return rows


def rmsnorm(torch, x, w):  # noqa: ANN001, ANN201
    return torch.nn.functional.rms_norm(x, (x.shape[-1],), w, 1e-5)


def attention_row(run: int, model: str, tp: int, shape: dict, seconds: float) -> dict:
    """One timing of an attention kernel, with its shape. Attention is not a calibration curve: its time
    depends on two statistics (query-key pairs: compute; context read: memory), so decode and prefill points
    at the same ``attn_pairs`` differ by an order of magnitude. It is compared with the roofline instead
    (`validation/validate_gpu.py`)."""
    if shape["kind"] == "decode_attn":
        b, c = shape["b"], shape["ctx"]
        return {"run": run, "model": model, "tp": tp, "phase": "decode", "batch": b, "context": c,
                "attn_pairs": b * c, "kv_tokens": b * c, "seconds": seconds}
    n = shape["n"]
    return {"run": run, "model": model, "tp": tp, "phase": "prefill", "batch": 1, "context": n,
            "attn_pairs": n * (n + 1) // 2, "kv_tokens": n, "seconds": seconds}


def measure_operators(torch, args, model: str, tp: int, dtype: str, attention: bool,  # noqa: ANN001
                      rows: list[dict], attn_rows: list[dict]) -> None:
    """Appends to ``rows`` (calibration measurements) and ``attn_rows`` as it goes; a shape that fails is
    reported and skipped."""
    for op, stat, x, s in plan_shapes(model, tp, attention):
        try:
            times = measure_shape(torch, args, dtype, s)
        except Exception:  # noqa: BLE001
            print(f"{model} tp{tp} {op} {stat}={x} failed:", file=sys.stderr)
            traceback.print_exc()
            continue
        for run, sec in enumerate(times):
            if op == "attention":
                attn_rows.append(attention_row(run, model, tp, s, sec))
            else:
                rows.append({"run": run, "model": model, "operator": op, "tp": tp, "stat": stat, "x": x,
                             "seconds": sec})
        print(f"{model} tp{tp} {op:13s} {stat}={x:<10d} {statistics.median(times):.3e} s", flush=True)


def measure_shape(torch, args, dtype: str, s: dict) -> list[float]:  # noqa: ANN001
    """Times one shape. Weights (GEMMs) and the KV cache (decode attention) are cycled over copies (see
    ``timer``); activations are not: in a forward pass they come hot from the previous kernel."""
    timed = timer(torch, args)
    dev, dt = "cuda", torch.bfloat16
    kind = s["kind"]
    if kind in ("gemm", "gemm_bf16") and (kind == "gemm_bf16" or dtype == "bf16"):
        a = torch.randn(s["m"], s["k"], device=dev, dtype=dt)
        n = copies(2 * s["k"] * s["n"], args.repeat)
        ws = [torch.randn(s["k"], s["n"], device=dev, dtype=dt) for _ in range(n)]
        fns = [lambda w=w: a @ w for w in ws]
    elif kind == "gemm":
        fns = [fp8_gemm(torch, s["m"], s["k"], s["n"], dev) for _ in range(copies(s["k"] * s["n"], args.repeat))]
    elif kind == "rmsnorm":
        a = torch.randn(s["m"], s["n"], device=dev, dtype=dt)
        w = torch.ones(s["n"], device=dev, dtype=dt)
        fns = [lambda: rmsnorm(torch, a, w)]
    elif kind == "swiglu":
        g = torch.randn(s["m"], s["n"], device=dev, dtype=dt)
        u = torch.randn(s["m"], s["n"], device=dev, dtype=dt)
        fns = [lambda: torch.nn.functional.silu(g) * u]
    elif kind == "decode_attn":
        qt = torch.randn(s["b"], s["qh"], 1, s["d"], device=dev, dtype=dt)
        n = copies(2 * 2 * s["b"] * s["kvh"] * s["ctx"] * s["d"], args.repeat)
        kvs = [(torch.randn(s["b"], s["kvh"], s["ctx"], s["d"], device=dev, dtype=dt),
                torch.randn(s["b"], s["kvh"], s["ctx"], s["d"], device=dev, dtype=dt)) for _ in range(n)]
        fns = [lambda k=k, v=v: torch.nn.functional.scaled_dot_product_attention(qt, k, v, enable_gqa=True)
               for k, v in kvs]
    else:  # prefill_attn
        qt = torch.randn(1, s["qh"], s["n"], s["d"], device=dev, dtype=dt)
        k = torch.randn(1, s["kvh"], s["n"], s["d"], device=dev, dtype=dt)
        v = torch.randn(1, s["kvh"], s["n"], s["d"], device=dev, dtype=dt)
        fns = [lambda: torch.nn.functional.scaled_dot_product_attention(qt, k, v, is_causal=True, enable_gqa=True)]
    return timed(fns)


def measure_generation(torch, model: str, batches: list[int], prompt: int, output: int) -> list[dict]:  # noqa: ANN001
    llm = TinyLlama(MODELS[model], "cuda", torch.bfloat16)
    rows = []
    for b in batches:
        r = llm.generate_timing(batch=b, prompt=prompt, output=output)
        rows.append({"model": model, "batch": b, "prompt": prompt, "output": output, **r,
                     "graph_context": prompt + output // 2})
        print(f"generation {model} batch={b} prompt={prompt}: prefill {r['prefill_s'] * 1e3:.3f} ms eager, "
              f"{r['prefill_graph_s'] * 1e3:.3f} ms graph; step {r['decode_step_s'] * 1e3:.3f} ms eager, "
              f"{r['decode_step_graph_s'] * 1e3:.3f} ms graph", flush=True)
    del llm
    return rows


class TinyLlama:
    """A Llama decoder built from a config with random weights (bf16): enough to time a real generation loop
    (RMSNorm, GQA attention over a preallocated KV cache, SwiGLU MLP, LM head), with no download."""

    def __init__(self, cfg: dict, dev: str, dt) -> None:  # noqa: ANN001
        import torch

        self.t, self.cfg, self.dev, self.dt = torch, cfg, dev, dt
        h, q = cfg["hidden"], cfg["heads"] * cfg["head_dim"]
        kv, f = cfg["kv_heads"] * cfg["head_dim"], cfg["intermediate"]

        def w(*shape):  # noqa: ANN002, ANN202
            return torch.randn(*shape, device=dev, dtype=dt) * 0.02

        self.layers = [dict(qkv=w(h, q + 2 * kv), o=w(q, h), gu=w(h, 2 * f), d=w(f, h),
                            n1=torch.ones(h, device=dev, dtype=dt), n2=torch.ones(h, device=dev, dtype=dt))
                       for _ in range(cfg["layers"])]
        self.embed = w(cfg["vocab"], h)
        self.head = w(h, cfg["vocab"])

    def _forward(self, ids, cache, pos: int):  # noqa: ANN001, ANN202
        t, cfg = self.t, self.cfg
        b, n = ids.shape
        qh, kvh, d = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
        x = self.embed[ids]
        for li, L in enumerate(self.layers):
            y = rmsnorm(t, x, L["n1"]) @ L["qkv"]
            qx, kx, vx = y.split([qh * d, kvh * d, kvh * d], dim=-1)
            qx = qx.view(b, n, qh, d).transpose(1, 2)
            k_cache, v_cache = cache[li]
            k_cache[:, :, pos:pos + n] = kx.view(b, n, kvh, d).transpose(1, 2)
            v_cache[:, :, pos:pos + n] = vx.view(b, n, kvh, d).transpose(1, 2)
            a = t.nn.functional.scaled_dot_product_attention(
                qx, k_cache[:, :, :pos + n], v_cache[:, :, :pos + n], is_causal=n > 1, enable_gqa=True)
            x = x + a.transpose(1, 2).reshape(b, n, qh * d) @ L["o"]
            g, u = (rmsnorm(t, x, L["n2"]) @ L["gu"]).chunk(2, dim=-1)
            x = x + (t.nn.functional.silu(g) * u) @ L["d"]
        return rmsnorm(t, x[:, -1], self.layers[-1]["n2"]) @ self.head

    def _graph_time(self, fn, replays: int) -> float:  # noqa: ANN001
        """Seconds per call of ``fn`` captured as a CUDA graph (median of 3 groups of ``replays``); NaN where
        capture fails."""
        t = self.t
        try:
            side = t.cuda.Stream()
            side.wait_stream(t.cuda.current_stream())
            with t.cuda.stream(side):
                for _ in range(2):
                    fn()
            t.cuda.current_stream().wait_stream(side)
            g = t.cuda.CUDAGraph()
            with t.cuda.graph(g):
                fn()
            g.replay()
            t.cuda.synchronize()
            s, e = t.cuda.Event(enable_timing=True), t.cuda.Event(enable_timing=True)
            reps = []
            for _ in range(3):
                s.record()
                for _ in range(replays):
                    g.replay()
                e.record()
                t.cuda.synchronize()
                reps.append(s.elapsed_time(e) / 1e3 / replays)
            del g
            return statistics.median(reps)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            return float("nan")

    def generate_timing(self, batch: int, prompt: int, output: int) -> dict[str, float]:
        """Prefill seconds (eager and as a CUDA graph), mean eager decode-step seconds over the generation, and
        a decode step replayed as a CUDA graph at context prompt + output // 2 (NaN where capture fails)."""
        t, cfg = self.t, self.cfg
        total = prompt + output
        cache = [(t.zeros(batch, cfg["kv_heads"], total, cfg["head_dim"], device=self.dev, dtype=self.dt),
                  t.zeros(batch, cfg["kv_heads"], total, cfg["head_dim"], device=self.dev, dtype=self.dt))
                 for _ in range(cfg["layers"])]
        ids = t.randint(0, cfg["vocab"], (batch, prompt), device=self.dev)
        s, e = t.cuda.Event(enable_timing=True), t.cuda.Event(enable_timing=True)
        with t.inference_mode():
            self._forward(ids, cache, 0)  # warm-up
            t.cuda.synchronize()
            prefills = []
            for _ in range(3):
                s.record()
                logits = self._forward(ids, cache, 0)
                e.record()
                t.cuda.synchronize()
                prefills.append(s.elapsed_time(e) / 1e3)
            prefill_graph = self._graph_time(lambda: self._forward(ids, cache, 0), 1)
            nxt = logits.argmax(-1, keepdim=True)
            self._forward(nxt, cache, prompt)  # warm-up of the decode shapes
            t.cuda.synchronize()
            s.record()
            for i in range(output - 1):
                nxt = self._forward(nxt, cache, prompt + i).argmax(-1, keepdim=True)
            e.record()
            t.cuda.synchronize()
            step = s.elapsed_time(e) / 1e3 / (output - 1)
            static, pos = nxt.clone(), prompt + output // 2
            graph = self._graph_time(lambda: self._forward(static, cache, pos).argmax(-1, keepdim=True), 10)
        return {"prefill_s": statistics.median(prefills), "prefill_graph_s": prefill_graph,
                "decode_step_s": step, "decode_step_graph_s": graph}


if __name__ == "__main__":
    sys.exit(main())
