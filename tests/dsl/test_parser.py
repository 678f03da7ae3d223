"""Tests of the `.infera` parser: grammar, units, AST shape and locations, syntax errors."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infera.dsl import ast, parse, parse_file
from infera.dsl import parser as dsl_parser
from infera.dsl.ast import (
    Assign,
    Bool,
    Call,
    ChipCount,
    Constraint,
    DottedName,
    Link,
    ListValue,
    Loc,
    Name,
    Pool,
    Program,
    Quantity,
    String,
    SubBlock,
    Use,
)
from infera.dsl.units import UNITS
from infera.exceptions import InferaSyntaxError

EXAMPLE = r"""# infera quickstart-like file
use chips.h100_sxm, models.llama3_1_8b

model llama3_1_8b_local extends llama3_1_8b {
  layers = 32, hidden = 4096, heads = 32, kv_heads = 8, head_dim = 128
  intermediate = 14336
  vocab = 128_256
  weights = bf16
  kv = fp8
}

chip optical_x {                        # a hypothetical hybrid electro-optical part
  engine optical { fp8 = 1600 TFLOPS, conversion = 2 pJ/B }
  engine vector  { bf16 = 60 TFLOPS }
  memory hbm     { capacity = 96 GB, bandwidth = 4 TB/s }
  link           { bandwidth = 400 GB/s, latency = 2 us }
  power = 350 W, price = 1.8 $/h
}

traffic chat {
  arrivals = poisson(8 /s)
  prompt   = lognormal(median = 700 tokens, sigma = 1.1, max = 8192)
  output   = lognormal(median = 230 tokens, sigma = 0.9, min = 1, max = 2048)
  requests = 20_000
}

slo interactive { ttft.p99 < 2 s, tpot.p99 < 60 ms }

system unified {
  pool gp: 8 x h100_sxm, tp = 4, role = mixed, chunked_prefill = 512 tokens
}

system split {
  pool pre: 4 x h100_sxm,  tp = 4, role = prefill
  pool dec: 4 x optical_x, tp = 4, role = decode, max_batch = 256
  link pre -> dec { bandwidth = 50 GB/s, latency = 20 us }
  router = least_loaded
}

run compare { model = llama3_1_8b_local, traffic = chat, slo = interactive,
              systems = [unified, split], seed = 7, note = "a \"quoted\" word" }
"""


# --------------------------------------------------------------------------------------------------
# helpers


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


def syntax_error(text: str, file: str = "test.infera") -> InferaSyntaxError:
    with pytest.raises(InferaSyntaxError) as info:
        parse(text, file)
    return info.value


def assert_readable(err: InferaSyntaxError) -> None:
    """The error names its place in `file:line:col` form, shows a caret, and lists readable tokens."""
    text = str(err)
    assert f"{err.file}:{err.line}:{err.column}:" in text
    lines = err.context.split("\n")
    assert len(lines) == 2 and lines[1].endswith("^")
    assert lines[1] in text
    for entry in err.expected:
        assert "__ANON" not in entry
        assert not re.fullmatch(r"[A-Z_$<>-]+", entry), f"raw terminal name in expected: {entry}"
    assert "__ANON" not in text


# --------------------------------------------------------------------------------------------------
# the example


def test_example_structure() -> None:
    program = parse(EXAMPLE, "quickstart.infera")
    assert isinstance(program, Program)
    assert program.file == "quickstart.infera"
    assert [str(u.path) for u in program.uses] == ["chips.h100_sxm", "models.llama3_1_8b"]
    assert [(b.kind, b.name, b.base) for b in program.blocks] == [
        ("model", "llama3_1_8b_local", "llama3_1_8b"),
        ("chip", "optical_x", None),
        ("traffic", "chat", None),
        ("slo", "interactive", None),
        ("system", "unified", None),
        ("system", "split", None),
        ("run", "compare", None),
    ]


def test_example_model_block() -> None:
    model = parse(EXAMPLE).blocks[0]
    values = {item.key: item.value for item in model.items if isinstance(item, Assign)}
    assert list(values) == [
        "layers", "hidden", "heads", "kv_heads", "head_dim", "intermediate", "vocab", "weights", "kv",
    ]
    assert values["vocab"] == Quantity(128256.0, "number", "", values["vocab"].loc, is_integer=True)
    assert values["weights"] == Name("bf16", values["weights"].loc)
    assert values["kv"].id == "fp8"


def test_example_chip_block() -> None:
    chip = parse(EXAMPLE).blocks[1]
    optical, vector, hbm, link, power, price = chip.items
    assert isinstance(optical, SubBlock) and (optical.kind, optical.name) == ("engine", "optical")
    fp8, conversion = optical.items
    assert (fp8.key, fp8.value.value, fp8.value.dim) == ("fp8", 1.6e15, "flops")
    assert conversion.value.value == pytest.approx(2e-12) and conversion.value.dim == "energy_per_byte"
    assert (vector.kind, vector.name, vector.items[0].value.value) == ("engine", "vector", 6e13)
    assert (hbm.kind, hbm.name) == ("memory", "hbm")
    assert [(a.key, a.value.value, a.value.dim) for a in hbm.items] == [
        ("capacity", 96e9, "bytes"),
        ("bandwidth", 4e12, "bandwidth"),
    ]
    assert isinstance(link, SubBlock) and (link.kind, link.name) == ("link", None)
    assert [(a.key, a.value.value) for a in link.items] == [("bandwidth", 4e11), ("latency", pytest.approx(2e-6))]
    assert isinstance(power, Assign) and power.key == "power" and power.value.value == 350.0
    assert power.value.dim == "power"
    assert price.key == "price" and price.value.value == pytest.approx(1.8 / 3600)
    assert price.value.dim == "price_rate" and price.value.unit == "$/h"


def test_example_traffic_block() -> None:
    arrivals, prompt, output, requests = parse(EXAMPLE).blocks[2].items
    assert isinstance(arrivals.value, Call) and arrivals.value.func == "poisson"
    (rate,) = arrivals.value.args
    assert (rate.value, rate.dim, rate.unit) == (8.0, "rate", "/s")
    assert arrivals.value.kwargs == ()
    assert prompt.value.func == "lognormal" and prompt.value.args == ()
    assert [(k.key, k.value.value, k.value.dim) for k in prompt.value.kwargs] == [
        ("median", 700.0, "tokens"),
        ("sigma", 1.1, "number"),
        ("max", 8192.0, "number"),
    ]
    assert [k.key for k in output.value.kwargs] == ["median", "sigma", "min", "max"]
    assert requests.value.value == 20000.0 and requests.value.is_integer


def test_example_slo_block() -> None:
    ttft, tpot = parse(EXAMPLE).blocks[3].items
    assert isinstance(ttft, Constraint)
    assert (ttft.metric, ttft.percentile, ttft.op, ttft.value.value, ttft.value.dim) == ("ttft", 99.0, "<", 2.0, "time")
    assert (tpot.metric, tpot.percentile, tpot.op) == ("tpot", 99.0, "<")
    assert tpot.value.value == pytest.approx(0.06)


def test_example_system_blocks() -> None:
    blocks = parse(EXAMPLE).blocks
    (gp,) = blocks[4].items
    assert isinstance(gp, Pool) and gp.name == "gp"
    assert (gp.chips.count.value, gp.chips.chip.id) == (8.0, "h100_sxm")
    assert [o.key for o in gp.options] == ["tp", "role", "chunked_prefill"]
    assert gp.options[2].value.dim == "tokens" and gp.options[2].value.value == 512.0

    pre, dec, link, router = blocks[5].items
    assert (pre.name, pre.chips.count.value, pre.chips.chip.id) == ("pre", 4.0, "h100_sxm")
    assert [(o.key, getattr(o.value, "id", None)) for o in pre.options] == [("tp", None), ("role", "prefill")]
    assert (dec.name, dec.chips.chip.id) == ("dec", "optical_x")
    assert [o.key for o in dec.options] == ["tp", "role", "max_batch"]
    assert isinstance(link, Link) and (link.src, link.dst) == ("pre", "dec")
    assert [(a.key, a.value.dim) for a in link.items] == [("bandwidth", "bandwidth"), ("latency", "time")]
    assert isinstance(router, Assign) and router.key == "router"
    assert router.value == Name("least_loaded", router.value.loc)


def test_example_run_block() -> None:
    run = parse(EXAMPLE).blocks[6]
    values = {a.key: a.value for a in run.items}
    assert list(values) == ["model", "traffic", "slo", "systems", "seed", "note"]
    assert values["model"].id == "llama3_1_8b_local"  # `model` is a key here, not a block keyword
    assert isinstance(values["systems"], ListValue)
    assert [n.id for n in values["systems"].items] == ["unified", "split"]
    assert values["note"] == String('a "quoted" word', values["note"].loc)


def test_example_locations() -> None:
    program = parse(EXAMPLE, "q.infera")
    use0, use1 = program.uses
    assert use0.loc == Loc("q.infera", 2, 5) and use0.path.loc == Loc("q.infera", 2, 5)
    assert use1.loc == Loc("q.infera", 2, 21)
    model, chip, traffic, slo, unified, split, run = program.blocks
    assert model.loc == Loc("q.infera", 4, 1)
    assert model.items[1].loc == Loc("q.infera", 5, 16)  # hidden
    assert model.items[1].value.loc == Loc("q.infera", 5, 25)  # 4096
    assert chip.items[0].loc == Loc("q.infera", 13, 3)  # engine optical
    assert chip.items[0].items[1].value.loc == Loc("q.infera", 13, 52)  # 2 pJ/B
    assert chip.items[3].loc == Loc("q.infera", 16, 3)  # link { ... }
    assert traffic.items[1].value.loc == Loc("q.infera", 22, 14)  # lognormal(
    assert traffic.items[1].value.kwargs[0].loc == Loc("q.infera", 22, 24)  # median =
    assert slo.items[1].loc == Loc("q.infera", 27, 35)  # tpot.p99
    gp = unified.items[0]
    assert gp.loc == Loc("q.infera", 30, 3)
    assert gp.chips.loc == Loc("q.infera", 30, 12) and gp.chips.chip.loc == Loc("q.infera", 30, 16)
    assert gp.options[2].loc == Loc("q.infera", 30, 48)  # chunked_prefill
    assert split.items[2].loc == Loc("q.infera", 36, 3)  # link pre -> dec
    systems = run.items[3]
    assert systems.value.loc == Loc("q.infera", 41, 25)  # [
    assert systems.value.items[1].loc == Loc("q.infera", 41, 35)  # split
    assert run.items[5].value.loc == Loc("q.infera", 41, 60)  # the string
    assert str(run.loc) == "q.infera:40:1"


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
    kinds = ["engine", "memory", "interconnect", "power", "profile", "network", "scheduler", "router"]
    assert list(dsl_parser.grammar_alternatives("SUBKIND")) == kinds
    items = items_of("chip c { " + " ".join(f"{k} n {{ }}" for k in kinds) + " }")
    assert [(i.kind, i.name) for i in items] == [(k, "n") for k in kinds]


def test_all_block_kinds_and_statement_order() -> None:
    kinds = ["model", "chip", "traffic", "slo", "system", "run", "sweep"]
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


# --------------------------------------------------------------------------------------------------
# syntax errors


def test_missing_brace_at_eof() -> None:
    err = syntax_error("model m {\n  x = 1\n")
    assert (err.file, err.line, err.column) == ("test.infera", 2, 8)  # just after `1`
    assert err.message == "unexpected end of file"
    assert "'}'" in err.expected and "a name" in err.expected
    assert "')'" not in err.expected  # only what really fits here
    assert err.context == "  x = 1\n       ^"
    assert_readable(err)
    assert str(err).startswith("test.infera:2:8: syntax error: unexpected end of file\n  x = 1\n       ^\n")


def test_unexpected_token() -> None:
    err = syntax_error("model m { x = 1 }\n}")
    assert (err.line, err.column) == (2, 1)
    assert err.message == "unexpected '}'"
    assert "'model'" in err.expected and "end of file" in err.expected and "'use'" in err.expected
    assert_readable(err)

    err = syntax_error("model m {\n  x = = 2\n}")
    assert (err.line, err.column, err.message) == (2, 7, "unexpected '='")
    assert {"a number", "a name", "'['"} <= set(err.expected)
    assert_readable(err)


def test_bad_character() -> None:
    err = syntax_error("model m {\n\tx = 1 ^ 2\n}")
    assert (err.line, err.column, err.message) == (2, 8, "unexpected character '^'")
    assert err.context == "\tx = 1 ^ 2\n\t      ^"  # the tab is kept so the caret lines up
    assert err.expected
    assert_readable(err)
    err = syntax_error("model m { x = \x00 }")
    assert err.message == "unexpected character U+0000" and err.column == 15
    assert_readable(err)


def test_bad_percentile() -> None:
    cases = [("slo s { ttft.mean < 2 s }", 14), ("slo s { ttft.99 < 2 s }", 14), ("slo s { ttft.p9x < 1 s }", 14)]
    for text, column in cases:
        err = syntax_error(text)
        assert (err.line, err.column) == (1, column)
        assert "percentile" in err.message and "p99" in err.message
        assert err.expected == ["a percentile such as 'p99' or 'p99.9'"]
        assert_readable(err)


@pytest.mark.parametrize("number", ["20__000", "20_", "1.2.3", "5.", "1e", "80GBx", "8xh100"])
def test_malformed_number(number: str) -> None:
    err = syntax_error(f"traffic t {{\n  requests = {number}\n}}")
    assert (err.line, err.column) == (2, 14)
    assert err.message == f"malformed number '{number}'"
    assert "a number" in err.expected
    assert_readable(err)


def test_number_too_large() -> None:
    for text in ["1e999", "9" * 400, "1e300 TB"]:
        err = syntax_error(f"model m {{ x = {text} }}")
        assert (err.line, err.column) == (1, 15) and err.message.startswith("number too large")


def test_string_errors() -> None:
    err = syntax_error('run r { note = "open\n}')
    assert (err.line, err.column) == (1, 16) and "unterminated string" in err.message
    assert_readable(err)
    err = syntax_error(r'run r { note = "a\qb" }')
    assert (err.line, err.column) == (1, 18) and "unknown escape '\\q'" in err.message
    assert_readable(err)


def test_structural_errors() -> None:
    cases = {
        "widget w { }": (1, 1, "unexpected name 'widget'"),
        "models m { }": (1, 1, "unexpected name 'models'"),  # keywords are whole words
        "use chips": (1, 10, "unexpected end of file"),  # a catalog path has two parts at least
        "system s { pool p: h100 }": (1, 20, "unexpected name 'h100'"),
        "system s { pool p: 8 h100 }": (1, 20, "unexpected number '8'"),
        "system s { link a b { } }": (1, 19, "unexpected name 'b'"),
        "run r { d = f(a = 1, b) }": (1, 23, "unexpected ')'"),  # positional after keyword
        "run r { x = [1 2] }": (1, 16, "unexpected number '2'"),
        "slo s { ttft.p99 > 2 s }": (1, 18, "unexpected character '>'"),
    }
    for text, (line, column, message) in cases.items():
        err = syntax_error(text)
        assert (err.line, err.column, err.message) == (line, column, message), text
        assert err.expected, text
        assert_readable(err)


def test_error_context_is_cut_around_the_column() -> None:
    err = syntax_error("model m { " + "a = 1, " * 100 + "% }")
    source, caret = err.context.split("\n")
    assert len(source) < 100 and source.startswith("...")
    assert source[caret.index("^")] == "%"


def test_error_message_file_location_format() -> None:
    err = syntax_error("model m {", file="dir/sys.infera")
    assert str(err).splitlines()[0] == "dir/sys.infera:1:10: syntax error: unexpected end of file"
    assert str(err).splitlines()[-1].startswith("expected one of: ")


# --------------------------------------------------------------------------------------------------
# grammar build, terminal names, files


def test_grammar_is_strict_lalr() -> None:
    # Strict mode turns any shift/reduce conflict (and, with `interegular`, terminal collision)
    # into an error instead of a silent choice.  Without interegular, Lark refuses strict mode
    # only after the LALR tables were built without conflicts, which still checks the grammar.
    from lark import Lark
    from lark.exceptions import LexError

    try:
        Lark(dsl_parser.grammar_text(), parser="lalr", strict=True, propagate_positions=True)
    except LexError as exc:
        assert "interegular" in str(exc)


def test_every_terminal_has_a_readable_name() -> None:
    lark = dsl_parser._parser()
    for terminal in lark.terminals:
        if terminal.name in lark.ignore_tokens:
            continue
        assert not terminal.name.startswith("__"), f"anonymous terminal {terminal.pattern}"
        described = dsl_parser.describe_terminal(terminal.name)
        assert described, terminal.name
        for text in described:
            assert text.startswith(("'", "a ")), (terminal.name, text)


def test_parse_file(tmp_path) -> None:
    path = tmp_path / "quick.infera"
    path.write_text(EXAMPLE, encoding="utf-8")
    program = parse_file(path)
    assert program.file == str(path) and len(program.blocks) == 7
    assert program.blocks[0].loc.file == str(path)

    bom = tmp_path / "bom.infera"
    bom.write_bytes(b"\xef\xbb\xbfmodel m { }")
    assert parse_file(bom).blocks[0].loc == Loc(str(bom), 1, 1)

    bad = tmp_path / "bad.infera"
    bad.write_bytes(b"model m {\n  x = \xff\n}")
    with pytest.raises(InferaSyntaxError) as info:
        parse_file(bad)
    assert (info.value.file, info.value.line, info.value.column) == (str(bad), 2, 7)
    assert "UTF-8" in info.value.message

    broken = tmp_path / "broken.infera"
    broken.write_text("model m {", encoding="utf-8")
    with pytest.raises(InferaSyntaxError) as info:
        parse_file(broken)
    assert info.value.file == str(broken)


@pytest.mark.parametrize(
    "text",
    ["", "{", "}", '"', "\\", "\x00\x01", "-", "--1", "1" * 3000, "x = 1", "model", "model m {" * 50,
     "model m { x = 1e99999999999 }", "model m { x = 1" + "0" * 5000 + " }", "\ud800", "use a.b,,", "é"],
)
def test_odd_inputs_raise_only_syntax_errors(text: str) -> None:
    try:
        result = parse(text)
    except InferaSyntaxError as err:
        assert err.line >= 1 and err.column >= 1
    else:
        assert isinstance(result, Program)


# --------------------------------------------------------------------------------------------------
# property tests: any text either parses or raises InferaSyntaxError


def _parses_or_syntax_error(text: str) -> None:
    try:
        result = parse(text, "fuzz.infera")
    except InferaSyntaxError as err:
        assert err.file == "fuzz.infera" and err.line >= 1 and err.column >= 1
        assert "__ANON" not in str(err)
    else:
        assert isinstance(result, Program)


_FUZZ_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_DSL_CHARS = st.sampled_from(list('{}[]()=<.,:-"#\\_%$/ \t\nxp019eEsBmodelpoint') + ["\x00", "é", "\r"])


@_FUZZ_SETTINGS
@given(st.one_of(st.text(max_size=80), st.text(_DSL_CHARS, max_size=80)))
def test_random_text(text: str) -> None:
    _parses_or_syntax_error(text)


@st.composite
def _mutated_example(draw: st.DrawFn) -> str:
    text = EXAMPLE
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        operation = draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if operation == "insert":
            text = text[:position] + draw(st.one_of(_DSL_CHARS, st.characters())) + text[position:]
        elif operation == "delete" and position < len(text):
            text = text[:position] + text[position + 1 :]
        elif position < len(text):
            text = text[:position] + text[position] + text[position:]
    return text


@_FUZZ_SETTINGS
@given(_mutated_example())
def test_mutated_example(text: str) -> None:
    _parses_or_syntax_error(text)
