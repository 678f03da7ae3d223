"""Field access with located errors: the typed reading of a block's ``key = value`` items."""

from __future__ import annotations

import math
from typing import Any
from infera.dsl import ast
from infera.exceptions import CompileError


# ----------------------------------------------------------------------------------------------------------
# Field access with located errors


def describe(v: ast.Value) -> str:
    if isinstance(v, ast.Quantity):
        return f"{v.value:g}" + (f" {v.unit}" if v.unit else "") + f" ({v.dim})"
    if isinstance(v, ast.Name):
        return f"name '{v.id}'"
    return type(v).__name__.lower()


class Fields:
    """The ``key = value`` items of one block, consumed field by field; leftovers are errors."""

    def __init__(self, where: str, items: tuple[Any, ...] | list[Any], loc: ast.Loc) -> None:
        self.where = where
        self.loc = loc
        self.values: dict[str, ast.Assign] = {}
        for item in items:
            if isinstance(item, ast.Assign):
                if item.key in self.values:
                    first = self.values[item.key].loc
                    raise CompileError(f"{where}: duplicate field '{item.key}' (first set at {first})", item.loc)
                self.values[item.key] = item

    def has(self, key: str) -> bool:
        return key in self.values

    def take(self, key: str) -> ast.Assign | None:
        return self.values.pop(key, None)

    def require(self, key: str) -> ast.Assign:
        a = self.take(key)
        if a is None:
            raise CompileError(f"{self.where}: missing required field '{key}'", self.loc)
        return a

    def quantity(self, key: str, dims: tuple[str, ...], default: float | None = None, *, required: bool = False,
                 positive: bool = True) -> float | None:
        a = self.require(key) if required else self.take(key)
        if a is None:
            return default
        return as_quantity(a.value, dims, f"{self.where}: field '{key}'", positive=positive)

    def integer(self, key: str, default: int | None = None, *, required: bool = False, minimum: int = 1,
                dims: tuple[str, ...] = ("number", "tokens")) -> int | None:
        a = self.require(key) if required else self.take(key)
        if a is None:
            return default
        return as_integer(a.value, f"{self.where}: field '{key}'", minimum=minimum, dims=dims)

    def choice(self, key: str, choices: tuple[str, ...] | dict[str, str], default: str | None = None) -> str | None:
        a = self.take(key)
        if a is None:
            return default
        v = a.value
        if not isinstance(v, ast.Name) or v.id not in choices:
            allowed = ", ".join(choices)
            raise CompileError(f"{self.where}: field '{key}' must be one of {allowed}, got {describe(v)}", a.value.loc)
        return choices[v.id] if isinstance(choices, dict) else v.id

    def boolean(self, key: str, default: bool) -> bool:
        a = self.take(key)
        if a is None:
            return default
        if not isinstance(a.value, ast.Bool):
            raise CompileError(f"{self.where}: field '{key}' must be true or false, got {describe(a.value)}",
                               a.value.loc)
        return a.value.value

    def name(self, key: str, *, required: bool = True) -> ast.Name | None:
        a = self.require(key) if required else self.take(key)
        if a is None:
            return None
        if not isinstance(a.value, ast.Name):
            raise CompileError(f"{self.where}: field '{key}' must be a name, got {describe(a.value)}", a.value.loc)
        return a.value

    def done(self) -> None:
        """Rejects any field nobody consumed."""
        for key, a in self.values.items():
            raise CompileError(f"{self.where}: unknown field '{key}'", a.loc)


def as_quantity(v: ast.Value, dims: tuple[str, ...], what: str, *, positive: bool = True) -> float:
    if not isinstance(v, ast.Quantity) or v.dim not in dims:
        want = " or ".join(_DIM_HINT.get(d, d) for d in dims)
        raise CompileError(f"{what} needs {want}, got {describe(v)}", v.loc)
    if not math.isfinite(v.value):
        raise CompileError(f"{what} must be finite", v.loc)
    if positive and v.value <= 0:
        raise CompileError(f"{what} must be > 0, got {v.value:g}", v.loc)
    if not positive and v.value < 0:
        raise CompileError(f"{what} must be >= 0, got {v.value:g}", v.loc)
    return float(v.value)


def as_integer(v: ast.Value, what: str, *, minimum: int = 1, dims: tuple[str, ...] = ("number", "tokens")) -> int:
    x = as_quantity(v, dims, what, positive=False)
    if x != int(x) or x < minimum:
        raise CompileError(f"{what} must be a whole number >= {minimum}, got {x:g}", v.loc)
    if x > 2**32 - 1:
        raise CompileError(f"{what} is too large ({x:g})", v.loc)
    return int(x)


_DIM_HINT = {
    "time": "a time (s, ms, us)",
    "rate": "a rate (/s)",
    "bytes": "a size (GB, GiB)",
    "bandwidth": "a bandwidth (GB/s, TB/s)",
    "flops": "a compute rate (TFLOPS)",
    "power": "a power (W)",
    "price_rate": "a price rate ($/h)",
    "tokens": "a token count (tokens)",
    "number": "a plain number",
}
