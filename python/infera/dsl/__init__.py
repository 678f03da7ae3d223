"""The infera DSL front end: `.infera` text -> typed syntax tree (:mod:`infera.dsl.ast`).

>>> from infera.dsl import parse
>>> program = parse('chip c { memory hbm { capacity = 80 GB } }')
>>> program.blocks[0].items[0].items[0].value.value
80000000000.0
"""

from . import ast, units
from .parser import parse, parse_file

__all__ = ["ast", "units", "parse", "parse_file"]
