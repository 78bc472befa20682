"""The one split rule, checked property by property against brute force for n <= 60, m <= 12."""

from __future__ import annotations

import itertools

import pytest

from naavre_batch_ext.split import batch_instances, batch_ranges, merge_batches, split_batches

CASES = list(itertools.product(range(61), range(1, 13)))


def _items(n: int) -> list[str]:
    # Distinct, non-integer items so order and identity mistakes cannot hide behind arithmetic.
    return [f"item-{i}" for i in range(n)]


@pytest.mark.parametrize(("n", "m"), CASES)
def test_split_batches_satisfies_every_property(n: int, m: int) -> None:
    items = _items(n)
    batches = split_batches(items, m)
    # Batch count: min(n, m), and one empty batch for an empty list.
    if n == 0:
        assert batches == [[]]
        return
    assert len(batches) == min(n, m)
    sizes = [len(b) for b in batches]
    # No empty batch when there are items.
    assert min(sizes) >= 1
    # Sizes differ by at most one.
    assert max(sizes) - min(sizes) <= 1
    # Longer ones first: sizes never increase.
    assert all(a >= b for a, b in itertools.pairwise(sizes))
    # Contiguous and order kept: concatenation gives the list back.
    flat = [x for b in batches for x in b]
    assert flat == items
    # Each batch is a contiguous run of the original indices.
    for b in batches:
        idx = [items.index(x) for x in b]
        assert idx == list(range(idx[0], idx[0] + len(idx)))


@pytest.mark.parametrize(("n", "m"), CASES)
def test_merge_batches_inverts_split(n: int, m: int) -> None:
    items = _items(n)
    assert merge_batches(split_batches(items, m)) == items


@pytest.mark.parametrize(("n", "m"), CASES)
def test_batch_instances_counts_the_batches(n: int, m: int) -> None:
    assert batch_instances(n, m) == len(split_batches(_items(n), m))


@pytest.mark.parametrize(("n", "m"), CASES)
def test_batch_ranges_cover_the_items_once(n: int, m: int) -> None:
    covered = [i for a, b in batch_ranges(n, m) for i in range(a, b)]
    assert covered == list(range(n))


def test_split_is_unique_for_its_properties_on_a_known_case() -> None:
    # 7 items in 3 batches: the only split with sizes differing by <= 1 and longer first is 3, 2, 2.
    assert split_batches(list("abcdefg"), 3) == [["a", "b", "c"], ["d", "e"], ["f", "g"]]


def test_seed_batches_split_into_five_single_batch_lists() -> None:
    # The seed's splitter returns 5 batches and batch count 5: each instance gets one batch.
    batches = [[1, 2], [3, 4], [5], [6], [7]]
    assert split_batches(batches, 5) == [[[1, 2]], [[3, 4]], [[5]], [[6]], [[7]]]


def test_split_accepts_a_tuple_and_returns_lists() -> None:
    assert split_batches((1, 2, 3), 2) == [[1, 2], [3]]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "3", True, None])
def test_split_rejects_a_batch_count_that_is_not_a_positive_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="batch count"):
        split_batches([1, 2, 3], bad)  # type: ignore[arg-type]


def test_batch_instances_rejects_a_negative_item_count() -> None:
    with pytest.raises(ValueError, match="item count"):
        batch_instances(-1, 2)


def test_merge_batches_of_one_empty_batch_is_empty() -> None:
    assert merge_batches([[]]) == []
