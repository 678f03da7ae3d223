"""What the sweep tests share: a small program (a tiny model on one chip kind, 200 requests) to sweep."""

from __future__ import annotations

BASE = """
model tiny { layers = 2, hidden = 256, heads = 4, kv_heads = 2, head_dim = 64, intermediate = 512, vocab = 1000,
             weights = bf16, kv = bf16 }
chip toy { bf16 = 100 TFLOPS, memory = 16 GB, memory_bandwidth = 1 TB/s, link_bandwidth = 100 GB/s,
           power = 300 W, price = 1 $/h }
chip toy2 extends toy { memory_bandwidth = 2 TB/s }
traffic t { arrivals = poisson(50 /s), prompt = uniform(min = 16, max = 64), output = uniform(min = 4, max = 16),
            requests = 200 }
slo fast { ttft.p99 < 50 ms, tpot.p99 < 5 ms }
system one { pool gp: 2 x toy, tp = 1 }
system two { pool gp: 2 x toy, tp = 2 }
run r { model = tiny, traffic = t, slo = fast, systems = [one, two], seed = 1 }
"""


def program(sweep: str) -> str:
    return BASE + sweep
