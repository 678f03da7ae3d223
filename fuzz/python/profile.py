"""Fuzz target: calibration files through ``load_profile``, ``infera.calibrate`` and a chip's ``profile``.

An input is a CSV file. :func:`infera.calibrate` reduces it as measurements and writes the profile it makes;
that profile must load again. When :func:`~infera.calibrate.load_profile` accepts the input itself, a chip
using it is compiled into a small program (12 requests), checked and simulated.

Contract: only ``ProfileError`` naming the file (and a line from 1 on) comes out of reading; what
``calibrate`` writes loads back; the program compiles (or fails a located check of the compiler), passes
``infera.check`` and simulates.

    python fuzz/run.py profile --seconds 30
    mkdir -p fuzz/work/profile
    python fuzz/python/profile.py -max_total_time=30 -timeout=20 fuzz/work/profile fuzz/corpus/profile
"""

import harness
import infera
from infera.calibrate import ProfileError, load_profile

PROGRAM = """
model tiny { layers = 2, hidden = 256, heads = 4, kv_heads = 2, head_dim = 64, intermediate = 512, vocab = 1000 }
chip toy { bf16 = 100 TFLOPS, memory = 1 GB, memory_bandwidth = 1 TB/s, link_bandwidth = 100 GB/s
           link_latency = 1 us, profile = "PATH" }
traffic t { arrivals = poisson(50 /s), prompt = uniform(min = 1, max = 300), output = uniform(min = 1, max = 20)
            requests = 12 }
system s { pool p: 1 x toy, tp = 1 }
system two { pool p: 2 x toy, tp = 2 }
run r { model = tiny, traffic = t, systems = [s, two] }
"""

FILE = "<profile fuzz>"
MEASURED = harness.SCRATCH / "measured.csv"
MADE = harness.SCRATCH / "made.csv"


def test_one_input(data: bytes) -> None:
    MEASURED.write_bytes(data)
    try:
        infera.calibrate(MEASURED, MADE)
    except ProfileError as err:
        harness.located_file_error(err, MEASURED)
    else:
        load_profile(MADE)
    try:
        load_profile(MEASURED)
    except ProfileError as err:
        harness.located_file_error(err, MEASURED)
        return
    try:
        plan = infera.compile_text(PROGRAM.replace("PATH", str(MEASURED)), file=FILE)
    except infera.CompileError as err:
        harness.located_compile_error(err, FILE, PROGRAM.count("\n") + 1)
        return
    harness.check_and_simulate(plan)


if __name__ == "__main__":
    harness.main(test_one_input)
