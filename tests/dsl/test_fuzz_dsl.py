"""Fuzzing the DSL front end (hypothesis): no input makes parse → compile → check → simulate crash.

Two sources of input:

* **generated** programs, drawn from the grammar itself (``hypothesis.extra.lark.from_lark`` over
  ``infera.lark``, with explicit strategies for names, numbers with units, strings and keywords so that
  most programs lex, and a vocabulary of the DSL's own field names so that many get past the parser);
  half of them follow a valid program, so their blocks meet real models, chips and runs;
* **mutated** examples: ``examples/*.infera``, the catalog files and small programs on the ``helpers``
  headers, with characters, tokens and lines deleted, inserted, duplicated or swapped, numbers replaced by
  others (0, negatives, huge, overflowing, NaN-like text), units and names swapped.

Each input goes through :func:`infera.parse` and the compiler, then :func:`infera.check` and (for plans of
at most ``SIMULATE_MAX`` requests and ``SIMULATE_MAX_INSTANCES`` instances) a simulation. The property:
only ``InferaSyntaxError`` (with line and column ≥ 1) or ``CompileError`` (with a location, line and
column ≥ 1) come out; a ``PlanError`` or ``SimulationError`` for a compiled plan, any other exception, or
a run longer than ``TIME_LIMIT_S`` fails. Programs that would sample more than ``MAX_SAMPLED`` requests are
only parsed (their size, not their shape, is what would take the time and memory).

CI runs ``GENERATED`` + ``MUTATED`` examples (well under a minute); ``INFERA_FUZZ_EXAMPLES=N`` runs N of
each instead, e.g. ``INFERA_FUZZ_EXAMPLES=5000 pytest tests/dsl/test_fuzz_dsl.py``.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
from collections import Counter
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

import infera
from helpers import H100_8B, ROOT, TINY
from infera.dsl import ast
from infera.dsl.parser import grammar_alternatives, grammar_text
from infera.plan import compile_program

# numpy warns about overflow on absurd inputs (1e308 rates, time scales) before the compiler rejects them.
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

_ENV = int(os.environ.get("INFERA_FUZZ_EXAMPLES", "0") or 0)
#: Examples per run in CI (each overridden by INFERA_FUZZ_EXAMPLES).
GENERATED = _ENV or 800
MUTATED = _ENV or 1200
#: Plans with at most this many requests and instances are simulated; larger ones are only checked.
SIMULATE_MAX = 200
SIMULATE_MAX_INSTANCES = 256
#: Programs whose traffic would sample more requests than this are parsed but not compiled.
MAX_SAMPLED = 50_000
#: Wall-clock limit for one input (parse, compile, check, simulate).
TIME_LIMIT_S = 20.0


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
    )


# ----------------------------------------------------------------------------------------------------------
# The property


class Hang(BaseException):
    """Raised by the alarm: one input ran past TIME_LIMIT_S (a BaseException so `except Exception` in the code
    under test cannot swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"input took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _quantities(node: object, key: str | None = None) -> Iterator[tuple[str | None, ast.Quantity]]:
    """Every quantity in a syntax tree, with the key of the assignment (or call argument) it is the value of."""
    if isinstance(node, ast.Quantity):
        yield key, node
    elif isinstance(node, (ast.Assign, ast.Constraint)):
        yield from _quantities(node.value, getattr(node, "key", None))
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _quantities(item, key)
    elif isinstance(node, (ast.Block, ast.SubBlock, ast.Link)):
        yield from _quantities(node.items)
    elif isinstance(node, ast.Pool):
        yield from _quantities(node.options)
    elif isinstance(node, ast.Call):
        yield from _quantities(node.args, key)
        yield from _quantities(node.kwargs)
    elif isinstance(node, ast.ListValue):
        yield from _quantities(node.items, key)


def sampled_requests(program: ast.Program) -> float:
    """A generous upper bound on the requests the program's traffic blocks would sample."""
    traffic = [b for b in program.blocks if b.kind == "traffic"]
    if not traffic:
        return 0.0
    found = [q for b in traffic for q in _quantities(b)]
    counts = [abs(q.value) for k, q in found if k == "requests"]
    durations = [abs(q.value) for k, q in found if k == "duration"]
    rates = [abs(q.value) for _, q in found if q.dim == "rate"]
    bound = max(counts, default=0.0)
    if any(not any(isinstance(i, ast.Assign) and i.key == "requests" for i in b.items) for b in traffic):
        bound = max(bound, max(durations, default=0.0) * max(rates, default=0.0))
    return bound if not math.isnan(bound) else math.inf


def exercise(text: str, file: str = "<fuzz>") -> str:
    """Runs one input through the whole pipeline; returns how far it got. Fails on anything but a located
    syntax or compile error."""
    lines = text.count("\n") + 1
    with time_limit(TIME_LIMIT_S):
        try:
            program = infera.parse(text, file=file)
        except infera.InferaSyntaxError as e:
            assert e.file == file
            assert 1 <= e.line <= lines, f"syntax error line {e.line} outside the text ({lines} lines): {e}"
            assert e.column >= 1, f"syntax error column {e.column}: {e}"
            str(e)
            return "syntax error"
        if sampled_requests(program) > MAX_SAMPLED:
            return "too large to compile"
        try:
            plan = compile_program(program)
        except infera.CompileError as e:
            assert e.loc is not None, f"compile error without a location: {e.reason}"
            assert e.loc.line >= 1 and e.loc.column >= 1, f"compile error at {e.loc}: {e}"
            if e.loc.file == file:
                assert e.loc.line <= lines, f"compile error line {e.loc.line} outside the text: {e}"
            str(e)
            return "compile error"
        # From here on, any error is a bug: the compiler must only emit plans the core accepts.
        infera.check(plan)
        instances = sum(plan.tables["pools"].column("instances").to_pylist())
        if plan.summary()["requests"] > SIMULATE_MAX or instances > SIMULATE_MAX_INSTANCES:
            return "checked"
        infera.simulate(plan)
        return "simulated"


# ----------------------------------------------------------------------------------------------------------
# Programs the fuzzers start from

TINY_BODY = """
traffic t { arrivals = poisson(50 /s), prompt = lognormal(median = 60 tokens, sigma = 0.8, max = 400)
            output = uniform(min = 1, max = 20), requests = 40 }
traffic b { arrivals = burst, prompt = 100 tokens, output = 8 tokens, requests = 12 }
traffic c { arrivals = closed(users = 3, think = 10 ms), prompt = fixed(value = 30), output = 5 tokens, requests = 20 }
slo fast { ttft.p99 < 2 s, tpot.p90 <= 50 ms, e2e < 30 s }
system s {
  pool p: 2 x toy, tp = 2, max_batch = 16, chunked_prefill = 256 tokens, block_size = 16
  router = least_tokens
}
system d {
  pool pre: 1 x toy, role = prefill
  pool dec: 2 x toy, role = decode, max_queue = 4, queue_timeout = 500 ms
  link pre -> dec { bandwidth = 50 GB/s, latency = 5 us }
  prefill_router = power_of_two
}
run r { model = tiny, traffic = t, slo = fast, systems = [s, d], seed = 3 }
run q { model = tiny, traffic = b, system = s, record = [requests] }
run k { model = tiny, traffic = c, system = d, seed = 1 }
"""

H100_BODY = """
traffic chat { arrivals = poisson(20 /s), prompt = lognormal(median = 500 tokens, sigma = 0.9, max = 4096)
               output = lognormal(median = 100 tokens, sigma = 1.0, max = 512), requests = 60 }
slo interactive { ttft.p99 < 2 s, tpot.p99 < 50 ms }
system two { pool gp: 2 x h100_sxm, tp = 1, max_batch = 64, max_batched_tokens = 2048
             router = least_tokens }
run r { model = llama3_1_8b, traffic = chat, slo = interactive, system = two, seed = 7 }
"""

# A catalog file is all chips or all models; this tail gives it something to run (using its own entries).
CATALOG_TAIL = {
    "chips.infera": """
model m { layers = 2, hidden = 256, heads = 4, kv_heads = 2, intermediate = 512, vocab = 1000 }
traffic t { arrivals = burst, prompt = 50 tokens, output = 4 tokens, requests = 10 }
system s { pool p: 1 x h100_sxm }
run r { model = m, traffic = t, system = s }
""",
    "models.infera": """
use chips.h100_sxm
traffic t { arrivals = burst, prompt = 50 tokens, output = 4 tokens, requests = 10 }
system s { pool p: 8 x h100_sxm, tp = 8 }
run r { model = llama3_1_8b, traffic = t, system = s }
""",
    "traffic.infera": """
use chips.h100_sxm, models.llama3_1_8b
traffic short extends azure_conv_2023 { requests = 20 }
system s { pool p: 1 x h100_sxm }
run r { model = llama3_1_8b, traffic = short, system = s }
""",
}


def seed_programs() -> list[tuple[str, str]]:
    """(file name, text) of every program the mutation fuzzer starts from."""
    seeds = [(str(p), p.read_text(encoding="utf-8")) for p in sorted((ROOT / "examples").glob("*.infera"))]
    for p in sorted((ROOT / "python" / "infera" / "catalog").glob("*.infera")):
        # Named by its real path, so that its `from "configs/..."` entries resolve in the package.
        seeds.append((str(p), p.read_text(encoding="utf-8") + CATALOG_TAIL.get(p.name, "")))
    seeds.append(("<fuzz>/tiny.infera", TINY + TINY_BODY))
    seeds.append(("<fuzz>/h100.infera", H100_8B + H100_BODY))
    return seeds


SEEDS = seed_programs()


def test_seed_programs_compile() -> None:
    """The fuzzers start from valid programs (a mutation fuzzer that starts from broken ones tests little)."""
    outcomes = {file: exercise(text, file) for file, text in SEEDS}
    assert all(o in ("simulated", "checked") for o in outcomes.values()), outcomes
    assert sum(o == "simulated" for o in outcomes.values()) >= 2, outcomes


# ----------------------------------------------------------------------------------------------------------
# Generated programs

UNITS = grammar_alternatives("UNIT")
WORDS = (
    # model
    "layers hidden heads kv_heads head_dim intermediate vocab weights kv compute attention tied_embeddings "
    "experts experts_per_token shared_experts moe_intermediate dense_layers kv_lora_rank q_lora_rank "
    "qk_rope_head_dim qk_nope_head_dim v_head_dim family source gqa mha mqa mla "
    # chip
    "bf16 fp8 fp16 fp32 int8 int4 vector memory_bandwidth memory_efficiency compute_efficiency link_bandwidth "
    "link_latency kernel_overhead idle_power price matmul vendor compute_energy memory_energy kind efficiency energy "
    "conversion_rate conversion capacity bandwidth latency tensor optical required main hbm sram "
    # traffic, slo
    "arrivals prompt output requests duration trace time_scale poisson burst closed lognormal uniform fixed "
    "median sigma min max value users think ttft tpot e2e queue "
    # system, pool, run
    "prefill_router decode_router round_robin least_tokens least_loaded power_of_two node_size tp pp ep role "
    "mixed prefill decode max_batch max_batched_tokens block_size chunked_prefill policy decode_first "
    "prefill_first memory_utilization step_overhead max_queue queue_timeout microbatches network_bandwidth "
    "network_latency weights_in kv_in traffic slo systems seed record search max_rate attainment tolerance "
    "max_probes iterations token_stats chips models h100_sxm llama3_1_8b "
    # block names used by the valid prefix
    "tiny toy t b c s d r q k p pre dec fast x"
).split()

NUMBERS = ["0", "1", "2", "3", "4", "8", "16", "64", "100", "256", "1_000", "0.5", "0.9", "1.5", "-1", "-0.0",
           "1e-300", "1e300", "1e308", "1e400", "4294967295", "4294967296", "100000001", "1e9", "2.5e3"]


def _sep() -> st.SearchStrategy[str]:
    # Mostly a space; sometimes a line break, sometimes nothing (tokens glued together).
    return st.sampled_from([" ", " ", " ", " ", "\n", ""])


def _token(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(strategy, _sep()).map("".join)


_NAME = st.one_of(st.sampled_from(WORDS), st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True))
_NUMBER = st.one_of(st.sampled_from(NUMBERS), st.integers(0, 10**6).map(str),
                    st.floats(0, 1e6, allow_nan=False).map(lambda x: f"{x:g}"))
_QUANTITY = st.tuples(_NUMBER, st.one_of(st.just(""), st.tuples(st.sampled_from([" ", "", "\t"]),
                                                                 st.sampled_from(UNITS)).map("".join))).map("".join)
_STRING = st.one_of(
    st.sampled_from(['""', '"h100.csv"', '"a.parquet"', '"traces/x.csv"', '"\\n"', '"\\q"', '"\\\\"', '"é"']),
    st.text(st.sampled_from("abc_.-/ 019"), max_size=8).map(lambda s: f'"{s}"'),
)

EXPLICIT = {
    "NAME": _token(_NAME),
    "QUANTITY": _token(_QUANTITY),
    "COUNT_X": _token(st.tuples(_NUMBER, st.sampled_from([" x", "x", "\tx"])).map("".join)),
    "STRING": _token(_STRING),
    "PERCENTILE": _token(st.sampled_from(["p50", "p90", "p99", "p99.9", "p0", "p100", "p1000", "p9_9"])),
    "USE": _token(st.just("use")),
    "EXTENDS": _token(st.just("extends")),
    "FROM": _token(st.just("from")),
    "POOL": _token(st.just("pool")),
    "LINK": _token(st.just("link")),
    "BLOCK_KIND": _token(st.sampled_from(grammar_alternatives("BLOCK_KIND"))),
    "SUBKIND": _token(st.sampled_from(grammar_alternatives("SUBKIND"))),
    "COMMENT": st.sampled_from(["# c\n", "#\n"]),
    "WS": st.sampled_from([" ", "\n", "\t", "\r\n"]),
    **{name: _token(st.just(text)) for name, text in [
        ("COMMA", ","), ("ARROW", "->"), ("LT", "<"), ("LE", "<="), ("LBRACE", "{"), ("RBRACE", "}"),
        ("EQUAL", "="), ("DOT", "."), ("COLON", ":"), ("TRUE", "true"), ("FALSE", "false"), ("LSQB", "["),
        ("RSQB", "]"), ("LPAR", "("), ("RPAR", ")"),
    ]},
}

GRAMMAR = Lark(grammar_text(), parser="lalr")
GENERATED_TEXT = from_lark(GRAMMAR, explicit=EXPLICIT).filter(lambda s: len(s) <= 3000)


@st.composite
def generated_programs(draw: st.DrawFn) -> str:
    """A program from the grammar, alone or after a valid program (so its blocks meet real ones)."""
    text = draw(GENERATED_TEXT)
    prefix = draw(st.sampled_from(["", TINY + TINY_BODY, H100_8B + H100_BODY]))
    return prefix + "\n" + text


GENERATED_OUTCOMES: Counter[str] = Counter()


@fuzz_settings(GENERATED)
@given(generated_programs())
def test_generated_programs_fail_cleanly(text: str) -> None:
    GENERATED_OUTCOMES[exercise(text)] += 1


# ----------------------------------------------------------------------------------------------------------
# Mutated programs

# Tokens for the token-level mutations: a number with its unit, a word, a string, a comment, an operator.
_TOKEN = re.compile(r'-?\d[\w.]*(?:[ \t]*(?:[A-Za-z$%/][\w/$%]*))?|[A-Za-z_]\w*|"[^"\n]*"|#[^\n]*|->|<=|\S')
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?")
_NAME_RE = re.compile(r"(?<![\w.\"])[A-Za-z_]\w*")
_UNIT_RE = re.compile(r"(?<=\d)([ \t]*)(" + "|".join(re.escape(u) for u in UNITS) + r")(?![\w/])")

REPLACEMENT_NUMBERS = [
    "0", "-0", "0.0", "-1", "-1e9", "1", "2", "0.5", "1e-300", "1e-320", "5e-324", "1e300", "1e308", "1.8e308",
    "1e309", "1e400", "4294967295", "4294967296", "18446744073709551616", "99999999999999999999", "1_000_000_000",
    "100000001", "2147483648", "NaN", "nan", "inf", "Infinity", "-inf", "1e", "0x10", "1__0", ".5", "5.", "1.2.3",
    "1_", "00", "007", "1e-5", "3.0000000000000001",
]
ODD_CHARACTERS = list("{}[]()=,.:<>-#\"\\ \t\n\r_x0159e") + ["\x00", "\x0c", "\u00e9", "\u200b", "\U0001f600", "\ufeff"]


def _mutate_chars(text: str, op: int, pos: int, ch: str) -> str:
    if not text:
        return ch
    i = pos % len(text)
    if op == 0:  # delete
        return text[:i] + text[i + 1:]
    if op == 1:  # insert
        return text[:i] + ch + text[i:]
    if op == 2:  # duplicate
        return text[:i] + text[i] + text[i:]
    j = min(i + 1, len(text) - 1)  # swap with the next
    return text[:i] + text[j] + text[i] + text[j + 1:] if j > i else text


def _mutate_tokens(text: str, op: int, a: int, b: int) -> str:
    spans = [m.span() for m in _TOKEN.finditer(text)]
    if not spans:
        return text
    (s1, e1), (s2, e2) = spans[a % len(spans)], spans[b % len(spans)]
    tok1, tok2 = text[s1:e1], text[s2:e2]
    if op == 0:  # delete
        return text[:s1] + text[e1:]
    if op == 1:  # duplicate
        return text[:e1] + " " + tok1 + text[e1:]
    if op == 2:  # replace with another token of the program
        return text[:s1] + tok2 + text[e1:]
    if s2 < s1:  # swap
        (s1, e1, tok1), (s2, e2, tok2) = (s2, e2, tok2), (s1, e1, tok1)
    if s1 == s2 or e1 > s2:
        return text
    return text[:s1] + tok2 + text[e1:s2] + tok1 + text[e2:]


def _mutate_lines(text: str, op: int, a: int, b: int) -> str:
    lines = text.split("\n")
    i, j = a % len(lines), b % len(lines)
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(j, lines[i])
    elif op == 2:
        lines[i], lines[j] = lines[j], lines[i]
    else:  # join two lines (a line break lost)
        if i + 1 < len(lines):
            lines[i:i + 2] = [lines[i] + " " + lines[i + 1]]
    return "\n".join(lines)


def _replace_match(text: str, pattern: re.Pattern[str], k: int, new: str, group: int = 0) -> str:
    found = list(pattern.finditer(text))
    if not found:
        return text
    m = found[k % len(found)]
    return text[:m.start(group)] + new + text[m.end(group):]


@st.composite
def mutations(draw: st.DrawFn, text: str) -> str:
    """`text` with 1 to 4 random mutations."""
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["char", "token", "line", "number", "number", "number", "unit", "name"]))
        k = draw(st.integers(0, 10**6))
        if kind == "char":
            text = _mutate_chars(text, draw(st.integers(0, 3)), k, draw(st.sampled_from(ODD_CHARACTERS)))
        elif kind == "token":
            text = _mutate_tokens(text, draw(st.integers(0, 3)), k, draw(st.integers(0, 10**6)))
        elif kind == "line":
            text = _mutate_lines(text, draw(st.integers(0, 3)), k, draw(st.integers(0, 10**6)))
        elif kind == "number":
            text = _replace_match(text, _NUMBER_RE, k, draw(st.sampled_from(REPLACEMENT_NUMBERS)))
        elif kind == "unit":
            new = draw(st.sampled_from([*UNITS, "", "x", "GB/s/s", "tokenz"]))
            text = _replace_match(text, _UNIT_RE, k, new, group=2)
        else:
            names = sorted({m.group() for m in _NAME_RE.finditer(text)})
            new = draw(st.sampled_from(names + WORDS[:40] + ["model", "pool", "link", "use", "extends", "true",
                                                               "x", "_", "p99", "required"]))
            text = _replace_match(text, _NAME_RE, k, new)
    return text


@st.composite
def mutated_programs(draw: st.DrawFn) -> tuple[str, str]:
    file, text = draw(st.sampled_from(SEEDS))
    return file, draw(mutations(text))


MUTATED_OUTCOMES: Counter[str] = Counter()


@fuzz_settings(MUTATED)
@given(mutated_programs())
def test_mutated_programs_fail_cleanly(case: tuple[str, str]) -> None:
    file, text = case
    MUTATED_OUTCOMES[exercise(text, file)] += 1


def test_the_fuzzers_reach_the_compiler_and_the_core() -> None:
    """A guard against fuzzers that silently stop exercising anything past the parser (runs after the two
    fuzz tests in file order; skipped when they did not run)."""
    if sum(GENERATED_OUTCOMES.values()) < 100 or sum(MUTATED_OUTCOMES.values()) < 100:
        pytest.skip("the fuzz tests did not run (or ran too few examples)")
    for outcomes in (GENERATED_OUTCOMES, MUTATED_OUTCOMES):
        total = sum(outcomes.values())
        assert outcomes["syntax error"] >= total // 20, outcomes
        assert outcomes["compile error"] >= total // 10, outcomes
    # Generated blocks mostly meet an unknown field or name; mutated programs often still compile and run.
    total = sum(MUTATED_OUTCOMES.values())
    assert MUTATED_OUTCOMES["simulated"] + MUTATED_OUTCOMES["checked"] >= total // 10, MUTATED_OUTCOMES


# ----------------------------------------------------------------------------------------------------------
# Regressions: inputs the fuzzers found that escaped as another exception, made the compiler emit a plan the
# core rejects, or hung


def _tiny(body: str, **chip: str) -> str:
    header = TINY
    for key, value in chip.items():
        header = re.sub(rf"\n  {key} = [^\n]*", f"\n  {key} = {value}", header)
    return header + body


_SYSTEM = "system s { pool p: 1 x toy }\nrun r { model = tiny, traffic = t, system = s }\n"


def _compile_error(text: str, file: str = "<fuzz>") -> infera.CompileError:
    assert exercise(text, file) in ("compile error", "too large to compile")
    with time_limit(TIME_LIMIT_S), pytest.raises(infera.CompileError) as info:
        infera.compile_text(text, file=file)
    assert info.value.loc is not None and info.value.loc.line >= 1
    return info.value


def test_regression_poisson_rate_so_small_that_arrivals_overflow() -> None:
    # Arrival times overflowed to infinity; the core rejected the compiled plan (PlanError from check).
    text = _tiny("traffic t { arrivals = poisson(1e-320 /s), prompt = 10 tokens, output = 1 tokens, requests = 5 }\n"
                 + _SYSTEM)
    err = _compile_error(text)
    assert "arrival times overflow" in err.reason and (err.loc.line, err.loc.column) == (20, 1)


def test_regression_poisson_duration_with_too_many_requests() -> None:
    # numpy's ValueError ("Maximum allowed dimension exceeded") escaped from sampling.
    text = _tiny("traffic t { arrivals = poisson(1e9 /s), prompt = 10 tokens, output = 1 tokens, duration = 1e12 s }\n"
                 + _SYSTEM)
    err = _compile_error(text)
    assert "more than the 4294967295 a traffic block may have" in err.reason


def test_regression_token_counts_beyond_the_cores_limit() -> None:
    # A fixed length above the core's 100,000,000 tokens compiled into a plan the core rejected; lognormal
    # samples beyond 2**32 wrapped around (or became 0) when cast to uint32.
    err = _compile_error(_tiny("traffic t { arrivals = burst, prompt = 200_000_000 tokens, output = 1 tokens, "
                               "requests = 5 }\n" + _SYSTEM))
    assert "at most 100_000_000 tokens per request" in err.reason
    huge = "lognormal(median = 1e300 tokens, sigma = 1e300)"
    text = _tiny(f"traffic t {{ arrivals = burst, prompt = {huge}, output = 1 tokens, requests = 5 }}\n" + _SYSTEM,
                 memory="1e15 B")
    assert exercise(text) == "simulated"
    requests = infera.compile_text(text).tables["requests"]
    assert set(requests.column("prompt_tokens").to_pylist()) <= {1, 100_000_000}


def test_regression_memory_so_large_that_kv_blocks_overflow() -> None:
    # KV blocks beyond uint32 (or NaN from an infinite memory) escaped as OverflowError / ValueError.
    for memory in ("1e308 B", "1.7e308 B", "1e20 B"):
        text = _tiny("traffic t { arrivals = burst, prompt = 10 tokens, output = 1 tokens, requests = 5 }\n"
                     "system s { pool p: 8 x toy, tp = 2 }\nrun r { model = tiny, traffic = t, system = s }\n",
                     memory=memory)
        assert exercise(text) == "simulated"
        assert infera.compile_text(text).tables["pools"].column("kv_blocks").to_pylist() == [2**32 - 1]


def test_regression_deep_pipeline_on_one_chip_nodes_does_not_hang() -> None:
    # The check for pipeline stages inside a node looped over every stage (4e9 of them here).
    text = re.sub(r"\blayers = \d+", "layers = 4294967295", TINY) + (
        "traffic t { arrivals = burst, prompt = 10 tokens, output = 1 tokens, requests = 5 }\n"
        "system s { pool p: 4294967295 x toy, pp = 4294967295, node_size = 1 }\n"
        "run r { model = tiny, traffic = t, system = s }\n")
    assert "network between nodes" in _compile_error(text).reason


def test_regression_trace_time_scale_so_large_that_arrivals_overflow() -> None:
    path = ROOT / "examples" / "trace_replay.infera"
    text = path.read_text(encoding="utf-8").replace("time_scale = 0.5", "time_scale = 1e308")
    err = _compile_error(text, str(path))
    assert "arrival times overflow" in err.reason and "time_scale" in err.reason
