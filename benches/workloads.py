"""The `.infera` programs the benchmarks run (issue: engine speed targets)."""

from __future__ import annotations

HEADER = """
use chips.h100_sxm, models.llama3_1_8b
"""

# Chat traffic: lognormal prompt median ~700, output median ~250 (the target workload). The rate keeps
# a 16-instance pool busy but stable, so the engine does real batching work.
TRAFFIC = """
traffic chat {{
  arrivals = poisson({rate} /s)
  prompt = lognormal(median = 700 tokens, sigma = 0.8, max = 8192)
  output = lognormal(median = 250 tokens, sigma = 0.8, max = 2048)
  requests = {n}
}}
"""

MIXED = """
system mixed16 {
  pool gp: 16 x h100_sxm, max_batch = 256, max_batched_tokens = 2048
  router = least_tokens
}
run bench { model = llama3_1_8b, traffic = chat, system = mixed16, seed = 1 }
"""

SPLIT = """
system split8x8 {
  pool pre: 8 x h100_sxm, role = prefill, max_batched_tokens = 8192
  pool dec: 8 x h100_sxm, role = decode, max_batch = 512
  link pre -> dec { bandwidth = 50 GB/s, latency = 20 us }
  router = least_tokens
}
run bench { model = llama3_1_8b, traffic = chat, system = split8x8, seed = 1 }
"""


def mixed(n: int, rate: float = 250.0) -> str:
    return HEADER + TRAFFIC.format(rate=rate, n=n) + MIXED


def split(n: int, rate: float = 250.0) -> str:
    return HEADER + TRAFFIC.format(rate=rate, n=n) + SPLIT
