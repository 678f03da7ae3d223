"""Fuzz target: `.infera` text through parse, compile, the core's checks and (for small plans) a simulation.

Text that is UTF-8 goes to ``infera.compile_text``; other bytes are written to a file and go to
``infera.compile_file``, whose reader must turn them into a located syntax error. The program is compiled as
if it were ``examples/fuzz.infera``, so relative ``trace`` and ``profile`` paths resolve beside the examples.
Programs whose traffic may sample more than ``COMPILE_MAX_REQUESTS`` requests are only parsed.

Contract: only ``InferaSyntaxError`` (line and column inside the text) or ``CompileError`` (with a location)
come out; a compiled plan passes ``infera.check`` and simulates.

    python fuzz/run.py dsl --seconds 30
    mkdir -p fuzz/work/dsl
    python fuzz/python/dsl.py -max_total_time=30 -timeout=20 fuzz/work/dsl fuzz/corpus/dsl
"""

import harness
import infera

FILE = str(harness.ROOT / "examples" / "fuzz.infera")
NOT_UTF8 = harness.SCRATCH / "not_utf8.infera"


def test_one_input(data: bytes) -> None:
    lines = data.count(b"\n") + 1
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        NOT_UTF8.write_bytes(data)
        try:
            infera.compile_file(NOT_UTF8)
        except infera.InferaSyntaxError as err:
            harness.located_syntax_error(err, lines)
            return
        raise AssertionError("bytes that are not UTF-8 compiled")
    try:
        program = infera.parse(text, file=FILE)
    except infera.InferaSyntaxError as err:
        harness.located_syntax_error(err, lines)
        return
    if harness.may_sample(program) > harness.COMPILE_MAX_REQUESTS:
        return
    try:
        plan = infera.compile_text(text, file=FILE)
    except infera.CompileError as err:
        harness.located_compile_error(err, FILE, lines)
        return
    harness.check_and_simulate(plan)


if __name__ == "__main__":
    harness.main(test_one_input)
