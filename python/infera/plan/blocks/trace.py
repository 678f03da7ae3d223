"""``trace = "file"`` in a ``traffic`` block: requests replayed from a file, resolved next to the program, with
the options that choose the format and what of the trace is replayed (docs/traces.md)."""

from __future__ import annotations

from pathlib import Path

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import traffic as traffic_mod
from infera.plan.fields import Fields, as_quantity, describe


def compile_trace(where: str, f: Fields, block: ast.TrafficBlock) -> traffic_mod.TrafficSpec:
    """``trace = "file.csv"``: requests replayed from a file (CSV, Parquet, JSONL, Mooncake)."""
    ta = f.require("trace")
    if not isinstance(ta.value, ast.String):
        raise CompileError(f"{where}: trace must be a quoted file name", ta.value.loc)
    fmt = f.choice("format", traffic_mod.TRACE_FORMATS)
    scale = f.quantity("time_scale", ("number",), 1.0)
    assert scale is not None
    window = _window(where, f)
    sa = f.take("sample")
    sample = None
    if sa is not None:
        sample = as_quantity(sa.value, ("number",), f"{where}: field 'sample'")
        if sample > 1:
            raise CompileError(f"{where}: sample is the fraction of the requests kept, at most 1 (100 %), got "
                               f"{sample:g}", sa.value.loc)
    seed = f.integer("sample_seed", 0, minimum=0)
    requests = f.integer("requests")
    duration = f.quantity("duration", ("time",))
    sort = f.boolean("sort", False)
    for key in ("arrivals", "prompt", "output"):
        if f.has(key):
            raise CompileError(f"{where}: a trace gives arrivals and lengths itself; remove '{key}'",
                               f.values[key].loc)
    f.done()
    path = Path(ta.value.value)
    if not path.is_absolute() and not block.loc.file.startswith("<"):
        path = Path(block.loc.file).resolve().parent / path
    try:
        stream = traffic_mod.load_trace(path, format=fmt, time_scale=scale, window=window, sample=sample,
                                        sample_seed=seed or 0, requests=requests, duration_s=duration, sort=sort)
    except traffic_mod.TraceError as exc:
        raise CompileError(f"{where}: {exc}", ta.value.loc) from None
    return traffic_mod.TrafficSpec(block.name, "trace", block.loc, requests=len(stream.arrival_s), duration_s=duration,
                                   trace=stream)


def _window(where: str, f: Fields) -> tuple[float | None, float | None] | None:
    """``window = [start, end]`` or ``start = T`` / ``end = T``: the stretch of trace time replayed."""
    start: float | None
    end: float | None
    wa = f.take("window")
    start_a, end_a = f.take("start"), f.take("end")
    if wa is not None:
        if start_a is not None or end_a is not None:
            extra = start_a or end_a
            assert extra is not None
            raise CompileError(f"{where}: give window = [start, end] or start/end, not both", extra.loc)
        v = wa.value
        if not isinstance(v, ast.ListValue) or len(v.items) != 2:
            raise CompileError(f"{where}: window must be [start, end], two times, got {describe(v)}", v.loc)
        start = as_quantity(v.items[0], ("time",), f"{where}: window start", positive=False)
        end = as_quantity(v.items[1], ("time",), f"{where}: window end", positive=False)
        loc = v.loc
    elif start_a is not None or end_a is not None:
        start = as_quantity(start_a.value, ("time",), f"{where}: field 'start'", positive=False) if start_a else None
        end = as_quantity(end_a.value, ("time",), f"{where}: field 'end'", positive=False) if end_a else None
        loc = (end_a or start_a).loc  # type: ignore[union-attr]
    else:
        return None
    if start is not None and end is not None and end <= start:
        raise CompileError(f"{where}: the window ends ({end:g} s) before it starts ({start:g} s)", loc)
    return start, end
