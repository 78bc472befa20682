"""Load notebooks for analysis, turning every way a file can be unusable into one clear error.

The core never shows a traceback to a user: :class:`NotebookError` carries a one-line message and a
hint saying what to do, and the CLI and REST handlers print or return exactly those.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # nbformat (through jsonschema) takes a second to import: see read_notebook
    from nbformat import NotebookNode

MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024
"""Refuse larger files: analysing them would be slow and they are almost always full of outputs."""

MAX_CELLS = 10_000
"""Refuse notebooks with more cells than this (the benchmark's 1,000 code cells take well under 1 s)."""

MAX_DEPTH = 256
"""Refuse JSON nested deeper than this: no notebook needs it, and Python's recursive readers
(``json``, nbformat's ``from_dict``, ``copy.deepcopy``) fail on a few hundred levels more."""

__all__ = [
    "MAX_CELLS",
    "MAX_DEPTH",
    "MAX_NOTEBOOK_BYTES",
    "MAX_NOTEBOOK_BYTES_ENV",
    "NotebookError",
    "LANGUAGES",
    "kernel_language",
    "kernel_name",
    "notebook_language",
    "load_notebook",
    "load_notebook_data",
    "max_notebook_bytes",
    "deep_path_in_text",
    "nesting_error",
    "parse_notebook",
    "read_notebook",
    "dumps_notebook",
    "write_notebook",
]

_HINT = "open the notebook in JupyterLab and save it, or fix that field in a text editor"


class NotebookError(Exception):
    """A notebook that cannot be analysed: ``message`` says why, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


MAX_NOTEBOOK_BYTES_ENV = "NAAVRE_BATCH_MAX_NOTEBOOK_BYTES"
"""The environment variable that changes :data:`MAX_NOTEBOOK_BYTES` for the command line."""


def _size(count: int) -> str:
    return f"{count / 2**20:.0f} MiB" if count >= 2**20 else f"{count} bytes"


def max_notebook_bytes() -> int:
    """The size limit of a notebook file: ``NAAVRE_BATCH_MAX_NOTEBOOK_BYTES`` when it is a whole
    number >= 1, else :data:`MAX_NOTEBOOK_BYTES`."""
    text = os.environ.get(MAX_NOTEBOOK_BYTES_ENV, "").strip()
    return int(text) if text.isdigit() and len(text) < 19 and int(text) > 0 else MAX_NOTEBOOK_BYTES


def load_notebook(path: str | Path, max_bytes: int | None = None) -> NotebookNode:
    """Read a notebook file (nbformat 4) as nbformat's ``NotebookNode`` or raise
    :class:`NotebookError`. For the runner and ``tag``, which hand the notebook to nbformat and
    nbclient; analysis needs only :func:`load_notebook_data`."""
    return _node(load_notebook_data(path, max_bytes))


def load_notebook_data(path: str | Path, max_bytes: int | None = None) -> dict[str, Any]:
    """Read a notebook file as checked plain JSON (see :func:`parse_notebook`), or raise
    :class:`NotebookError`. What ``check``, ``spec`` and ``export`` use: no nbformat import.

    Only a regular file is read (``/dev/zero``, a FIFO or a terminal would never end), and never
    more than ``max_bytes`` (default :func:`max_notebook_bytes`) plus one byte, whatever its
    size said: a file that grows while it is read is cut off and refused, not read forever."""
    p = Path(path)
    limit = max_bytes if max_bytes is not None else max_notebook_bytes()
    too_large = NotebookError(
        f"{p} is too large (over the limit of {_size(limit)})",
        "clear the outputs (Edit > Clear Outputs of All Cells) and save, then try again; "
        f"or raise the limit with {MAX_NOTEBOOK_BYTES_ENV}=<bytes>",
    )
    try:
        mode = p.stat().st_mode
        if stat.S_ISDIR(mode):
            raise NotebookError(f"{p} is a directory", "give the path of an .ipynb file")
        if not stat.S_ISREG(mode):
            raise NotebookError(
                f"{p} is not a regular file (a device, a pipe or a socket)",
                "give the path of an .ipynb file",
            )
        # O_NONBLOCK: a FIFO swapped in after the check does not block the open
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise NotebookError(f"{p} is not a regular file", "give the path of an .ipynb file")
            if os.fstat(handle.fileno()).st_size > limit:
                raise too_large
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise NotebookError(f"{p}: no such file", "check the path") from None
    except OSError as exc:
        raise NotebookError(f"{p}: cannot read ({exc.strerror})", "check the path") from None
    if len(data) > limit:
        raise too_large
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotebookError(f"{p} is not UTF-8 text", "is this really an .ipynb file?") from None
    return parse_notebook(text, max_bytes=limit)


def read_notebook(
    source: str | bytes | Mapping[str, Any], max_bytes: int = MAX_NOTEBOOK_BYTES
) -> NotebookNode:
    """Parse notebook JSON text (or an already parsed dict) as a ``NotebookNode`` or raise
    :class:`NotebookError`."""
    return _node(parse_notebook(source, max_bytes=max_bytes))


def _node(data: dict[str, Any]) -> NotebookNode:
    """nbformat's attribute-access notebook, imported only here: nbformat imports jsonschema and
    its format checkers, about a second, which the analysis does not need."""
    import nbformat

    try:
        nb = nbformat.from_dict(data)
        # Source may be stored as a list of lines; join it as nbformat's reader does.
        for cell in nb.cells:
            if isinstance(cell.source, list):
                cell.source = "".join(cell.source)
    except Exception as exc:  # nbformat raises various types for malformed content
        raise NotebookError(f"not a notebook: {exc}", "open it in JupyterLab to check it") from None
    return nb


def parse_notebook(
    source: str | bytes | Mapping[str, Any], max_bytes: int = MAX_NOTEBOOK_BYTES
) -> dict[str, Any]:
    """Parse and check notebook JSON, returning it as plain dicts and lists.

    Every field the core reads is checked for its JSON type, and a refusal names the field
    (``cell 3: 'metadata.tags' is not a list of strings``); fields the core does not read are left
    as they are, as JupyterLab leaves them. Raises :class:`NotebookError`.
    """
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
        except RecursionError:
            text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
            raise nesting_error(deep_path_in_text(text)) from None
    else:
        data = source
    if not isinstance(data, dict) or "nbformat" not in data:
        raise NotebookError(
            "not a notebook: JSON without 'nbformat' and 'cells'",
            "give the path of a Jupyter notebook (.ipynb)",
        )
    too_deep = _too_deep(data)
    if too_deep is not None:
        raise nesting_error(too_deep)
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
    _check_shapes(data)
    if len(data["cells"]) > MAX_CELLS:
        raise NotebookError(
            f"notebook has {len(data['cells'])} cells, more than the limit of {MAX_CELLS}",
            "split it into several notebooks",
        )
    notebook_language(data)
    return data


def _field(path: list[str | int]) -> str:
    """A JSON path as the messages name it: ``cell 3: 'metadata.tags'``, ``'metadata.kernelspec'``."""
    prefix = ""
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        prefix, path = f"cell {path[1]}", path[2:]
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    if not text:
        return prefix or "the notebook"
    return f"{prefix}: '{text}'" if prefix else f"'{text}'"


def _too_deep(data: Any) -> list[str | int] | None:
    """The path of the first object or array nested deeper than :data:`MAX_DEPTH`, else ``None``.

    Iterative, so it never overflows the stack itself, and it visits only containers (a
    notebook's many text lines are skipped): a few times faster than parsing the JSON. The path
    is worked out only when there is something to report.
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return _path_deeper_than_limit(data)
        children = value.values() if isinstance(value, dict) else value
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return None


def _path_deeper_than_limit(data: Any) -> list[str | int]:
    stack: list[tuple[Any, list[str | int]]] = [(data, [])]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        stack.extend((c, [*path, k]) for k, c in items if isinstance(c, (dict, list)))
    return []


def nesting_error(path: list[str | int]) -> NotebookError:
    """The refusal of JSON nested too deep at ``path`` (from :func:`deep_path_in_text`)."""
    shown = _field(path[:6]) + (" ..." if len(path) > 6 else "")
    return NotebookError(
        f"{shown} is nested more than {MAX_DEPTH} levels deep",
        "no notebook needs such nesting; restore the file from a copy",
    )


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


def deep_path_in_text(text: str) -> list[str | int]:
    """Where JSON text too deep for ``json.loads`` itself (which raises ``RecursionError`` past
    about a thousand levels) first goes deeper than :data:`MAX_DEPTH`, found by scanning its
    brackets, keys and commas: ``["cells", 4, "metadata", "x", 0, ...]``."""
    stack: list[list[Any]] = []  # per open container: [kind, current key or index]
    last = ""
    for match in _TOKENS.finditer(text):
        token = match.group()
        char = token[0]
        if char == '"':
            last = token
        elif char == ":":
            if stack:
                try:
                    stack[-1][1] = json.loads(last)
                except ValueError:
                    stack[-1][1] = last
        elif char == ",":
            if stack and stack[-1][0] == "[":
                stack[-1][1] += 1
        elif char in "[{":
            if len(stack) > MAX_DEPTH:
                return [frame[1] for frame in stack]
            stack.append(["[", 0] if char == "[" else ["{", ""])
        elif stack:
            stack.pop()
    return []


def _check_shapes(data: dict[str, Any]) -> None:
    """Refuse, naming the field (and the cell), the fields the core reads whose JSON type is wrong.

    nbformat's reader only warns about schema errors, and its validator's messages lose the cell
    number; a hand-edited or generated file with ``"source": 5`` or ``"tags": "x"`` would otherwise
    crash the analysis (a traceback, a 500) or have its tags silently ignored.
    """
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise NotebookError("not a notebook: its 'metadata' is not an object", _HINT)
    for key, needed in (("kernelspec", ("name", "language")), ("language_info", ("name",))):
        value = metadata.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise NotebookError(f"not a notebook: 'metadata.{key}' is not an object", _HINT)
        for name in needed:
            if name in value and not isinstance(value[name], str):
                raise NotebookError(f"not a notebook: 'metadata.{key}.{name}' is not text", _HINT)
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise NotebookError(
            "not a notebook: 'cells' is missing or is not a list of cells",
            "open it in JupyterLab to check it, or restore it from a copy",
        )
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise NotebookError(f"cell {index} is not an object", _HINT)
        if "cell_type" not in cell:
            raise NotebookError(f"cell {index}: 'cell_type' is missing", _HINT)
        if not isinstance(cell["cell_type"], str):
            raise NotebookError(f"cell {index}: 'cell_type' is not text", _HINT)
        if "source" not in cell:
            raise NotebookError(f"cell {index}: 'source' is missing", _HINT)
        source = cell["source"]
        if not isinstance(source, str) and not (
            isinstance(source, list) and all(isinstance(line, str) for line in source)
        ):
            raise NotebookError(
                f"cell {index}: 'source' is not text or a list of text lines", _HINT
            )
        if "id" in cell and not isinstance(cell["id"], str):
            raise NotebookError(f"cell {index}: 'id' is not text", _HINT)
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            raise NotebookError(f"cell {index}: 'metadata' is not an object", _HINT)
        tags = metadata.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise NotebookError(f"cell {index}: 'metadata.tags' is not a list of strings", _HINT)


def kernel_language(nb: Mapping[str, Any]) -> str | None:
    """The kernel language, from ``kernelspec.language`` or ``language_info.name``."""
    meta = nb.get("metadata") or {}
    spec = meta.get("kernelspec") or {}
    lang = spec.get("language") if isinstance(spec, dict) else None
    if not lang:
        info = meta.get("language_info") or {}
        lang = info.get("name") if isinstance(info, dict) else None
    return lang if isinstance(lang, str) and lang else None


LANGUAGES = {"python": "python", "r": "R"}
"""The kernel languages a notebook may have (lower case) -> the spec's ``notebook.language``:
Python (ipykernel) and R (IRkernel, kernelspec ``ir``). One analyser and one step runtime each."""


def notebook_language(nb: Mapping[str, Any]) -> str:
    """``"python"`` or ``"R"``: the spec's ``notebook.language``, from the kernelspec or
    ``language_info`` (``"python"`` when the notebook names none, as nbformat's new notebooks do).
    Raises :class:`NotebookError` for a kernel in any other language."""
    language = kernel_language(nb)
    if language is None:
        return "python"
    known = LANGUAGES.get(language.lower())
    if known is None:
        raise NotebookError(
            f"the notebook's kernel is {language}, not Python or R",
            "only Python (ipykernel) and R (IRkernel) notebooks can be turned into a batch workflow",
        )
    return known


def kernel_name(nb: Mapping[str, Any]) -> str:
    """The kernelspec name, ``python3`` when the notebook does not say."""
    spec = (nb.get("metadata") or {}).get("kernelspec") or {}
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else "python3"


def dumps_notebook(nb: NotebookNode, like: str | None = None) -> str:
    """Serialise with nbformat's own writer (what Jupyter uses), so saved files keep their bytes.

    ``like`` is the file's original text: its trailing-newline convention is kept, the one detail
    in which files written by other tools differ from nbformat's output.
    """
    import nbformat

    text = nbformat.writes(nb, version=nbformat.NO_CONVERT)
    if like is not None and not like.endswith("\n"):
        text = text.rstrip("\n")
    elif not text.endswith("\n"):
        text += "\n"
    return text


def write_notebook(nb: NotebookNode, path: str | Path, like: str | None = None) -> None:
    """Write ``nb`` to ``path`` with :func:`dumps_notebook` (UTF-8)."""
    Path(path).write_text(dumps_notebook(nb, like), encoding="utf-8")
