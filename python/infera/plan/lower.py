"""Lowering: compiled specs → the plan's Arrow tables (``docs/plan.md``).

Walks the runs in order and writes one ``runs`` row per (run, system), with its pools, links and SLO targets;
chips, models (with their operators) and workloads are written once, when first used, and referred to by
row. Each (traffic, seed) pair is sampled once. The checks that need a run's facts (the model on a pool's
chip, the longest request) are made on the way, in the order the rows are written.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pyarrow as pa

from infera.exceptions import CompileError
from infera.plan import model as model_mod
from infera.plan import stacks
from infera.plan import traffic as traffic_mod
from infera.plan.checks import check_chip_runs, check_instances, check_pool, check_stream
from infera.plan.hardware import place_memory
from infera.plan.scope import lookup
from infera.plan.specs import RunSpec, Specs
from infera.plan.tables import GRAPH_ALWAYS, Plan

_TABLES = ("chips", "engines", "models", "operators", "workloads", "requests", "runs", "pools", "links", "slos",
           "memories", "profiles", "classes")


def lower(specs: Specs) -> Plan:
    """The plan of ``specs.runs`` (each with every system it lists)."""
    return _Writer(specs).plan()


class _Writer:
    """The plan's tables as column lists, filled row by row."""

    def __init__(self, specs: Specs) -> None:
        self.specs = specs
        self.cols: dict[str, dict[str, list[Any]]] = {k: {} for k in _TABLES}
        self.chip_rows: dict[str, int] = {}
        self.model_rows: dict[str, int] = {}
        self.memory_rows: dict[int, int] = {}  # a chip's row -> its first `memories` row
        self.workload_rows: dict[tuple[str, int], int] = {}
        self.streams: dict[int, traffic_mod.Stream] = {}  # by workload row
        self.class_rows: dict[int, int] = {}  # a workload's row -> its first `classes` row
        self.slo_class: list[int | None] = []  # `slos.class` of each `slos` row

    def add(self, table: str, **row: Any) -> int:
        """Appends a row; returns its index."""
        t = self.cols[table]
        n = len(next(iter(t.values()))) if t else 0
        for k, v in row.items():
            t.setdefault(k, []).append(v)
        return n

    def plan(self) -> Plan:
        for run in self.specs.runs:
            self.run(run)
        columns: dict[str, dict[str, Any]] = dict(self.cols)
        if not self.class_rows:
            del columns["classes"]
        elif any(c is not None for c in self.slo_class):
            columns["slos"]["class"] = self.slo_class
        if self.streams:
            parts = self.streams.items()
            columns["requests"] = {
                "workload": np.concatenate([np.full(len(s.arrival_s), w, dtype=np.uint32) for w, s in parts]),
                "arrival_s": np.concatenate([s.arrival_s for _, s in parts]),
                "prompt_tokens": np.concatenate([s.prompt_tokens for _, s in parts]),
                "output_tokens": np.concatenate([s.output_tokens for _, s in parts]),
                "send_delay_s": np.concatenate([s.delays() for _, s in parts]),
            }
            if self.class_rows:
                columns["requests"]["class"] = self._request_classes()
        if any(s.prefix_ids is not None for s in self.streams.values()):
            columns["requests"].update(_prefix_columns([s for _, s in self.streams.items()]))
        else:
            # No stream names prefixes: the plan is exactly what it was before prefix caching.
            for table, col in (("pools", "prefix_cache_blocks"), ("runs", "prefix_weight")):
                columns[table] = {k: v for k, v in columns[table].items() if k != col}
        plan = Plan.from_columns(columns)
        if any(s.after is not None for s in self.streams.values()):
            plan = _with_dependencies(plan, list(self.streams.values()))
        return plan

    def _request_classes(self) -> pa.Array:
        """``requests.class``: each request's ``classes`` row, null for workloads without classes."""
        values, valid = [], []
        for w, s in self.streams.items():
            if s.klass is None:
                values.append(np.zeros(len(s.arrival_s), dtype=np.uint32))
                valid.append(np.zeros(len(s.arrival_s), dtype=bool))
            else:
                values.append(s.klass.astype(np.uint32) + np.uint32(self.class_rows[w]))
                valid.append(np.ones(len(s.arrival_s), dtype=bool))
        return pa.array(np.concatenate(values), type=pa.uint32(), mask=~np.concatenate(valid))

    def run(self, run: RunSpec) -> None:
        specs = self.specs
        shape = lookup(specs.models, "model", run.model, run.model_loc)
        spec = lookup(specs.traffics, "traffic", run.traffic, run.traffic_loc)
        wid = self.workload(spec, run.seed)
        # The longest request any seed could produce (distribution bounds), or of this stream when the
        # lengths are unbounded or replayed from a trace.
        bound = spec.longest
        # A session's prompts are histories, longer than any one message: the stream says how long.
        sessions = [c.traffic for c in spec.classes] + [spec]
        if (spec.trace is None and math.isfinite(bound)
                and all(c.session is None and c.system_prompt is None for c in sessions)):
            longest, longest_prompt = int(bound), int(spec.longest_prompt)
        else:
            stream = self.streams[wid]
            longest = int((stream.prompt_tokens.astype(np.int64) + stream.output_tokens).max())
            longest_prompt = int(stream.prompt_tokens.max())
        slo = lookup(specs.slos, "slo", run.slo, run.slo_loc or run.loc) if run.slo is not None else None
        for sys_name, sys_loc in run.systems:
            system = lookup(specs.systems, "system", sys_name, sys_loc)
            rid = self.add("runs", name=run.name, system=system.name, model=self.model(run.model), workload=wid,
                           seed=run.seed, prefill_router=system.prefill_router,
                           decode_router=system.decode_router, keep_requests="requests" in run.record,
                           keep_iterations="iterations" in run.record,
                           keep_token_stats="token_stats" in run.record, prefix_weight=system.prefix_weight)
            check_instances(system)
            pool_rows: dict[str, int] = {}
            for pool in system.pools:
                chip = lookup(specs.chips, "chip", pool.chip, pool.chip_loc)
                pool = stacks.apply(pool, chip)
                pool_where = f"system '{system.name}' pool '{pool.name}'"
                check_chip_runs(shape, chip, pool_where, pool.loc)
                # A prefill-only instance holds a prompt and hands its KV cache on: it never holds an output.
                held = longest_prompt if pool.role == "prefill" else longest
                check_pool(shape, chip, pool, pool_where, held)
                placement = place_memory(shape, chip, pool, held, pool_where)
                cid = self.chip(pool.chip)
                mem0 = self.memory_rows[cid]
                pool_rows[pool.name] = self.add(
                    "pools", run=rid, name=pool.name, role=pool.role, chip=cid, chips=pool.chips, tp=pool.tp,
                    instances=pool.chips // pool.instance_chips, max_batch=pool.max_batch,
                    max_batched_tokens=pool.max_batched_tokens, block_size=pool.block_size,
                    kv_blocks=placement.kv_blocks, state_blocks=placement.state_blocks,
                    chunked_prefill=pool.chunked_prefill, policy=pool.policy,
                    step_overhead_s=pool.step_overhead_s, max_queue=pool.max_queue,
                    queue_timeout_s=pool.queue_timeout_s, pp=pool.pp, ep=pool.ep,
                    dp_attention=pool.dp_attention,
                    microbatches=pool.microbatches, node_size=pool.node_size, network_bw=pool.network_bw,
                    network_latency_s=pool.network_latency_s,
                    graph_max_tokens=GRAPH_ALWAYS if pool.graph_max_tokens is None else pool.graph_max_tokens,
                    graph_prefill=pool.graph_prefill, graph_pad_tokens=pool.graph_pad_tokens,
                    eager_launch_s=pool.eager_launch_s,
                    step_overhead_per_seq_s=pool.step_overhead_per_seq_s,
                    step_overhead_per_layer_s=pool.step_overhead_per_layer_s, recv_interval=pool.recv_interval,
                    frontend_per_token_s=pool.frontend_per_token_s, frontend_workers=pool.frontend_workers,
                    first_token_at_decode=pool.first_token_at_decode,
                    weights_memory=mem0 + placement.weights_tier, kv_memory=mem0 + placement.kv_tier,
                    prefix_cache_blocks=_prefix_cache_blocks(pool, placement.kv_blocks))
            for ln in system.links:
                self.add("links", src=pool_rows[ln.src], dst=pool_rows[ln.dst], bandwidth=ln.bandwidth,
                         latency_s=ln.latency_s)
            if slo is not None:
                for metric, pct, thr in slo.targets:
                    self.add("slos", run=rid, metric=metric, percentile=pct, threshold_s=thr)
                    self.slo_class.append(None)
            for k, c in enumerate(spec.classes):
                if c.slo is not None:
                    own = lookup(specs.slos, "slo", c.slo, c.slo_loc or c.loc)
                    for metric, pct, thr in own.targets:
                        self.add("slos", run=rid, metric=metric, percentile=pct, threshold_s=thr)
                        self.slo_class.append(self.class_rows[wid] + k)

    def workload(self, spec: traffic_mod.TrafficSpec, seed: int) -> int:
        """The ``workloads`` row of a traffic block under a seed, its stream sampled on first use."""
        key = (spec.name, seed)
        if key not in self.workload_rows:
            try:
                stream = traffic_mod.sample(spec, seed)
            except MemoryError:
                raise CompileError(f"traffic '{spec.name}': not enough memory to sample its requests",
                                   spec.loc) from None
            check_stream(spec, stream.arrival_s, None if stream.after_offsets is None else
                         np.diff(stream.after_offsets) > 0)
            wid = self.add("workloads", name=spec.name, kind="closed" if spec.arrivals == "closed" else "open",
                           users=spec.users, think_time_s=spec.think_time_s,
                           duration_s=spec.duration_s if spec.duration_s is not None else math.inf)
            self.workload_rows[key] = wid
            self.streams[wid] = stream
            for k, c in enumerate(spec.classes):
                row = self.add("classes", workload=wid, name=c.name, priority=c.priority, weight=c.weight)
                if k == 0:
                    self.class_rows[wid] = row
        return self.workload_rows[key]

    def model(self, name: str) -> int:
        """The ``models`` row of a model, written with its ``operators`` rows on first use."""
        if name not in self.model_rows:
            m = self.specs.models[name]
            mid = self.add("models", name=m.name, layers=m.layers, hidden=m.hidden, heads=m.heads,
                           kv_heads=m.cache_kv_heads, head_dim=m.head_dim, intermediate=m.intermediate,
                           vocab=m.vocab, weight_dtype=m.weight_dtype, kv_dtype=m.kv_dtype,
                           weight_bytes=m.weight_bytes(), kv_bytes_per_token=m.kv_group_bytes_per_token(),
                           kv_full_groups=m.kv_full_groups, kv_window_groups=m.kv_window_groups,
                           sliding_window=m.sliding_window if m.sliding_layers else 0,
                           state_bytes=m.state_bytes(),
                           attention=m.attention, experts=m.experts, experts_per_token=m.experts_per_token,
                           params=float(m.params()), active_params=float(m.active_params()))
            self.model_rows[name] = mid
            for op in model_mod.operators(m):
                self.add("operators", model=mid, name=op.name, engine=op.engine, dtype=op.dtype, count=op.count,
                         flops_per_token=op.flops_per_token, flops_per_sampled=op.flops_per_sampled,
                         flops_per_attn_pair=op.flops_per_attn_pair, weight_bytes=op.weight_bytes,
                         bytes_per_token=op.bytes_per_token, bytes_per_sampled=op.bytes_per_sampled,
                         bytes_per_kv_token=op.bytes_per_kv_token, tp_shard=op.tp_shard, experts=op.experts,
                         experts_per_token=op.experts_per_token, window=op.window,
                         bytes_per_seq=op.bytes_per_seq, attention_dp=op.attention_dp)
        return self.model_rows[name]

    def chip(self, name: str) -> int:
        """The ``chips`` row of a chip, written with its engines, memory tiers and profile on first use."""
        if name not in self.chip_rows:
            c = self.specs.chips[name]
            cid = self.add("chips", name=c.name, memory_bytes=c.memory_bytes, memory_bw=c.memory_bw,
                           memory_efficiency=c.memory_efficiency, link_bw=c.link_bw,
                           link_latency_s=c.link_latency_s, power_busy_w=c.power_busy_w,
                           power_idle_w=c.power_idle_w, price_per_hour=c.price_per_hour,
                           matmul_engine=",".join(c.matmul_route), attention_engine=",".join(c.attention_route),
                           kernel_overhead_s=c.kernel_overhead_s, **dataclasses.asdict(c.kernels))
            self.chip_rows[name] = cid
            for (kind, dt, rate, eff), info in zip(c.engines, c.engine_info):
                self.add("engines", chip=cid, kind=kind, dtype=dt, flops=rate, efficiency=eff, name=info.name,
                         energy_per_flop=info.energy_per_flop, conversion_bw=info.conversion_bw,
                         conversion_energy_per_byte=info.conversion_energy)
            for i, m in enumerate(c.memories):
                r = self.add("memories", chip=cid, name=m.name, capacity_bytes=m.capacity, bandwidth=m.bandwidth,
                             efficiency=m.efficiency, energy_per_byte=m.energy_per_byte)
                if i == 0:
                    self.memory_rows[cid] = r
            for p in c.profile:
                self.add("profiles", chip=cid, model=p["model"], operator=p["operator"], tp=p["tp"],
                         stat=p["stat"], x=p["x"], seconds=p["seconds"])
        return self.chip_rows[name]


def _with_dependencies(plan: Plan, streams: list[traffic_mod.Stream]) -> Plan:
    """``plan`` with the optional ``requests.after`` (each request's list of earlier requests of its workload
    it waits for) and ``requests.think_s`` columns, from the streams in workload order. Written only when a
    stream has dependencies, so every other plan stays as it was."""
    offsets, values, think = [np.zeros(1, dtype=np.int64)], [], []
    for s in streams:
        n = len(s.arrival_s)
        if s.after is None or s.after_offsets is None or s.think_s is None:
            offsets.append(np.full(n, offsets[-1][-1], dtype=np.int64))
            think.append(np.zeros(n))
        else:
            offsets.append(s.after_offsets[1:].astype(np.int64) + offsets[-1][-1])
            values.append(s.after.astype(np.uint32))
            think.append(s.think_s.astype(np.float64))
    after = pa.LargeListArray.from_arrays(pa.array(np.concatenate(offsets), pa.int64()),
                                          pa.array(np.concatenate(values) if values else [], pa.uint32()))
    t = plan["requests"]
    t = t.append_column(pa.field("after", after.type, nullable=False), after)
    t = t.append_column(pa.field("think_s", pa.float64(), nullable=False), pa.array(np.concatenate(think)))
    return Plan({**plan.tables, "requests": t})


def _prefix_cache_blocks(pool: Any, kv_blocks: int) -> int:
    """Blocks of each instance's KV its prefix cache may hold: all of them unless the pool caps it, none when
    it is switched off (docs/prefix-caching.md)."""
    if not pool.prefix_cache:
        return 0
    return kv_blocks if pool.prefix_cache_blocks is None else min(pool.prefix_cache_blocks, kv_blocks)


def _prefix_columns(streams: list[traffic_mod.Stream]) -> dict[str, Any]:
    """The requests' prefix columns over every stream, in request order; a stream without prefixes gives
    its requests no segments."""
    offsets, ids, tokens, out = [np.zeros(1, dtype=np.int64)], [], [], []
    base = 0
    for s in streams:
        n = len(s.arrival_s)
        if s.prefix_ids is None or s.prefix_offsets is None or s.prefix_tokens is None:
            offsets.append(np.full(n, base, dtype=np.int64))
            out.append(np.zeros(n, dtype=np.uint64))
            continue
        offsets.append(np.asarray(s.prefix_offsets[1:], dtype=np.int64) + base)
        ids.append(np.asarray(s.prefix_ids, dtype=np.uint64))
        tokens.append(np.asarray(s.prefix_tokens, dtype=np.uint32))
        base += len(s.prefix_ids)
        out.append(np.zeros(n, dtype=np.uint64) if s.output_prefix_id is None
                   else np.asarray(s.output_prefix_id, dtype=np.uint64))
    offs = pa.array(np.concatenate(offsets), pa.int64())
    flat_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.uint64)
    flat_tokens = np.concatenate(tokens) if tokens else np.zeros(0, dtype=np.uint32)
    return {
        "prefix_ids": pa.LargeListArray.from_arrays(offs, pa.array(flat_ids, pa.uint64())),
        "prefix_tokens": pa.LargeListArray.from_arrays(offs, pa.array(flat_tokens, pa.uint32())),
        "output_prefix_id": np.concatenate(out),
    }
