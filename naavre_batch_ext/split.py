"""The one split/merge rule, used by every path (local runner, Argo step scripts, preview).

Keeping the rule in a single module is what makes the notebook context, the local workflow context
and the Argo workflow agree on which item goes to which processor instance: none of them may
re-implement it.

Rule: a list of ``n`` items and a batch count ``m`` give ``k = min(n, m)`` contiguous batches whose
sizes differ by at most one, longer ones first, order kept. ``n = 0`` gives one empty batch
(``[[]]``) so that a workflow always has at least one processor instance (Argo skips an empty
``withParam``). Concatenating the batches (:func:`merge_batches`) gives the list back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "batch_instances",
    "batch_ranges",
    "merge_batches",
    "split_batches",
    "splittable_kind",
]


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


def split_batches(items: Sequence[T], batch_count: int) -> list[list[T]]:
    """Cut ``items`` into ``min(len(items), batch_count)`` contiguous, near-equal batches.

    Raises ``ValueError`` when ``batch_count`` is not an integer >= 1.
    """
    seq = list(items)
    return [seq[a:b] for a, b in batch_ranges(len(seq), batch_count)]


def merge_batches(parts: Iterable[Sequence[Any]]) -> list[Any]:
    """Concatenate per-batch lists in batch order: the inverse of :func:`split_batches`."""
    merged: list[Any] = []
    for part in parts:
        merged.extend(part)
    return merged


def splittable_kind(value: Any) -> str | None:
    """The kind of sequence the split rule cuts and merges (``list``, ``tuple``), or None."""
    if isinstance(value, list):
        return "list"
    if isinstance(value, tuple):
        return "tuple"
    return None


def batch_instances(n: int, batch_count: int) -> int:
    """How many processor instances a list of ``n`` items gives with ``batch_count`` batches."""
    return len(batch_ranges(n, batch_count))
