"""Malformed plans from Python: the core rejects each with ``infera.PlanError``, never another exception.

A valid plan from ``infera.compile_text`` is altered with pyarrow (a table or column dropped, a column of the
wrong type, NaN, infinite, negative or enormous values, dangling row references, empty tables, nulls,
unknown choices) and handed to :func:`infera.simulate` and :func:`infera.check`; packed batches the
:class:`~infera.Plan` class would never build (wrong metadata, zero or two rows, a table that is not a list
of structs) go straight to the binding (``infera._core``), and damaged plan files to ``infera.simulate``.
A hypothesis test then draws further single-column malformations: each simulates or raises ``PlanError``.
``rust/core/tests/fuzz/`` fuzzes the same decoder from Rust, far harder.

CI runs ``len(CASES)`` fixed cases, ``len(BATCH_CASES)`` batch cases, 3 file cases and ``RANDOM`` drawn ones;
``INFERA_FUZZ_EXAMPLES=N`` draws N instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import infera
from helpers import program
from infera import _core
from infera.plan import Plan

RANDOM = int(os.environ.get("INFERA_FUZZ_EXAMPLES", "0") or 0) or 60

BODY = """
traffic t { arrivals = poisson(20 /s), prompt = uniform(min = 8, max = 64), output = uniform(min = 1, max = 8)
            requests = 12 }
slo fast { ttft.p99 < 1 s }
system s {
  pool pre: 1 x toy, role = prefill
  pool dec: 1 x toy, role = decode
  link pre -> dec { bandwidth = 10 GB/s, latency = 5 us }
}
run r { model = tiny, traffic = t, slo = fast, system = s }
"""


@pytest.fixture(scope="module")
def plan() -> Plan:
    p = infera.compile_text(program(BODY))
    infera.simulate(p)  # the base plan is valid
    return p


# ----------------------------------------------------------------------------------------------------------
# Altering one table


def with_table(plan: Plan, name: str, table: pa.Table | None) -> Plan:
    tables = {k: v for k, v in plan.tables.items() if k != name}
    if table is not None:
        tables[name] = table
    return _plan(tables)


def _plan(tables: dict[str, pa.Table]) -> Plan:
    # Bypasses Plan.__init__'s own check for missing tables, so the core's check is the one exercised.
    p = Plan.__new__(Plan)
    p.tables = dict(tables)
    return p


def set_column(plan: Plan, table: str, col: str, values: pa.Array | list | None) -> Plan:
    """``table`` with column ``col`` replaced by ``values`` (an array, or a list typed like the column), or
    dropped when ``values`` is None."""
    t = plan.tables[table]
    i = t.schema.get_field_index(col)
    if values is None:
        return with_table(plan, table, t.remove_column(i))
    arr = values if isinstance(values, pa.Array) else pa.array(values, type=t.schema.field(col).type)
    return with_table(plan, table, t.set_column(i, pa.field(col, arr.type), arr))


def set_value(plan: Plan, table: str, col: str, row: int, value: object, type: pa.DataType | None = None) -> Plan:
    """One value of a column changed (the column retyped to ``type`` when given, e.g. to hold -1 or 2**40)."""
    values = plan.tables[table].column(col).to_pylist()
    values[row] = value
    typ = type or plan.tables[table].schema.field(col).type
    return set_column(plan, table, col, pa.array(values, type=typ))


def rows(plan: Plan, table: str, n: int) -> Plan:
    return with_table(plan, table, plan.tables[table].slice(0, n))


Case = Callable[[Plan], Plan]

CASES: dict[str, Case] = {
    # tables and columns missing or of the wrong type
    "no pools table": lambda p: with_table(p, "pools", None),
    "no requests table": lambda p: with_table(p, "requests", None),
    "no chips.memory_bw": lambda p: set_column(p, "chips", "memory_bw", None),
    "no pools.kv_blocks": lambda p: set_column(p, "pools", "kv_blocks", None),
    "no operators.tp_shard": lambda p: set_column(p, "operators", "tp_shard", None),
    "chips.name as numbers": lambda p: set_column(p, "chips", "name", pa.array([1.0])),
    "pools.chunked_prefill as ints": lambda p: set_column(p, "pools", "chunked_prefill", pa.array([1, 1])),
    "requests.prompt_tokens as strings": lambda p: set_column(
        p, "requests", "prompt_tokens", pa.array(["8"] * p.tables["requests"].num_rows)),
    "engines.flops as booleans": lambda p: set_column(
        p, "engines", "flops", pa.array([True] * p.tables["engines"].num_rows)),
    "pools.policy as a dictionary": lambda p: set_column(
        p, "pools", "policy", pa.array(["decode_first", "decode_first"]).dictionary_encode()),
    "models.layers as a list": lambda p: set_column(p, "models", "layers", pa.array([[2]])),
    "a table with no columns": lambda p: with_table(p, "runs", pa.table({})),
    # NaN, infinities, negative and enormous values
    "NaN memory bandwidth": lambda p: set_value(p, "chips", "memory_bw", 0, float("nan")),
    "infinite link bandwidth": lambda p: set_value(p, "chips", "link_bw", 0, float("inf")),
    "negative power": lambda p: set_value(p, "chips", "power_busy_w", 0, -1.0),
    "zero engine rate": lambda p: set_value(p, "engines", "flops", 0, 0.0),
    "efficiency above 1": lambda p: set_value(p, "engines", "efficiency", 0, 1.5),
    "NaN operator count": lambda p: set_value(p, "operators", "count", 1, float("nan")),
    "negative weight bytes": lambda p: set_value(p, "operators", "weight_bytes", 1, -1e9),
    "infinite arrival": lambda p: set_value(p, "requests", "arrival_s", 3, float("inf")),
    "negative arrival": lambda p: set_value(p, "requests", "arrival_s", 0, -1.0),
    "zero prompt tokens": lambda p: set_value(p, "requests", "prompt_tokens", 0, 0),
    "too many output tokens": lambda p: set_value(p, "requests", "output_tokens", 0, 2**32 - 1),
    "negative tp": lambda p: set_value(p, "pools", "tp", 0, -1, pa.int64()),
    "zero max_batch": lambda p: set_value(p, "pools", "max_batch", 0, 0),
    "kv_blocks beyond uint32": lambda p: set_value(p, "pools", "kv_blocks", 0, 2**40, pa.int64()),
    "fractional block size": lambda p: set_value(p, "pools", "block_size", 0, 16.5, pa.float64()),
    "layers 1e300": lambda p: set_value(p, "models", "layers", 0, 1e300, pa.float64()),
    "NaN duration": lambda p: set_value(p, "workloads", "duration_s", 0, float("nan")),
    "zero SLO threshold": lambda p: set_value(p, "slos", "threshold_s", 0, 0.0),
    "percentile above 100": lambda p: set_value(p, "slos", "percentile", 0, 101.0),
    "NaN link bandwidth": lambda p: set_value(p, "links", "bandwidth", 0, float("nan")),
    "KV cache too small": lambda p: set_value(p, "pools", "kv_blocks", 1, 1),
    # dangling references
    "pool on chip 99": lambda p: set_value(p, "pools", "chip", 0, 99),
    "pool of run 5": lambda p: set_value(p, "pools", "run", 1, 5),
    "engine of chip 2**32-1": lambda p: set_value(p, "engines", "chip", 0, 2**32 - 1),
    "request of workload 1": lambda p: set_value(p, "requests", "workload", 2, 1),
    "run of model 3": lambda p: set_value(p, "runs", "model", 0, 3),
    "link to pool 7": lambda p: set_value(p, "links", "dst", 0, 7),
    "slo of run -1": lambda p: set_value(p, "slos", "run", 0, -1, pa.int64()),
    # empty tables, nulls, unknown choices, inconsistent rows
    "no requests": lambda p: rows(p, "requests", 0),
    "no operators": lambda p: rows(p, "operators", 0),
    "no pools": lambda p: rows(p, "pools", 0),
    "no links": lambda p: rows(p, "links", 0),
    "null prompt tokens": lambda p: set_value(p, "requests", "prompt_tokens", 1, None),
    "null chip name": lambda p: set_value(p, "chips", "name", 0, None),
    "null chunked_prefill": lambda p: set_value(p, "pools", "chunked_prefill", 0, None),
    "unknown policy": lambda p: set_value(p, "pools", "policy", 0, "lifo"),
    "unknown router": lambda p: set_value(p, "runs", "prefill_router", 0, "random"),
    "unknown role": lambda p: set_value(p, "pools", "role", 1, "both"),
    "unknown metric": lambda p: set_value(p, "slos", "metric", 0, "latency"),
    "unknown operator engine": lambda p: set_value(p, "operators", "engine", 0, "gpu"),
    "closed loop with no users": lambda p: set_value(p, "workloads", "kind", 0, "closed"),
    "chips not tp x instances": lambda p: set_value(p, "pools", "chips", 0, 3),
    "memory tier of another chip": lambda p: set_value(p, "pools", "kv_memory", 0, 5),
}


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_plan_is_a_plan_error(plan: Plan, name: str) -> None:
    bad = CASES[name](plan)
    with pytest.raises(infera.PlanError):
        infera.simulate(bad)
    with pytest.raises(infera.PlanError):
        infera.check(bad)


# ----------------------------------------------------------------------------------------------------------
# Packed batches the Plan class would not build, straight to the binding


def _batch(plan: Plan, metadata: dict[bytes, bytes] | None = None,
           columns: Callable[[list[tuple[str, pa.Array]]], list[tuple[str, pa.Array]]] | None = None) -> pa.RecordBatch:
    batch = plan.to_batch()
    cols = list(zip(batch.schema.names, batch.columns))
    if columns is not None:
        cols = columns(cols)
    meta = batch.schema.metadata if metadata is None else metadata
    return pa.RecordBatch.from_arrays([c for _, c in cols], schema=pa.schema(
        [pa.field(n, c.type) for n, c in cols], metadata=meta))


def _each(f: Callable[[str, pa.Array], pa.Array]) -> Callable[[list[tuple[str, pa.Array]]], list[tuple[str, pa.Array]]]:
    return lambda cols: [(n, f(n, c)) for n, c in cols]


BATCH_CASES: dict[str, Callable[[Plan], pa.RecordBatch]] = {
    "no metadata": lambda p: _batch(p, metadata={}),
    "version 2": lambda p: _batch(p, metadata={b"infera.plan_version": b"2"}),
    "two rows": lambda p: _batch(p, columns=_each(lambda n, c: pa.concat_arrays([c, c]))),
    "zero rows": lambda p: _batch(p, columns=_each(lambda n, c: c.slice(0, 0))),
    "null table": lambda p: _batch(p, columns=_each(
        lambda n, c: pa.nulls(1, c.type) if n == "chips" else c)),
    "table that is not a list": lambda p: _batch(p, columns=_each(
        lambda n, c: pa.array([1], pa.int32()) if n == "models" else c)),
    "list of ints": lambda p: _batch(p, columns=_each(
        lambda n, c: pa.array([[1, 2]], pa.list_(pa.int32())) if n == "pools" else c)),
    "no tables": lambda p: pa.RecordBatch.from_pydict({"x": [1]}, metadata={b"infera.plan_version": b"1"}),
}


@pytest.mark.parametrize("name", list(BATCH_CASES))
def test_malformed_batch_is_a_plan_error(plan: Plan, name: str) -> None:
    batch = BATCH_CASES[name](plan)
    with pytest.raises(infera.PlanError):
        _core.validate_plan(batch)
    with pytest.raises(infera.PlanError):
        _core.simulate(batch)


def test_large_list_tables_are_accepted(plan: Plan) -> None:
    batch = _batch(plan, columns=_each(lambda n, c: c.cast(pa.large_list(c.type.value_type))))
    _core.validate_plan(batch)
    _core.simulate(batch)


@pytest.mark.parametrize("content", [b"", b"not an arrow file", b"ARROW1\x00\x00" + bytes(64)])
def test_damaged_plan_file_is_a_plan_error(plan: Plan, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "plan.arrow"
    path.write_bytes(content)
    with pytest.raises(infera.PlanError):
        infera.simulate(path)
    with pytest.raises(infera.PlanError):
        _core.simulate_file(str(path))


# ----------------------------------------------------------------------------------------------------------
# Drawn malformations

VALUES = [None, float("nan"), float("inf"), -float("inf"), -1, 0, 0.5, 1, 2**31, 2**32 - 1, 2**32, 1e300, "", "x",
          "tensor", "decode", True, False]


@st.composite
def malformed(draw: st.DrawFn, plan: Plan) -> tuple[str, str, int, object]:
    table = draw(st.sampled_from(sorted(t for t, v in plan.tables.items() if v.num_rows and v.num_columns)))
    col = draw(st.sampled_from(plan.tables[table].schema.names))
    row = draw(st.integers(0, plan.tables[table].num_rows - 1))
    return table, col, row, draw(st.sampled_from(VALUES))


def _typed(value: object) -> pa.DataType | None:
    """The type a column needs to hold ``value`` (None: a null fits any type)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, str):
        return pa.string()
    if isinstance(value, int) and value < 2**63:
        return pa.int64()
    return pa.float64()


@settings(max_examples=RANDOM, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_drawn_malformations_simulate_or_raise_plan_errors(plan: Plan, data: st.DataObject) -> None:
    table, col, row, value = data.draw(malformed(plan))
    old = plan.tables[table].column(col).to_pylist()
    typ = _typed(value) or plan.tables[table].schema.field(col).type
    if typ != plan.tables[table].schema.field(col).type and value is not None:
        # A column of another type: every other value is replaced by the same value too, so it is one type.
        values = [value] * len(old)
    else:
        values = old
        values[row] = value
    bad = set_column(plan, table, col, pa.array(values, type=typ))
    try:
        infera.simulate(bad)
    except infera.PlanError:
        pass
