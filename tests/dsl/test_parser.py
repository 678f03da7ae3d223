"""The parser on whole programs: the AST and locations of an example file, files on disk, the grammar build,
and any text (odd, random, or the example mutated) either parsing or raising InferaSyntaxError."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infera.dsl import parse, parse_file
from infera.dsl import parser as dsl_parser
from infera.dsl.ast import (
    Assign,
    Call,
    Constraint,
    Link,
    ListValue,
    Loc,
    Name,
    Pool,
    Program,
    Quantity,
    String,
    SubBlock,
)
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
# grammar build, files


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


# --------------------------------------------------------------------------------------------------
# any text either parses or raises InferaSyntaxError


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
