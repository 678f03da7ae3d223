"""The typed block nodes: one class per block kind of the grammar, built by the parser with positions."""

from __future__ import annotations

from infera.dsl import ast, parse
from infera.dsl.parser import grammar_alternatives


def test_one_block_class_per_block_kind_of_the_grammar() -> None:
    assert list(ast.BLOCK_TYPES) == list(grammar_alternatives("BLOCK_KIND"))
    for kind, cls in ast.BLOCK_TYPES.items():
        assert issubclass(cls, ast.Block) and cls.kind == kind


def test_the_parser_builds_the_class_of_each_block() -> None:
    text = "\n".join(f"{kind} b_{kind} extends base {{ x = 1 }}" for kind in ast.BLOCK_TYPES)
    program = parse(text, "f.infera")
    for line, (block, cls) in enumerate(zip(program.blocks, ast.BLOCK_TYPES.values()), start=1):
        assert type(block) is cls
        assert (block.name, block.base, block.loc) == (f"b_{cls.kind}", "base", ast.Loc("f.infera", line, 1))
        (item,) = block.items
        assert isinstance(item, ast.Assign) and item.loc.line == line


def test_blocks_of_different_kinds_differ_even_with_equal_fields() -> None:
    loc = ast.Loc("f", 1, 1)
    assert ast.ModelBlock("m", (), loc) != ast.ChipBlock("m", (), loc)
    assert ast.ModelBlock("m", (), loc) == ast.ModelBlock("m", (), loc)
