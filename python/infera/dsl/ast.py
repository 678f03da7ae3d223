"""Typed syntax tree of a `.infera` file.

The parser (``infera.dsl.parser``) produces these nodes; it checks syntax and converts unit literals to
SI, nothing more. Meaning (which fields a block takes, which unit each needs, name resolution) is the
compiler's job (``infera.plan``), which reports problems through each node's :class:`Loc`.

Every value that carried a unit is a :class:`Quantity` whose ``value`` is already in SI and whose
``dim`` names the physical dimension (see ``infera.dsl.units``), so ``80 GB`` and ``74.5 GiB`` are both
``Quantity(dim="bytes")`` and ``60 ms`` is ``Quantity(value=0.06, dim="time")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Union


@dataclass(frozen=True)
class Loc:
    """Where a node starts in its source file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Quantity:
    """A number, in SI units once parsed. ``dim`` is ``"number"`` for a bare number."""

    value: float
    dim: str
    unit: str  # the unit as written ("" for a bare number), kept for messages
    loc: Loc
    is_integer: bool = False  # written without a decimal point or exponent


@dataclass(frozen=True)
class Name:
    """A bare identifier used as a value: a reference (`h100_sxm`) or a keyword value (`mixed`, `bf16`)."""

    id: str
    loc: Loc


@dataclass(frozen=True)
class DottedName:
    """A catalog path such as ``chips.h100_sxm``."""

    parts: tuple[str, ...]
    loc: Loc

    def __str__(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class String:
    value: str
    loc: Loc


@dataclass(frozen=True)
class Bool:
    value: bool
    loc: Loc


@dataclass(frozen=True)
class ListValue:
    items: tuple["Value", ...]
    loc: Loc


@dataclass(frozen=True)
class Call:
    """``poisson(8 /s)`` or ``lognormal(median = 700 tokens, sigma = 1.1)``."""

    func: str
    args: tuple["Value", ...]
    kwargs: tuple["Assign", ...]
    loc: Loc


@dataclass(frozen=True)
class ChipCount:
    """``8 x h100_sxm`` — a number of chips of a named kind."""

    count: Quantity
    chip: Name
    loc: Loc


Value = Union[Quantity, Name, DottedName, String, Bool, ListValue, Call, ChipCount]


@dataclass(frozen=True)
class Assign:
    """``key = value`` inside a block."""

    key: str
    value: Value
    loc: Loc


@dataclass(frozen=True)
class Constraint:
    """An SLO target: ``ttft.p99 < 2 s`` (metric ``ttft``, percentile 99) or ``e2e < 30 s``."""

    metric: str
    percentile: float | None
    op: str  # "<" or "<="
    value: Value
    loc: Loc


@dataclass(frozen=True)
class Pool:
    """``pool gp: 8 x h100_sxm, tp = 4, max_batch = 256`` inside a ``system``."""

    name: str
    chips: ChipCount
    options: tuple[Assign, ...]
    loc: Loc


@dataclass(frozen=True)
class Link:
    """``link pre -> dec { bandwidth = 50 GB/s, latency = 20 us }`` inside a ``system``."""

    src: str
    dst: str
    items: tuple[Assign, ...]
    loc: Loc


@dataclass(frozen=True)
class SubBlock:
    """A nested block such as ``engine optical { ... }`` or ``memory hbm { ... }`` inside a chip."""

    kind: str
    name: str | None
    items: tuple["Item", ...]
    loc: Loc


@dataclass(frozen=True)
class SweepAxis:
    """``traffic.chat.arrivals.rate = [2 /s, 4 /s]`` inside a ``sweep``: a parameter path and its values."""

    path: tuple[str, ...]
    value: Value
    loc: Loc


Item = Union[Assign, Constraint, Pool, Link, SubBlock, SweepAxis]


@dataclass(frozen=True)
class Block:
    """A top-level declaration; each kind of block is a subclass, so the compiler dispatches on the type.

    ``kind`` is the keyword that starts the block (it names the block's namespace in messages such as
    "unknown model 'x'"); ``base`` is the block it extends (``chip my_h100 extends h100_sxm { ... }``).
    """

    kind: ClassVar[str]
    name: str
    items: tuple[Item, ...]
    loc: Loc
    base: str | None = None


@dataclass(frozen=True)
class ModelBlock(Block):
    """``model llama { layers = 32, ... }``: a model's shape.

    ``config`` is the path of ``model m from "config.json" { ... }`` as written (relative to the file that says
    it); the fields of that Hugging Face config come first and the block's own items override them.
    """

    kind: ClassVar[str] = "model"
    config: String | None = None


@dataclass(frozen=True)
class ChipBlock(Block):
    """``chip h100 { bf16 = 989 TFLOPS, ... }``: a chip's engines, memories, link, power and price."""

    kind: ClassVar[str] = "chip"


@dataclass(frozen=True)
class TrafficBlock(Block):
    """``traffic chat { arrivals = poisson(8 /s), ... }``: a request stream."""

    kind: ClassVar[str] = "traffic"


@dataclass(frozen=True)
class SloBlock(Block):
    """``slo tight { ttft.p99 < 2 s }``: latency targets."""

    kind: ClassVar[str] = "slo"


@dataclass(frozen=True)
class SystemBlock(Block):
    """``system split { pool ..., link ... }``: pools of chips, links between them and routers."""

    kind: ClassVar[str] = "system"


@dataclass(frozen=True)
class RunBlock(Block):
    """``run r { model = m, traffic = t, systems = [a, b] }``: what to simulate."""

    kind: ClassVar[str] = "run"


@dataclass(frozen=True)
class SweepBlock(Block):
    """``sweep w { run = r, traffic.chat.arrivals.rate = [2 /s, 4 /s] }``: runs to repeat over parameter
    values (a grid, or zipped)."""

    kind: ClassVar[str] = "sweep"


@dataclass(frozen=True)
class DesignBlock(Block):
    """``design d { model = m, traffic = t, slo = s, chips = [h100_sxm], budget = 16, rate = 20 /s }``: a
    search over pool sizes, parallelism and chip types for the cheapest design meeting an SLO."""

    kind: ClassVar[str] = "design"


#: Block classes by the keyword that starts them, in the grammar's order (``BLOCK_KIND``).
BLOCK_TYPES: dict[str, type[Block]] = {
    cls.kind: cls for cls in (ModelBlock, ChipBlock, TrafficBlock, SloBlock, SystemBlock, RunBlock, SweepBlock,
                              DesignBlock)
}


@dataclass(frozen=True)
class Use:
    """``use chips.h100_sxm`` — bring a catalog entry into scope."""

    path: DottedName
    loc: Loc


@dataclass
class Program:
    """A whole parsed file."""

    file: str
    uses: list[Use] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
