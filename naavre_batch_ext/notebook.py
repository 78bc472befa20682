"""Load notebooks for analysis, turning every way a file can be unusable into one clear error.

The core never shows a traceback to a user: :class:`NotebookError` carries a one-line message and a
hint saying what to do, and the CLI and REST handlers print or return exactly those.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024
"""Refuse larger files: analysing them would be slow and they are almost always full of outputs."""

MAX_CELLS = 10_000
"""Refuse notebooks with more cells than this (the benchmark's 1,000 code cells take well under 1 s)."""

__all__ = [
    "MAX_CELLS",
    "MAX_NOTEBOOK_BYTES",
    "NotebookError",
    "kernel_name",
    "load_notebook",
    "read_notebook",
    "dumps_notebook",
    "write_notebook",
]


class NotebookError(Exception):
    """A notebook that cannot be analysed: ``message`` says why, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


def load_notebook(path: str | Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> NotebookNode:
    """Read a notebook file (nbformat 4) or raise :class:`NotebookError`."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise NotebookError(f"{p}: no such file", "check the path") from None
    except OSError as exc:
        raise NotebookError(f"{p}: cannot read ({exc.strerror})", "check the path") from None
    if p.is_dir():
        raise NotebookError(f"{p} is a directory", "give the path of an .ipynb file")
    if size > max_bytes:
        raise NotebookError(
            f"{p} is too large ({size / 1e6:.1f} MB, limit {max_bytes / 1e6:.0f} MB)",
            "clear the outputs (Edit > Clear Outputs of All Cells) and save, then try again",
        )
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NotebookError(f"{p} is not UTF-8 text", "is this really an .ipynb file?") from None
    except OSError as exc:
        raise NotebookError(f"{p}: cannot read ({exc.strerror})", "check the path") from None
    return read_notebook(text, max_bytes=max_bytes)


def read_notebook(
    source: str | bytes | dict[str, Any], max_bytes: int = MAX_NOTEBOOK_BYTES
) -> NotebookNode:
    """Parse notebook JSON text (or an already parsed dict) or raise :class:`NotebookError`."""
    if isinstance(source, (str, bytes)):
        if len(source) > max_bytes:
            raise NotebookError(
                f"notebook is too large ({len(source) / 1e6:.1f} MB, limit {max_bytes / 1e6:.0f} MB)",
                "clear the outputs and save, then try again",
            )
        try:
            data = json.loads(source)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            where = (
                f" at line {exc.lineno}, column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            raise NotebookError(
                f"not a notebook: the file is not valid JSON{where}",
                "open it in JupyterLab to check it, or restore it from a copy",
            ) from None
    else:
        data = source
    if not isinstance(data, dict) or "nbformat" not in data:
        raise NotebookError(
            "not a notebook: JSON without 'nbformat' and 'cells'",
            "give the path of a Jupyter notebook (.ipynb)",
        )
    version = data.get("nbformat")
    if not isinstance(version, int) or isinstance(version, bool):
        raise NotebookError("not a notebook: 'nbformat' is not a number", "give a Jupyter notebook")
    if version < 4:
        raise NotebookError(
            f"notebook format {version} is too old (format 4 is needed)",
            "upgrade it: open and save it in JupyterLab, or run "
            "'jupyter nbconvert --to notebook --inplace NOTEBOOK.ipynb'",
        )
    if version > 4:
        raise NotebookError(
            f"notebook format {version} is newer than this tool knows (format 4)",
            "save it as format 4 from JupyterLab",
        )
    cells = data.get("cells")
    if not isinstance(cells, list) or not all(
        isinstance(c, dict) and isinstance(c.get("cell_type"), str) and "source" in c for c in cells
    ):
        raise NotebookError(
            "not a notebook: 'cells' is not a list of cells with 'cell_type' and 'source'",
            "open it in JupyterLab to check it, or restore it from a copy",
        )
    _check_shapes(data)
    if len(cells) > MAX_CELLS:
        raise NotebookError(
            f"notebook has {len(cells)} cells, more than the limit of {MAX_CELLS}",
            "split it into several notebooks",
        )
    try:
        nb = nbformat.from_dict(data)
        # Source may be stored as a list of lines; join it as nbformat's reader does.
        for cell in nb.cells:
            if isinstance(cell.source, list):
                cell.source = "".join(cell.source)
    except Exception as exc:  # nbformat raises various types for malformed content
        raise NotebookError(f"not a notebook: {exc}", "open it in JupyterLab to check it") from None
    language = _language(nb)
    if language is not None and language.lower() != "python":
        raise NotebookError(
            f"the notebook's kernel is {language}, not Python",
            "only Python notebooks can be turned into a batch workflow",
        )
    return nb


def _check_shapes(data: dict[str, Any]) -> None:
    """Refuse, with the cell's number, the fields the core reads whose JSON type is wrong.

    nbformat's reader only warns about schema errors, and its validator's messages lose the cell
    number; a hand-edited or generated file with ``"source": 5`` or ``"tags": "x"`` would otherwise
    crash the analysis (a traceback, a 500) or have its tags silently ignored.
    """
    hint = "open the notebook in JupyterLab and save it, or fix that field in a text editor"
    if not isinstance(data.get("metadata", {}), dict):
        raise NotebookError("not a notebook: its 'metadata' is not an object", hint)
    for index, cell in enumerate(data["cells"]):
        source = cell["source"]
        if not isinstance(source, str) and not (
            isinstance(source, list) and all(isinstance(line, str) for line in source)
        ):
            raise NotebookError(f"cell {index}: 'source' is not text or a list of text lines", hint)
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            raise NotebookError(f"cell {index}: 'metadata' is not an object", hint)
        tags = metadata.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise NotebookError(f"cell {index}: 'metadata.tags' is not a list of strings", hint)


def _language(nb: NotebookNode) -> str | None:
    """The kernel language, from ``kernelspec.language`` or ``language_info.name``."""
    meta = nb.get("metadata") or {}
    spec = meta.get("kernelspec") or {}
    lang = spec.get("language") if isinstance(spec, dict) else None
    if not lang:
        info = meta.get("language_info") or {}
        lang = info.get("name") if isinstance(info, dict) else None
    return lang if isinstance(lang, str) and lang else None


def kernel_name(nb: NotebookNode) -> str:
    """The kernelspec name, ``python3`` when the notebook does not say."""
    spec = (nb.get("metadata") or {}).get("kernelspec") or {}
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else "python3"


def dumps_notebook(nb: NotebookNode, like: str | None = None) -> str:
    """Serialise with nbformat's own writer (what Jupyter uses), so saved files keep their bytes.

    ``like`` is the file's original text: its trailing-newline convention is kept, the one detail
    in which files written by other tools differ from nbformat's output.
    """
    text = nbformat.writes(nb, version=nbformat.NO_CONVERT)
    if like is not None and not like.endswith("\n"):
        text = text.rstrip("\n")
    elif not text.endswith("\n"):
        text += "\n"
    return text


def write_notebook(nb: NotebookNode, path: str | Path, like: str | None = None) -> None:
    """Write ``nb`` to ``path`` with :func:`dumps_notebook` (UTF-8)."""
    Path(path).write_text(dumps_notebook(nb, like), encoding="utf-8")
