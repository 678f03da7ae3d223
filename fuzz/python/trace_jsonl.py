"""Fuzz target: JSONL and Mooncake traces through ``load_trace`` and a program's ``trace = "..."``.

The first byte of an input chooses how it is read (bit 0: ``format = mooncake`` rather than the ``.jsonl``
suffix's own choice; bit 1: ``sort``; bits 2-4: a window, a sample and a request cap taken from the next
bytes); the rest is the file. The file goes to :func:`infera.plan.traffic.load_trace`; when that accepts
it, the stream's prefix segments must be consistent with its prompts, and a program replaying the file with
the same options (at most 200 requests) is compiled, checked and, when small, simulated.

Contract: ``load_trace`` raises only ``TraceError`` naming the file (and a line from 1 on); an accepted
stream's prefix offsets run from 0 to its segment count, every segment holds 1 to 512 tokens, a prompt's
segments hold no more than the prompt, and every chained id is non-zero; the program compiles (or fails one
of the compiler's located checks), passes ``infera.check`` and simulates.

    python fuzz/run.py trace_jsonl --seconds 30
    mkdir -p fuzz/work/trace_jsonl
    python fuzz/python/trace_jsonl.py -max_total_time=30 -timeout=20 fuzz/work/trace_jsonl fuzz/corpus/trace_jsonl
"""

import harness
import infera
import numpy as np
from infera.plan.traffic import TraceError, load_trace

PROGRAM = """
model tiny { layers = 2, hidden = 256, heads = 4, kv_heads = 2, head_dim = 64, intermediate = 512, vocab = 1000 }
chip toy { bf16 = 100 TFLOPS, memory = 1 GB, memory_bandwidth = 1 TB/s, link_bandwidth = 100 GB/s
           link_latency = 1 us }
traffic tr { trace = "PATH"FIELDS }
system s { pool p: 2 x toy }
run r { model = tiny, traffic = tr, system = s }
"""

FILE = "<trace_jsonl fuzz>"


def options_of(flags: int, body: bytes) -> tuple[dict, str, bytes]:
    """The ``load_trace`` options a flag byte asks for, the same as program fields, and the rest of the input."""
    kwargs: dict = {"requests": 200}
    fields = ""
    if flags & 1:
        kwargs["format"], fields = "mooncake", fields + ", format = mooncake"
    if flags & 2:
        kwargs["sort"], fields = True, fields + ", sort = true"
    if flags & 4 and len(body) >= 2:
        start, end = body[0] / 4, body[0] / 4 + (1 + body[1]) / 4
        kwargs["window"], fields = (start, end), fields + f", window = [{start!r} s, {end!r} s]"
        body = body[2:]
    if flags & 8 and body:
        kwargs["sample"], fields = (1 + body[0]) / 256, fields + f", sample = {(1 + body[0]) / 256!r}"
        body = body[1:]
    if flags & 16 and body:
        kwargs["requests"] = 1 + body[0]
        body = body[1:]
    return kwargs, fields + f", requests = {kwargs['requests']}", body


def check_prefixes(stream: infera.plan.traffic.Stream) -> None:
    if stream.prefix_offsets is None:
        assert stream.prefix_ids is None and stream.prefix_tokens is None
        return
    offsets, ids, tokens = stream.prefix_offsets, stream.prefix_ids, stream.prefix_tokens
    assert ids is not None and tokens is not None
    n = len(stream.arrival_s)
    assert len(offsets) == n + 1 and offsets[0] == 0 and offsets[-1] == len(ids) == len(tokens)
    assert (np.diff(offsets) >= 0).all() and (ids != 0).all()
    assert ((tokens >= 1) & (tokens <= 512)).all()
    # Each prompt's segments hold at most the prompt (sums per request through the cumulative token count).
    total = np.concatenate([[0], np.cumsum(tokens, dtype=np.int64)])
    assert (total[offsets[1:]] - total[offsets[:-1]] <= stream.prompt_tokens).all()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    kwargs, fields, body = options_of(data[0], data[1:])
    path = harness.SCRATCH / "trace.jsonl"
    path.write_bytes(body)
    try:
        stream = load_trace(path, **kwargs)
    except TraceError as err:
        harness.located_file_error(err, path)
        return
    check_prefixes(stream)
    text = PROGRAM.replace("PATH", str(path)).replace("FIELDS", fields)
    try:
        plan = infera.compile_text(text, file=FILE)
    except infera.CompileError as err:  # the program's own checks, e.g. a request too long for the chip
        harness.located_compile_error(err, FILE, text.count("\n") + 1)
        return
    assert plan.tables["requests"].num_rows == len(stream.arrival_s), "the program replays other requests"
    harness.check_and_simulate(plan)


if __name__ == "__main__":
    harness.main(test_one_input)
