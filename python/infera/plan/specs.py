"""What the compiler makes of each block (the specs its phases pass along) and the defaults and limits it applies."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from infera import _core
from infera.dsl import ast
from infera.plan import model as model_mod
from infera.plan import traffic as traffic_mod

GB = 1e9

# Defaults a user may override; each is documented in docs/dsl.md and docs/cost-model.md.
DEFAULT_COMPUTE_EFFICIENCY = 0.7
DEFAULT_MEMORY_EFFICIENCY = 0.8
DEFAULT_IDLE_POWER_SHARE = 0.3
DEFAULT_VECTOR_SHARE = 1 / 8  # vector-unit rate as a share of the bf16 tensor rate when not given
DEFAULT_MAX_BATCH = 256
DEFAULT_MAX_BATCHED_TOKENS = 8192
DEFAULT_BLOCK_SIZE = 16
DEFAULT_MEMORY_UTILIZATION = 0.9
DEFAULT_STEP_OVERHEAD_S = 0.5e-3
DEFAULT_NODE_SIZE = 8  # chips per node (an 8-GPU server); groups beyond it cross the network
MAX_TOKENS = traffic_mod.MAX_TOKENS  # prompt or output tokens of one request (the core's limit)
MAX_REQUESTS = 2**32 - 1  # requests one traffic block may sample (the largest `requests = N`)

DTYPES = _core.PRECISIONS
#: The core's routers, and ``least_loaded`` as another name of ``least_tokens`` (listed right after it).
ROUTERS = {alias: name for name in _core.ROUTERS
           for alias in ((name, "least_loaded") if name == "least_tokens" else (name,))}
POLICIES = _core.POLICIES
#: Where a prefill pool's requests get their first token: from the decode side that streams the response, or
#: at the end of the prefill.
FIRST_TOKEN = ("decode", "prefill")
ROLES = _core.ROLES
METRICS = _core.METRICS
RECORDABLE = ("requests", "iterations", "token_stats")
#: Most instances in one run (the core's limit too: each instance costs the engine about a kilobyte).
MAX_INSTANCES = _core.MAX_INSTANCES
#: Name of the memory tier given by a chip's top-level ``memory`` / ``memory_bandwidth`` fields.
MAIN_MEMORY = "main"

# ----------------------------------------------------------------------------------------------------------
# Compiled entities


@dataclass(frozen=True)
class KernelSpec:
    """Kernel efficiency by shape (docs/cost-model.md "Kernel efficiency by shape"); all zero: the plain
    roofline. Field names are the ``chips`` plan columns."""

    gemm_half_tokens: float = 0.0
    read_efficiency: float = 0.0
    copy_efficiency: float = 0.0
    read_half_bytes: float = 0.0
    attention_efficiency: float = 0.0
    attention_half_context: float = 0.0
    attention_half_bytes: float = 0.0


@dataclass
class ChipSpec:
    name: str
    memory_bytes: float
    memory_bw: float
    memory_efficiency: float
    link_bw: float
    link_latency_s: float
    power_busy_w: float
    power_idle_w: float
    price_per_hour: float
    engines: list[tuple[str, str, float, float]]  # (kind, dtype, flops, efficiency)
    loc: ast.Loc
    # Multi-engine chips, memory tiers, energy, calibration (docs/cost-model.md, docs/calibration.md).
    engine_info: list["EngineInfo"] = field(default_factory=list)  # parallel to `engines`
    memories: list["MemorySpec"] = field(default_factory=list)
    matmul_route: tuple[str, ...] = ()  # engine names or kinds, in preference order; () = tensor
    attention_route: tuple[str, ...] = ()
    profile: list[dict[str, Any]] = field(default_factory=list)
    #: Fixed seconds each compute operator occurrence (one kernel) adds to its roofline time.
    kernel_overhead_s: float = 0.0
    #: Shape-dependent efficiency curves (``kernels = shaped``); all zero under ``kernels = roofline``.
    kernels: KernelSpec = field(default_factory=KernelSpec)
    #: A template's fields still set to ``required`` (the chip cannot be used until a block extending it
    #: sets them).
    missing: list[str] = field(default_factory=list)


@dataclass
class PoolSpec:
    name: str
    chip: str
    chips: int
    tp: int
    role: str
    max_batch: int
    max_batched_tokens: int
    block_size: int
    chunked_prefill: bool
    policy: str
    memory_utilization: float
    step_overhead_s: float
    loc: ast.Loc
    chip_loc: ast.Loc
    max_queue: int = 0  # 0: unbounded
    queue_timeout_s: float = math.inf
    # Parallelism and topology (docs/cost-model.md, "Parallelism"): an instance is tp x pp chips.
    pp: int = 1
    ep: int = 1
    microbatches: int = 1  # pp when not given
    node_size: int = DEFAULT_NODE_SIZE
    network_bw: float = 0.0  # per chip, B/s; 0: no network given
    network_latency_s: float = 0.0
    # Memory placement (docs/cost-model.md, "Memory tiers"): the chip memories named to hold the weights and
    # the KV cache; None: placed automatically.
    weights_in: ast.Name | None = None
    kv_in: ast.Name | None = None
    #: Attention data-parallel degree (divides tp): the attention block runs on dp_attention ranks of
    #: tp / dp_attention chips, each with its own requests and KV cache.
    dp_attention: int = 1
    #: Extra expert slots beyond the model's routed experts, each holding a copy of a busy expert (SGLang's
    #: `--ep-num-redundant-experts`, TensorRT-LLM's MoE load balancer slots): ep divides experts + these.
    redundant_experts: int = 0
    # Serving stack imitated (docs/stacks.md; "" for none) and how its steps reach the chip: steps of at most
    # graph_max_tokens tokens (None: any) replay a captured graph, with prefill only if graph_prefill; others
    # launch each operator from the CPU in eager_launch_s.
    stack: str = ""
    #: Fields the pool block set itself (they win over the stack's defaults).
    stack_given: frozenset[str] = frozenset()
    graph_max_tokens: int | None = None
    graph_prefill: bool = True
    #: Captured graph sizes step by this many tokens; a decode batch pads up to the next one.
    graph_pad_tokens: int = 1
    eager_launch_s: float = 0.0
    #: CPU seconds each step adds per scheduled sequence.
    step_overhead_per_seq_s: float = 0.0
    #: GPU seconds each step adds per layer for the small kernels no operator prices.
    step_overhead_per_layer_s: float = 0.0
    #: The scheduler takes in new arrivals only every this many decode steps (SGLang's
    #: ``--scheduler-recv-interval``); a step with prefill work or an idle scheduler takes them in at once.
    recv_interval: int = 1
    #: Seconds the instance's front end (HTTP server, tokenizer) spends per prompt token before the scheduler
    #: sees a request, in arrival order.
    frontend_per_token_s: float = 0.0
    #: Requests the front end tokenizes at once, each on its own worker (1: one at a time).
    frontend_workers: int = 1
    #: A prefill pool's requests get their first token from the decode side, once their KV cache joins it
    #: (``first_token = decode``, the stacks' disaggregated serving), not at the end of the prefill.
    first_token_at_decode: bool = False
    #: Prefix caching (docs/prefix-caching.md): whether each instance keeps computed prompt prefixes in its
    #: KV cache, and the most blocks they may hold (None: the whole KV cache).
    prefix_cache: bool = True
    prefix_cache_blocks: int | None = None

    @property
    def instance_chips(self) -> int:
        return self.tp * self.pp


@dataclass
class LinkSpec:
    src: str
    dst: str
    bandwidth: float
    latency_s: float
    loc: ast.Loc


@dataclass
class SystemSpec:
    name: str
    pools: list[PoolSpec]
    links: list[LinkSpec]
    prefill_router: str
    decode_router: str
    loc: ast.Loc
    #: The prefix-aware router's price of a prefill token against a token of load (docs/prefix-caching.md).
    prefix_weight: float = 1.0


@dataclass
class SloSpec:
    name: str
    targets: list[tuple[str, float | None, float]]  # (metric, percentile, threshold_s)
    loc: ast.Loc


@dataclass(frozen=True)
class SearchSpec:
    """``search = max_rate(attainment = 90 %, tolerance = 2 %)`` in a run."""

    attainment: float = 0.9
    tolerance: float = 0.02
    max_probes: int = 40
    loc: ast.Loc | None = None


@dataclass
class RunSpec:
    name: str
    model: str
    systems: list[tuple[str, ast.Loc]]
    traffic: str
    slo: str | None
    seed: int
    loc: ast.Loc
    model_loc: ast.Loc
    traffic_loc: ast.Loc
    slo_loc: ast.Loc | None
    search: SearchSpec | None = None
    record: frozenset[str] = frozenset(("requests", "iterations", "token_stats"))


@dataclass
class EngineInfo:
    """What the plan's ``engines`` row carries besides kind, precision and rate."""

    name: str
    energy_per_flop: float = 0.0  # J/FLOP
    conversion_bw: float = 0.0  # B/s through the operand converters; 0: none
    conversion_energy: float = 0.0  # J per converted operand byte


@dataclass
class MemorySpec:
    """One memory tier of a chip."""

    name: str
    capacity: float  # bytes per chip
    bandwidth: float  # B/s per chip
    efficiency: float
    energy_per_byte: float  # J/B
    loc: ast.Loc


@dataclass
class Placement:
    """Where a pool keeps weights and KV cache (indices into the chip's memories) and its KV blocks."""

    kv_blocks: int
    weights_tier: int = 0
    kv_tier: int = 0
    #: Blocks each request holds for its recurrent state (linear-attention layers).
    state_blocks: int = 0


@dataclass
class Specs:
    """Every block of a program compiled, by name (runs in file order): what the block phase hands on."""

    models: dict[str, model_mod.ModelShape]
    chips: dict[str, ChipSpec]
    traffics: dict[str, traffic_mod.TrafficSpec]
    slos: dict[str, SloSpec]
    systems: dict[str, SystemSpec]
    runs: list[RunSpec]
