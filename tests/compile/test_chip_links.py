"""The catalog's interconnect figures are per direction (docs/cost-model.md, "Link figures are per direction").

The expected figures are written here with their derivation, not read from the catalog or a reference table,
so a doubled figure (both directions added, as vendors quote them) coming back into the catalog fails."""

from __future__ import annotations

import pytest

import infera
from helpers import TINY_MODEL

# chip -> (per-direction GB/s, how the vendor's figure converts)
PER_DIRECTION_GBPS = {
    "a100_80gb_sxm": (300, "NVLink 3: 12 links x 25 GB/s each way; NVIDIA's 600 GB/s adds both directions"),
    "h100_sxm": (450, "NVLink 4: 18 links x 25 GB/s each way; NVIDIA's 900 GB/s adds both directions"),
    "h200_sxm": (450, "NVLink 4, as H100"),
    "b200": (900, "NVLink 5: 18 links x 50 GB/s each way; NVIDIA's 1.8 TB/s adds both directions"),
    "gb200_gpu": (900, "NVLink 5, as B200"),
    "b300": (900, "NVLink 5, as B200"),
    "gb300_gpu": (900, "NVLink 5, as B200 (GB300 NVL72: 130 TB/s over 72 GPUs, both directions)"),
    "mi300x": (448, "AMD: 896 GB/s peak aggregate bidirectional Infinity Fabric (7 x 128 GB/s)"),
    "mi325x": (448, "AMD: 896 GB/s bidirectional, as MI300X"),
    "mi355x": (537.6, "AMD: 7 Infinity Fabric links x 153.6 GB/s bidirectional = 1075.2 GB/s"),
    "gaudi3": (600, "Intel: 24 x 200 GbE ports = 4.8 Tb/s each way (1.2 TB/s both directions)"),
    "tpu_v5e": (200, "Google: ICI 400 GB/s per chip, bidirectional"),
    "tpu_v5p": (600, "Google: ICI 1200 GB/s per chip, bidirectional"),
    "tpu_v6e": (400, "Google: ICI 800 GB/s per chip, bidirectional"),
    "wormhole_n300": (100, "Tenstorrent: 2 x 400 GbE, Ethernet rates are per direction"),
    "blackhole_p150": (400, "Tenstorrent: 4 x QSFP-DD 800G, per direction"),
    "groq_lpu": (240, "Linley Group: 480 GB/s over 16 links, both directions added"),
}


def catalog_link_bw(name: str) -> float:
    """The link bandwidth (B/s) the compiled plan gives catalog chip ``name``."""
    text = (f"use chips.{name}\n{TINY_MODEL}"
            "traffic one { arrivals = burst, prompt = 10 tokens, output = 2 tokens, requests = 1 }\n"
            f"system s {{ pool p: 1 x {name} }}\nrun r {{ model = tiny, traffic = one, system = s }}\n")
    return infera.compile_text(text)["chips"].to_pylist()[0]["link_bw"]


@pytest.mark.parametrize("name", sorted(PER_DIRECTION_GBPS))
def test_catalog_link_bandwidth_is_the_per_direction_figure(name: str) -> None:
    gbps, why = PER_DIRECTION_GBPS[name]
    assert catalog_link_bw(name) == pytest.approx(gbps * 1e9, rel=1e-12), why


def test_every_catalog_link_figure_says_how_it_was_derived() -> None:
    """A chip with a scale-up link states in its source that the figure is per direction."""
    sources = {name: src for sec, name, src in infera.catalog.entries() if sec == "chips"}
    linked = [n for n, b in infera.catalog.section("chips").items()
              if any(getattr(i, "key", None) == "link_bandwidth" for i in b.items)]
    assert set(PER_DIRECTION_GBPS) <= set(linked)
    for name in linked:
        assert "per direction" in sources[name], name
    # Trainium2's direction is not published: the source must flag the figure.
    assert "UNCONFIRMED" in sources["trainium2"]


def test_tensor_parallel_allreduce_time_follows_the_per_direction_link() -> None:
    """Llama-3.1-70B at tp = 8 on H100s, one request: every decode step has 2 all-reduces per layer of
    M = hidden x 2 bytes, each a one-shot at this size, (p-1) x M / W + latency (docs/cost-model.md). Pricing
    the link at the old 900 GB/s instead of 450 GB/s shortens each step by exactly 160 x 7 M (1/450e9 -
    1/900e9)."""
    def tpot(extra: str) -> float:
        text = ("use chips.h100_sxm, models.llama3_1_70b\n" + extra +
                "traffic t { arrivals = burst, prompt = 512 tokens, output = 32 tokens, requests = 1 }\n"
                "system s { pool p: 8 x chip_under_test, tp = 8 }\n"
                "run r { model = llama3_1_70b, traffic = t, system = s }\n")
        return infera.simulate(infera.compile_text(text)).summary["tpot_p50_s"][0]

    per_direction = tpot("chip chip_under_test extends h100_sxm { }\n")
    doubled = tpot("chip chip_under_test extends h100_sxm { link_bandwidth = 900 GB/s }\n")
    layers, hidden, p = 80, 8192, 8
    message = hidden * 2  # one decode token of bf16 activations
    expected = 2 * layers * (p - 1) * message * (1 / 450e9 - 1 / 900e9)
    assert per_direction - doubled == pytest.approx(expected, rel=1e-6)
