"""The PyO3 boundary with malformed Arrow arrays: a plan batch whose arrays claim more data than they hold must
be refused with ``PlanError`` by ``infera._core.validate_plan`` and ``infera._core.simulate``, never read.

pyarrow validates the arrays it builds, so the malformed ones are made where pyarrow cannot look: an object
with ``__arrow_c_array__`` exports a valid plan batch through the Arrow C data interface, then raises a
length or an offset in the exported ``ArrowArray`` structs (a column of a table, or a table's list) past the
buffers behind them. Each case runs in a child process, since an unchecked import reads out of bounds and
may kill the process.

What no importer can check: the binding validates every imported column in full (``validate_full``,
``rust/python/src/plan_batch.rs``), which catches offsets and UTF-8 that contradict the data
(``test_malformed_arrow.py``), but the C data interface carries no buffer sizes, so an exporter that claims
a longer array than its buffers hold cannot be detected: the importer takes the sizes from the claim. These
cases document that limit and are ``xfail(strict=True)``: pyarrow never exports such arrays (it validates
what it builds), and if a way to detect them appears, the strict marker turns their passing into a failure
so the marker is removed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import ROOT

CHILD = r'''
import ctypes, sys
import infera
from infera import _core
from helpers import program


class ArrowArray(ctypes.Structure):
    pass


ArrowArray._fields_ = [
    ("length", ctypes.c_int64), ("null_count", ctypes.c_int64), ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64), ("n_children", ctypes.c_int64), ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowArray))), ("dictionary", ctypes.POINTER(ArrowArray)),
    ("release", ctypes.c_void_p), ("private_data", ctypes.c_void_p),
]
capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
capsule_pointer.restype = ctypes.c_void_p
capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]

table, column, field, value = sys.argv[1], sys.argv[2] or None, sys.argv[3], int(sys.argv[4])
batch = infera.compile_text(program(
    "traffic t { arrivals = burst, prompt = 10 tokens, output = 2 tokens, requests = 3 }\n"
    "system s { pool p: 1 x toy }\nrun r { model = tiny, traffic = t, system = s }\n")).to_batch()


class Tampered:
    """A plan batch exported through the C data interface with one length or offset raised."""

    def __arrow_c_array__(self, requested_schema=None):
        schema, array = batch.__arrow_c_array__()
        root = ArrowArray.from_address(capsule_pointer(array, b"arrow_array"))
        t = batch.schema.get_field_index(table)
        node = root.children[t].contents
        if column is not None:
            c = batch.schema.field(t).type.value_type.get_field_index(column)
            node = node.children[0].contents.children[c].contents
        setattr(node, field, value)
        return schema, array


for call in (_core.validate_plan, _core.simulate):
    try:
        call(Tampered())
    except infera.PlanError:
        print(call.__name__, "PlanError")
    else:
        print(call.__name__, "accepted")
'''

#: (table, column or "" for the table's list array, ArrowArray field, value)
CASES = {
    "f64_column_longer_than_its_buffer": ("requests", "arrival_s", "length", 1 << 40),
    "f64_column_offset_past_its_buffer": ("requests", "arrival_s", "offset", 1 << 40),
    "u32_column_offset_past_its_buffer": ("pools", "chip", "offset", 1 << 30),
    "utf8_column_longer_than_its_offsets": ("chips", "name", "length", 1 << 30),
    "table_list_longer_than_its_offsets": ("requests", "", "length", 1 << 30),
    "table_list_offset_past_its_offsets": ("requests", "", "offset", 1 << 30),
}


def run_child(table: str, column: str, field: str, value: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, table, column, field, str(value)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT / "tests")


def test_the_export_left_as_it_is_is_accepted() -> None:
    # The same route with the offset written back unchanged: what the cases below alter is all that differs.
    proc = run_child("requests", "arrival_s", "offset", 0)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:2] == ["validate_plan accepted", "simulate accepted"], proc.stdout


@pytest.mark.xfail(strict=True, reason="the C data interface carries no buffer sizes: an exporter's false "
                                       "length or offset cannot be detected by the importer")
@pytest.mark.parametrize("case", CASES)
def test_arrays_that_claim_more_than_they_hold_are_plan_errors(case: str) -> None:
    table, column, field, value = CASES[case]
    proc = run_child(table, column, field, value)
    assert proc.returncode == 0, f"the child died with status {proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stdout.split("\n")[:2] == ["validate_plan PlanError", "simulate PlanError"], proc.stdout
