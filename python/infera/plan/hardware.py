"""What a chip offers a pool: the engine that runs each operator (routing and precision fallbacks, as the
core chooses it) and where an instance keeps its weights and KV cache (memory tiers, KV blocks)
(docs/cost-model.md "Multi-engine chips", "Memory tiers")."""

from __future__ import annotations

import math

from infera import _core
from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import model as model_mod
from infera.plan.specs import GB, MAIN_MEMORY, ChipSpec, Placement, PoolSpec

#: Wider precisions an operator may fall back to, in order (the core's list).
FALLBACKS: dict[str, tuple[str, ...]] = _core.PRECISION_FALLBACKS


def is_attention(op: model_mod.Operator) -> bool:
    """Whether an operator is attention (it scales with query-key pairs, reads the KV cache or a recurrent
    state)."""
    return op.flops_per_attn_pair > 0 or op.bytes_per_kv_token > 0 or op.bytes_per_seq > 0


def engine_for(chip: ChipSpec, op: model_mod.Operator) -> int | None:
    """Index (into ``chip.engines``) of the engine that runs ``op``, as the core chooses it: vector work on a
    vector engine; attention and weight matmuls on the first engine of the chip's ``attention`` / ``matmul``
    route (default: the tensor engine) that offers the operator's precision or, failing that, the next wider
    one. ``None`` when no engine can run it."""
    if op.engine != "tensor":
        groups = [[j for j, e in enumerate(chip.engines) if e[0] == op.engine]]
    else:
        route = (chip.attention_route if is_attention(op) else chip.matmul_route) or ("tensor",)
        groups = [[j for j, e in enumerate(chip.engines) if chip.engine_info[j].name == r or e[0] == r] for r in route]
    for group in groups:
        for dt in FALLBACKS.get(op.dtype, (op.dtype,)):
            for j in group:
                if chip.engines[j][1] == dt:
                    return j
    return None


def _size(b: float, digits: int = 0) -> str:
    """Bytes for messages: GB with two decimals from 1 GB up, MB below (``digits`` significant digits instead
    when given)."""
    unit, div = ("GB", GB) if abs(b) >= GB else ("MB", 1e6)
    return f"{b / div:.{digits}g} {unit}" if digits else f"{b / div:.2f} {unit}"


def tiered(chip: ChipSpec, pool: PoolSpec) -> bool:
    """Whether a pool's memory needs placing: several tiers, a named one, or explicit pool options."""
    return (len(chip.memories) > 1 or chip.memories[0].name != MAIN_MEMORY or pool.weights_in is not None
            or pool.kv_in is not None)


def place_memory(shape: model_mod.ModelShape, chip: ChipSpec, pool: PoolSpec, longest: int,
                 where: str) -> Placement:
    """Places the weights and the KV cache of one instance in the chip's memory tiers.

    Weights go to ``weights_in`` if given, else to the fastest tier (highest bandwidth) with room for them.
    The KV cache goes to ``kv_in`` if given; else, among the tiers whose room (after the weights, if they
    share it) holds the longest request, to the fastest that holds a full batch (``max_batch`` longest
    requests), or failing that to the one with the most room. Each tier offers ``instance chips x capacity x
    memory_utilization``. What does not fit is rejected with what and by how much.
    """
    blocks, _, weights, kv_tok = kv_blocks_for(shape, chip, pool)
    state = state_blocks_for(shape, pool, kv_tok)
    if not tiered(chip, pool):
        return Placement(blocks, state_blocks=state)
    n, u, tiers = pool.instance_chips, pool.memory_utilization, chip.memories
    usable = [n * t.capacity * u for t in tiers]
    order = sorted(range(len(tiers)), key=lambda i: -tiers[i].bandwidth)

    def named(opt: ast.Name) -> int:
        for i, t in enumerate(tiers):
            if t.name == opt.id:
                return i
        raise CompileError(f"{where}: chip '{chip.name}' has no memory '{opt.id}' (memories: "
                           f"{', '.join(t.name for t in tiers)})", opt.loc)

    def describe(i: int) -> str:
        return (f"{tiers[i].name} with {_size(usable[i])} usable ({n} x {chip.name} "
                f"{_size(tiers[i].capacity, 3)} x memory_utilization {u:g})")

    gb = _size(weights)
    w_opt = pool.weights_in
    if w_opt is not None:
        wt = named(w_opt)
        if weights > usable[wt]:
            raise CompileError(f"{where}: model '{shape.name}' does not fit: its weights ({gb}) do not fit in "
                               f"{describe(wt)}; short by {_size(weights - usable[wt])}", pool.loc)
    else:
        fits = [i for i in order if weights <= usable[i]]
        if not fits:
            best = max(range(len(tiers)), key=lambda i: usable[i])
            raise CompileError(f"{where}: model '{shape.name}' does not fit: its weights ({gb}) fit in no memory "
                               f"of an instance; the largest is {describe(best)}; short by "
                               f"{_size(weights - usable[best])}", pool.loc)
        wt = fits[0]

    def left(i: int) -> float:
        return max(0.0, usable[i] - (weights if i == wt else 0.0))

    def kv_blocks(i: int) -> int:
        return rank_blocks(left(i), kv_tok * pool.block_size, pool.dp_attention)

    need = kv_need_bytes(shape, pool, longest, kv_tok, state)
    need_blocks = blocks_needed(shape, pool, longest, state)
    batch_tokens = pool.max_batch * (kv_units(shape, longest) + state * pool.block_size)
    what = f"the KV cache of the longest request ({longest} tokens, {_size(need)})"
    k_opt = pool.kv_in
    if k_opt is not None:
        kt = named(k_opt)
        if kv_blocks(kt) // pool.dp_attention < need_blocks:
            after = f" after the weights ({gb})" if kt == wt else ""
            raise CompileError(f"{where}: model '{shape.name}' does not fit: {what} needs more than the "
                               f"{_size(left(kt))} left in {tiers[kt].name}{after}; short by "
                               f"{_size(need - left(kt))}", pool.loc)
    else:
        fits = [i for i in order if kv_blocks(i) // pool.dp_attention >= need_blocks]
        full = [i for i in fits if kv_blocks(i) * pool.block_size >= batch_tokens]
        if not fits:
            best = max(range(len(tiers)), key=left)
            raise CompileError(f"{where}: model '{shape.name}' does not fit: with its weights ({gb}) in "
                               f"{tiers[wt].name}, {what} fits in no memory; the most room left is "
                               f"{_size(left(best))} in {tiers[best].name}; short by "
                               f"{_size(need - left(best))}", pool.loc)
        kt = full[0] if full else max(fits, key=kv_blocks)
    return Placement(kv_blocks(kt), wt, kt, state)


def kv_blocks_for(shape: model_mod.ModelShape, chip: ChipSpec, pool: PoolSpec) -> tuple[int, float, float, float]:
    """KV blocks per instance, with the figures behind them: (blocks, usable bytes, weight bytes, KV bytes/token).

    An instance of ``tp x pp`` chips uses ``memory_utilization`` of their memory. Each pipeline stage holds
    1/pp of the layers; within a stage, weights are split across the ``tp`` chips (routed experts too, whether
    sliced or spread whole by ``ep``) except the few every chip holds whole (norms, router, MLA's latent
    projections), counted ``tp`` times. KV heads are split too, but never finer than one head per chip
    (replicated beyond that; MLA's single latent head is replicated on every chip of a stage).

    Under attention data parallelism (``dp_attention = d``) each of the d attention ranks of tp / d chips
    holds the attention block's sharded weights whole (d - 1 more copies), and a token's KV lives only on its
    request's rank, split over (and replicated beyond) that rank's chips; each rank has its own 1/d of the
    room for blocks. Redundant expert slots (``redundant_experts``) add that many experts' weights.
    """
    usable = pool.instance_chips * chip.memory_bytes * pool.memory_utilization
    d = pool.dp_attention
    weights = (shape.weight_bytes() + (pool.tp - 1) * model_mod.replicated_weight_bytes(shape)
               + (d - 1) * model_mod.attention_sharded_weight_bytes(shape)
               + model_mod.redundant_expert_bytes(shape, pool.redundant_experts))
    rank = pool.tp // d
    replication = rank / min(rank, shape.cache_kv_heads)
    kv_per_token = shape.kv_group_bytes_per_token() * replication
    blocks = rank_blocks(max(0.0, usable - weights), kv_per_token * pool.block_size, d)
    return blocks, usable, weights, kv_per_token


# A block holds ``block_size`` tokens of one KV block group (model.ModelShape.kv_group_layers): a request
# holds blocks for its full layers' KV of the whole context, its windowed layers' KV of at most the window,
# and its linear layers' state (docs/cost-model.md, "The KV cache").


def state_blocks_for(shape: model_mod.ModelShape, pool: PoolSpec, kv_per_token: float) -> int:
    """KV blocks (of ``kv_per_token`` x ``block_size`` bytes per instance) holding one request's recurrent
    state; value heads are split over the chips of an attention rank (tp / dp_attention) like KV heads,
    replicated beyond one key head per chip."""
    if not shape.linear_layers:
        return 0
    rank = pool.tp // pool.dp_attention
    replication = rank / min(rank, shape.linear_key_heads)
    return math.ceil(shape.state_bytes() * replication / (kv_per_token * pool.block_size))


def kv_units(shape: model_mod.ModelShape, tokens: int) -> int:
    """Block-group tokens a context of ``tokens`` holds: every token in each full group, at most the window in
    each windowed one."""
    windowed = min(tokens, shape.sliding_window) if shape.sliding_layers else 0
    return shape.kv_full_groups * tokens + shape.kv_window_groups * windowed


def blocks_needed(shape: model_mod.ModelShape, pool: PoolSpec, tokens: int, state_blocks: int) -> int:
    """KV blocks one request with a context of ``tokens`` holds (as the core counts them)."""
    bs = pool.block_size
    windowed = min(tokens, shape.sliding_window) if shape.sliding_layers else 0
    return shape.kv_full_groups * -(-tokens // bs) + shape.kv_window_groups * -(-windowed // bs) + state_blocks


def kv_need_bytes(shape: model_mod.ModelShape, pool: PoolSpec, tokens: int, kv_per_token: float,
                  state_blocks: int) -> float:
    """Bytes of an instance's memory one request with a context of ``tokens`` holds."""
    return (kv_units(shape, tokens) + state_blocks * pool.block_size) * kv_per_token


MAX_KV_BLOCKS = 2**32 - 1  # the plan's kv_blocks column is uint32


def rank_blocks(room: float, block_bytes: float, ranks: int) -> int:
    """KV blocks of an instance whose ``room`` is split evenly over ``ranks`` attention ranks, each holding
    whole blocks of its own (at most :data:`MAX_KV_BLOCKS` in all)."""
    if ranks == 1:
        return whole_blocks(room, block_bytes)
    return min(MAX_KV_BLOCKS, ranks * whole_blocks(room / ranks, block_bytes))


def whole_blocks(room: float, block_bytes: float) -> int:
    """Whole KV blocks of ``block_bytes`` in ``room`` bytes, at most :data:`MAX_KV_BLOCKS` (also when a huge
    memory made ``room`` overflow to infinity)."""
    q = room // block_bytes
    return int(q) if q < MAX_KV_BLOCKS else MAX_KV_BLOCKS
