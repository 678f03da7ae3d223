"""Parse `.infera` text into the typed AST of :mod:`infera.dsl.ast`.

The grammar lives in ``infera.lark`` next to this module and is compiled once per process, on first
use, into a Lark LALR(1) parser with the contextual lexer.  A transformer then builds the AST
dataclasses straight from the parse tree, converting unit literals to SI on the way
(:mod:`infera.dsl.units`).

Every problem with the text -- a token in the wrong place, a character no token starts with, a
number too large for a float, a bad string escape -- is raised as
:class:`infera.exceptions.InferaSyntaxError`; no Lark exception leaves :func:`parse`.
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedToken, VisitError
from lark.lexer import PatternStr
from lark.tree import Meta

from infera.exceptions import InferaSyntaxError
from infera.files import read_bytes, utf8_position

from . import units
from .ast import (
    BLOCK_TYPES,
    Assign,
    Block,
    Bool,
    Call,
    ChipCount,
    Constraint,
    DottedName,
    Item,
    Link,
    ListValue,
    Loc,
    ModelBlock,
    Name,
    Pool,
    Program,
    Quantity,
    String,
    SubBlock,
    SweepAxis,
    Use,
)

__all__ = ["parse", "parse_file", "grammar_text", "grammar_alternatives"]

_GRAMMAR_PACKAGE = "infera.dsl"
_GRAMMAR_FILE = "infera.lark"


# --------------------------------------------------------------------------------------------------
# Building the parser


@functools.cache
def grammar_text() -> str:
    """The grammar's source, read as package data so that it also works from an installed wheel."""
    return importlib.resources.files(_GRAMMAR_PACKAGE).joinpath(_GRAMMAR_FILE).read_text(encoding="utf-8")


@functools.cache
def grammar_alternatives(terminal: str) -> tuple[str, ...]:
    """The quoted strings in the grammar's definition of ``terminal`` (``UNIT``, ``SUBKIND``, ...).

    The keyword and unit lists are written once, in the grammar; this reads them back for error
    messages and for the test that compares the unit list with :data:`infera.dsl.units.UNITS`.
    """
    # A definition starts at `NAME:` or `NAME.priority:` in column 0 and runs until the next line
    # that starts in column 0 (continuation lines are indented).
    match = re.search(
        rf"^{re.escape(terminal)}(?:\.\d+)?:(.*?)(?=^\S|\Z)", grammar_text(), re.MULTILINE | re.DOTALL
    )
    if match is None:
        raise KeyError(f"terminal {terminal} is not defined in {_GRAMMAR_FILE}")
    return tuple(re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1)))


def _strict_available() -> bool:
    # Lark's strict mode (fail on any shift/reduce conflict or terminal collision instead of
    # resolving it silently) needs the optional `interegular` package for the terminal check.  The
    # parser strict mode builds is identical to the non-strict one -- strict only adds checks -- so
    # where interegular is missing we build without them rather than fail; the test suite builds the
    # grammar strictly to keep it conflict-free.
    return importlib.util.find_spec("interegular") is not None


@functools.cache
def _parser() -> Lark:
    """The process-wide parser, built on first use (building takes a few hundred milliseconds)."""
    return Lark(
        grammar_text(),
        parser="lalr",
        strict=_strict_available(),
        propagate_positions=True,
        maybe_placeholders=False,
        source_path=f"{_GRAMMAR_PACKAGE}/{_GRAMMAR_FILE}",
    )


# --------------------------------------------------------------------------------------------------
# Public entry points


def parse(text: str, file: str = "<string>") -> Program:
    """Parse the text of a `.infera` file; ``file`` is only used in locations and messages.

    Raises :class:`InferaSyntaxError` (and nothing else) when ``text`` does not follow the grammar.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse() takes the text as str, not {type(text).__name__}")
    try:
        tree = _parser().parse(text)
    except (UnexpectedToken, UnexpectedCharacters) as exc:
        raise _translate(exc, text, file) from None
    try:
        return _ToAst(file, text).transform(tree)
    except VisitError as exc:
        # Lark wraps whatever a transformer callback raises; ours raise only InferaSyntaxError.
        if isinstance(exc.orig_exc, InferaSyntaxError):
            raise exc.orig_exc from None
        raise


def parse_file(path: str | os.PathLike[str]) -> Program:
    """Read a UTF-8 `.infera` file (a leading byte-order mark is allowed) and parse it.

    A file that cannot be read (missing, a directory or a device, a name the OS refuses) is a
    :class:`~infera.exceptions.FileError`; text that is not UTF-8 is an InferaSyntaxError.
    """
    file = os.fspath(path)
    data = read_bytes(file)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = utf8_position(data, exc.start)
        source = data.decode("utf-8", "replace")
        raise InferaSyntaxError(
            f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            file=file,
            line=line,
            column=column,
            context=_context(source, line, column),
        ) from None
    return parse(text, file)


# --------------------------------------------------------------------------------------------------
# Parse tree -> AST

# The lexer has already checked the shape of these tokens; these only split them into parts.
_QUANTITY = re.compile(r"(-?[0-9_]+(?:\.[0-9_]+)?(?:[eE][+-]?[0-9_]+)?)[ \t]*(.*)", re.DOTALL)
_STRING_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class _PoolHead:
    """A line-form ``pool NAME: N x CHIP`` whose ``, key = value`` options are still loose siblings.

    The enclosing ``items`` gathers them into a :class:`Pool` (see the grammar's comment on ``pool``).
    """

    name: str
    chips: ChipCount
    loc: Loc


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):
    """Builds :mod:`infera.dsl.ast` nodes bottom-up.

    Non-recursive so that deeply nested input (``[[[[...]]]]``) cannot exhaust Python's stack.
    Each method receives the rule's ``meta`` (positions, from ``propagate_positions``) and its
    children: tokens that the grammar keeps plus the already-built nodes of sub-rules.
    """

    def __init__(self, file: str, text: str) -> None:
        super().__init__()
        self._file = file
        self._text = text

    # -- helpers ----------------------------------------------------------------------------------

    def _loc(self, where: Token | Meta) -> Loc:
        return Loc(self._file, where.line, where.column)

    def _error(self, message: str, line: int, column: int) -> InferaSyntaxError:
        return InferaSyntaxError(
            message, file=self._file, line=line, column=column, context=_context(self._text, line, column)
        )

    def _number(self, text: str, unit: str, token: Token) -> Quantity:
        digits = text.replace("_", "")
        try:
            value, dim = units.to_si(float(digits), unit)
        except OverflowError:
            raise self._error(f"number too large: {_shorten(token)}", token.line, token.column) from None
        is_integer = not any(c in digits for c in ".eE")
        return Quantity(value=value, dim=dim, unit=unit, loc=self._loc(token), is_integer=is_integer)

    # -- top level --------------------------------------------------------------------------------

    def start(self, meta: Meta, children: list[Any]) -> Program:
        program = Program(file=self._file)
        for child in children:
            if isinstance(child, Block):
                program.blocks.append(child)
            else:  # a use statement: a tuple of Use
                program.uses.extend(child)
        return program

    def use_stmt(self, meta: Meta, children: list[Any]) -> tuple[Use, ...]:
        # children: USE, DottedName, DottedName, ...; each Use is located at its path.
        return tuple(Use(path=path, loc=path.loc) for path in children[1:])

    def block(self, meta: Meta, children: list[Any]) -> Block:
        kind, name, *rest = children
        if rest and isinstance(rest[0], Token) and rest[0].type == "FROM":
            # [FROM, String] or [FROM, String, items]
            if str(kind) != "model":
                raise self._error(f"only a model can be read from a config file, not a {kind}",
                                  rest[0].line, rest[0].column)
            items = rest[2] if len(rest) == 3 else ()
            return ModelBlock(name=str(name), items=items, loc=self._loc(kind), config=rest[1])
        base = str(rest[1]) if len(rest) == 3 else None  # [EXTENDS, NAME, items] or [items]
        return BLOCK_TYPES[str(kind)](name=str(name), items=rest[-1], loc=self._loc(kind), base=base)

    # -- items ------------------------------------------------------------------------------------

    def items(self, meta: Meta, children: list[Any]) -> tuple[Item, ...]:
        result: list[Item] = []
        i = 0
        while i < len(children):
            child = children[i]
            i += 1
            if isinstance(child, _PoolHead):
                # A line-form pool takes every `, key = value` that directly follows it.
                options: list[Assign] = []
                while (
                    i + 1 < len(children)
                    and isinstance(children[i], Token)
                    and isinstance(children[i + 1], Assign)
                ):
                    options.append(children[i + 1])
                    i += 2
                result.append(Pool(name=child.name, chips=child.chips, options=tuple(options), loc=child.loc))
            elif not isinstance(child, Token):  # COMMA tokens only separate
                result.append(child)
        return tuple(result)

    def assign(self, meta: Meta, children: list[Any]) -> Assign:
        key, value = children
        return Assign(key=str(key), value=value, loc=self._loc(key))

    kwarg = assign

    def constraint(self, meta: Meta, children: list[Any]) -> Constraint:
        metric, *middle, op, value = children
        percentile = float(middle[0][1:].replace("_", "")) if middle else None  # "p99.9" -> 99.9
        return Constraint(metric=str(metric), percentile=percentile, op=str(op), value=value, loc=self._loc(metric))

    def sweep_axis(self, meta: Meta, children: list[Any]) -> SweepAxis:
        *parts, value = children
        return SweepAxis(path=tuple(str(p) for p in parts), value=value, loc=self._loc(parts[0]))

    def pool(self, meta: Meta, children: list[Any]) -> Pool | _PoolHead:
        keyword, name, chips, *body = children
        if body:
            return Pool(name=str(name), chips=chips, options=body[0], loc=self._loc(keyword))
        return _PoolHead(name=str(name), chips=chips, loc=self._loc(keyword))

    def pool_body(self, meta: Meta, children: list[Any]) -> tuple[Assign, ...]:
        return tuple(children)

    def link(self, meta: Meta, children: list[Any]) -> Link:
        keyword, src, dst, *assigns = children
        return Link(src=str(src), dst=str(dst), items=tuple(assigns), loc=self._loc(keyword))

    def sub_block(self, meta: Meta, children: list[Any]) -> SubBlock:
        kind, *name, items = children
        return SubBlock(kind=str(kind), name=str(name[0]) if name else None, items=items, loc=self._loc(kind))

    # -- values -----------------------------------------------------------------------------------

    def quantity(self, meta: Meta, children: list[Any]) -> Quantity:
        (token,) = children
        match = _QUANTITY.fullmatch(token)
        assert match is not None, token  # guaranteed by the QUANTITY terminal
        return self._number(match.group(1), match.group(2), token)

    def chip_count(self, meta: Meta, children: list[Any]) -> ChipCount:
        count_x, chip = children
        match = _QUANTITY.fullmatch(count_x)  # "8 x": the number, then "x" in the unit group
        assert match is not None, count_x
        count = self._number(match.group(1), "", count_x)
        return ChipCount(count=count, chip=Name(id=str(chip), loc=self._loc(chip)), loc=self._loc(count_x))

    def name(self, meta: Meta, children: list[Any]) -> Name:
        (token,) = children
        return Name(id=str(token), loc=self._loc(token))

    def dotted_name(self, meta: Meta, children: list[Any]) -> DottedName:
        return DottedName(parts=tuple(str(part) for part in children), loc=self._loc(children[0]))

    def string(self, meta: Meta, children: list[Any]) -> String:
        (token,) = children
        body = token[1:-1]
        for escape in _ESCAPE.finditer(body):
            if escape.group(1) not in _STRING_ESCAPES:
                # Strings never span lines, so the column is the token's plus the offset.
                column = token.column + 1 + escape.start()
                raise self._error(
                    f"unknown escape '\\{escape.group(1)}' in string (use \\\" \\\\ \\n or \\t)", token.line, column
                )
        value = _ESCAPE.sub(lambda m: _STRING_ESCAPES[m.group(1)], body)
        return String(value=value, loc=self._loc(token))

    def true(self, meta: Meta, children: list[Any]) -> Bool:
        return Bool(value=True, loc=self._loc(meta))

    def false(self, meta: Meta, children: list[Any]) -> Bool:
        return Bool(value=False, loc=self._loc(meta))

    def list_value(self, meta: Meta, children: list[Any]) -> ListValue:
        return ListValue(items=tuple(children), loc=self._loc(meta))

    def call(self, meta: Meta, children: list[Any]) -> Call:
        func, *arguments = children
        # The grammar puts positional arguments before keyword ones; kwargs arrive as Assign nodes.
        args = tuple(a for a in arguments if not isinstance(a, Assign))
        kwargs = tuple(a for a in arguments if isinstance(a, Assign))
        return Call(func=str(func), args=args, kwargs=kwargs, loc=self._loc(func))


# --------------------------------------------------------------------------------------------------
# Lark errors -> InferaSyntaxError

# A run of number-like characters: what a malformed number such as `20__000` or `1.2.3` looks like.
_NUMBERISH = re.compile(r"-?[0-9][0-9A-Za-z_.]*")

# Readable names of the terminals whose pattern is a regex; string terminals are shown quoted.
_TERMINAL_NAMES: dict[str, str] = {
    "$END": "end of file",
    "<END-OF-FILE>": "end of file",
    "NAME": "a name",
    "QUANTITY": "a number",
    "COUNT_X": "a chip count such as '8 x h100_sxm'",
    "STRING": 'a string ("...")',
    "PERCENTILE": "a percentile such as 'p99' or 'p99.9'",
}
# Keyword terminals shown as their words, each its own entry (`'model'`, `'chip'`, ...) ...
_KEYWORD_TERMINALS = ("USE", "EXTENDS", "FROM", "POOL", "LINK", "BLOCK_KIND")
# ... except the long sub-block list, which would crowd out everything else at an item start.
_GROUPED_TERMINALS = {"SUBKIND": "a sub-block ({})"}

_MAX_SHOWN = 40  # characters of a token or context line shown in a message


def describe_terminal(name: str) -> list[str]:
    """Readable forms of the terminal ``name`` for an "expected one of" list (never `__ANON_n`)."""
    if name in _TERMINAL_NAMES:
        return [_TERMINAL_NAMES[name]]
    if name in _KEYWORD_TERMINALS:
        return [f"'{word}'" for word in grammar_alternatives(name)]
    if name in _GROUPED_TERMINALS:
        return [_GROUPED_TERMINALS[name].format(", ".join(grammar_alternatives(name)))]
    pattern = _parser().get_terminal(name).pattern
    if isinstance(pattern, PatternStr):
        return [f"'{pattern.value}'"]
    return [name.lower()]  # a regex terminal missing above; the test suite checks there is none


def _expected(names: Iterable[str]) -> list[str]:
    return sorted({text for name in names for text in describe_terminal(name)})


def _acceptable(exc: UnexpectedToken | UnexpectedCharacters) -> set[str]:
    """The terminals that the parser would really accept where ``exc`` happened.

    The terminal set of the failing LALR state is not that: states are shared between contexts, so
    after `x = 1` it also lists `)` and `]`, and a lexer error lists only what the contextual lexer
    tried (no end of file, no `true`).  Lark's interactive parser, positioned at the failure, can try
    each candidate terminal (reductions included) and keep those that shift; the LALR parser attaches
    one to every error it raises.
    """
    return set(exc.interactive_parser.accepts())


def _translate(exc: UnexpectedToken | UnexpectedCharacters, text: str, file: str) -> InferaSyntaxError:
    expected_names = _acceptable(exc)
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            # Lark gives the end-of-file token the last real token's position; the missing text belongs
            # just after it.
            line, column = token.end_line, token.end_column
            message = "unexpected end of file"
        else:
            head = _constraint_head(text, token) if token.type in ("LT", "LE") else None
            if head is not None:
                # `ttft.mean < 2 s` reads as far as `<` as the start of a sweep axis (`a.b = ...`); the
                # mistake is the word after the dot, so it is reported there, as a percentile.
                token, expected_names = head, {"PERCENTILE"}
            line, column = token.line, token.column
            message = f"unexpected {_describe_token(token)}"
            if "PERCENTILE" in expected_names:
                # Only live after `key.`: a constraint's percentile, or the next part of a sweep path.
                expected_names = {"PERCENTILE"}
                message = (
                    f"bad percentile {_describe_token(token)}: write 'p' and a number after the dot, "
                    "as in 'ttft.p99' or 'ttft.p99.9' (a sweep path goes on with a name, as in "
                    "'traffic.chat.requests')"
                )
    else:
        line, column = exc.line, exc.column
        position = exc.pos_in_stream
        number = _NUMBERISH.match(text, position)
        if text.startswith('"', position):
            message = "unterminated string (a string ends with '\"' on the same line)"
        elif number:
            message = f"malformed number {_shorten(number.group())}"
        else:
            message = f"unexpected character {_describe_char(exc.char)}"
    return InferaSyntaxError(
        message,
        file=file,
        line=line,
        column=column,
        expected=_expected(expected_names),
        context=_context(text, line, column),
    )


_CONSTRAINT_HEAD = re.compile(r"(?:^|[\s{,])[A-Za-z_][A-Za-z0-9_]*[ \t]*\.[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*$")


def _constraint_head(text: str, token: Token) -> Token | None:
    """The word after the dot of a one-dot key right before ``token`` (``mean`` in ``ttft.mean <``)."""
    line = text.splitlines()[token.line - 1] if token.line - 1 < len(text.splitlines()) else ""
    m = _CONSTRAINT_HEAD.search(line[: token.column - 1])
    if m is None:
        return None
    return Token("NAME", m.group(1), line=token.line, column=m.start(1) + 1)


def _describe_token(token: Token) -> str:
    if token.type == "NAME":
        return f"name {_shorten(token)}"
    if token.type in ("QUANTITY", "COUNT_X"):
        return f"number {_shorten(token)}"
    if token.type == "STRING":
        return f"string {_shorten(token, quote=False)}"
    return _shorten(token)


def _describe_char(char: str) -> str:
    return f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"


def _shorten(text: str, quote: bool = True) -> str:
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    text = "".join(c if c.isprintable() else "?" for c in text)
    return f"'{text}'" if quote else text


def _context(text: str, line: int, column: int) -> str:
    """The source line ``line`` and a caret under ``column`` (both 1-based).

    Tabs are copied into the caret line so the caret lines up in a terminal; unprintable characters
    are shown as '?'; a long line is cut to a window around the column.
    """
    lines = text.split("\n")
    source = lines[line - 1].rstrip("\r") if 1 <= line <= len(lines) else ""
    offset = max(column - 1, 0)
    width = 2 * _MAX_SHOWN
    if len(source) > width:
        start = max(0, min(offset - _MAX_SHOWN, len(source) - width))
        prefix = "..." if start > 0 else ""
        suffix = "..." if start + width < len(source) else ""
        source = prefix + source[start : start + width] + suffix
        offset = offset - start + len(prefix)
    source = "".join(c if c.isprintable() or c == "\t" else "?" for c in source)
    caret = "".join(c if c == "\t" else " " for c in source[:offset]) + "^"
    return f"{source}\n{caret}"
