"""Malformed Arrow arrays at the binding: plan batches whose string columns claim more data than their buffers
hold (an offset past the values, offsets that run backwards, bytes that are not UTF-8) are a ``PlanError``
naming the table and column, never a crash or pyarrow's own exception.

pyarrow's ``Array.from_buffers`` checks only that buffers are long enough for the array's length and that the
last offset fits, so these arrays reach the binding as they are; the binding must validate every column in
full before the core reads it. The cases run in a child interpreter (this file run as a script), so that a
crash fails the test instead of killing pytest.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pyarrow as pa

import infera
from infera import _core
from infera.exceptions import PlanError

PROGRAM = """
model m { layers = 2, hidden = 256, heads = 4, kv_heads = 2, head_dim = 64, intermediate = 512, vocab = 1000 }
chip c { bf16 = 100 TFLOPS, vector = 10 TFLOPS, memory = 1 GB, memory_bandwidth = 1 TB/s }
traffic t { arrivals = poisson(20 /s), prompt = 200 tokens, output = 20 tokens, requests = 5 }
system s { pool p: 2 x c }
run r { model = m, traffic = t, system = s }
"""


def strings(offsets: list[int], data: bytes) -> pa.Array:
    """A string array of ``len(offsets) - 1`` values made from raw buffers, unvalidated beyond what pyarrow checks."""
    return pa.Array.from_buffers(pa.utf8(), len(offsets) - 1,
                                 [None, pa.py_buffer(struct.pack(f"<{len(offsets)}i", *offsets)), pa.py_buffer(data)])


def with_column(batch: pa.RecordBatch, table: str, column: str, values: Callable[[int], pa.Array]) -> pa.RecordBatch:
    """``batch`` with one column of one table replaced by ``values(rows)``, packed as the plan packs tables."""
    i = batch.schema.get_field_index(table)
    rows = batch.column(i).values
    fields = list(rows.type)
    arrays = [values(len(rows)) if f.name == column else rows.field(f.name) for f in fields]
    table_rows = pa.StructArray.from_arrays(arrays, fields=fields)
    packed = pa.ListArray.from_arrays(pa.array([0, len(table_rows)], pa.int32()), table_rows)
    columns = [packed if j == i else batch.column(j) for j in range(batch.num_columns)]
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


# Each case: the table and string column replaced, and the array that replaces it (given the table's rows; the
# first two tables have several).
CASES: dict[str, tuple[str, str, Callable[[int], pa.Array]]] = {
    # The first value claims 100 bytes of a 2-byte buffer; the last offset, all pyarrow checks, fits.
    "offset past the values": ("operators", "name", lambda n: strings([0, 100] + [2] * (n - 1), b"ab")),
    "offsets running backwards": ("engines", "kind", lambda n: strings([0, 5] + [2] * (n - 1), b"abcde")),
    "bytes that are not UTF-8": ("chips", "name", lambda n: strings([0] + [2] * n, b"\xff\xfe")),
}


def report() -> None:
    """Runs every case through ``validate_plan`` and ``simulate``; prints what each raised, as JSON."""
    batch = infera.compile_text(PROGRAM).to_batch()
    out = {}
    for name, (table, column, values) in CASES.items():
        bad = with_column(batch, table, column, values)
        assert bad.column(bad.schema.get_field_index(table)).values.field(column).null_count == 0
        for call in (_core.validate_plan, _core.simulate):
            try:
                call(bad)
                raised = {"class": None}
            except Exception as exc:  # noqa: BLE001 - every exception is reported and judged by the test
                raised = {"class": type(exc).__name__, "plan_error": isinstance(exc, PlanError),
                          "table": getattr(exc, "table", None), "column": getattr(exc, "column", None),
                          "message": str(exc)}
            out[f"{name} / {call.__name__}"] = raised
    print(json.dumps(out))


def test_malformed_string_arrays_are_plan_errors_not_crashes() -> None:
    here = Path(__file__).resolve()
    package_root = str(Path(infera.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, str(here.parent.parent)])}
    done = subprocess.run([sys.executable, str(here)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"the child interpreter died ({done.returncode}): {done.stderr}"
    results = json.loads(done.stdout)
    assert len(results) == 2 * len(CASES)
    for case, raised in results.items():
        table, column, _ = CASES[case.split(" / ")[0]]
        assert raised["plan_error"], f"{case}: {raised}"
        assert (raised["table"], raised["column"]) == (table, column), f"{case}: {raised}"
        assert "not valid Arrow data" in raised["message"], f"{case}: {raised}"


def test_a_well_formed_batch_still_passes() -> None:
    batch = infera.compile_text(PROGRAM).to_batch()
    _core.validate_plan(with_column(batch, "chips", "name", lambda n: pa.array([f"c{i}" for i in range(n)])))


if __name__ == "__main__":
    report()
