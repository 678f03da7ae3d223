"""Sessions and agents: request streams whose requests wait for earlier ones and resend their history.

A *conversation* is a number of turns; turn k + 1 is sent a think time after turn k finished, and its prompt
is everything said so far (the system prompt, every earlier message and answer) plus a new message. An
*agent* session is a chain of calls: after each call its tools run (the think time) and the next step is
``fanout`` parallel calls, each on the whole context so far plus its own tool result; the step after waits
for all of them (fan-in) and sees every result and answer. A *shared system prompt* starts every session (or
every request of a plain traffic block) with one of a few identical token segments.

Every prompt is also described as segments with chained identities (:mod:`.prefix`), so two prompts share a
prefix exactly when they share their first ids, and ``output_prefix_id`` names what a turn leaves behind
(its prompt followed by its answer), which the next turn resends as its history.

The context limit ends a session: a turn (or an agent step, if any of its calls) whose prompt plus answer
would exceed ``max_context`` is not sent, nor is anything after it; a session whose first turn does not fit
sends nothing. History is never truncated, because a truncated history would no longer be the prefix the
cache holds.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from infera.exceptions import CompileError
from infera.plan.traffic.lengths import MAX_TOKENS, LengthDist
from infera.plan.traffic.prefix import chain, mix
from infera.plan.traffic.stream import Stream, TrafficSpec


@dataclass(frozen=True)
class TimeDist:
    """A think time in seconds: ``fixed`` (value), ``exponential`` (mean), ``uniform`` (min, max) or
    ``lognormal`` (median, sigma)."""

    kind: str
    value: float = 0.0
    mean: float = 0.0
    min: float = 0.0
    max: float = 0.0
    median: float = 0.0
    sigma: float = 0.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.kind == "fixed":
            return np.full(n, self.value)
        if self.kind == "exponential":
            return rng.standard_exponential(n) * self.mean
        if self.kind == "uniform":
            return rng.uniform(self.min, self.max, n)
        with np.errstate(over="ignore"):
            x = np.exp(math.log(self.median) + self.sigma * rng.standard_normal(n))
        return np.minimum(x, np.finfo(np.float64).max)


@dataclass(frozen=True)
class SessionSpec:
    """A ``session = conversation(...)`` or ``agent(...)`` field. ``steps`` is the number of turns of a
    conversation or of calls (steps) of an agent; ``fanout`` (agents) is each later step's number of parallel
    calls and ``tool_result`` the tokens each adds."""

    kind: str  # conversation | agent
    steps: LengthDist
    think: TimeDist
    max_context: float = math.inf
    fanout: LengthDist = LengthDist("fixed", value=1)
    tool_result: LengthDist = LengthDist("fixed", value=1)


@dataclass(frozen=True)
class SystemPrompt:
    """``system_prompt = shared(tokens = T, variants = N)``: each session (or request) starts with one of
    N system prompts of T tokens, chosen uniformly."""

    tokens: int
    variants: int = 1


def rng_for_sessions(name: str, seed: int) -> np.random.Generator:
    """The generator of a block's sessions: independent of the one its arrival times are drawn from, so
    adding a session to a block keeps the session start times its arrivals give."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(name.encode()), 1])))


def sample(spec: TrafficSpec, seed: int, plain: Callable[[TrafficSpec, int], Stream]) -> Stream:
    """The stream of a block with a session or a shared system prompt; ``plain`` samples the block
    without them (its arrivals give the session starts, or the requests a system prompt is put before)."""
    rng = rng_for_sessions(spec.name, seed)
    try:
        if spec.session is None:
            assert spec.system_prompt is not None
            return with_system_prompt(plain(dataclasses.replace(spec, system_prompt=None), seed),
                                      spec.system_prompt, rng, spec.name)
        fixed = LengthDist("fixed", value=1)
        base = plain(dataclasses.replace(spec, session=None, system_prompt=None, prompt=fixed, output=fixed), seed)
        return build(base.arrival_s, spec.session, spec.prompt, spec.output, spec.system_prompt, rng, spec.name)
    except PromptTooLong as e:
        raise CompileError(f"traffic '{spec.name}': a prompt reaches {e.tokens:_} tokens, more than the "
                           f"{MAX_TOKENS:_} a request may have; bound the session with max_context", spec.loc) from None


class PromptTooLong(ValueError):
    """A prompt (a history and its new message) longer than a request may be."""

    def __init__(self, tokens: int) -> None:
        super().__init__(f"a prompt of {tokens} tokens")
        self.tokens = tokens


def _salt(name: str, what: int) -> np.uint64:
    return np.uint64((zlib.crc32(name.encode()) << 8) | what)


def _message_names(salt: str, index: np.ndarray) -> np.ndarray:
    """Names of a block's messages (user messages, answers, tool results): one per index, never shared."""
    return mix(np.full(len(index), _salt(salt, 1)), np.asarray(index, dtype=np.uint64))


def _system_names(salt: str, variant: np.ndarray) -> np.ndarray:
    """Names of a block's system prompts: one per variant, so every session that picks a variant shares it."""
    return mix(np.full(len(variant), _salt(salt, 2)), np.asarray(variant, dtype=np.uint64))


def _stream(names: np.ndarray, seg_tokens: np.ndarray, offsets: np.ndarray, out_names: np.ndarray,
            output: np.ndarray, arrival: np.ndarray, after_offsets: np.ndarray | None, after: np.ndarray | None,
            think: np.ndarray | None) -> Stream:
    """A stream from its requests' segments (names and tokens, CSR by ``offsets``) and answers."""
    ids = chain(offsets, names)
    n = len(offsets) - 1
    prompt = np.add.reduceat(seg_tokens.astype(np.int64), offsets[:-1]) if n else np.zeros(0, dtype=np.int64)
    if n and int(prompt.max()) > MAX_TOKENS:
        raise PromptTooLong(int(prompt.max()))
    return Stream(
        arrival_s=arrival,
        prompt_tokens=prompt.astype(np.uint32),
        output_tokens=np.asarray(output).astype(np.uint32),
        after_offsets=after_offsets,
        after=after,
        think_s=think,
        prefix_offsets=offsets,
        prefix_ids=ids,
        prefix_tokens=seg_tokens.astype(np.uint32),
        output_prefix_id=mix(ids[offsets[1:] - 1], out_names) if n else np.zeros(0, np.uint64),
    )


class _Segments:
    """Messages (system prompts, user messages, answers, tool results) and the requests built from them."""

    def __init__(self, salt: str) -> None:
        self.salt = salt
        self.tokens: list[int] = []
        self.system: dict[int, int] = {}  # variant -> message
        self.seg_offsets = [0]
        self.segs: list[int] = []
        self.out: list[int] = []
        self.after_offsets = [0]
        self.after: list[int] = []
        self.think: list[float] = []
        self.arrival: list[float] = []

    def message(self, tokens: int) -> int:
        self.tokens.append(int(tokens))
        return len(self.tokens) - 1

    def system_prompt(self, variant: int, tokens: int) -> int:
        if variant not in self.system:
            self.system[variant] = self.message(tokens)
        return self.system[variant]

    def request(self, segs: list[int], out: int, after: list[int], think: float, arrival: float) -> int:
        self.segs.extend(segs)
        self.seg_offsets.append(len(self.segs))
        self.out.append(out)
        self.after.extend(after)
        self.after_offsets.append(len(self.after))
        self.think.append(think)
        self.arrival.append(arrival)
        return len(self.out) - 1

    def stream(self) -> Stream:
        tokens = np.asarray(self.tokens, dtype=np.int64)
        names = _message_names(self.salt, np.arange(len(tokens)))
        for variant, m in self.system.items():
            names[m] = _system_names(self.salt, np.array([variant]))[0]
        offsets = np.asarray(self.seg_offsets, dtype=np.int64)
        segs = np.asarray(self.segs, dtype=np.int64)
        out = np.asarray(self.out, dtype=np.int64)
        waits = len(self.after) > 0
        return _stream(names[segs], tokens[segs], offsets, names[out], tokens[out],
                       np.asarray(self.arrival, dtype=np.float64),
                       np.asarray(self.after_offsets, dtype=np.int64) if waits else None,
                       np.asarray(self.after, dtype=np.uint32) if waits else None,
                       np.asarray(self.think, dtype=np.float64) if waits else None)


def _variants(system: SystemPrompt | None, rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, system.variants, n) if system is not None else np.zeros(n, dtype=np.int64)


def with_system_prompt(stream: Stream, system: SystemPrompt, rng: np.random.Generator, salt: str) -> Stream:
    """``stream`` with every request's prompt preceded by one of the shared system prompts: segments
    (system prompt, the request's own message)."""
    n = len(stream.arrival_s)
    variant = _variants(system, rng, n)
    names = np.empty(2 * n, dtype=np.uint64)
    names[0::2] = _system_names(salt, variant)
    names[1::2] = _message_names(salt, 2 * np.arange(n))
    tokens = np.empty(2 * n, dtype=np.int64)
    tokens[0::2] = system.tokens
    tokens[1::2] = stream.prompt_tokens
    out = _stream(names, tokens, 2 * np.arange(n + 1, dtype=np.int64), _message_names(salt, 2 * np.arange(n) + 1),
                  stream.output_tokens, stream.arrival_s, None, None, None)
    return dataclasses.replace(out, send_delay_s=stream.send_delay_s, klass=stream.klass)


def build(starts: np.ndarray, session: SessionSpec, prompt: LengthDist, output: LengthDist,
          system: SystemPrompt | None, rng: np.random.Generator, salt: str) -> Stream:
    """The requests of one session per start time. ``prompt`` draws each new user message (an agent's
    task), ``output`` each answer. ``salt`` (the block's or class's name) keeps its messages apart from
    another block's. Draws are made in a fixed order, whole arrays at a time."""
    n = len(starts)
    steps = session.steps.sample(rng, n).astype(np.int64)
    variant = _variants(system, rng, n)
    if session.kind == "conversation":
        total = int(steps.sum())
        msg, ans, think = prompt.sample(rng, total), output.sample(rng, total), session.think.sample(rng, total)
        return _conversations(salt, starts, steps, variant, system, msg, ans, think, session.max_context)
    seg = _Segments(salt)
    _agents(seg, starts, steps, variant, system, session, prompt, output, rng)
    return seg.stream()


def _conversations(salt: str, starts: np.ndarray, turns: np.ndarray, variant: np.ndarray,
                   system: SystemPrompt | None, msg: np.ndarray, ans: np.ndarray, think: np.ndarray,
                   max_context: float) -> Stream:
    """Conversations, vectorised over turns: draw ``d`` is turn ``d - first[s]`` of session ``s``; its new
    message is named ``2d`` and its answer ``2d + 1``."""
    sys_tokens = system.tokens if system is not None else 0
    first = np.concatenate([[0], np.cumsum(turns)[:-1]]).astype(np.int64)
    session = np.repeat(np.arange(len(starts)), turns)
    turn = np.arange(len(session)) - first[session]
    added = msg.astype(np.int64) + ans
    # Tokens of the history before each turn: the session's earlier messages and answers.
    before = np.cumsum(added) - added
    before -= before[first[session]]
    # Turns only grow, so the turns that fit are a prefix of each session's.
    keep = np.flatnonzero(sys_tokens + before + added <= max_context)
    session, turn = session[keep], turn[keep]
    n = len(keep)
    has_sys = int(system is not None)
    counts = has_sys + 2 * turn + 1
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    req = np.repeat(np.arange(n), counts)
    q = np.arange(int(offsets[-1])) - offsets[req] - has_sys  # position after the system prompt
    draw = first[session][req] + np.maximum(q, 0) // 2
    is_answer = (np.maximum(q, 0) % 2) == 1
    names = _message_names(salt, 2 * draw + is_answer)
    tokens = np.where(is_answer, ans[draw], msg[draw]).astype(np.int64)
    if system is not None:
        at_sys = q < 0
        names[at_sys] = _system_names(salt, variant[session[req[at_sys]]])
        tokens[at_sys] = sys_tokens
    waits = turn > 0
    after_offsets = np.concatenate([[0], np.cumsum(waits)]).astype(np.int64)
    d = first[session] + turn
    any_wait = bool(waits.any())
    return _stream(names, tokens, offsets, _message_names(salt, 2 * d + 1), ans[d],
                   np.where(waits, np.nan, starts[session]),
                   after_offsets if any_wait else None,
                   (np.flatnonzero(waits) - 1).astype(np.uint32) if any_wait else None,
                   np.where(waits, think[d], 0.0) if any_wait else None)


def _agents(seg: _Segments, starts: np.ndarray, calls: np.ndarray, variant: np.ndarray,
            system: SystemPrompt | None, session: SessionSpec, prompt: LengthDist, output: LengthDist,
            rng: np.random.Generator) -> None:
    n = len(starts)
    task = prompt.sample(rng, n)
    first_out = output.sample(rng, n)
    # Each later step's width, then per call: its tool result, its answer and the tools' time before it.
    width = session.fanout.sample(rng, int(np.maximum(calls - 1, 0).sum())).astype(np.int64)
    total = int(width.sum())
    tool, ans, think = session.tool_result.sample(rng, total), output.sample(rng, total), session.think.sample(
        rng, total)
    w = c = 0
    for s in range(n):
        ctx = [seg.system_prompt(int(variant[s]), system.tokens)] if system is not None else []
        ctx_tokens = system.tokens if system is not None else 0
        steps = int(calls[s])
        t, o = int(task[s]), int(first_out[s])
        alive = ctx_tokens + t + o <= session.max_context
        if alive:
            ti, oi = seg.message(t), seg.message(o)
            prev = [seg.request(ctx + [ti], oi, [], 0.0, float(starts[s]))]
            ctx = ctx + [ti, oi]
            ctx_tokens += t + o
        for _ in range(steps - 1):
            k = int(width[w])
            w += 1
            calls_at = range(c, c + k)
            c += k
            if not alive or any(ctx_tokens + int(tool[j]) + int(ans[j]) > session.max_context for j in calls_at):
                alive = False
                continue
            added = []
            step = []
            for j in calls_at:
                ri, ai = seg.message(int(tool[j])), seg.message(int(ans[j]))
                step.append(seg.request(ctx + [ri], ai, prev, float(think[j]), math.nan))
                added += [ri, ai]
                ctx_tokens += int(tool[j]) + int(ans[j])
            ctx = ctx + added
            prev = step
