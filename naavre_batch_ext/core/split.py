"""The one split/merge rule, used by every path (local runner, Argo step scripts, preview).

Keeping the rule in a single module is what makes the notebook context, the local workflow context
and the Argo workflow agree on which item goes to which processor instance: none of them may
re-implement it.

Rule: ``n`` items and a batch count ``m`` give ``k = min(n, m)`` contiguous batches whose sizes
differ by at most one, longer ones first, order kept. ``n = 0`` gives one empty batch so that a
workflow always has at least one processor instance (Argo skips an empty ``withParam``).
Concatenating the batches (:func:`merge_batches`) gives the value back.

What splits (the *splittable kinds*), each batch being the same kind as the whole:

* ``list`` -> lists, ``tuple`` -> tuples, ``range`` -> ranges;
* ``numpy.ndarray`` -> views along the first axis (``a[start:stop]``);
* ``pandas.DataFrame`` / ``pandas.Series`` -> rows by position (``.iloc[start:stop]``), index,
  columns, dtypes and name kept.

:func:`merge_batches` is the inverse, and also what joins the processors' per-batch outputs:
lists -> one list, tuples -> one tuple, ranges -> one range when they follow each other (otherwise a
list of their items), arrays -> ``numpy.concatenate`` on the first axis, pandas objects ->
``pandas.concat`` (index kept, not renumbered). A 0-d array has no first axis: it is refused rather
than stacked, because the notebook computes one value for the whole data where each batch would give
one of its own. Parts of different kinds are refused, naming both.

Constraint: :func:`_check_batch_count`, :func:`batch_ranges`, :func:`split_batches` and
:func:`merge_batches` are pasted verbatim into the standalone step scripts
(:func:`naavre_batch_ext.steps.scripts.rules_source`), which run on any Python 3 image, with or without
numpy and pandas. So they call nothing else from this module, recognise numpy and pandas objects by
their classes' module and name (no import needed to *detect* them), import the library only to
concatenate parts that are already of its types, and never contain a double curly brace (Argo would
template it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "SPLITTABLE_KINDS",
    "batch_instances",
    "batch_ranges",
    "merge_batches",
    "splittable_kind",
    "split_batches",
]

SPLITTABLE_KINDS: tuple[str, ...] = (
    "list",
    "tuple",
    "range",
    "numpy.ndarray",
    "pandas.DataFrame",
    "pandas.Series",
)
"""What :func:`splittable_kind` answers, in the order the error messages list them."""


def splittable_kind(value: Any) -> str | None:
    """The splittable kind of ``value`` (one of :data:`SPLITTABLE_KINDS`), or None.

    Subclasses count as their base (a namedtuple is a ``tuple``, a geopandas GeoDataFrame a
    ``pandas.DataFrame``). numpy and pandas are recognised by class module and name, so asking
    never imports them. A 0-d array is still ``numpy.ndarray``: :func:`split_batches` explains why it
    cannot be split.
    """
    if isinstance(value, list):
        return "list"
    if isinstance(value, tuple):
        return "tuple"
    if isinstance(value, range):
        return "range"
    for cls in type(value).__mro__:
        root = cls.__module__.split(".")[0]
        if root == "numpy" and cls.__name__ == "ndarray":
            return "numpy.ndarray"
        if root == "pandas" and cls.__name__ in ("DataFrame", "Series"):
            return "pandas." + cls.__name__
    return None


def _check_batch_count(batch_count: int) -> int:
    """Reject batch counts that cannot describe a split, with a message a user can act on."""
    if isinstance(batch_count, bool) or not isinstance(batch_count, int):
        raise ValueError(f"batch count must be an integer >= 1, got {batch_count!r}")
    if batch_count < 1:
        raise ValueError(f"batch count must be >= 1, got {batch_count}")
    return batch_count


def batch_ranges(n: int, batch_count: int) -> list[tuple[int, int]]:
    """Half-open ``(start, stop)`` index ranges of the batches for ``n`` items.

    Exposed so that error messages ("instance 3 got items 12..17") use the same arithmetic as the
    split itself.
    """
    m = _check_batch_count(batch_count)
    if n < 0:
        raise ValueError(f"item count must be >= 0, got {n}")
    if n == 0:
        return [(0, 0)]
    k = min(n, m)
    base, extra = divmod(n, k)
    ranges: list[tuple[int, int]] = []
    start = 0
    for i in range(k):
        size = base + (1 if i < extra else 0)
        ranges.append((start, start + size))
        start += size
    return ranges


def split_batches(items: Any, batch_count: int) -> list[Any]:
    """Cut ``items`` into ``min(len(items), batch_count)`` contiguous, near-equal batches of the
    same kind as ``items`` (see the module docstring for the kinds).

    Raises ``ValueError`` when ``batch_count`` is not an integer >= 1, and when ``items`` is not
    splittable (the message lists what is).
    """
    # Kept self-contained (no call to splittable_kind): this function is pasted into step scripts.
    how = None
    if isinstance(items, (list, tuple, range)):
        how = "slice"
    else:
        for cls in type(items).__mro__:
            root = cls.__module__.split(".")[0]
            if root == "numpy" and cls.__name__ == "ndarray":
                if items.ndim == 0:
                    raise ValueError(
                        "a 0-d numpy array (a single value) has no first axis to split; "
                        "make it an array of at least one dimension"
                    )
                how = "slice"
                break
            if root == "pandas" and cls.__name__ in ("DataFrame", "Series"):
                how = "iloc"
                break
    if how is None:
        kind = type(items)
        name = kind.__qualname__
        if kind.__module__ not in ("builtins", "__main__"):
            name = kind.__module__.split(".")[0] + "." + name
        raise ValueError(
            f"cannot split a value of type {name}: the split variable must be a list, a tuple, "
            "a range, a numpy array (split on its first axis) or a pandas DataFrame or Series "
            "(split by rows)"
        )
    ranges = batch_ranges(len(items), batch_count)
    if how == "iloc":
        return [items.iloc[a:b] for a, b in ranges]
    return [items[a:b] for a, b in ranges]


def merge_batches(parts: Iterable[Any]) -> Any:
    """Join per-batch values in batch order: the inverse of :func:`split_batches`, and how the
    processors' per-batch outputs become one value (see the module docstring for the kinds).

    No parts give an empty list. Raises ``ValueError`` naming the batch and its type when a part is
    not splittable, when parts are of different kinds, or when a part is a 0-d array.
    """
    # splittable_kind is pasted into the step scripts beside this function (scripts.rules_source).

    def type_name(value: Any) -> str:
        kind = type(value)
        if kind.__module__ in ("builtins", "__main__"):
            return kind.__qualname__
        return kind.__module__.split(".")[0] + "." + kind.__qualname__

    parts = list(parts)
    if not parts:
        return []
    kinds: list[str] = []
    for index, part in enumerate(parts):
        kind = splittable_kind(part)
        if kind is None:
            raise ValueError(
                f"batch {index} gave a value of type {type_name(part)}, which cannot be joined "
                "with the other batches: each batch must give a list, a tuple, a range, a numpy "
                "array or a pandas DataFrame or Series"
            )
        if kinds and kind != kinds[0]:
            raise ValueError(
                f"batch 0 gave a value of type {type_name(parts[0])} but batch {index} gave "
                f"one of type {type_name(part)}: every batch must give the same kind of value "
                "to be joined"
            )
        kinds.append(kind)
    kind = kinds[0]
    if kind == "list":
        merged: list[Any] = []
        for part in parts:
            merged.extend(part)
        return merged
    if kind == "tuple":
        return tuple(item for part in parts for item in part)
    if kind == "range":
        # One range when the parts follow each other with one step (what splitting a range
        # gives); otherwise their items as a list, since no range holds them.
        full = [part for part in parts if len(part) > 0]
        if not full:
            return parts[0]
        if len(full[0]) > 1:
            step = full[0].step
        elif len(full) > 1:
            step = full[1][0] - full[0][0]
        else:
            step = full[0].step
        follows = step != 0
        previous = None
        for part in full:
            if len(part) > 1 and part.step != step:
                follows = False
            if previous is not None and part[0] != previous + step:
                follows = False
            previous = part[-1]
        if follows:
            return range(full[0][0], full[-1][-1] + step, step)
        return [item for part in parts for item in part]
    if kind == "numpy.ndarray":
        import numpy

        for index, part in enumerate(parts):
            if part.ndim == 0:
                raise ValueError(
                    f"batch {index} gave a 0-d numpy array (a single value), which has no first "
                    "axis to join on: give an array of at least one dimension (for example "
                    "numpy.array([value])) or a list per batch"
                )
        if len(parts) == 1:
            return parts[0].copy()
        try:
            return numpy.concatenate(parts, axis=0)
        except ValueError as exc:
            shapes = ", ".join(str(part.shape) for part in parts)
            raise ValueError(
                f"the batches' numpy arrays cannot be joined on their first axis ({exc}); "
                f"shapes by batch: {shapes}"
            ) from None
    import pandas

    if len(parts) == 1:
        return parts[0].copy()
    return pandas.concat(parts)


def batch_instances(n: int, batch_count: int) -> int:
    """How many processor instances ``n`` items give with ``batch_count`` batches."""
    return len(batch_ranges(n, batch_count))
