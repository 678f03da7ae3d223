"""Shared fixtures: small `.infera` programs whose numbers are easy to check by hand."""

from __future__ import annotations

import pytest

# A tiny dense model and a chip with round figures and efficiencies of 1, so step times are easy to derive.
TINY = """
model tiny {
  layers = 2, hidden = 256, heads = 4, kv_heads = 2, head_dim = 64
  intermediate = 512, vocab = 1000
}

chip toy {
  bf16 = 100 TFLOPS
  vector = 10 TFLOPS
  memory = 1 GB
  memory_bandwidth = 1 TB/s
  link_bandwidth = 100 GB/s
  link_latency = 1 us
  compute_efficiency = 1.0
  memory_efficiency = 1.0
  power = 500 W
  idle_power = 100 W
  price = 3.6 $/h
}
"""

H100_8B = """
use models.llama3_1_8b
use chips.h100_sxm
"""


def program(body: str, header: str = TINY) -> str:
    return header + "\n" + body


@pytest.fixture
def tiny_header() -> str:
    return TINY
