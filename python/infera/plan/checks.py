"""The user-facing checks of what a program asks for, each raised as a :class:`CompileError` at the node to fix.

A pool's own shape (its chips divide into instances, expert and pipeline parallelism fit together), whether a
chip can run a model at all, tensor and pipeline parallelism against the model's heads, layers and experts,
node size and the network between nodes, chunked prefill against the longest request, whether the model and
the KV cache of the longest request fit an instance, the instance limit of a run, and the request stream a
traffic block produces. The compiler's phases call them where the facts they need are known; the core only
checks invariants of a plan, whoever made it.
"""

from __future__ import annotations

import math

import numpy as np

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import model as model_mod
from infera.plan import traffic as traffic_mod
from infera.plan.hardware import (blocks_needed, engine_for, is_attention, kv_blocks_for, kv_need_bytes,
                                  state_blocks_for, tiered)
from infera.plan.specs import GB, MAX_INSTANCES, ChipSpec, PoolSpec, SystemSpec


def check_pool_shape(pool: PoolSpec, where: str, microbatches: ast.Assign | None,
                     dp_attention: ast.Assign | None = None) -> None:
    """A pool's chips divide into instances of tp x pp, ``microbatches`` (when given) has a pipeline to split,
    and ep and dp_attention divide tp."""
    tp, pp, ep = pool.tp, pool.pp, pool.ep
    if pool.chips % (tp * pp):
        shape = f"tp = {tp}" + (f" x pp = {pp}" if pp > 1 else "")
        raise CompileError(f"{where}: {pool.chips} chips do not divide into instances of {shape}", pool.loc)
    if microbatches is not None and pp == 1:
        raise CompileError(f"{where}: microbatches splits a step across pipeline stages; it needs pp > 1",
                           microbatches.loc)
    if tp % ep:
        raise CompileError(f"{where}: ep = {ep} must divide tp = {tp} (experts are spread over the chips of a "
                           f"pipeline stage)", pool.loc)
    if tp % pool.dp_attention:
        raise CompileError(f"{where}: dp_attention = {pool.dp_attention} must divide tp = {tp} (each attention "
                           f"rank is tp / dp_attention chips of a pipeline stage)",
                           dp_attention.loc if dp_attention is not None else pool.loc)


def check_stream(spec: traffic_mod.TrafficSpec, arrival_s: np.ndarray, waits: np.ndarray | None = None) -> None:
    """A traffic block's sampled stream has requests and finite arrival times (except the requests that
    ``waits`` marks: they are sent when the requests they wait for have left)."""
    if len(arrival_s) == 0:
        raise CompileError(f"traffic '{spec.name}' produces no requests (duration too short for its rate, or "
                           f"no session fits its max_context?)", spec.loc)
    if waits is not None:
        arrival_s = arrival_s[~waits]
    if spec.arrivals != "closed" and not np.isfinite(arrival_s).all():
        why = (f"its rate ({spec.rate:g} /s) is too small" if spec.arrivals == "poisson" else
               "time_scale is too large")
        raise CompileError(f"traffic '{spec.name}': arrival times overflow to infinity ({why})", spec.loc)


def check_instances(system: SystemSpec) -> None:
    """A run simulates at most :data:`MAX_INSTANCES` instances."""
    n_instances = sum(p.chips // p.instance_chips for p in system.pools)
    if n_instances > MAX_INSTANCES:
        raise CompileError(f"system '{system.name}' has {n_instances} instances; a run simulates at most "
                           f"{MAX_INSTANCES:,}", system.loc)


def check_chip_runs(shape: model_mod.ModelShape, chip: ChipSpec, where: str, loc: ast.Loc) -> None:
    """Rejects a template chip, and a chip none of whose engines can run one of the model's operators."""
    if chip.missing:
        raise CompileError(
            f"{where}: chip '{chip.name}' is a template; its figures must be supplied first. Write "
            f"'chip mine extends {chip.name} {{ ... }}' setting: {', '.join(chip.missing)} (and use 'mine')", loc)
    for op in model_mod.operators(shape):
        if op.engine not in ("tensor", "vector") or engine_for(chip, op) is not None:
            continue
        if op.engine == "vector":
            raise CompileError(f"{where}: chip '{chip.name}' has no vector engine for operator '{op.name}' "
                               f"({op.dtype})", loc)
        key = "attention" if is_attention(op) else "matmul"
        route = (chip.attention_route if key == "attention" else chip.matmul_route) or ("tensor",)
        offered = sorted({e[1] for e, i in zip(chip.engines, chip.engine_info)
                          if e[0] in route or i.name in route})
        hint = ("attention computes in bf16: route it to an engine with a bf16 (or wider) rate, e.g. "
                "attention = tensor" if key == "attention" else
                "a matmul never runs at a narrower precision than the model's weights: quantise the model "
                "(weights = int8 or fp8), add that rate to the engine, or let matmuls fall back with "
                f"matmul = [{', '.join(route)}, tensor]")
        raise CompileError(
            f"{where}: no engine of chip '{chip.name}' can run operator '{op.name}' of model '{shape.name}' at "
            f"{op.dtype}: {key} runs on {' or '.join(route)}, which offers "
            f"{', '.join(offered) or 'no rate'}; {hint}", loc)


def check_pool(shape: model_mod.ModelShape, chip: ChipSpec, pool: PoolSpec, where: str, longest: int) -> None:
    """Tensor parallelism against the model's heads, then :func:`check_parallelism`, chunked prefill and the
    fit of the weights and the longest request's KV cache in one memory (several tiers: see
    :func:`~infera.plan.hardware.place_memory`)."""
    # Attention runs on each attention-DP rank of tp / dp_attention chips, which split its heads.
    rank = pool.tp // pool.dp_attention if pool.dp_attention >= 1 and pool.tp % pool.dp_attention == 0 else pool.tp
    what = f"tp = {pool.tp}" if rank == pool.tp else f"an attention rank of tp / dp_attention = {rank} chips"
    if shape.heads % rank:
        raise CompileError(f"{where}: {what} does not divide the {shape.heads} attention heads of "
                           f"model '{shape.name}'", pool.loc)
    if shape.cache_kv_heads % rank and rank % shape.cache_kv_heads:
        raise CompileError(f"{where}: {what} and the {shape.kv_heads} KV heads of '{shape.name}' do not divide "
                           f"one another", pool.loc)
    check_parallelism(shape, chip, pool, where)
    if not pool.chunked_prefill and longest > pool.max_batched_tokens:
        raise CompileError(f"{where}: without chunked prefill, max_batched_tokens ({pool.max_batched_tokens}) "
                           f"must cover the longest request ({longest} tokens)", pool.loc)
    blocks, usable, weights, kv_tok = kv_blocks_for(shape, chip, pool)
    state = state_blocks_for(shape, pool, kv_tok)
    need_kv = kv_need_bytes(shape, pool, longest, kv_tok, state)
    d = pool.dp_attention
    if not tiered(chip, pool) and blocks // d < blocks_needed(shape, pool, longest, state):
        if d == 1:
            raise CompileError(
                f"{where}: model '{shape.name}' does not fit: weights {weights / GB:.2f} GB + KV cache for the "
                f"longest request ({longest} tokens) {need_kv / GB:.2f} GB = {(weights + need_kv) / GB:.2f} GB, "
                f"but an instance has {usable / GB:.2f} GB usable ({pool.instance_chips} x {chip.name} "
                f"{chip.memory_bytes / GB:.2f} GB x memory_utilization {pool.memory_utilization:g}); short by "
                f"{(weights + need_kv - usable) / GB:.2f} GB", pool.loc)
        # A request's KV lives on one attention rank, which has 1/d of the room the weights leave.
        room = max(0.0, usable - weights) / d
        raise CompileError(
            f"{where}: model '{shape.name}' does not fit: the KV cache of the longest request ({longest} "
            f"tokens, {need_kv / GB:.2f} GB) must fit in one attention rank, which has {room / GB:.2f} GB left "
            f"of the instance's {usable / GB:.2f} GB usable after the weights ({weights / GB:.2f} GB, the "
            f"attention block's held by each of the {d} ranks); short by {(need_kv - room) / GB:.2f} GB",
            pool.loc)


def check_parallelism(shape: model_mod.ModelShape, chip: ChipSpec, pool: PoolSpec, where: str) -> None:
    """Pipeline, expert parallelism and topology: what the pool asks of the model, the chip and the network."""
    if pool.pp > shape.layers:
        raise CompileError(f"{where}: pp = {pool.pp} exceeds the {shape.layers} layers of '{shape.name}'",
                           pool.loc)
    if pool.redundant_experts and (pool.ep <= 1 or not shape.is_moe):
        raise CompileError(f"{where}: redundant_experts copies experts across expert-parallel ranks: it needs a "
                           f"mixture-of-experts model and ep > 1", pool.loc)
    if pool.ep > 1:
        if not shape.is_moe:
            raise CompileError(f"{where}: ep = {pool.ep} needs a mixture-of-experts model ('{shape.name}' is "
                               f"dense)", pool.loc)
        slots = shape.experts + pool.redundant_experts
        if slots % pool.ep:
            extra = f" + {pool.redundant_experts} redundant" if pool.redundant_experts else ""
            raise CompileError(f"{where}: ep = {pool.ep} does not divide the {shape.experts}{extra} experts of "
                               f"'{shape.name}'", pool.loc)
    # Stage j holds chips [j*tp, (j+1)*tp) of an instance that starts a node; see docs/cost-model.md.
    # An instance that fits one node needs nothing more (an NVL72 rack holds an instance of 32 and leaves 8
    # chips to others); a larger one is laid out stage after stage, so a group must not straddle two nodes.
    k = pool.node_size
    if pool.instance_chips > k and k % pool.tp and pool.tp % k:
        raise CompileError(f"{where}: tp = {pool.tp} and node_size = {k} must divide one another (an instance "
                           f"of {pool.instance_chips} chips spans nodes, and a tensor-parallel group fills part "
                           f"of one node or whole nodes)", pool.loc)
    intra_boundary = pool.pp > 1 and pool.tp % k != 0  # some stage j >= 1 has (j * tp) % k != 0
    if (pool.tp > 1 or intra_boundary) and chip.link_bw <= 1.0:
        what = f"tp = {pool.tp}" if pool.tp > 1 else f"pp = {pool.pp} within a node"
        raise CompileError(f"{where}: {what} needs a chip link (link_bandwidth) on '{chip.name}'", pool.loc)
    if pool.instance_chips > k and pool.network_bw <= 0:
        raise CompileError(
            f"{where}: an instance of {pool.instance_chips} chips (tp = {pool.tp} x pp = {pool.pp}) spans "
            f"{math.ceil(pool.instance_chips / k)} nodes of node_size = {k}; give the network between nodes "
            f"(network {{ bandwidth = ..., latency = ... }} in the system, or network_bandwidth = ... on the "
            f"pool) or a larger node_size", pool.loc)
