"""``prompt = ...`` and ``output = ...`` of a traffic block or class → a length distribution
(:mod:`infera.plan.traffic.lengths`): one reader per kind and one line in :data:`READERS`."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from infera.dsl import ast
from infera.exceptions import CompileError, FileError
from infera.files import input_path, parquet_frame
from infera.plan.fields import Fields, as_integer, as_quantity, describe
from infera.plan.specs import MAX_TOKENS
from infera.plan.traffic import lengths as L

Reader = Callable[[ast.Call, Fields, str], L.LengthDist]

#: Most values a bounded zipf may range over (its cumulative weights are held in memory).
MAX_ZIPF_RANGE = 10_000_000


def length_dist(v: ast.Value, what: str) -> L.LengthDist:
    d = _read(v, what)
    if d.max < d.min:
        raise CompileError(f"{what}: max ({d.max:g}) is below min ({d.min:g})", v.loc)
    for x in (d.value, d.min, d.max):
        if math.isfinite(x) and x > MAX_TOKENS:
            raise CompileError(f"{what}: at most {MAX_TOKENS:_} tokens per request, got {x:_.0f}", v.loc)
    return d


def _read(v: ast.Value, what: str) -> L.LengthDist:
    if isinstance(v, ast.Quantity):
        return L.LengthDist("fixed", value=as_integer(v, what))
    if isinstance(v, ast.Call) and v.func in READERS:
        if v.args and v.func not in POSITIONAL:
            raise CompileError(f"{what}: {v.func}() takes named arguments only", v.loc)
        f = Fields(f"{what} {v.func}()", v.kwargs, v.loc)
        d = READERS[v.func](v, f, what)
        f.done()
        return d
    raise CompileError(f"{what} must be a token count (e.g. 512 tokens) or lognormal(...)/uniform(...) (or "
                       f"{', '.join(k + '(...)' for k in READERS if k not in ('lognormal', 'uniform'))}), "
                       f"got {describe(v)}", v.loc)


def _bounds(f: Fields) -> tuple[int, float]:
    lo = f.integer("min", 1)
    hi = f.integer("max", None)
    return lo, math.inf if hi is None else float(hi)


def fixed(v: ast.Call, f: Fields, what: str) -> L.LengthDist:
    return L.LengthDist("fixed", value=f.integer("value", required=True))


def uniform(v: ast.Call, f: Fields, what: str) -> L.LengthDist:
    lo, hi = _bounds(f)
    if not math.isfinite(hi):
        raise CompileError(f"{what}: uniform() needs max", v.loc)
    return L.LengthDist("uniform", min=lo, max=hi)


def lognormal(v: ast.Call, f: Fields, what: str) -> L.LengthDist:
    lo, hi = _bounds(f)
    med = f.quantity("median", ("tokens", "number"), required=True)
    sigma = f.quantity("sigma", ("number",), required=True, positive=False)
    return L.LengthDist("lognormal", median=med, sigma=sigma, min=lo, max=hi)


def normal(v: ast.Call, f: Fields, what: str) -> L.LengthDist:
    lo, hi = _bounds(f)
    mean = f.quantity("mean", ("tokens", "number"), required=True)
    sd = f.quantity("sd", ("tokens", "number"), required=True, positive=False)
    return L.Normal("normal", min=lo, max=hi, mean=mean, sd=sd)


def zipf(v: ast.Call, f: Fields, what: str) -> L.LengthDist:
    lo, hi = _bounds(f)
    s = f.quantity("s", ("number",), required=True)
    if not math.isfinite(hi):
        raise CompileError(f"{what}: zipf() needs max (it is drawn over min..max)", v.loc)
    if hi - lo + 1 > MAX_ZIPF_RANGE:
        raise CompileError(f"{what}: zipf() ranges over at most {MAX_ZIPF_RANGE:_} values, got {hi - lo + 1:_.0f}",
                           v.loc)
    return L.Zipf("zipf", min=lo, max=hi, s=s)


def mixture(v: ast.Call, f: Fields, what: str) -> L.LengthDist:
    lo, hi = _bounds(f)
    wa, pa = f.require("weights"), f.require("of")
    if not isinstance(wa.value, ast.ListValue) or not wa.value.items:
        raise CompileError(f"{what}: mixture() weights must be a list, e.g. [0.7, 0.3]", wa.value.loc)
    if not isinstance(pa.value, ast.ListValue) or len(pa.value.items) != len(wa.value.items):
        raise CompileError(f"{what}: mixture() needs one distribution in 'of' per weight", pa.value.loc)
    weights = tuple(as_quantity(w, ("number",), f"{what}: mixture() weight", positive=False)
                    for w in wa.value.items)
    if sum(weights) <= 0:
        raise CompileError(f"{what}: mixture() weights must not all be zero", wa.value.loc)
    parts = tuple(length_dist(p, f"{what} mixture() part {i + 1}") for i, p in enumerate(pa.value.items))
    return L.Mixture("mixture", min=lo, max=hi, weights=weights, parts=parts)


def empirical(v: ast.Call, f: Fields, what: str) -> L.LengthDist:
    """``empirical("file.csv", column = "x")``: resolved next to the program, like a trace."""
    lo, hi = _bounds(f)
    if len(v.args) != 1 or not isinstance(v.args[0], ast.String):
        raise CompileError(f"{what}: empirical() takes the file name first, e.g. empirical(\"lengths.csv\", "
                           f"column = \"prompt_tokens\")", v.loc)
    ca = f.require("column")
    if not isinstance(ca.value, ast.String):
        raise CompileError(f"{what}: empirical() column must be a quoted column name", ca.value.loc)
    paired = f.boolean("paired", False)
    values = read_column(v.args[0], ca.value, what)
    return L.Empirical("empirical", min=lo, max=hi, values=values, source=v.args[0].value, paired=paired)


def read_column(file: ast.String, column: ast.String, what: str) -> np.ndarray:
    """A column of token counts from a CSV or Parquet file, each a whole number >= 1; located errors for a
    missing file, a missing column and bad values (naming the row; the header is row 1)."""
    import polars as pl

    path = Path(file.value)
    if not path.is_absolute() and not file.loc.file.startswith("<"):
        path = Path(file.loc.file).resolve().parent / path
    try:
        path = input_path(path)
        df = parquet_frame(path) if path.suffix in (".parquet", ".pq") else pl.read_csv(
            path, infer_schema_length=10_000, glob=False)
    except FileError as exc:
        raise CompileError(f"{what}: file {exc.path} {exc.reason}", file.loc) from None
    except (Exception, pl.exceptions.PanicException) as exc:  # noqa: BLE001 - polars' many reader errors
        raise CompileError(f"{what}: file {path} cannot be read: {str(exc).splitlines()[0][:200]}", file.loc) from None
    assert isinstance(df, pl.DataFrame)
    if column.value not in df.columns:
        raise CompileError(f"{what}: {path} has no column '{column.value}' (it has {', '.join(df.columns)})",
                           column.loc)
    if df.height == 0:
        raise CompileError(f"{what}: {path} has no rows", file.loc)
    c = df.get_column(column.value).cast(pl.Float64, strict=False)
    bad = c.is_null() | c.is_nan() | c.is_infinite() | (c < 1) | (c.fill_nan(0).fill_null(0) % 1 != 0) | (
        c > MAX_TOKENS)
    if bad.any():
        row = int(bad.arg_max())
        raise CompileError(f"{what}: {path} row {row + 2}: {column.value} = "
                           f"{df.get_column(column.value)[row]!r} is not a valid token count", column.loc)
    return c.to_numpy().astype(np.float64)


#: Length kinds → their readers.
READERS: dict[str, Reader] = {"fixed": fixed, "uniform": uniform, "lognormal": lognormal, "normal": normal,
                              "zipf": zipf, "mixture": mixture, "empirical": empirical}
#: Kinds whose first argument may be positional.
POSITIONAL = frozenset({"empirical"})
