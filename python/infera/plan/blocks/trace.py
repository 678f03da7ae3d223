"""``trace = "file"`` in a ``traffic`` block: requests replayed from a file, resolved next to the program."""

from __future__ import annotations

from pathlib import Path

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import traffic as traffic_mod
from infera.plan.fields import Fields


def compile_trace(where: str, f: Fields, block: ast.TrafficBlock) -> traffic_mod.TrafficSpec:
    """``trace = "file.csv"``: requests replayed from a file (CSV or Parquet), resolved next to the program."""
    ta = f.require("trace")
    if not isinstance(ta.value, ast.String):
        raise CompileError(f"{where}: trace must be a quoted file name", ta.value.loc)
    scale = f.quantity("time_scale", ("number",), 1.0)
    requests = f.integer("requests")
    duration = f.quantity("duration", ("time",))
    for key in ("arrivals", "prompt", "output"):
        if f.has(key):
            raise CompileError(f"{where}: a trace gives arrivals and lengths itself; remove '{key}'",
                               f.values[key].loc)
    f.done()
    path = Path(ta.value.value)
    if not path.is_absolute() and not block.loc.file.startswith("<"):
        path = Path(block.loc.file).resolve().parent / path
    try:
        stream = traffic_mod.load_trace(path, time_scale=scale, requests=requests, duration_s=duration)
    except traffic_mod.TraceError as exc:
        raise CompileError(f"{where}: {exc}", ta.value.loc) from None
    return traffic_mod.TrafficSpec(block.name, "trace", block.loc, requests=len(stream.arrival_s), duration_s=duration,
                                   trace=stream)
