"""The built-in catalog: chips, models and traffic (workload profiles) written as `.infera` files shipped
with the package.

``use chips.h100_sxm`` (or ``models.<name>``, ``traffic.<name>``) in a program resolves here. Each file is
parsed once per process, with the same parser as user files, so catalog entries are ordinary blocks a user
may ``extend``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from infera.dsl import ast, parse
from infera.exceptions import CompileError

#: Catalog sections: the first part of a `use` path → (file, the kind of block it holds).
SECTIONS: dict[str, tuple[str, type[ast.Block]]] = {"chips": ("chips.infera", ast.ChipBlock),
                                                   "models": ("models.infera", ast.ModelBlock),
                                                   "traffic": ("traffic.infera", ast.TrafficBlock)}


def directory() -> Path:
    """The catalog's folder in the installed package: a relative ``from "configs/x.json"`` in a catalog file
    is read from here."""
    return Path(str(resources.files("infera.catalog")))


@lru_cache(maxsize=None)
def section(name: str) -> dict[str, ast.Block]:
    """All blocks of one catalog section, by name."""
    file, kind = SECTIONS[name]
    text = resources.files("infera.catalog").joinpath(file).read_text(encoding="utf-8")
    program = parse(text, file=f"<catalog>/{file}")
    return {b.name: b for b in program.blocks if isinstance(b, kind)}


def resolve(use: ast.Use) -> ast.Block:
    """The catalog block a `use` statement names."""
    parts = use.path.parts
    if len(parts) != 2 or parts[0] not in SECTIONS:
        raise CompileError(
            f"unknown catalog path '{use.path}': write {' or '.join(s + '.<name>' for s in SECTIONS)}", use.loc
        )
    entries = section(parts[0])
    if parts[1] not in entries:
        raise CompileError(
            f"no {SECTIONS[parts[0]][1].kind} '{parts[1]}' in the catalog (known: {', '.join(sorted(entries))})",
            use.loc,
        )
    return entries[parts[1]]


def entries() -> list[tuple[str, str, str]]:
    """(section, name, source) of every catalog entry, for `infera catalog`."""
    rows = []
    for sec in SECTIONS:
        for name, block in section(sec).items():
            source = next((i.value.value for i in block.items if isinstance(i, ast.Assign) and i.key == "source"
                           and isinstance(i.value, ast.String)), "")
            rows.append((sec, name, source))
    return rows
