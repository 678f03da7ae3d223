"""``infera.model_from_config``: a Hugging Face config.json as a checked ``model`` block, for the API and the CLI.

The mapping itself (config keys → fields) is :mod:`infera.plan.hf_config`; this module adds a name and the
caller's overrides, checks the result with the model block's own compiler, and writes it out as `.infera` text.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from infera.dsl import parse
from infera.plan.hf_config import import_config
from infera.plan.model import ModelShape

__all__ = ["ImportedModel", "default_name", "model_from_config"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Fields whose value is a quoted string in a block; every other text value is a bare name (bf16, mla).
_STRING_FIELDS = ("family", "source")


@dataclass(frozen=True)
class ImportedModel:
    """A model read from a config.json: its block ``name``, its ``fields`` (the config's mapping with the
    overrides applied, in block order), ``notes`` on what the config describes that infera does not price, and
    the ``config`` path it came from. :attr:`text` is the equivalent `.infera` block."""

    name: str
    fields: dict[str, int | float | bool | str]
    notes: tuple[str, ...]
    config: str

    @property
    def text(self) -> str:
        """The `.infera` block, the notes above it as comments: paste it into a program, or pass ``text +
        program`` to :func:`infera.compile_text`."""
        where = self.config.replace("\r", "\\r").replace("\n", "\\n")
        lines = [f"# imported from {where}"] + [f"# not modelled: {n}" for n in self.notes]
        lines.append(f"model {self.name} {{")
        lines += [f"  {key} = {_render(key, value)}" for key, value in self.fields.items()]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def shape(self) -> ModelShape:
        """The model compiled as a ``model`` block compiles (raises :class:`~infera.CompileError` on a bad
        override)."""
        from infera.plan.blocks.model import compile_model
        from infera.plan.scope import Scope

        program = parse(self.text, file=f"<model_from_config {self.config}>")
        return compile_model(Scope.of_program(program), program.blocks[0])  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.text


def model_from_config(path: str | os.PathLike[str], *, name: str | None = None,
                      **overrides: int | float | bool | str) -> ImportedModel:
    """Reads a Hugging Face ``config.json`` from a local file (nothing is fetched) and maps it to a model.

    ``name`` is the block's name (by default made from the file's name, or its folder's when the file is
    ``config.json``); ``overrides`` replace or add block fields, as a ``model m from "..." { ... }`` body does:
    ``model_from_config("config.json", weights="fp8", kv="fp8")``. Precisions and the attention kind are
    given as strings (``"fp8"``, ``"mla"``), counts as ints, switches as bools.

    The result is checked by compiling it; use :attr:`ImportedModel.text` in a program, or
    :meth:`ImportedModel.shape` for its parameter counts.

    Raises :class:`~infera.FileError` for a path that names no readable file,
    :class:`~infera.plan.hf_config.ConfigError` (a FileError) naming the file and the key for a config that is
    not a JSON object, has an unknown ``model_type``, lacks a key, or holds a value of the wrong type or
    range, and :class:`~infera.CompileError` for an override the model block does not accept.

    >>> m = infera.model_from_config("Llama-3.1-8B/config.json", weights="fp8")   # doctest: +SKIP
    >>> m.name, m.fields["layers"], m.shape().params()                            # doctest: +SKIP
    ('llama_3_1_8b', 32, 8030261248)
    """
    imported = import_config(path)
    name = default_name(path) if name is None else name
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"model name {name!r} is not a name (letters, digits and _, not starting with a digit)")
    for key, value in overrides.items():
        if not isinstance(value, (bool, int, float, str)):
            raise TypeError(f"override {key}={value!r}: give an int, float, bool or str")
    fields = {**imported.fields, **overrides}
    model = ImportedModel(name, fields, imported.notes, os.fspath(path))
    model.shape()
    return model


def default_name(path: str | os.PathLike[str]) -> str:
    """A block name made from a config's path: ``Llama-3.1-8B/config.json`` → ``llama_3_1_8b``."""
    p = Path(path)
    stem = p.parent.name if p.stem == "config" and p.parent.name else p.stem
    name = re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", stem.lower())).strip("_")
    if not name:
        return "model"
    return f"m_{name}" if name[0].isdigit() else name


def _render(key: str, value: int | float | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if key not in _STRING_FIELDS and _NAME.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'
