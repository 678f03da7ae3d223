"""The design block: located errors for what it gets wrong, and `infera check` accepting a good one."""

from __future__ import annotations

import pytest

import infera
from infera.designs import plan
from infera.exceptions import CompileError

from design_cases import BASE, program

GOOD = ("model = tiny, traffic = t, slo = fast, chips = [small], budget = 4, modes = [mixed]")


def error(body: str) -> CompileError:
    src = BASE + "run r { model = tiny, traffic = t, system = s }\nsystem s { pool gp: 2 x small, tp = 2 }\n" \
        + "design d {\n  " + body + "\n}\n"
    with pytest.raises(CompileError) as info:
        infera.compile_text(src, file="d.infera")
    return info.value


@pytest.mark.parametrize("body, where, says", [
    (GOOD.replace("chips = [small]", "chips = [tiny_chip]"), "d.infera:13:", "unknown chip 'tiny_chip'"),
    (GOOD.replace("budget = 4", "budget = 4 GB"), "d.infera:13:", "budget is a chip count"),
    (GOOD.replace("modes = [mixed]", "modes = [mixed, pooled]"), "d.infera:13:", "got 'pooled'"),
    (GOOD.replace("modes = [mixed]", "modes = [split]"), "d.infera:12:1", "need the prefill -> decode link"),
    (GOOD + ", tp = [0]", "d.infera:13:", "tp"),
    (GOOD + ", colour = red", "d.infera:13:", "unknown field 'colour'"),
    (GOOD.replace("slo = fast, ", ""), "d.infera:12:1", "missing required field 'slo'"),
    (GOOD + ", attainment = 120 %", "d.infera:12:1", "attainment"),
])
def test_mistakes_are_located(body: str, where: str, says: str) -> None:
    exc = error(body)
    assert str(exc).startswith(where) and says in str(exc)


def test_a_rate_needs_poisson_traffic() -> None:
    src = BASE + "traffic c { arrivals = closed(users = 4), prompt = uniform(min = 16, max = 64), " \
        "output = uniform(min = 4, max = 16), requests = 20 }\n" \
        "design d { model = tiny, traffic = c, slo = fast, chips = [small], budget = 4, modes = [mixed], rate = 5 /s }"
    with pytest.raises(CompileError, match=r"d.infera:\d+:\d+: error: design 'd': rate sets a Poisson rate"):
        plan(infera.parse(src, file="d.infera"))


def test_a_dollar_budget_needs_priced_chips() -> None:
    src = BASE + "chip free extends small { price = 0 $/h }\n" \
        "design d { model = tiny, traffic = t, slo = fast, chips = [free], budget = 10 $/h, modes = [mixed] }"
    with pytest.raises(CompileError, match=r"d.infera:\d+:\d+: error: .*needs chip 'free' to have a price"):
        plan(infera.parse(src, file="d.infera"))


def test_no_design_block_is_an_error() -> None:
    with pytest.raises(CompileError, match="no design block"):
        infera.design(BASE)
    with pytest.raises(CompileError, match="no design 'zz'"):
        infera.design(program(), name="zz")


def test_the_rate_replaces_the_traffic_rate() -> None:
    (prep,) = plan(program().replace("rate = 50 /s", "rate = 7 /s"))
    from infera.plan.compiler import run_specs

    _, traffics = run_specs(prep.program)
    assert traffics["t"].rate == 7.0


def test_check_accepts_a_file_with_a_design_block() -> None:
    plan_ = infera.compile_file(infera.__file__.replace("python/infera/__init__.py", "examples/design_search.infera"))
    infera.check(plan_)
