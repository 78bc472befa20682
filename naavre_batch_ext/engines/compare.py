"""Compare what crossed each step boundary in notebook context with the workflow context.

The promise is that the same cell code gives the same result in both contexts, so the comparison
must not be fooled: values are compared as Python values, *by type*, with no normalisation.

* ``(1, 2)`` is not ``[1, 2]``, ``1`` is not ``1.0``, ``True`` is not ``1``, ``{1: x}`` is not
  ``{"1": x}``; types are matched by module and qualified name (values may be loaded with stand-in
  classes of the same name).
* floats bitwise (``-0.0`` is not ``0.0``), except that NaN equals NaN; complex numbers part by part.
* dicts: the same keys (by type), in the same order, equal values; sets by their elements.
* ``Decimal`` exactly (``Decimal("1.0")`` is not ``Decimal("1.00")``); dates, times and datetimes by
  wall time, ``tzinfo`` and ``fold`` (12:00 UTC is not 13:00 +01:00, though Python says ``==``).
* numpy arrays by dtype, shape and values (floats bitwise, NaN equal to NaN; structured arrays field
  by field; object arrays element by element); numpy scalars as 0-d arrays.
* pandas DataFrame / Series / Index by type, shape, columns, index, dtypes, names and values.
* objects of other classes: same class, then their state (``__dict__`` and ``__slots__``)
  recursively; objects without state use ``==``.

:func:`first_difference` gives the first differing place (depth first, in order) with both values;
:func:`compare_traces` applies it to the traces of a ``--context both`` run and adds the
comparison of what the merger printed. numpy and pandas are never imported here unless a value
being compared is of their types (the CLI's ``check`` must stay light).
"""

from __future__ import annotations

import json
import math
import struct
import types
from collections.abc import Generator
from typing import Any

from ..steps.step_runtime import with_article
from . import r_values
from .preview import describe, for_json, summarize

__all__ = [
    "MISSING",
    "PathStep",
    "compare_traces",
    "comparison_for_json",
    "first_difference",
    "format_path",
    "printed_cells",
    "same_value",
]

MISSING = "<missing>"
"""What :func:`first_difference` gives for a side that lacks an element, key or attribute."""

Path = list[Any]


class PathStep(str):
    """A path element written as is (``.name``, ``[3, 1]``, ``.iloc[2]``), as opposed to an index
    or a dict key, which :func:`format_path` puts in brackets."""

    __slots__ = ()


def format_path(root: str, keys: list[Any]) -> str:
    """``processed_batches[2][1]``, ``config["name"]``, ``plots[0].height``, ``grid[3, 1]``,
    ``table["height"].iloc[4]``: Python syntax that reaches the place."""
    out = [root]
    for key in keys:
        if isinstance(key, PathStep):
            out.append(str(key))
        elif isinstance(key, str):
            out.append(f"[{json.dumps(key, ensure_ascii=False)}]")
        elif type(key) is int:
            out.append(f"[{key}]")
        else:
            out.append(f"[{key!r}]")
    return "".join(out)


# -- values ---------------------------------------------------------------------------------------

Difference = tuple[Path, Any, Any]


_CODE_TYPES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
)


def _class_key(obj: Any) -> tuple[str, str]:
    """Module and qualified name of a class (or function): what identifies it across processes."""
    return (
        getattr(obj, "__module__", "") or "",
        getattr(obj, "__qualname__", getattr(obj, "__name__", "")),
    )


def _library(value: Any) -> str:
    return (getattr(type(value), "__module__", "") or "").split(".")[0]


def _same_float(x: float, y: float) -> bool:
    if math.isnan(x) and math.isnan(y):
        return True
    return struct.pack("<d", x) == struct.pack("<d", y)


def same_value(a: Any, b: Any) -> bool:
    """True when :func:`first_difference` finds nothing."""
    return first_difference(a, b) is None


# The comparison walks values of any depth (a list nested 100,000 deep is a value like any other)
# without Python's recursion limit: each comparison of two values is a generator that *yields*
# the pairs inside it it needs compared (``(x, y, where)``) and is sent back their difference or
# None; :func:`first_difference` runs them on a stack of its own. A place is a chain of
# ``(parent, key)`` pairs (None at the root), turned into a list only for the difference found.

Place = tuple[Any, Any] | None
Found = tuple[Place, Any, Any]
Walk = Generator[tuple[Any, Any, Place], "Found | None", "Found | None"]


def _at(place: Place, *keys: Any) -> Place:
    for key in keys:
        place = (place, key)
    return place


def _keys(place: Place) -> Path:
    keys: Path = []
    while place is not None:
        place, key = place
        keys.append(key)
    keys.reverse()
    return keys


def first_difference(a: Any, b: Any) -> Difference | None:
    """The first place (depth first, in order) where two values differ, as
    ``(path, value in a, value in b)``; None when they are the same.

    ``path`` is a list of list indices (int), dict keys and :class:`PathStep` texts, for
    :func:`format_path`. A side lacking an element, key or attribute shows :data:`MISSING`.
    Values nested deeper than Python's recursion limit are compared like any other.
    """
    seen: set[tuple[int, int]] = set()
    stack: list[Walk] = [_diff(a, b, None, seen)]
    result: Found | None = None
    while stack:
        try:
            x, y, place = stack[-1].send(result)
        except StopIteration as stop:
            stack.pop()
            result = stop.value
            continue
        stack.append(_diff(x, y, place, seen))
        result = None
    if result is None:
        return None
    place, x, y = result
    return _keys(place), x, y


def _diff(x: Any, y: Any, place: Place, seen: set[tuple[int, int]]) -> Walk:
    if x is y:
        return None
    if _class_key(type(x)) != _class_key(type(y)):
        return place, x, y
    if isinstance(x, float):
        return None if _same_float(x, y) else (place, x, y)
    if isinstance(x, complex):
        same = _same_float(x.real, y.real) and _same_float(x.imag, y.imag)
        return None if same else (place, x, y)
    if isinstance(x, (bool, int, str, bytes, bytearray, range)) or x is None:
        return None if x == y else (place, x, y)
    lib = _library(x)
    if lib == "numpy" and hasattr(x, "dtype"):
        return (yield from _diff_numpy(x, y, place))
    if lib == "pandas":
        return (yield from _diff_pandas(x, y, place))
    # Containers and objects can refer to themselves: a pair met again on the way down is
    # being compared already (``seen`` holds the pairs being compared on the way to here).
    pair = (id(x), id(y))
    if pair in seen:
        return None
    seen.add(pair)
    try:
        if isinstance(x, (list, tuple)):
            return (yield from _diff_sequence(x, y, place))
        if isinstance(x, dict):
            return (yield from _diff_dict(x, y, place))
        if isinstance(x, (set, frozenset)):
            return (yield from _diff_set(x, y, place))
        if lib == "datetime":
            return _diff_datetime(x, y, place)
        if lib == "decimal":
            return None if x.as_tuple() == y.as_tuple() else (place, x, y)
        if isinstance(x, (type, *_CODE_TYPES)):
            # Classes and functions are the same when they have the same name: the workflow
            # defines them again from the same cells.
            return None if _class_key(x) == _class_key(y) else (place, x, y)
        if isinstance(x, types.ModuleType):
            return None if x.__name__ == y.__name__ else (place, x, y)
        if getattr(type(x), "__naavre_stub__", False):
            return (yield from _diff_stub(x, y, place))
        return (yield from _diff_object(x, y, place))
    finally:
        seen.discard(pair)


def _diff_sequence(x: Any, y: Any, place: Place) -> Walk:
    for i in range(min(len(x), len(y))):
        found = yield x[i], y[i], _at(place, i)
        if found is not None:
            return found
    if len(x) != len(y):
        i = min(len(x), len(y))
        return (
            _at(place, i),
            x[i] if i < len(x) else MISSING,
            y[i] if i < len(y) else MISSING,
        )
    return None


def _diff_dict(x: dict[Any, Any], y: dict[Any, Any], place: Place) -> Walk:
    for key in x:
        if key not in y:
            return _at(place, key), x[key], MISSING
    for key in y:
        if key not in x:
            return _at(place, key), MISSING, y[key]
    # The same keys by ==; now by type (1, 1.0 and True are one key to Python) and order
    # (insertion order is what iteration, printing and JSON show).
    for i, (kx, ky) in enumerate(zip(x, y, strict=True)):
        if (yield kx, ky, None) is not None:
            return _at(place, PathStep(f".keys()[{i}]")), kx, ky
    for key in x:
        found = yield x[key], y[key], _at(place, key)
        if found is not None:
            return found
    return None


def _diff_set(x: Any, y: Any, place: Place) -> Walk:
    only_x, only_y = x - y, y - x
    if only_x or only_y:
        step = PathStep(" (items on one side only)")
        return _at(place, step), type(x)(only_x), type(y)(only_y)
    # Equal by ==; the elements must also be of the same types (1 and 1.0 are one element).
    others = {item: item for item in y}
    for item in x:
        if (yield item, others[item], None) is not None:
            return _at(place, PathStep(" (an item's type)")), item, others[item]
    return None


def _diff_datetime(x: Any, y: Any, place: Place) -> Found | None:
    """Dates, times, datetimes (wall time, tzinfo, fold) and timedeltas."""
    if hasattr(x, "tzinfo"):
        tz_x, tz_y = x.tzinfo, y.tzinfo
        same_tz = tz_x is tz_y or (
            tz_x is not None
            and tz_y is not None
            and _class_key(type(tz_x)) == _class_key(type(tz_y))
            and (tz_x == tz_y or repr(tz_x) == repr(tz_y))
        )
        if not same_tz:
            return _at(place, PathStep(".tzinfo")), tz_x, tz_y
        # Aware datetimes are == when they are the same instant; here the wall time counts.
        same = x.replace(tzinfo=None) == y.replace(tzinfo=None) and x.fold == y.fold
    else:
        same = x == y
    return None if same else (place, x, y)


def _slot_names(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in [slots] if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and name not in names:
                names.append(name)
    return names


def _diff_object(x: Any, y: Any, place: Place) -> Walk:
    state_x = getattr(x, "__dict__", None)
    slots = _slot_names(type(x))
    if not isinstance(state_x, dict) and not slots:
        try:
            equal = x == y
            if not isinstance(equal, bool):
                equal = bool(equal)
        except Exception:
            equal = False
        return None if equal else (place, x, y)
    if isinstance(state_x, dict):
        state_y = getattr(y, "__dict__", {})
        for name in list(state_x) + [n for n in state_y if n not in state_x]:
            found = yield (
                state_x.get(name, MISSING),
                state_y.get(name, MISSING),
                _at(place, PathStep(f".{name}")),
            )
            if found is not None:
                return found
    for name in slots:
        found = yield (
            getattr(x, name, MISSING),
            getattr(y, name, MISSING),
            _at(place, PathStep(f".{name}")),
        )
        if found is not None:
            return found
    return None


_STUB_PARTS = ("__naavre_args__", "__naavre_items__", "__naavre_mapping__")


def _diff_stub(x: Any, y: Any, place: Place) -> Walk:
    """Stand-ins of header classes (:class:`~naavre_batch_ext.steps.transport.Stub`), which hold
    what pickle gave them: the value of a builtin subclass (``Num(99)``: its ``__new__``
    arguments), a namedtuple's fields, a list or dict subclass's items, then the attributes. A
    difference in the value itself is shown with both whole values (``notebook Num(0), workflow
    Num(99)``); one inside is reached by index or key as on the real class (``pairs[0][1]``)."""
    held_x, held_y = x.__dict__, y.__dict__
    for part in _STUB_PARTS:
        px, py = held_x.get(part, MISSING), held_y.get(part, MISSING)
        one_each = type(px) is tuple and type(py) is tuple and len(px) == len(py) == 1
        if part == "__naavre_args__" and one_each:
            # One argument is the value itself (an int, a str, a tuple's items).
            px, py = px[0], py[0]
        found = yield px, py, place
        if found is not None:
            return (place, x, y) if found[0] is place else found
    rest_x = {k: v for k, v in held_x.items() if k not in _STUB_PARTS}
    rest_y = {k: v for k, v in held_y.items() if k not in _STUB_PARTS}
    for name in list(rest_x) + [n for n in rest_y if n not in rest_x]:
        label = {"__naavre_kwargs__": "", "__naavre_state__": " (state)"}.get(name, f".{name}")
        found = yield (
            rest_x.get(name, MISSING),
            rest_y.get(name, MISSING),
            _at(place, PathStep(label)) if label else place,
        )
        if found is not None:
            return found
    return None


def _index_step(index: tuple[int, ...]) -> PathStep:
    return PathStep("[" + ", ".join(str(i) for i in index) + "]")


def _extend(place: Place, keys: Path) -> Place:
    return _at(place, *keys)


def _diff_numpy(x: Any, y: Any, place: Place) -> Walk:
    """Arrays and numpy scalars (as 0-d arrays): dtype, shape, then values."""
    import numpy as np

    scalar = not isinstance(x, np.ndarray)
    if isinstance(x, np.ma.MaskedArray):
        # The mask is part of the value: asarray() would drop it.
        found = yield from _diff_numpy(
            np.ma.getmaskarray(x), np.ma.getmaskarray(y), _at(place, PathStep(".mask"))
        )
        if found is not None:
            return found
        x, y = np.ma.getdata(x), np.ma.getdata(y)
    ax, ay = np.asarray(x), np.asarray(y)
    if ax.dtype != ay.dtype:
        if scalar:
            return place, x, y
        return _at(place, PathStep(".dtype")), ax.dtype, ay.dtype
    if ax.shape != ay.shape:
        return _at(place, PathStep(".shape")), ax.shape, ay.shape
    mismatch = yield from _array_mismatch(ax, ay)
    if mismatch is None:
        return None
    index, inner = mismatch
    where = place if scalar else _at(place, _index_step(index))
    if inner is None:
        return (place, x, y) if scalar else (where, ax[index], ay[index])
    return _extend(where, inner[0]), inner[1], inner[2]


Mismatch = tuple[tuple[int, ...], Difference | None]
MismatchWalk = Generator[tuple[Any, Any, Place], "Found | None", "Mismatch | None"]


def _array_mismatch(ax: Any, ay: Any) -> MismatchWalk:
    """None when two arrays of one dtype and shape hold the same values; else the index of the
    first differing element, with the difference inside it (a structured array's field, an object
    array's element) or None when the elements themselves differ."""
    import numpy as np

    dtype = ax.dtype
    if dtype.names:
        for name in dtype.names:
            mismatch = yield from _array_mismatch(ax[name], ay[name])
            if mismatch is not None:
                index, inner = mismatch
                if inner is None:
                    return index, ([name], ax[name][index], ay[name][index])
                return index, ([name] + inner[0], inner[1], inner[2])
        return None
    if dtype.kind == "O":
        for index in np.ndindex(ax.shape):
            found = yield ax[index], ay[index], None
            if found is not None:
                return tuple(index), (_keys(found[0]), found[1], found[2])
        return None
    if ax.size == 0 or np.ascontiguousarray(ax).tobytes() == np.ascontiguousarray(ay).tobytes():
        return None
    if dtype.kind in "fc":
        parts = [(ax.real, ay.real), (ax.imag, ay.imag)] if dtype.kind == "c" else [(ax, ay)]
        same = np.ones(ax.shape, dtype=bool)
        for px, py in parts:
            both_nan = np.isnan(px) & np.isnan(py)
            same &= both_nan | ((px == py) & (np.signbit(px) == np.signbit(py)))
    elif dtype.kind in "mM":
        same = (ax == ay) | (np.isnat(ax) & np.isnat(ay))
    else:
        same = np.asarray(ax == ay)
        if same.shape != ax.shape:  # no elementwise comparison for this dtype: bytes decided
            return (0,) * ax.ndim, None
    if bool(same.all()):
        return None
    return tuple(int(i) for i in np.argwhere(~same)[0]), None


def _diff_pandas(x: Any, y: Any, place: Place) -> Walk:
    """DataFrame, Series, Index (and pandas scalars such as Timestamp, by ``==`` and type)."""
    if hasattr(x, "columns"):  # DataFrame
        if x.shape != y.shape:
            return _at(place, PathStep(".shape")), x.shape, y.shape
        found = yield from _diff_pandas(x.columns, y.columns, _at(place, PathStep(".columns")))
        if found is not None:
            return found
        found = yield from _diff_pandas(x.index, y.index, _at(place, PathStep(".index")))
        if found is not None:
            return found
        for i, column in enumerate(x.columns):
            key = column if isinstance(column, (str, int)) else PathStep(f".iloc[:, {i}]")
            found = yield from _diff_values(x.iloc[:, i], y.iloc[:, i], _at(place, key))
            if found is not None:
                return found
        return None
    if hasattr(x, "index") and hasattr(x, "dtype"):  # Series
        found = yield x.name, y.name, _at(place, PathStep(".name"))
        if found is not None:
            return found
        if len(x) != len(y):
            return _at(place, PathStep(".shape")), x.shape, y.shape
        found = yield from _diff_pandas(x.index, y.index, _at(place, PathStep(".index")))
        return found if found is not None else (yield from _diff_values(x, y, place))
    if hasattr(x, "names") and hasattr(x, "dtype"):  # Index, MultiIndex
        found = yield list(x.names), list(y.names), _at(place, PathStep(".names"))
        if found is not None:
            return found
        if len(x) != len(y):
            return _at(place, PathStep(".shape")), x.shape, y.shape
        return (yield from _diff_values(x, y, place))
    if hasattr(x, "dtype") and hasattr(x, "to_numpy") and hasattr(x, "__len__"):  # arrays
        if len(x) != len(y):
            return _at(place, PathStep(".shape")), x.shape, y.shape
        return (yield from _diff_values(x, y, place))
    # Timestamp, Timedelta, Period...: exact by their own == and their text (NaT, NA: singletons).
    try:
        equal = bool(x == y) and str(x) == str(y)
    except Exception:
        equal = False
    return None if equal else (place, x, y)


def _diff_values(x: Any, y: Any, place: Place) -> Walk:
    """The dtype and the values of a Series, an Index or a pandas array, position by position."""
    import numpy as np

    if x.dtype != y.dtype:
        return _at(place, PathStep(".dtype")), x.dtype, y.dtype
    if str(x.dtype) == "category":
        # Categories and their order are part of the dtype; the values are the codes.
        vx = np.asarray(x.cat.codes if hasattr(x, "cat") else x.codes)
        vy = np.asarray(y.cat.codes if hasattr(y, "cat") else y.codes)
    elif _library(x.dtype) == "numpy":
        vx, vy = np.asarray(x.to_numpy()), np.asarray(y.to_numpy())
    else:
        # Extension dtypes (nullable integers, strings, intervals...): element by element.
        vx, vy = np.asarray(x.to_numpy(dtype=object)), np.asarray(y.to_numpy(dtype=object))
    mismatch = yield from _array_mismatch(vx, vy)
    if mismatch is None:
        return None
    (position,), inner = mismatch
    where = _at(place, PathStep(f".iloc[{position}]" if hasattr(x, "iloc") else f"[{position}]"))
    if inner is not None:
        return _extend(where, inner[0]), inner[1], inner[2]
    pick = (lambda v: v.iloc[position]) if hasattr(x, "iloc") else (lambda v: v[position])
    return where, pick(x), pick(y)


# -- traces ---------------------------------------------------------------------------------------


def printed_cells(spec: dict[str, Any]) -> list[tuple[str, int]]:
    """``(step id, cell index)`` of the cells whose printed output must be the same in both
    contexts: every cell of every merger, and of every step after the last merger.

    Splitter and processor cells are left out: in workflow context processors print once per
    batch (and a splitter's output interleaves with theirs in a log), so their text is not the
    notebook's by design.
    """
    steps = spec["steps"]
    mergers = [i for i, s in enumerate(steps) if s["role"] == "merger"]
    last = mergers[-1] if mergers else len(steps)
    cells: list[tuple[str, int]] = []
    for i, step in enumerate(steps):
        if step["role"] == "merger" or i > last:
            cells.extend((step["id"], cell["index"]) for cell in step["cells"])
    return cells


def _printed(run: dict[str, Any], index: int) -> str:
    printed = run.get("printed") or {}
    text = printed.get(index, printed.get(str(index), ""))
    return text if isinstance(text, str) else str(text)


def _cut_text(text: str, limit: int = 60) -> str:
    shown = json.dumps(text, ensure_ascii=False)
    return shown if len(shown) <= limit else shown[: limit - 4] + '..."'


def _first_line_difference(a: str, b: str) -> str:
    la, lb = a.splitlines(), b.splitlines()
    for i in range(max(len(la), len(lb))):
        x = la[i] if i < len(la) else None
        y = lb[i] if i < len(lb) else None
        if x != y:
            return (
                f"line {i + 1}: notebook {_cut_text(x) if x is not None else 'nothing'}, "
                f"workflow {_cut_text(y) if y is not None else 'nothing'}"
            )
    return f"notebook {_cut_text(a)}, workflow {_cut_text(b)}"  # differ in line endings only


def compare_traces(
    spec: dict[str, Any], notebook_run: dict[str, Any], workflow_run: dict[str, Any]
) -> dict[str, Any]:
    """For every variable that crosses a step boundary, the workflow value against the notebook's,
    and the printed output of the merger cells (see :func:`printed_cells`) in both runs.

    Returns ``{"same", "verdict", "compared", "printed_compared", "differences",
    "not_compared"}``. ``same`` is true only when both runs finished, every variable the workflow
    handed on and every printed output was compared, and all were equal. A value difference is
    ``{"kind": "value", "step", "variable", "path", "notebook", "workflow", "notebook_summary",
    "workflow_summary"}`` (the two values at the path as Python values, and their
    :func:`~naavre_batch_ext.engines.preview.summarize` for JSON views); a printed difference is
    ``{"kind": "printed", "step", "cell_index", "path", "notebook", "workflow"}`` with both texts.
    Values a processor chain keeps to itself (one processor step to the next, per batch) are
    listed in ``not_compared``: they never cross a process boundary and are per batch, not whole.
    """
    nb_trace = notebook_run.get("trace", {})
    wf_trace = workflow_run.get("trace", {})
    not_carried = {
        (x["step"], x["variable"]): x
        for x in notebook_run.get("not_transportable", []) + notebook_run.get("not_json", [])
    }
    differences: list[dict[str, Any]] = []
    not_compared: list[dict[str, Any]] = []
    compared = 0
    # An R notebook's values are compared by R itself (identical(), bitwise doubles): one call.
    r_found = r_values.r_differences(nb_trace, wf_trace) if r_values.has_r_values(wf_trace) else {}
    for step in spec["steps"]:
        sid = step["id"]
        wf_values = wf_trace.get(sid, {})
        nb_values = nb_trace.get(sid, {})
        for name in step.get("outputs", []):
            if name not in wf_values:
                reason = (
                    "kept inside the processor chain (per batch)"
                    if step["role"] == "processor" and workflow_run.get("status") == "ok"
                    else "the workflow run did not reach this step"
                )
                not_compared.append({"step": sid, "variable": name, "reason": reason})
                continue
            if name not in nb_values:
                bad = not_carried.get((sid, name))
                reason = (
                    f"the notebook value is {with_article(bad['type'])}, which cannot be passed "
                    "between steps"
                    if bad
                    else "the notebook run did not reach this step"
                )
                not_compared.append({"step": sid, "variable": name, "reason": reason})
                continue
            r_answer = r_found.get((sid, name), "")
            if isinstance(r_answer, str) and r_answer:
                not_compared.append({"step": sid, "variable": name, "reason": r_answer})
                continue
            compared += 1
            diff: Difference | None
            if (sid, name) not in r_found:
                diff = first_difference(nb_values[name], wf_values[name])
            elif isinstance(r_answer, tuple):
                diff = ([PathStep(r_answer[0])], r_answer[1], r_answer[2])
            else:
                diff = None
            if diff is not None:
                path, a, b = diff
                differences.append(
                    {
                        "kind": "value",
                        "step": sid,
                        "variable": name,
                        "path": format_path(name, path),
                        "notebook": a,
                        "workflow": b,
                        "notebook_summary": summarize(a),
                        "workflow_summary": summarize(b),
                    }
                )
    printed_compared = 0
    both_ok = notebook_run.get("status") == "ok" and workflow_run.get("status") == "ok"
    for sid, index in printed_cells(spec):
        missing = [
            label
            for label, run in (("notebook", notebook_run), ("workflow", workflow_run))
            if run.get("printed") is None
        ]
        if not both_ok or missing:
            reason = (
                f"the {' and the '.join(missing)} run did not record printed output"
                if both_ok
                else "a run did not finish"
            )
            not_compared.append(
                {
                    "step": sid,
                    "variable": f"printed output of cell {index}",
                    "cell_index": index,
                    "reason": reason,
                }
            )
            continue
        printed_compared += 1
        nb_text, wf_text = _printed(notebook_run, index), _printed(workflow_run, index)
        if nb_text != wf_text:
            differences.append(
                {
                    "kind": "printed",
                    "step": sid,
                    "cell_index": index,
                    "variable": f"printed output of cell {index}",
                    "path": f"printed output of cell {index}",
                    "notebook": nb_text,
                    "workflow": wf_text,
                }
            )
    unexplained = [n for n in not_compared if not n["reason"].startswith("kept inside")]
    same = both_ok and not differences and not unexplained
    return {
        "same": same,
        "verdict": _verdict(same, compared, printed_compared, differences, unexplained, both_ok),
        "compared": compared,
        "printed_compared": printed_compared,
        "differences": differences,
        "not_compared": not_compared,
    }


def _verdict(
    same: bool,
    compared: int,
    printed: int,
    differences: list[dict[str, Any]],
    unexplained: list[dict[str, Any]],
    both_ok: bool,
) -> str:
    counted = (
        f"{compared} value{'' if compared == 1 else 's'} and {printed} printed "
        f"output{'' if printed == 1 else 's'} compared"
    )
    if same:
        return f"same result ({counted})"
    if differences:
        d = differences[0]
        if d["kind"] == "printed":
            where = f"cell {d['cell_index']} (step {d['step']}) printed differently"
            return f"not the same: {where}: {_first_line_difference(d['notebook'], d['workflow'])}"
        return (
            f"not the same: {d['path']} (after step {d['step']}): notebook "
            f"{describe(d['notebook'])}, workflow {describe(d['workflow'])}"
        )
    if not both_ok:
        return "not the same: a run did not finish"
    n = unexplained[0]
    return f"not the same: {n['variable']} (step {n['step']}) was not compared: {n['reason']}"


def comparison_for_json(comparison: dict[str, Any]) -> dict[str, Any]:
    """A copy of :func:`compare_traces`' result that ``json.dumps`` can write (run folders, REST,
    ``--json``): each compared value through :func:`naavre_batch_ext.engines.preview.for_json` (itself when
    JSON carries it exactly, else its summary); printed differences are text already."""
    out = dict(comparison)
    differences = []
    for d in comparison.get("differences", []):
        d = dict(d)
        if d.get("kind", "value") == "value":
            for side in ("notebook", "workflow"):
                d[side] = for_json(d[side])
        differences.append(d)
    out["differences"] = differences
    return out
