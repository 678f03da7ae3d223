"""The plan's Arrow tables: their schemas, packing into one record batch, and Arrow IPC files.

A plan is a set of tables (see ``docs/plan.md``). On the wire it is one record batch with a single row whose
columns are the tables, each typed ``list<struct<...>>``; the schema metadata carries the format version.
That one batch crosses into Rust through the Arrow C data interface and is what ``Plan.save`` writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.ipc as ipc

from infera import _core
from infera.exceptions import PlanError
from infera.files import input_path, os_errors, output_path

PLAN_VERSION = _core.PLAN_VERSION
PLAN_VERSION_KEY = b"infera.plan_version"

f64 = pa.float64()
u32 = pa.uint32()
u64 = pa.uint64()
utf8 = pa.string()
boolean = pa.bool_()

#: Every table of a plan and its columns, in order. Units are SI (seconds, bytes, bytes/s, FLOP/s, W).
SCHEMAS: dict[str, pa.Schema] = {
    "chips": pa.schema(
        [
            ("name", utf8),
            ("memory_bytes", f64),
            ("memory_bw", f64),
            ("memory_efficiency", f64),
            ("link_bw", f64),
            ("link_latency_s", f64),
            ("power_busy_w", f64),
            ("power_idle_w", f64),
            ("price_per_hour", f64),
            # Engine routing (docs/cost-model.md, "Multi-engine chips"): comma-separated engine names or kinds.
            ("matmul_engine", utf8),
            ("attention_engine", utf8),
            # Fixed seconds per compute kernel (docs/cost-model.md, "Kernel overhead"); optional for the core.
            ("kernel_overhead_s", f64),
            # Kernel efficiency by shape (docs/cost-model.md); 0 = off. Optional for the core.
            ("gemm_half_tokens", f64),
            ("read_efficiency", f64),
            ("copy_efficiency", f64),
            ("read_half_bytes", f64),
            ("attention_efficiency", f64),
            ("attention_half_context", f64),
            ("attention_half_bytes", f64),
        ]
    ),
    "engines": pa.schema(
        [("chip", u32), ("kind", utf8), ("dtype", utf8), ("flops", f64), ("efficiency", f64),
         # Multi-engine chips and per-operation energy (docs/cost-model.md).
         ("name", utf8), ("energy_per_flop", f64), ("conversion_bw", f64), ("conversion_energy_per_byte", f64)]
    ),
    "models": pa.schema(
        [
            ("name", utf8),
            ("layers", u32),
            ("hidden", u32),
            ("heads", u32),
            ("kv_heads", u32),
            ("head_dim", u32),
            ("intermediate", u32),
            ("vocab", u32),
            ("weight_dtype", utf8),
            ("kv_dtype", utf8),
            ("weight_bytes", f64),
            ("kv_bytes_per_token", f64),
            # The cache's layout in KV blocks (docs/plan.md): block groups of full and sliding-window layers,
            # the window, and the per-request recurrent state of linear-attention layers.
            ("kv_full_groups", u32),
            ("kv_window_groups", u32),
            ("sliding_window", u32),
            ("state_bytes", f64),
            # Model family facts (informational): attention kind, routed experts, parameter counts.
            ("attention", utf8),
            ("experts", u32),
            ("experts_per_token", u32),
            ("params", f64),
            ("active_params", f64),
        ]
    ),
    "operators": pa.schema(
        [
            ("model", u32),
            ("name", utf8),
            ("engine", utf8),
            ("dtype", utf8),
            ("count", f64),
            ("flops_per_token", f64),
            ("flops_per_sampled", f64),
            ("flops_per_attn_pair", f64),
            ("weight_bytes", f64),
            ("bytes_per_token", f64),
            ("bytes_per_sampled", f64),
            ("bytes_per_kv_token", f64),
            ("tp_shard", boolean),
            ("experts", f64),
            ("experts_per_token", f64),
            ("window", boolean),
            ("bytes_per_seq", f64),
            ("attention_dp", boolean),
        ]
    ),
    "workloads": pa.schema(
        [
            ("name", utf8),
            ("kind", utf8),
            ("users", u32),
            ("think_time_s", f64),
            ("duration_s", f64),
        ]
    ),
    "requests": pa.schema(
        [("workload", u32), ("arrival_s", f64), ("prompt_tokens", u32), ("output_tokens", u32),
         ("send_delay_s", f64)]
    ),
    "runs": pa.schema(
        [
            ("name", utf8),
            ("system", utf8),
            ("model", u32),
            ("workload", u32),
            ("seed", u64),
            ("prefill_router", utf8),
            ("decode_router", utf8),
            ("keep_requests", boolean),
            ("keep_iterations", boolean),
            ("keep_token_stats", boolean),
        ]
    ),
    "pools": pa.schema(
        [
            ("run", u32),
            ("name", utf8),
            ("role", utf8),
            ("chip", u32),
            ("chips", u32),
            ("tp", u32),
            ("instances", u32),
            ("max_batch", u32),
            ("max_batched_tokens", u32),
            ("block_size", u32),
            ("kv_blocks", u32),
            ("state_blocks", u32),
            ("chunked_prefill", boolean),
            ("policy", utf8),
            ("step_overhead_s", f64),
            ("max_queue", u32),
            ("queue_timeout_s", f64),
            # Parallelism and topology (docs/cost-model.md, "Parallelism").
            ("pp", u32),
            ("ep", u32),
            ("dp_attention", u32),
            ("microbatches", u32),
            ("node_size", u32),
            ("network_bw", f64),
            ("network_latency_s", f64),
            # Memory placement: rows of `memories` holding the weights and the KV cache.
            ("weights_memory", u32),
            ("kv_memory", u32),
            # Graph replay or eager launches (docs/stacks.md): GRAPH_ALWAYS tokens means every step replays.
            ("graph_max_tokens", u64),
            ("graph_prefill", boolean),
            ("graph_pad_tokens", u32),
            ("eager_launch_s", f64),
            ("step_overhead_per_seq_s", f64),
            ("step_overhead_per_layer_s", f64),
            # Steps between the scheduler's polls for new arrivals (docs/stacks.md).
            ("recv_interval", u32),
            ("frontend_per_token_s", f64),
            ("frontend_workers", u32),
            ("first_token_at_decode", boolean),
        ]
    ),
    "links": pa.schema([("src", u32), ("dst", u32), ("bandwidth", f64), ("latency_s", f64)]),
    # Memory tiers of each chip (HBM, SRAM, ...) and measured calibration profiles (docs/calibration.md).
    "memories": pa.schema([("chip", u32), ("name", utf8), ("capacity_bytes", f64), ("bandwidth", f64),
                           ("efficiency", f64), ("energy_per_byte", f64)]),
    "profiles": pa.schema([("chip", u32), ("model", utf8), ("operator", utf8), ("tp", u32), ("stat", utf8),
                           ("x", f64), ("seconds", f64)]),
    "slos": pa.schema([("run", u32), ("metric", utf8), ("percentile", f64), ("threshold_s", f64)]),
}

#: Tables written only when some row needs them (docs/plan.md): a plan without them is today's plan.
OPTIONAL_SCHEMAS = {
    # Traffic classes of a workload: name, admission priority (lowest first) and mixing weight.
    "classes": pa.schema([("workload", u32), ("name", utf8), ("priority", u32), ("weight", f64)]),
}
#: Columns written only when a plan uses them (docs/plan.md lists each as optional): absent, the core behaves
#: as it did before they existed, so a plan that does not need them is exactly what it was.
OPTIONAL_COLUMNS: dict[str, list[tuple[str, pa.DataType]]] = {
    # Shared prompt prefixes (docs/prefix-caching.md): chained segment identities, tokens per segment, and
    # the identity of prompt + output (0: none).
    # Each request's `classes` row (null for a workload without classes; docs/dsl.md "Traffic classes").
    "requests": [("prefix_ids", pa.large_list(pa.uint64())), ("prefix_tokens", pa.large_list(pa.uint32())),
                 ("output_prefix_id", pa.uint64()), ("class", u32)],
    # The `classes` row an SLO target is for (null: the run's target).
    "slos": [("class", u32)],
    # Most KV blocks of each instance its prefix cache may hold (0: no prefix caching).
    "pools": [("prefix_cache_blocks", pa.uint64())],
    # The prefix-aware router's weight on the prefill a cached prefix saves, against load.
    "runs": [("prefix_weight", pa.float64())],
}

#: ``pools.graph_max_tokens`` of a pool whose every step replays a graph (the core's "no limit").
GRAPH_ALWAYS = 2**64 - 1

#: Tables a plan may lack (older plans, other producers); the core treats them as empty.
OPTIONAL_TABLES = frozenset({"memories", "profiles", *OPTIONAL_SCHEMAS})

def _array(values: Any, kind: pa.DataType) -> pa.Array:
    """A column cast to its type; list columns may come ready-built as Arrow arrays."""
    if isinstance(values, pa.Array):
        return values.cast(kind)
    return pa.array(values, type=kind)


def _decode_names(fields: pa.Schema | pa.DataType) -> None:
    """Decodes every field name, nested ones too: pyarrow decodes a name from a file only when it is asked
    for, so one that is not UTF-8 would otherwise fail wherever the plan is first used."""
    for i in range(len(fields) if isinstance(fields, pa.Schema) else fields.num_fields):
        field = fields.field(i)
        field.name  # decoding it is the check
        _decode_names(field.type)


class Plan:
    """A compiled plan: a dict of named pyarrow Tables following :data:`SCHEMAS`.

    >>> plan = Plan.load("plan.arrow")          # doctest: +SKIP
    >>> plan.tables["pools"].to_pylist()        # doctest: +SKIP
    """

    def __init__(self, tables: Mapping[str, pa.Table]) -> None:
        missing = set(SCHEMAS) - set(tables) - OPTIONAL_TABLES
        if missing:
            raise PlanError(f"plan lacks tables: {', '.join(sorted(missing))}")
        for name, table in tables.items():
            for col in (name, *table.column_names):
                # The Arrow C data interface carries names as C strings: the core would read "chip\0\0" as
                # "chip" while Python reads another name, and the two would disagree about the plan.
                if "\0" in col:
                    raise PlanError(f"table {name}: the name {col!r} holds a NUL character")
        self.tables: dict[str, pa.Table] = dict(tables)

    @classmethod
    def from_columns(cls, columns: Mapping[str, Mapping[str, list[Any] | Any]]) -> "Plan":
        """Builds a plan from plain column lists (or arrays), cast to the documented schema. The optional
        tables and columns (:data:`OPTIONAL_SCHEMAS`, :data:`OPTIONAL_COLUMNS`) are written only when
        ``columns`` has them."""
        tables = {}
        for name, schema in {**SCHEMAS, **{k: v for k, v in OPTIONAL_SCHEMAS.items() if k in columns}}.items():
            cols = columns.get(name, {})
            for col, kind in OPTIONAL_COLUMNS.get(name, []):
                if col in cols:
                    schema = schema.append(pa.field(col, kind))
            arrays = [_array(cols.get(f.name, []), f.type) for f in schema]
            tables[name] = pa.Table.from_arrays(arrays, schema=schema)
        return cls(tables)

    def __getitem__(self, name: str) -> pa.Table:
        return self.tables[name]

    def with_column(self, table: str, column: str, values: Any) -> "Plan":
        """A copy of the plan with one column of one table replaced (cast to the column's type)."""
        t = self.tables[table]
        i = t.schema.get_field_index(column)
        field = t.schema.field(i)
        return Plan({**self.tables, table: t.set_column(i, field, pa.array(values, type=field.type))})

    def to_batch(self) -> pa.RecordBatch:
        """Packs the plan into one record batch (one row, a ``list<struct>`` column per table)."""
        arrays, fields = [], []
        for name, table in self.tables.items():
            struct = pa.StructArray.from_arrays(
                [table.column(i).combine_chunks() for i in range(table.num_columns)],
                fields=list(table.schema),
            ) if table.num_columns else pa.array([], pa.struct([]))
            offsets = pa.array([0, len(struct)], pa.int32())
            arr = pa.ListArray.from_arrays(offsets, struct)
            arrays.append(arr)
            fields.append(pa.field(name, arr.type))
        schema = pa.schema(fields, metadata={PLAN_VERSION_KEY: PLAN_VERSION.encode()})
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    @classmethod
    def from_batch(cls, batch: pa.RecordBatch) -> "Plan":
        """Unpacks a packed plan batch (the inverse of :meth:`to_batch`)."""
        meta = batch.schema.metadata or {}
        version = meta.get(PLAN_VERSION_KEY)
        if version is None:
            raise PlanError("not an infera plan: the schema lacks the 'infera.plan_version' key")
        if version != PLAN_VERSION.encode():
            shown = repr(version.decode("utf-8", "replace")[:40])  # a damaged file's version may not be text
            raise PlanError(f"plan format version {shown} is not supported (expected {PLAN_VERSION!r})")
        if batch.num_rows != 1:
            raise PlanError(f"a packed plan has exactly one row, this one has {batch.num_rows}")
        tables = {}
        for i, field in enumerate(batch.schema):
            kind = field.type
            if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not pa.types.is_struct(kind.value_type):
                raise PlanError(f"table {field.name}: a packed plan's columns are list<struct<...>>, not {kind}")
            values = batch.column(i).values
            tables[field.name] = pa.Table.from_batches([pa.RecordBatch.from_struct_array(values)])
        return cls(tables)

    def save(self, path: str | Path) -> None:
        """Writes the plan as an Arrow IPC file (readable by ``infera_core::Plan::read_ipc``)."""
        batch = self.to_batch()
        out = output_path(path)
        with os_errors(out, "be written"), pa.OSFile(str(out), "wb") as sink:
            with ipc.new_file(sink, batch.schema) as writer:
                writer.write_batch(batch)

    @classmethod
    def load(cls, path: str | Path) -> "Plan":
        """Reads a plan written by :meth:`save` (or any producer following ``docs/plan.md``).

        A path that names no readable regular file is a :class:`~infera.exceptions.FileError`; a file that is
        not a plan, or whose arrays claim more data than they hold, is a :class:`PlanError`.
        """
        source_path = input_path(path)
        try:
            with pa.memory_map(str(source_path), "r") as source:
                reader = ipc.open_file(source)
                if reader.num_record_batches != 1:
                    raise PlanError(f"{path}: a plan file holds one record batch, found {reader.num_record_batches}")
                batch = reader.get_batch(0)
                batch = batch.replace_schema_metadata(reader.schema.metadata)
                # The IPC reader checks the file's framing, not that each array's buffers hold what its
                # lengths and offsets claim; the core must never be handed one that does not.
                batch.validate(full=True)
                _decode_names(batch.schema)
        except (OSError, pa.ArrowException) as exc:  # ArrowException: invalid, unsupported, wrong type, ...
            raise PlanError(f"{path}: cannot read plan: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise PlanError(f"{path}: cannot read plan: a column name is not UTF-8 ({exc.object!r})") from None
        return cls.from_batch(batch)

    def summary(self) -> dict[str, int]:
        """Row count of every table."""
        return {name: t.num_rows for name, t in self.tables.items()}

    def __repr__(self) -> str:
        return "Plan(" + ", ".join(f"{k}={v}" for k, v in self.summary().items()) + ")"
