"""A short, readable description of any value, for every place that shows what crossed a step.

Values passed between steps are Python values of any type (numpy arrays, DataFrames, dates,
dataclasses...), not JSON. The run folders, the panel's run view, the REST run details and the
comparison's messages all show them through :func:`summarize`, so a scientist sees
``float64 array, shape (1000, 3)`` and the first numbers rather than a codec's bytes.

Nothing here imports numpy or pandas: their objects are recognised by their class's module and
described through their own attributes, so summarising never loads a library the value did not
already bring. Summarising never raises: a value whose ``repr`` fails is still named by its type.
"""

from __future__ import annotations

import dataclasses
import json
import reprlib
from typing import Any

__all__ = ["PREVIEW_LIMIT", "describe", "short_repr", "summarize", "type_name"]

PREVIEW_LIMIT = 200
"""The longest ``preview`` :func:`summarize` returns, in characters."""

_ITEM_LIMIT = 6


def type_name(value: Any) -> str:
    """The name a user knows the type by: ``int``, ``numpy.ndarray``, ``pandas.DataFrame``,
    ``datetime.date``, ``Plot`` (a class defined in the notebook).

    The module is cut to its top-level package (pandas' classes live in ``pandas.core.frame``),
    and dropped for builtins and for classes defined in the notebook itself (``__main__``).
    """
    kind = type(value)
    module = getattr(kind, "__module__", None) or "builtins"
    qualname = getattr(kind, "__qualname__", kind.__name__)
    if module in ("builtins", "__main__"):
        return qualname
    return module.split(".")[0] + "." + qualname


class _Repr(reprlib.Repr):
    """reprlib with room for a line of data, and a safe fallback for foreign objects."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdeque = 12
        self.maxdict = 8
        self.maxstring = 80
        self.maxlong = 60
        self.maxother = PREVIEW_LIMIT

    def repr_instance(self, x: Any, level: int) -> str:
        try:
            text = repr(x)
        except Exception:
            return f"<{type_name(x)} object>"
        text = " ".join(text.split()) if _library(x) in ("numpy", "pandas") else text
        if len(text) > self.maxother:
            return text[: self.maxother - 3] + "..."
        return text


_REPR = _Repr()


def _library(value: Any) -> str:
    module = getattr(type(value), "__module__", "") or ""
    return module.split(".")[0]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_repr(value: Any, limit: int = PREVIEW_LIMIT) -> str:
    """``repr`` cut to ``limit`` characters: long containers show their first items, numpy and
    pandas objects their own summarised repr on one line. Never raises."""
    try:
        if _library(value) == "pandas" and hasattr(value, "to_string"):
            # A table: the first rows, one per " | " segment, rather than a wrapped grid.
            head = value.head(5)
            if hasattr(value, "columns"):
                text = head.to_string(max_cols=6, max_colwidth=20)
            else:
                text = head.to_string(name=True, dtype=True)
            lines = [" ".join(line.split()) for line in text.splitlines()]
            return _cut(" | ".join(lines) + (" | ..." if len(value) > 5 else ""), limit)
        return _cut(_REPR.repr(value), limit)
    except Exception:
        return f"<{type_name(value)} object>"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _element_types(items: Any) -> str:
    """`` of float`` when every item has one type (checked on a bounded number of items)."""
    names = set()
    for i, item in enumerate(items):
        if i >= 1000:
            return ""
        names.add(type_name(item))
        if len(names) > 1:
            return ""
    return f" of {names.pop()}" if names else ""


def _summary(value: Any) -> str:
    lib = _library(value)
    name = type_name(value)
    if lib == "numpy" and hasattr(value, "dtype") and hasattr(value, "shape"):
        dtype = value.dtype
        if dtype.names:
            kind = "structured array (fields " + ", ".join(dtype.names) + ")"
        else:
            kind = f"{dtype} array"
        if getattr(value, "ndim", 1) == 0 and name != "numpy.ndarray":
            return f"numpy {dtype} scalar"
        return f"{kind}, shape {tuple(value.shape)}"
    if lib == "pandas":
        if hasattr(value, "columns"):
            rows, cols = value.shape
            columns = ", ".join(f"{c} {t}" for c, t in list(value.dtypes.items())[:_ITEM_LIMIT])
            more = ", ..." if cols > _ITEM_LIMIT else ""
            index = type(value.index).__name__
            return (
                f"DataFrame, {_count(rows, 'row')} x {_count(cols, 'column')}"
                + (f" ({columns}{more})" if cols else "")
                + f", {index}"
            )
        if hasattr(value, "dtype") and hasattr(value, "index"):
            label = f", name {value.name!r}" if value.name is not None else ""
            return f"Series, {_count(len(value), 'value')}, dtype {value.dtype}{label}"
        if hasattr(value, "dtype") and hasattr(value, "names"):
            return f"{type(value).__name__}, {_count(len(value), 'label')}, dtype {value.dtype}"
        return name
    if value is None:
        return "None"
    if isinstance(value, (bool, int, float, complex)):
        if isinstance(value, int) and len(repr(value)) > 40:
            return f"{name}, {value.bit_length()} bits"
        return f"{name} {short_repr(value, 60)}"
    if isinstance(value, str):
        return f"str, {_count(len(value), 'character')}"
    if isinstance(value, (bytes, bytearray)):
        return f"{name}, {_count(len(value), 'byte')}"
    if isinstance(value, range):
        return f"range, {_count(len(value), 'item')}"
    if isinstance(value, dict):
        return f"{name}, {_count(len(value), 'key')}" + _element_types(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"{name}, {_count(len(value), 'item')}" + _element_types(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ", ".join(f.name for f in dataclasses.fields(value)[:_ITEM_LIMIT])
        return f"dataclass {name} ({fields})"
    if lib in ("datetime", "decimal", "fractions", "uuid", "pathlib"):
        return f"{name} {value}"
    return f"{name} object"


def summarize(value: Any) -> dict[str, str]:
    """``{"type", "summary", "preview"}`` of any value: its type name, one line on its size and
    structure (``float64 array, shape (1000, 3)``, ``DataFrame, 20 rows x 3 columns (...)``,
    ``list, 28 items of float``) and its repr cut to :data:`PREVIEW_LIMIT` characters.
    JSON-serialisable by construction; never raises.
    """
    r_summary = _r_summary(value)
    if r_summary is not None:
        return r_summary
    try:
        summary = _summary(value)
    except Exception:
        summary = f"{type_name(value)} object"
    return {"type": type_name(value), "summary": summary, "preview": short_repr(value)}


def _r_summary(value: Any) -> dict[str, str] | None:
    """An R value's summary as R gave it (``engines/r_values.py``); None for other values."""
    if type(value).__name__ in ("RValue", "RMerged", "RShown") and hasattr(value, "summary"):
        from .r_values import summary_of

        return dict(summary_of(value))
    return None


def describe(value: Any, limit: int = 80) -> str:
    """``0.5 (float)``: a value's short repr and its type, for one-line messages."""
    r_summary = _r_summary(value)
    if r_summary is not None:
        text = r_summary["preview"] or r_summary["summary"]
        return f"{text if len(text) <= limit else text[: limit - 3] + '...'} ({r_summary['type']})"
    return f"{short_repr(value, limit)} ({type_name(value)})"


def for_json(value: Any) -> Any:
    """A value as every JSON view shows it (run folders' result.json, ``--json``, the REST API,
    the panel): the value itself when JSON gives it back with the same types, else
    ``{"naavre-preview": summarize(value)}``, which the panel and the CLI show as its summary."""
    from ..steps.transport import is_plain_json

    if is_plain_json(value):
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:
            pass
        else:
            return value
    return {"naavre-preview": summarize(value)}
