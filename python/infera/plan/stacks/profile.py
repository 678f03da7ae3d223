"""What a serving-stack profile holds: the pool defaults one stack's server runs with, some of them by the
chip's memory and the tensor-parallel degree, as the stacks choose them at start-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: A default that depends on the chip: (memory in GiB, tensor-parallel degree) -> value.
ByChip = Callable[[float, int], Any]

#: The pool fields a profile sets, in the order docs/stacks.md lists them.
FIELDS = ("max_batch", "max_batched_tokens", "chunked_prefill", "policy", "block_size", "memory_utilization",
          "step_overhead_s", "step_overhead_per_seq_s", "step_overhead_per_layer_s", "graph_max_tokens",
          "graph_prefill", "graph_pad_tokens",
          "eager_launch_s", "recv_interval", "frontend_per_token_s", "prefix_cache")


@dataclass(frozen=True)
class Stack:
    """The pool defaults of one serving stack: each field a value or a function of the chip (:data:`ByChip`),
    with a citation in ``sources`` for every field."""

    name: str
    version: str
    #: Most requests running at once on one instance (vLLM ``max_num_seqs``, SGLang ``max_running_requests``,
    #: TensorRT-LLM ``max_batch_size``).
    max_batch: int | ByChip
    #: Tokens one step may process (vLLM ``max_num_batched_tokens``, SGLang ``chunked_prefill_size``,
    #: TensorRT-LLM ``max_num_tokens``).
    max_batched_tokens: int | ByChip
    #: Whether a prompt longer than the budget is split over steps.
    chunked_prefill: bool
    #: ``decode_first`` (running requests first, prefills fill the rest of the budget, in one step) or
    #: ``prefill_first`` (a waiting prefill gets a step of its own).
    policy: str
    #: KV-cache block (page) size in tokens.
    block_size: int
    #: Share of chip memory for weights and KV cache.
    memory_utilization: float
    #: CPU time per step the GPU waits for (scheduling, input preparation, sampling), seconds.
    step_overhead_s: float
    #: CPU time per step for each scheduled sequence (inputs, sampling, detokenizing, streaming), seconds.
    step_overhead_per_seq_s: float
    #: Largest step (in tokens) replayed as a captured graph.
    graph_max_tokens: int | ByChip
    #: Whether steps with prefill tokens may replay a graph (piecewise graphs) or only decode-only steps do.
    graph_prefill: bool
    #: Captured graph sizes step by this many tokens (past the smallest few); a batch pads to the next one.
    graph_pad_tokens: int
    #: CPU seconds to launch one operator's kernels in an eager step.
    eager_launch_s: float
    #: Decode steps between the scheduler's polls for new requests (1: every step).
    recv_interval: int
    #: Front-end seconds per prompt token (HTTP, chat template, tokenizer) before the scheduler sees a request.
    frontend_per_token_s: float = 0.0
    #: GPU seconds per step and layer for the small kernels infera's operators do not price (RoPE, residual
    #: adds, KV-cache writes, activation quantization), seconds.
    step_overhead_per_layer_s: float = 0.0
    #: Whether computed prompt prefixes stay in the KV cache for later requests (docs/prefix-caching.md).
    prefix_cache: bool = True
    #: Limits the stack applies to each attention data-parallel rank, which runs a scheduler of its own: an
    #: instance of ``dp_attention`` ranks takes ``dp_attention`` times the value.
    per_rank: tuple[str, ...] = ()
    #: Where each value comes from: field name → citation.
    sources: tuple[tuple[str, str], ...] = ()

    def value(self, field: str, memory_gib: float, tp: int) -> Any:
        """The default of ``field`` on a chip of ``memory_gib`` GiB in an instance of ``tp`` chips."""
        v = getattr(self, field)
        return v(memory_gib, tp) if callable(v) else v

    def defaults(self, memory_gib: float, tp: int, dp_attention: int = 1) -> dict[str, Any]:
        """Every field's default on a chip of ``memory_gib`` GiB in an instance of ``tp`` chips forming
        ``dp_attention`` attention ranks."""
        out = {f: self.value(f, memory_gib, tp) for f in FIELDS}
        for f in self.per_rank:
            out[f] *= dp_attention
        return out
