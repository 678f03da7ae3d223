"""Units, numbers, values, items and statements: the AST each spelling parses to."""

from __future__ import annotations

import dataclasses

import pytest

from infera.dsl import ast, parse
from infera.dsl import parser as dsl_parser
from infera.dsl.ast import (
    Assign,
    Bool,
    Call,
    ChipCount,
    DottedName,
    Link,
    ListValue,
    Loc,
    Name,
    Pool,
    Program,
    Quantity,
    SubBlock,
    Use,
)
from infera.dsl.units import UNITS


def items_of(text: str) -> tuple[ast.Item, ...]:
    """The items of the only block in ``text``."""
    (block,) = parse(text).blocks
    return block.items


def value_of(source: str) -> ast.Value:
    """The value of ``x = <source>`` inside a block."""
    (item,) = items_of(f"model m {{ x = {source} }}")
    assert isinstance(item, Assign) and item.key == "x"
    return item.value


def quantity(source: str) -> Quantity:
    value = value_of(source)
    assert isinstance(value, Quantity)
    return value


def without_locs(node: object) -> object:
    """``node`` with every Loc replaced by None, to compare two spellings of the same thing."""
    if isinstance(node, Loc):
        return None
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return tuple((f.name, without_locs(getattr(node, f.name))) for f in dataclasses.fields(node))
    if isinstance(node, (tuple, list)):
        return tuple(without_locs(n) for n in node)
    return node


# --------------------------------------------------------------------------------------------------
# units and numbers


@pytest.mark.parametrize(
    ("source", "value", "dim", "unit"),
    [
        ("80 GB", 8e10, "bytes", "GB"),
        ("1 GiB", 1073741824.0, "bytes", "GiB"),
        ("74.5 GiB", 74.5 * 2**30, "bytes", "GiB"),
        ("3.35 TB/s", 3.35e12, "bandwidth", "TB/s"),
        ("60 ms", 0.06, "time", "ms"),
        ("2 us", 2e-6, "time", "us"),
        ("5 ns", 5e-9, "time", "ns"),
        ("2 min", 120.0, "time", "min"),
        ("1.5 h", 5400.0, "time", "h"),
        ("2.5 $/h", 2.5 / 3600, "price_rate", "$/h"),
        ("8 /s", 8.0, "rate", "/s"),
        ("8/s", 8.0, "rate", "/s"),
        ("120 /min", 2.0, "rate", "/min"),
        ("50 %", 0.5, "number", "%"),
        ("7 %", 0.07, "number", "%"),
        ("400 Gbps", 5e10, "bandwidth", "Gbps"),
        ("1.6 Tbps", 2e11, "bandwidth", "Tbps"),
        ("900 GiB/s", 900 * 2**30, "bandwidth", "GiB/s"),
        ("989 TFLOPS", 9.89e14, "flops", "TFLOPS"),
        ("2 POPS", 2e15, "flops", "POPS"),
        ("0.7 kW", 700.0, "power", "kW"),
        ("5 pJ/FLOP", 5e-12, "energy_per_flop", "pJ/FLOP"),
        ("3 mJ", 3e-3, "energy", "mJ"),
        ("10 $", 10.0, "money", "$"),
        ("512 tokens", 512.0, "tokens", "tokens"),
        ("1 token", 1.0, "tokens", "token"),
        ("80GB", 8e10, "bytes", "GB"),
        ("42", 42.0, "number", ""),
    ],
)
def test_unit_conversion(source: str, value: float, dim: str, unit: str) -> None:
    q = quantity(source)
    assert q.value == pytest.approx(value, rel=1e-15)
    assert (q.dim, q.unit) == (dim, unit)


def test_exact_divisions() -> None:
    # Factors are exact fractions: dividing gives the float nearest the true value.
    assert quantity("7 %").value == 0.07
    assert quantity("60 ms").value == 0.06
    assert quantity("2.5 $/h").value == 2.5 / 3600


def test_every_unit_in_table_parses() -> None:
    for unit, (factor, dim) in UNITS.items():
        q = quantity(f"3 {unit}")
        assert (q.unit, q.dim) == (unit, dim)
        assert q.value == pytest.approx(3 * float(factor), rel=1e-15), unit


def test_grammar_units_match_table() -> None:
    in_grammar = dsl_parser.grammar_alternatives("UNIT")
    assert len(in_grammar) == len(set(in_grammar)), "a unit is listed twice in the grammar"
    assert set(in_grammar) == set(UNITS)


def test_grammar_units_longest_first() -> None:
    units = dsl_parser.grammar_alternatives("UNIT")
    for i, earlier in enumerate(units):
        for later in units[i + 1 :]:
            assert not later.startswith(earlier), f"{earlier!r} is listed before {later!r}"


@pytest.mark.parametrize(
    ("source", "value", "is_integer"),
    [
        ("20_000", 20000.0, True),
        ("128_256", 128256.0, True),
        ("1_000.000_1", 1000.0001, False),
        ("1.5", 1.5, False),
        ("1e-3", 1e-3, False),
        ("2.5e9", 2.5e9, False),
        ("1E6", 1e6, False),
        ("-1", -1.0, True),
        ("-0.25", -0.25, False),
        ("0", 0.0, True),
    ],
)
def test_numbers(source: str, value: float, is_integer: bool) -> None:
    q = quantity(source)
    assert (q.value, q.dim, q.unit, q.is_integer) == (value, "number", "", is_integer)


def test_unit_needs_word_boundary() -> None:
    first, second = items_of("model m { x = 5 seed = 3 }")
    assert (first.key, first.value.value, first.value.unit) == ("x", 5.0, "")
    assert (second.key, second.value.value) == ("seed", 3.0)


def test_unit_must_be_on_the_numbers_line() -> None:
    # `min` on the next line is the next key, not minutes (newlines are otherwise insignificant).
    first, second = items_of("traffic t {\n  max = 8192\n  min = 1\n}")
    assert (first.key, first.value.value, first.value.unit) == ("max", 8192.0, "")
    assert (second.key, second.value.value) == ("min", 1.0)


# --------------------------------------------------------------------------------------------------
# values


def test_list_values() -> None:
    v = value_of('[1, a, "s", [true, false], f(2),]')
    assert isinstance(v, ListValue) and len(v.items) == 5
    assert v.items[0].value == 1.0 and v.items[1] == Name("a", v.items[1].loc)
    assert v.items[2].value == "s"
    assert [b.value for b in v.items[3].items] == [True, False]
    assert isinstance(v.items[4], Call)
    assert value_of("[]") == ListValue((), Loc("<string>", 1, 15))


def test_call_values() -> None:
    v = value_of("f(1 s, b, c = 2, d = g(h = 3),)")
    assert isinstance(v, Call) and v.func == "f"
    assert [type(a) for a in v.args] == [Quantity, Name]
    assert [k.key for k in v.kwargs] == ["c", "d"]
    assert all(isinstance(k, Assign) for k in v.kwargs)
    assert v.kwargs[1].value.func == "g" and v.kwargs[1].value.kwargs[0].value.value == 3.0
    burst_call = value_of("burst()")
    assert isinstance(burst_call, Call) and (burst_call.func, burst_call.args, burst_call.kwargs) == ("burst", (), ())
    assert isinstance(value_of("burst"), Name)
    assert isinstance(value_of("closed(users = 64)"), Call)


def test_keyword_words_inside_calls_are_names() -> None:
    v = value_of("f(power, pool = model)")
    assert v.args[0] == Name("power", v.args[0].loc)
    assert (v.kwargs[0].key, v.kwargs[0].value.id) == ("pool", "model")


def test_dotted_bool_string_values() -> None:
    d = value_of("chips.h100_sxm")
    assert isinstance(d, DottedName) and d.parts == ("chips", "h100_sxm") and str(d) == "chips.h100_sxm"
    assert value_of("a.b.c").parts == ("a", "b", "c")
    assert value_of("true") == Bool(True, Loc("<string>", 1, 15))
    assert value_of("false").value is False
    assert isinstance(value_of("truer"), Name)
    assert value_of(r'"tab\there \\ \"q\" \n"').value == 'tab\there \\ "q" \n'
    assert value_of('""').value == ""


def test_chip_count_values() -> None:
    c = value_of("8 x h100_sxm")
    assert isinstance(c, ChipCount) and (c.count.value, c.count.is_integer, c.chip.id) == (8.0, True, "h100_sxm")
    assert c.loc == c.count.loc == Loc("<string>", 1, 15) and c.chip.loc == Loc("<string>", 1, 19)
    assert value_of("8x h100").chip.id == "h100"


def test_x_is_not_a_keyword() -> None:
    items = items_of("model m {\n  y = 3\n  x = 4\n  x1 = 5, max_batch = 6, z = x\n}")
    assert [i.key for i in items] == ["y", "x", "x1", "max_batch", "z"]
    assert items[4].value == Name("x", items[4].value.loc)


def test_keywords_usable_as_keys_and_values() -> None:
    items = items_of(
        "system s { role = decode, router = round_robin, model = m, power = 3 W, pool = 1, link = nvlink,"
        " engine = e, chip = c, use = u, extends = x }"
    )
    assert [(i.key, getattr(i.value, "id", None)) for i in items] == [
        ("role", "decode"), ("router", "round_robin"), ("model", "m"), ("power", None), ("pool", None),
        ("link", "nvlink"), ("engine", "e"), ("chip", "c"), ("use", "u"), ("extends", "x"),
    ]
    (block,) = parse("model model extends chip { }").blocks
    assert (block.kind, block.name, block.base) == ("model", "model", "chip")


# --------------------------------------------------------------------------------------------------
# items and statements


def test_constraints() -> None:
    a, b, c, d = items_of("slo s { ttft.p99 < 2 s\n tpot.p90 <= 60 ms, e2e < 30 s, ttft.p99.9 < 3 s }")
    assert (a.metric, a.percentile, a.op, a.value.value) == ("ttft", 99.0, "<", 2.0)
    assert (b.metric, b.percentile, b.op) == ("tpot", 90.0, "<=")
    assert (c.metric, c.percentile, c.op, c.value.value) == ("e2e", None, "<", 30.0)
    assert (d.metric, d.percentile) == ("ttft", 99.9)


def test_pool_options_bind_by_comma() -> None:
    a, b, router, c = items_of(
        "system s {\n"
        "  pool a: 8 x h, tp = 4,\n"  # trailing comma, then another pool
        "  pool b: 4 x h, tp = 2\n"  # no comma: what follows is the system's
        "  router = x\n"
        "  pool c: 2 x h, tp = 1, role = decode, max_batch = 8 }"
    )
    assert (a.name, [o.key for o in a.options]) == ("a", ["tp"])
    assert (b.name, [o.key for o in b.options]) == ("b", ["tp"])
    assert isinstance(router, Assign) and router.key == "router"
    assert (c.name, [o.key for o in c.options]) == ("c", ["tp", "role", "max_batch"])


def test_pool_block_form_equals_line_form() -> None:
    (line,) = items_of("system s { pool gp: 8 x h100_sxm, tp = 4, role = mixed }")
    (block,) = items_of("system s { pool gp: 8 x h100_sxm {\n tp = 4\n role = mixed\n } }")
    assert isinstance(block, Pool)
    assert without_locs(line) == without_locs(block)
    (bare,) = items_of("system s { pool gp: 1 x c }")
    assert bare.options == ()


def test_link_and_sub_blocks() -> None:
    link, engine, anon, nested = items_of(
        "system s { link a -> b { bandwidth = 1 GB/s latency = 1 us }\n"
        "  engine e { x = 1 }\n  scheduler { policy = fcfs }\n"
        "  network n { link { latency = 1 us }, power p { idle = 5 W } } }"
    )
    assert isinstance(link, Link) and (link.src, link.dst) == ("a", "b")
    assert [a.key for a in link.items] == ["bandwidth", "latency"]
    assert (engine.kind, engine.name, engine.items[0].key) == ("engine", "e", "x")
    assert (anon.kind, anon.name) == ("scheduler", None)
    assert (nested.kind, nested.name) == ("network", "n")
    assert [(s.kind, s.name) for s in nested.items] == [("link", None), ("power", "p")]
    assert items_of("chip c { link { } }")[0] == SubBlock("link", None, (), Loc("<string>", 1, 10))


def test_all_sub_block_kinds() -> None:
    kinds = ["engine", "memory", "interconnect", "power", "profile", "network", "scheduler", "router", "class"]
    assert list(dsl_parser.grammar_alternatives("SUBKIND")) == kinds
    items = items_of("chip c { " + " ".join(f"{k} n {{ }}" for k in kinds) + " }")
    assert [(i.kind, i.name) for i in items] == [(k, "n") for k in kinds]


def test_all_block_kinds_and_statement_order() -> None:
    kinds = ["model", "chip", "traffic", "slo", "system", "run", "sweep", "design"]
    assert list(dsl_parser.grammar_alternatives("BLOCK_KIND")) == kinds
    text = "sweep w { }\nuse a.b\n" + "\n".join(f"{k} n_{k} {{ }}" for k in kinds) + "\nuse c.d.e, f.g"
    program = parse(text)
    assert [b.kind for b in program.blocks] == ["sweep"] + kinds
    assert [u.path.parts for u in program.uses] == [("a", "b"), ("c", "d", "e"), ("f", "g")]
    assert all(isinstance(u, Use) for u in program.uses)


def test_separators_comments_and_whitespace() -> None:
    compact = parse("model m{a=1,b=2}")
    spread = parse("# header\nmodel m # trailing\n{\r\n\ta = 1 # one\n\n  b = 2,\n}\n# end")
    assert without_locs(compact) == without_locs(spread)
    assert [a.key for a in compact.blocks[0].items] == ["a", "b"]


def test_empty_inputs() -> None:
    assert parse("") == Program(file="<string>")
    assert parse("  \n# only a comment\n\t") == Program(file="<string>")
    assert parse("model m { }").blocks[0].items == ()


def test_deep_nesting_does_not_overflow_the_stack() -> None:
    depth = 5000
    v = value_of("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        v = v.items[0]
    assert v.items == ()
