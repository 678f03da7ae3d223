"""What every atheris target shares: infera imported under coverage instrumentation, the contract each input is
held to, and the bounds that keep one input from simulating for long.

A target is one file beside this one that defines ``test_one_input(data: bytes)`` and ends with
``harness.main(test_one_input)``. Its input either passes, or raises one of infera's own errors with the
location the input has; anything else escaping (a raw Python exception, an ``AssertionError`` from these
checks) is a finding, and libFuzzer's ``-timeout`` and ``-rss_limit_mb`` catch hangs and memory blow-ups.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

import atheris

with atheris.instrument_imports(include=["infera"]):
    import infera

    # Modules infera imports lazily (the CLI's commands, the capacity search) are imported here so that
    # they are instrumented too.
    for _module in pkgutil.walk_packages(infera.__path__, "infera."):
        importlib.import_module(_module.name)

from infera.dsl import ast  # noqa: E402
from infera.exceptions import FileError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

#: Plans with more requests or instances than these are checked but not simulated.
SIMULATE_MAX_REQUESTS = 200
SIMULATE_MAX_INSTANCES = 64
#: ... and so are plans whose requests hold more tokens than this in all (each output token is a step).
SIMULATE_MAX_TOKENS = 100_000
#: Programs whose traffic may sample more requests than this are only parsed, not compiled.
COMPILE_MAX_REQUESTS = 20_000

#: A scratch folder for the files a target writes (traces, profiles, plans) and the outputs it asks for.
SCRATCH = Path(tempfile.mkdtemp(prefix="infera-fuzz-"))


def located_syntax_error(err: infera.InferaSyntaxError, lines: int) -> None:
    """A syntax error names a line of the text and a column on it."""
    assert 1 <= err.line <= lines, f"syntax error on line {err.line} of a {lines}-line text: {err}"
    assert err.column >= 1, f"syntax error in column {err.column}: {err}"
    str(err)


def located_compile_error(err: infera.CompileError, file: str, lines: int) -> None:
    """A compile error has a location, inside the text when it is in the text's file."""
    assert err.loc is not None, f"compile error without a location: {err.reason}"
    assert err.loc.line >= 1 and err.loc.column >= 1, f"compile error at {err.loc}: {err}"
    if err.loc.file == file:
        assert err.loc.line <= lines, f"compile error on line {err.loc.line} of a {lines}-line text: {err}"
    str(err)


def located_file_error(err: FileError, path: Path) -> None:
    """A file error names the file it is about (and a line of it, when it gives one, from 1 on)."""
    assert err.path == str(path), f"file error about {err.path!r}, not {str(path)!r}: {err}"
    assert err.line is None or err.line >= 1, f"file error on line {err.line}: {err}"
    str(err)


def _quantities(node: object, key: str | None = None):
    if isinstance(node, ast.Quantity):
        yield key, node
    elif isinstance(node, ast.Assign):
        yield from _quantities(node.value, node.key)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _quantities(item, key)
    elif isinstance(node, (ast.Block, ast.SubBlock)):
        yield from _quantities(list(node.items))
    elif isinstance(node, ast.Call):
        yield from _quantities(list(node.args), key)
        yield from _quantities(list(node.kwargs))
    elif isinstance(node, ast.ListValue):
        yield from _quantities(list(node.items), key)


def may_sample(program: ast.Program) -> float:
    """A generous bound on the requests a program's traffic blocks may sample: the largest ``requests``
    anywhere in them, or the largest rate times the longest duration."""
    found = [kq for b in program.blocks if isinstance(b, ast.TrafficBlock) for kq in _quantities(list(b.items))]
    counts = [abs(q.value) for k, q in found if k == "requests"]
    rates = [abs(q.value) for _, q in found if q.dim == "rate"]
    times = [abs(q.value) for _, q in found if q.dim == "time"]
    bound = max(max(counts, default=0.0), max(rates, default=0.0) * max(times, default=0.0))
    return bound if bound == bound else float("inf")  # NaN (inf * 0) bounds nothing


def small(plan: infera.Plan) -> bool:
    """Whether simulating the plan is quick: few requests, instances and tokens."""
    requests = plan.tables["requests"]
    tokens = sum(requests.column("prompt_tokens").to_pylist()) + sum(requests.column("output_tokens").to_pylist())
    instances = sum(plan.tables["pools"].column("instances").to_pylist())
    return (requests.num_rows <= SIMULATE_MAX_REQUESTS and instances <= SIMULATE_MAX_INSTANCES
            and tokens <= SIMULATE_MAX_TOKENS)


def check_and_simulate(plan: infera.Plan) -> None:
    """A plan the compiler made must pass the core's checks and, when small, simulate: no error is allowed."""
    infera.check(plan)
    if small(plan):
        results = infera.simulate(plan)
        results.summary


def main(test_one_input: Callable[[bytes], None]) -> None:
    """Hands the target to libFuzzer with the command line's options (corpus folders, -max_total_time, ...)."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
