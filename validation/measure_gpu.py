"""Measure a real accelerator to calibrate and validate infera (needs torch and a CUDA GPU: H100/H200).

    python validation/measure_gpu.py --out gpu_out/          # ~5 minutes on an H100
    python validation/measure_gpu.py --dry-run                # list what would be measured (no torch needed)

Writes into --out:

* `measurements.csv` — raw per-operator timings of one Llama-3.1-8B layer's operators (bf16, tp = 1) over
  batch sizes and sequence lengths, in the format `infera calibrate` reads (`docs/calibration.md`):
  columns `run, model, operator, tokens | sampled | attn_pairs, seconds` (several runs per shape).
* `generation.csv` — a real generation loop of a randomly initialised Llama built from its config (no
  download): prefill time and mean decode-step time at several batch sizes (`model, batch, prompt, output,
  prefill_s, decode_step_s`).
* `environment.txt` — GPU name, driver, torch version.

Then, on any machine with infera:

    infera calibrate gpu_out/measurements.csv -o validation/h100_profile.csv
    python validation/validate_gpu.py gpu_out/generation.csv    # predictions vs the measured loop

Nothing here runs in CI. Timings use CUDA events around `repeat` back-to-back launches after warm-up, and
record the median of `runs` such groups, each written as one row (infera takes the median per shape again).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

# Shapes from meta-llama/Llama-3.1-8B config.json (the same figures as infera's catalog entry).
LLAMA_8B = dict(layers=32, hidden=4096, heads=32, kv_heads=8, head_dim=128, intermediate=14336, vocab=128256)
# Llama-3.2-1B for the generation loop at large batch (fits any GPU) and Llama-3.1-8B at small batch.
LLAMA_1B = dict(layers=16, hidden=2048, heads=32, kv_heads=8, head_dim=64, intermediate=8192, vocab=128256)

TOKENS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
DECODE_BATCHES = [1, 8, 32, 64, 128, 256]
DECODE_CONTEXTS = [128, 512, 2048, 8192]
PREFILL_LENGTHS = [128, 512, 1024, 2048, 4096]
GEN_BATCHES = [1, 8, 32, 64]


def plan_shapes() -> list[tuple[str, str, int, dict]]:
    """(operator, stat, x, shape args) for every measurement."""
    m = LLAMA_8B
    h, q, kv, f = m["hidden"], m["heads"] * m["head_dim"], m["kv_heads"] * m["head_dim"], m["intermediate"]
    out = []
    for t in TOKENS:
        out += [
            ("qkv_proj", "tokens", t, dict(kind="gemm", m=t, k=h, n=q + 2 * kv)),
            ("o_proj", "tokens", t, dict(kind="gemm", m=t, k=q, n=h)),
            ("gate_up_proj", "tokens", t, dict(kind="gemm", m=t, k=h, n=2 * f)),
            ("down_proj", "tokens", t, dict(kind="gemm", m=t, k=f, n=h)),
            ("attn_norm", "tokens", t, dict(kind="rmsnorm", m=t, n=h)),
            ("swiglu", "tokens", t, dict(kind="swiglu", m=t, n=f)),
        ]
    for s in [1, 8, 32, 64, 128, 256]:
        out.append(("lm_head", "sampled", s, dict(kind="gemm", m=s, k=h, n=m["vocab"])))
    for b in DECODE_BATCHES:
        for c in DECODE_CONTEXTS:
            # A decode step: b queries, each attending to c + 1 keys.
            out.append(("attention", "attn_pairs", b * (c + 1), dict(kind="decode_attn", b=b, ctx=c + 1)))
    for n in PREFILL_LENGTHS:
        out.append(("attention", "attn_pairs", n * (n + 1) // 2, dict(kind="prefill_attn", n=n)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="gpu_out")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    shapes = plan_shapes()
    if args.dry_run:
        for op, stat, x, shape in shapes:
            print(op, stat, x, shape)
        print(f"{len(shapes)} shapes x {args.runs} runs; generation loop at batches {GEN_BATCHES}")
        return 0

    import torch

    if not torch.cuda.is_available():
        print("a CUDA GPU is required", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dev, dt = "cuda", torch.bfloat16
    m = LLAMA_8B

    def timed(fn) -> list[float]:
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(args.runs):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(args.repeat):
                fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3 / args.repeat)
        return times

    def rmsnorm(x, w):
        v = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(v + 1e-5)).to(dt) * w

    rows = []
    for op, stat, x, s in shapes:
        kind = s["kind"]
        if kind == "gemm":
            a = torch.randn(s["m"], s["k"], device=dev, dtype=dt)
            w = torch.randn(s["k"], s["n"], device=dev, dtype=dt)
            fn = lambda a=a, w=w: a @ w  # noqa: E731
        elif kind == "rmsnorm":
            a = torch.randn(s["m"], s["n"], device=dev, dtype=dt)
            w = torch.ones(s["n"], device=dev, dtype=dt)
            fn = lambda a=a, w=w: rmsnorm(a, w)  # noqa: E731
        elif kind == "swiglu":
            g = torch.randn(s["m"], s["n"], device=dev, dtype=dt)
            u = torch.randn(s["m"], s["n"], device=dev, dtype=dt)
            fn = lambda g=g, u=u: torch.nn.functional.silu(g) * u  # noqa: E731
        elif kind == "decode_attn":
            qh, kvh, d = m["heads"], m["kv_heads"], m["head_dim"]
            qt = torch.randn(s["b"], qh, 1, d, device=dev, dtype=dt)
            k = torch.randn(s["b"], kvh, s["ctx"], d, device=dev, dtype=dt)
            v = torch.randn(s["b"], kvh, s["ctx"], d, device=dev, dtype=dt)
            fn = lambda qt=qt, k=k, v=v: torch.nn.functional.scaled_dot_product_attention(  # noqa: E731
                qt, k, v, enable_gqa=True)
        else:  # prefill_attn
            qh, kvh, d = m["heads"], m["kv_heads"], m["head_dim"]
            qt = torch.randn(1, qh, s["n"], d, device=dev, dtype=dt)
            k = torch.randn(1, kvh, s["n"], d, device=dev, dtype=dt)
            v = torch.randn(1, kvh, s["n"], d, device=dev, dtype=dt)
            fn = lambda qt=qt, k=k, v=v: torch.nn.functional.scaled_dot_product_attention(  # noqa: E731
                qt, k, v, is_causal=True, enable_gqa=True)
        for run, sec in enumerate(timed(fn)):
            rows.append({"run": run, "model": "llama3_1_8b", "operator": op, "stat": stat, "x": x, "seconds": sec})
        print(f"{op:14s} {stat}={x:<10d} {statistics.median(r['seconds'] for r in rows[-args.runs:]):.3e} s",
              flush=True)
    with (out / "measurements.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["run", "model", "operator", "stat", "x", "seconds"])
        w.writeheader()
        w.writerows(rows)

    gen_rows = []
    for name, cfg, batches in (("llama3_2_1b", LLAMA_1B, GEN_BATCHES), ("llama3_1_8b", LLAMA_8B, [1, 8, 32])):
        model = TinyLlama(cfg, dev, dt)
        for b in batches:
            prefill_s, step_s = model.generate_timing(batch=b, prompt=512, output=64)
            gen_rows.append({"model": name, "batch": b, "prompt": 512, "output": 64, "prefill_s": prefill_s,
                             "decode_step_s": step_s})
            print(f"generation {name} batch={b}: prefill {prefill_s * 1e3:.2f} ms, step {step_s * 1e3:.3f} ms",
                  flush=True)
        del model
        torch.cuda.empty_cache()
    with (out / "generation.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(gen_rows[0]))
        w.writeheader()
        w.writerows(gen_rows)
    (out / "environment.txt").write_text(
        f"gpu: {torch.cuda.get_device_name()}\ntorch: {torch.__version__}\ncuda: {torch.version.cuda}\n")
    return 0


class TinyLlama:
    """A Llama decoder built from a config with random weights (bf16): enough to time a real generation loop
    (RMSNorm, GQA attention over a preallocated KV cache, SwiGLU MLP, LM head), with no download."""

    def __init__(self, cfg: dict, dev: str, dt) -> None:  # noqa: ANN001
        import torch

        self.t, self.cfg, self.dev, self.dt = torch, cfg, dev, dt
        h, q = cfg["hidden"], cfg["heads"] * cfg["head_dim"]
        kv, f = cfg["kv_heads"] * cfg["head_dim"], cfg["intermediate"]

        def w(*shape):
            return torch.randn(*shape, device=dev, dtype=dt) * 0.02

        self.layers = [dict(qkv=w(h, q + 2 * kv), o=w(q, h), gu=w(h, 2 * f), d=w(f, h),
                            n1=torch.ones(h, device=dev, dtype=dt), n2=torch.ones(h, device=dev, dtype=dt))
                       for _ in range(cfg["layers"])]
        self.embed = w(cfg["vocab"], h)
        self.head = w(h, cfg["vocab"])

    def _norm(self, x, wt):  # noqa: ANN001
        v = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * self.t.rsqrt(v + 1e-5)).to(self.dt) * wt

    def _forward(self, ids, cache, pos):  # noqa: ANN001
        t, cfg = self.t, self.cfg
        b, n = ids.shape
        qh, kvh, d = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
        x = self.embed[ids]
        for li, L in enumerate(self.layers):
            y = self._norm(x, L["n1"]) @ L["qkv"]
            qx, kx, vx = y.split([qh * d, kvh * d, kvh * d], dim=-1)
            qx = qx.view(b, n, qh, d).transpose(1, 2)
            k_cache, v_cache = cache[li]
            k_cache[:, :, pos:pos + n] = kx.view(b, n, kvh, d).transpose(1, 2)
            v_cache[:, :, pos:pos + n] = vx.view(b, n, kvh, d).transpose(1, 2)
            a = t.nn.functional.scaled_dot_product_attention(
                qx, k_cache[:, :, :pos + n], v_cache[:, :, :pos + n], is_causal=n > 1, enable_gqa=True)
            x = x + a.transpose(1, 2).reshape(b, n, qh * d) @ L["o"]
            g, u = (self._norm(x, L["n2"]) @ L["gu"]).chunk(2, dim=-1)
            x = x + (t.nn.functional.silu(g) * u) @ L["d"]
        return x[:, -1] @ self.head

    def generate_timing(self, batch: int, prompt: int, output: int) -> tuple[float, float]:
        t, cfg = self.t, self.cfg
        total = prompt + output
        cache = [(t.zeros(batch, cfg["kv_heads"], total, cfg["head_dim"], device=self.dev, dtype=self.dt),
                  t.zeros(batch, cfg["kv_heads"], total, cfg["head_dim"], device=self.dev, dtype=self.dt))
                 for _ in range(cfg["layers"])]
        ids = t.randint(0, cfg["vocab"], (batch, prompt), device=self.dev)
        with t.inference_mode():
            self._forward(ids, cache, 0)  # warm-up
            t.cuda.synchronize()
            s, e = t.cuda.Event(enable_timing=True), t.cuda.Event(enable_timing=True)
            s.record()
            logits = self._forward(ids, cache, 0)
            e.record()
            t.cuda.synchronize()
            prefill = s.elapsed_time(e) / 1e3
            nxt = logits.argmax(-1, keepdim=True)
            s.record()
            for i in range(output - 1):
                nxt = self._forward(nxt, cache, prompt + i).argmax(-1, keepdim=True)
            e.record()
            t.cuda.synchronize()
            step = s.elapsed_time(e) / 1e3 / (output - 1)
        return prefill, step


if __name__ == "__main__":
    sys.exit(main())
