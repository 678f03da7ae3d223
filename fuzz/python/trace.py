"""Fuzz target: request traces (CSV and Parquet) through ``load_trace`` and a program's ``trace = "..."``.

The first byte of an input chooses how it is read (bit 0: Parquet rather than CSV; bits 1-3: a request cap,
a duration and a time scale taken from the next bytes; bit 4: sort; bits 5-6: a window and a sample from the
next bytes, bit 7 the sample's seed); the rest is the file. The file goes to
:func:`infera.plan.traffic.load_trace`; when that accepts it, a program replaying it (at most 200 requests, with
the same sort, window and sample) is compiled, checked and, when small, simulated.

Contract: ``load_trace`` raises only ``TraceError`` naming the file (and a row from 2 on, the header being
row 1); the program compiles (or fails one of the compiler's located checks, such as a request too long
for the chip), passes ``infera.check`` and simulates.

    python fuzz/run.py trace --seconds 30
    mkdir -p fuzz/work/trace
    python fuzz/python/trace.py -max_total_time=30 -timeout=20 fuzz/work/trace fuzz/corpus/trace
"""

import harness
import infera
from infera.plan.traffic import TraceError, load_trace

PROGRAM = """
model tiny { layers = 2, hidden = 256, heads = 4, kv_heads = 2, head_dim = 64, intermediate = 512, vocab = 1000 }
chip toy { bf16 = 100 TFLOPS, memory = 1 GB, memory_bandwidth = 1 TB/s, link_bandwidth = 100 GB/s
           link_latency = 1 us }
traffic tr { trace = "PATH", requests = 200FIELDS }
system s { pool p: 2 x toy }
run r { model = tiny, traffic = tr, system = s }
"""


FILE = "<trace fuzz>"


def test_one_input(data: bytes) -> None:
    if not data:
        return
    flags, body = data[0], data[1:]
    options = {}
    if flags & 2 and body:
        options["requests"], body = 1 + body[0], body[1:]
    if flags & 4 and body:
        options["duration_s"], body = body[0] / 8, body[1:]
    if flags & 8 and body:
        options["time_scale"], body = (1 + body[0]) / 64, body[1:]
    # The options of issue 12, which the program below replays the file with too.
    fields = ""
    if flags & 16:
        options["sort"], fields = True, ", sort = true"
    if flags & 32 and len(body) >= 2:
        start, end = body[0] / 4, body[0] / 4 + (1 + body[1]) / 4
        options["window"], body = (start, end), body[2:]
        fields += f", window = [{start!r} s, {end!r} s]"
    if flags & 64 and body:
        options["sample"], options["sample_seed"], body = (1 + body[0]) / 256, flags >> 7, body[1:]
        fields += f", sample = {options['sample']!r}, sample_seed = {flags >> 7}"
    path = harness.SCRATCH / ("trace.parquet" if flags & 1 else "trace.csv")
    path.write_bytes(body)
    try:
        load_trace(path, **options)
    except TraceError as err:
        harness.located_file_error(err, path)
        assert err.line is None or err.line >= 2, f"trace error on row {err.line}: {err}"
        return
    try:
        plan = infera.compile_text(PROGRAM.replace("PATH", str(path)).replace("FIELDS", fields), file=FILE)
    except infera.CompileError as err:  # the program's own checks, e.g. a request too long for the chip
        harness.located_compile_error(err, FILE, PROGRAM.count("\n") + 1)
        return
    harness.check_and_simulate(plan)


if __name__ == "__main__":
    harness.main(test_one_input)
