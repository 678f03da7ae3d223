"""Syntax errors: where they point, what they expect, and how they read."""

from __future__ import annotations

import re

import pytest

from infera.dsl import parse
from infera.dsl import parser as dsl_parser
from infera.exceptions import InferaSyntaxError


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
# terminal names


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
