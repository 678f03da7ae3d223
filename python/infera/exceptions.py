"""infera's exception hierarchy: everything infera raises on bad input derives from :class:`InferaError`.

``InferaError``, ``PlanError`` (with ``table``, ``column``, ``row`` and ``reason``) and ``SimulationError`` are
created by the Rust binding and re-exported here; the compiler's own errors derive from the same base.
"""

from __future__ import annotations

from typing import Any

from infera._core import InferaError, PlanError, SimulationError

__all__ = ["CompileError", "FileError", "InferaError", "InferaSyntaxError", "PlanError", "SimulationError"]


class InferaSyntaxError(InferaError):
    """The text of a `.infera` file does not follow the grammar.

    ``file``, ``line`` and ``column`` say where; ``expected`` lists what the parser would have accepted there;
    ``context`` is the offending source line with a caret under the column.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int,
        column: int,
        expected: list[str] | None = None,
        context: str = "",
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.expected = sorted(expected or [])
        self.context = context
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: syntax error: {self.message}"
        if self.context:
            text += "\n" + self.context.rstrip("\n")
        if self.expected:
            text += "\nexpected one of: " + ", ".join(self.expected)
        return text


class CompileError(InferaError):
    """A `.infera` file parses but means something impossible or unknown.

    ``loc`` (an :class:`infera.dsl.ast.Loc`, possibly ``None``) says where; ``reason`` says why.
    """

    def __init__(self, reason: str, loc: Any = None) -> None:
        self.reason = reason
        self.loc = loc
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.loc}: error: {self.reason}" if self.loc is not None else f"error: {self.reason}"


class FileError(InferaError):
    """A file infera reads or writes cannot be used: missing, a directory or a device, a name the file system
    refuses, not UTF-8, empty or cut short.

    ``path`` names the file, ``line`` the line where the problem is (``None`` for the file as a whole) and
    ``reason`` says what is wrong.
    """

    def __init__(self, path: Any, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"
