"""What the design tests share: a tiny model whose weights (about 3.4 MB) do not fit one `small` chip
(3 MB, 90 % usable) but fit two, a `large` chip that holds it alone, and easy traffic."""

from __future__ import annotations

BASE = """
model tiny { layers = 2, hidden = 256, heads = 4, kv_heads = 2, head_dim = 64, intermediate = 512, vocab = 1000,
             weights = bf16, kv = bf16 }
chip small { bf16 = 100 TFLOPS, memory = 3 MB, memory_bandwidth = 1 TB/s, link_bandwidth = 100 GB/s,
             power = 300 W, price = 1 $/h }
chip large extends small { memory = 64 MB, price = 3 $/h }
traffic t { arrivals = poisson(50 /s), prompt = uniform(min = 16, max = 64), output = uniform(min = 4, max = 16),
            requests = 200 }
slo fast { ttft.p99 < 50 ms, tpot.p99 < 5 ms }
"""

DESIGN = """
design d {
  model = tiny, traffic = t, slo = fast, chips = [small, large], budget = 4, rate = 50 /s
  modes = [mixed, split], tp = [1, 2], link_bandwidth = 50 GB/s, seed = 1
}
"""


def program(design: str = DESIGN, extra: str = "") -> str:
    return BASE + extra + design
