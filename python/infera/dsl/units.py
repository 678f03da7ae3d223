"""Unit literals of the infera DSL and their conversion to SI.

A quantity such as ``80 GB`` or ``2.5 $/h`` is stored in the AST in SI (bytes, seconds, USD per
second, ...) together with the name of its dimension, so the compiler never sees the unit as written
except in messages.  :data:`UNITS` is the single table; the grammar (``infera.lark``, terminal
``UNIT``) lists the same spellings for the lexer, and a test checks that the two agree.

Factors are exact :class:`~fractions.Fraction` values so that conversions that divide (``7 %``,
``60 ms``, ``2.5 $/h``) round once, to the float nearest the true value, instead of multiplying by an
already-rounded reciprocal (``7 * 0.01 == 0.07000000000000001``).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple


class Unit(NamedTuple):
    """How to bring a number written with this unit to SI: ``si = value * factor``."""

    factor: Fraction
    dim: str


#: Dimension of a number written without a unit (and of ``%``).
NUMBER = "number"

#: Every dimension a :class:`infera.dsl.ast.Quantity` can have, with its SI unit (for messages).
DIMENSIONS: dict[str, str] = {
    NUMBER: "",
    "time": "s",
    "rate": "1/s",
    "bytes": "B",
    "bandwidth": "B/s",
    "flops": "FLOP/s",
    "power": "W",
    "energy": "J",
    "energy_per_byte": "J/B",
    "energy_per_flop": "J/FLOP",
    "price_rate": "USD/s",
    "money": "USD",
    "tokens": "tokens",
}

_K, _M, _G, _T, _P = (Fraction(10) ** n for n in (3, 6, 9, 12, 15))
_KI, _MI, _GI, _TI = (Fraction(2) ** n for n in (10, 20, 30, 40))
_MINUTE, _HOUR = Fraction(60), Fraction(3600)

#: Unit as written -> (SI factor, dimension).
UNITS: dict[str, Unit] = {
    # time, seconds
    "s": Unit(Fraction(1), "time"),
    "ms": Unit(1 / _K, "time"),
    "us": Unit(1 / _M, "time"),
    "ns": Unit(1 / _G, "time"),
    "min": Unit(_MINUTE, "time"),
    "h": Unit(_HOUR, "time"),
    # rate, events per second
    "/s": Unit(Fraction(1), "rate"),
    "/min": Unit(1 / _MINUTE, "rate"),
    "/h": Unit(1 / _HOUR, "rate"),
    # bytes: decimal prefixes are powers of 1000, binary (Ki, Mi, ...) powers of 1024
    "B": Unit(Fraction(1), "bytes"),
    "KB": Unit(_K, "bytes"),
    "MB": Unit(_M, "bytes"),
    "GB": Unit(_G, "bytes"),
    "TB": Unit(_T, "bytes"),
    "KiB": Unit(_KI, "bytes"),
    "MiB": Unit(_MI, "bytes"),
    "GiB": Unit(_GI, "bytes"),
    "TiB": Unit(_TI, "bytes"),
    # bandwidth, bytes per second; Gbps and Tbps count bits (8 to a byte)
    "B/s": Unit(Fraction(1), "bandwidth"),
    "KB/s": Unit(_K, "bandwidth"),
    "MB/s": Unit(_M, "bandwidth"),
    "GB/s": Unit(_G, "bandwidth"),
    "TB/s": Unit(_T, "bandwidth"),
    "GiB/s": Unit(_GI, "bandwidth"),
    "Gbps": Unit(_G / 8, "bandwidth"),
    "Tbps": Unit(_T / 8, "bandwidth"),
    # compute rate, operations per second (FLOP and integer ops share the dimension)
    "FLOPS": Unit(Fraction(1), "flops"),
    "GFLOPS": Unit(_G, "flops"),
    "TFLOPS": Unit(_T, "flops"),
    "PFLOPS": Unit(_P, "flops"),
    "TOPS": Unit(_T, "flops"),
    "POPS": Unit(_P, "flops"),
    # power, watts
    "W": Unit(Fraction(1), "power"),
    "kW": Unit(_K, "power"),
    # energy, joules, and energy per byte moved / per operation
    "J": Unit(Fraction(1), "energy"),
    "mJ": Unit(1 / _K, "energy"),
    "pJ": Unit(1 / _T, "energy"),
    "pJ/B": Unit(1 / _T, "energy_per_byte"),
    "pJ/FLOP": Unit(1 / _T, "energy_per_flop"),
    # money, US dollars, and its rate (USD per second)
    "$": Unit(Fraction(1), "money"),
    "$/h": Unit(1 / _HOUR, "price_rate"),
    # token counts
    "tokens": Unit(Fraction(1), "tokens"),
    "token": Unit(Fraction(1), "tokens"),
    # a plain fraction
    "%": Unit(Fraction(1, 100), NUMBER),
}


def to_si(value: float, unit: str) -> tuple[float, str]:
    """Convert ``value`` written with ``unit`` (``""`` for none) to ``(SI value, dimension)``.

    Raises ``KeyError`` for an unknown unit and ``OverflowError`` when the result is not a finite
    float; the parser turns both into syntax errors (the first cannot happen for lexed input).
    """
    if not unit:
        si, dim = value, NUMBER
    else:
        factor, dim = UNITS[unit]
        # Multiply by the numerator and divide by the denominator separately: both are exact
        # integers, so e.g. 7 % is 7 / 100 == 0.07 exactly as Python would write it.
        si = value * factor.numerator / factor.denominator
    if not math.isfinite(si):
        raise OverflowError(f"{value!r} {unit} is too large")
    return si, dim
