"""Name resolution: the blocks a program can refer to (its own and those it ``use``s), and ``extends`` chains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, TypeVar

from infera.catalog import directory, resolve
from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan.hf_config import config_items

B = TypeVar("B", bound=ast.Block)
T = TypeVar("T")


@dataclass
class Scope:
    """Every named block visible to a program, by kind (a block kind is a namespace: a model and a chip may
    share a name)."""

    blocks: dict[str, dict[str, ast.Block]] = field(default_factory=dict)

    @classmethod
    def of_program(cls, program: ast.Program) -> "Scope":
        """The catalog entries the program ``use``s, then the program's own blocks."""
        scope = cls()
        for use in program.uses:
            scope.add(resolve(use))
        for block in program.blocks:
            scope.add(block)
        return scope

    def add(self, block: ast.Block) -> None:
        kind = self.blocks.setdefault(block.kind, {})
        if block.name in kind:
            prev = kind[block.name].loc
            raise CompileError(f"duplicate {block.kind} '{block.name}' (first declared at {prev})", block.loc)
        kind[block.name] = block

    def all(self, kind: type[B]) -> dict[str, B]:
        """The blocks of one kind, by name, in the order they were added."""
        return self.blocks.get(kind.kind, {})  # type: ignore[return-value]

    def get(self, kind: type[B], name: str, loc: ast.Loc) -> B:
        """The block ``name`` of ``kind``; an unknown name is an error at ``loc`` (where it is referred to)."""
        return lookup(self.all(kind), kind.kind, name, loc)


def lookup(table: Mapping[str, T], kind: str, name: str, loc: ast.Loc) -> T:
    """``table[name]``, where ``table`` holds the blocks of ``kind`` (or what they compiled to); an unknown
    name is an error at ``loc``, where it is referred to."""
    if name not in table:
        known = ", ".join(sorted(table)) or "none declared"
        raise CompileError(f"unknown {kind} '{name}' (known: {known})", loc)
    return table[name]


def merged_items(scope: Scope, block: ast.Block, seen: tuple[str, ...] = ()) -> list[Any]:
    """A block's items with those of its `extends` base chain, or of the config.json it is read ``from``; the
    derived block's fields win."""
    if isinstance(block, ast.ModelBlock) and block.config is not None:
        base_items = config_items(block, directory)
    elif block.base is None:
        return list(block.items)
    elif block.base == block.name or block.base in seen:
        raise CompileError(f"{block.kind} '{block.name}' extends itself", block.loc)
    else:
        base = scope.get(type(block), block.base, block.loc)
        base_items = merged_items(scope, base, seen + (block.name,))
    own = {i.key for i in block.items if isinstance(i, ast.Assign)}
    own_sub = {(i.kind, i.name) for i in block.items if isinstance(i, ast.SubBlock)}
    kept = [
        i for i in base_items
        if not (isinstance(i, ast.Assign) and i.key in own)
        and not (isinstance(i, ast.SubBlock) and (i.kind, i.name) in own_sub)
    ]
    return kept + list(block.items)


def only_items(items: list[Any], allowed: tuple[type, ...], where: str) -> None:
    """Rejects, at its location, the first item that is not of an ``allowed`` node type."""
    for item in items:
        if not isinstance(item, allowed):
            kind = type(item).__name__.lower()
            raise CompileError(f"{where}: a {kind} is not allowed here", item.loc)
