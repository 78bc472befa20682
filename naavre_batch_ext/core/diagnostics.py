"""Located diagnostics: every problem the core finds says which cell, which line, and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Diagnostic", "format_diagnostic", "sort_key"]


@dataclass(frozen=True)
class Diagnostic:
    """One finding. ``cell_index`` is ``None`` for notebook-wide findings; lines/columns count from 1."""

    severity: str  # "error" | "warning"
    code: str
    message: str
    hint: str
    cell_index: int | None = None
    cell_id: str | None = None
    line: int | None = None
    column: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The spec's diagnostic object (fixed key order so the spec text is deterministic)."""
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "cell_index": self.cell_index,
            "cell_id": self.cell_id,
            "line": self.line,
            "column": self.column,
        }


def sort_key(d: Diagnostic) -> tuple[int, int, int, str, str]:
    """Notebook-wide first, then by cell, line, column: the order a user reads the notebook in."""
    return (
        -1 if d.cell_index is None else d.cell_index,
        d.line or 0,
        d.column or 0,
        d.code,
        d.message,
    )


def format_diagnostic(d: dict[str, Any] | Diagnostic, filename: str) -> str:
    """``file:cell N:line:col: severity: message`` and an indented hint line (compiler style)."""
    data = d.to_json() if isinstance(d, Diagnostic) else d
    where = filename
    if data.get("cell_index") is not None:
        where += f":cell {data['cell_index']}"
        if data.get("line") is not None:
            where += f":{data['line']}"
            if data.get("column") is not None:
                where += f":{data['column']}"
    text = f"{where}: {data['severity']}: {data['message']}"
    if data.get("hint"):
        text += f"\n    hint: {data['hint']}"
    return text
