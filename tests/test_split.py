"""The one split rule, checked property by property against brute force: lists for n <= 60,
m <= 12; every splittable kind (tuple, range, numpy array, pandas DataFrame and Series) for n <= 30,
m <= 8, including the round trip split -> merge back to an equal value of the same type."""

from __future__ import annotations

import inspect
import itertools
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from naavre_batch_ext.core.split import (
    SPLITTABLE_KINDS,
    batch_instances,
    batch_ranges,
    merge_batches,
    split_batches,
    splittable_kind,
)
from naavre_batch_ext.steps.scripts import rules_source

CASES = list(itertools.product(range(61), range(1, 13)))


def _items(n: int) -> list[str]:
    # Distinct, non-integer items so order and identity mistakes cannot hide behind arithmetic.
    return [f"item-{i}" for i in range(n)]


def _split_violations(n: int, m: int) -> list[str]:
    """The properties of the split rule that ``split_batches(n items, m)`` breaks (none: [])."""
    items = _items(n)
    batches = split_batches(items, m)
    if n == 0:
        return [] if batches == [[]] else ["an empty list gives one empty batch"]
    sizes = [len(b) for b in batches]
    flat = [x for b in batches for x in b]
    starts = [items.index(b[0]) for b in batches if b]
    checks = {
        "min(n, m) batches": len(batches) == min(n, m),
        "no empty batch when there are items": min(sizes) >= 1,
        "sizes differ by at most one": max(sizes) - min(sizes) <= 1,
        "longer batches first": all(a >= b for a, b in itertools.pairwise(sizes)),
        "order kept: the batches concatenate to the list": flat == items,
        "each batch a contiguous run of the list": all(
            b == items[s : s + len(b)] for s, b in zip(starts, batches, strict=False)
        ),
    }
    return [name for name, holds in checks.items() if not holds]


def _failing_cases(holds: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """The ``(n, m)`` of CASES for which ``holds`` is false: a failure names each one."""
    return [(n, m) for n, m in CASES if not holds(n, m)]


# One test per property, each over all of CASES (a loop, not 732 test items: pytest-xdist's
# per-item cost was 40 s of CI for the four of them; a failure still names every failing case).


def test_split_batches_satisfies_every_property() -> None:
    violations = {(n, m): v for n, m in CASES if (v := _split_violations(n, m))}
    assert violations == {}


def test_merge_batches_inverts_split() -> None:
    assert (
        _failing_cases(lambda n, m: merge_batches(split_batches(_items(n), m)) == _items(n)) == []
    )


def test_batch_instances_counts_the_batches() -> None:
    assert (
        _failing_cases(lambda n, m: batch_instances(n, m) == len(split_batches(_items(n), m))) == []
    )


def test_batch_ranges_cover_the_items_once() -> None:
    def covers(n: int, m: int) -> bool:
        return [i for a, b in batch_ranges(n, m) for i in range(a, b)] == list(range(n))

    assert _failing_cases(covers) == []


def test_split_is_unique_for_its_properties_on_a_known_case() -> None:
    # 7 items in 3 batches: the only split with sizes differing by <= 1 and longer first is 3, 2, 2.
    assert split_batches(list("abcdefg"), 3) == [["a", "b", "c"], ["d", "e"], ["f", "g"]]


def test_seed_batches_split_into_five_single_batch_lists() -> None:
    # The seed's splitter returns 5 batches and batch count 5: each instance gets one batch.
    batches = [[1, 2], [3, 4], [5], [6], [7]]
    assert split_batches(batches, 5) == [[[1, 2]], [[3, 4]], [[5]], [[6]], [[7]]]


def test_split_of_a_tuple_gives_tuples() -> None:
    assert split_batches((1, 2, 3), 2) == [(1, 2), (3,)]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "3", True, None])
def test_split_rejects_a_batch_count_that_is_not_a_positive_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="batch count"):
        split_batches([1, 2, 3], bad)  # type: ignore[arg-type]


def test_batch_instances_rejects_a_negative_item_count() -> None:
    with pytest.raises(ValueError, match="item count"):
        batch_instances(-1, 2)


def test_merge_batches_of_one_empty_batch_is_empty() -> None:
    assert merge_batches([[]]) == []


# -- every splittable kind ------------------------------------------------------------------------

KIND_CASES = list(itertools.product(range(31), range(1, 9)))


def _tuple(n: int) -> tuple[str, ...]:
    return tuple(_items(n))


def _range(n: int) -> range:
    # A start and a step that are not 0 and 1, so an off-by-one in either shows.
    return range(5, 5 + 7 * n, 7)


def _array_2d(n: int) -> Any:
    np = pytest.importorskip("numpy")
    return np.arange(n * 3, dtype=np.float64).reshape(n, 3) + 0.5


def _array_datetime(n: int) -> Any:
    np = pytest.importorskip("numpy")
    return np.datetime64("2024-01-01", "D") + np.arange(n)


def _array_structured(n: int) -> Any:
    np = pytest.importorskip("numpy")
    dtype = np.dtype([("site", "U8"), ("height", "f4"), ("count", "i8")])
    return np.array([(f"s{i}", i / 4, i * i) for i in range(n)], dtype=dtype)


def _frame(n: int) -> Any:
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(
        {
            "height": [i / 3 for i in range(n)],
            "count": pd.array(range(n), dtype="int32"),
            "species": pd.Categorical(
                [["oak", "pine", "birch"][i % 3] for i in range(n)],
                categories=["birch", "oak", "pine"],
            ),
            "note": pd.Series([{"i": i} for i in range(n)], dtype=object),
        },
        # Neither 0..n-1 nor sorted: merging must keep the labels, not renumber them.
        index=pd.DatetimeIndex(
            [pd.Timestamp("2024-03-01", tz="UTC") - pd.Timedelta(days=i) for i in range(n)],
            name="when",
        ),
    )


def _series(n: int) -> Any:
    pd = pytest.importorskip("pandas")
    return pd.Series(
        pd.Categorical([f"c{i % 4}" for i in range(n)], categories=["c0", "c1", "c2", "c3"]),
        index=[f"row-{i}" for i in range(n)],
        name="class",
    )


MAKERS: dict[str, Any] = {
    "list": _items,
    "tuple": _tuple,
    "range": _range,
    "numpy 2-D float array": _array_2d,
    "numpy datetime64 array": _array_datetime,
    "numpy structured array": _array_structured,
    "pandas DataFrame": _frame,
    "pandas Series": _series,
}


def _assert_identical(got: Any, expected: Any, where: str) -> None:
    """Same type, and equal the way the kind defines it: dtype, shape, index, names too."""
    assert type(got) is type(expected), where
    kind = splittable_kind(expected)
    if kind == "numpy.ndarray":
        import numpy as np

        assert got.dtype == expected.dtype, where
        assert got.shape == expected.shape, where
        assert np.array_equal(got, expected), where
    elif kind == "pandas.DataFrame":
        import pandas as pd

        pd.testing.assert_frame_equal(got, expected, check_index_type=True, obj=where)
        assert list(got.columns) == list(expected.columns), where
    elif kind == "pandas.Series":
        import pandas as pd

        pd.testing.assert_series_equal(got, expected, check_index_type=True, obj=where)
    else:
        assert got == expected, where


def _positions(value: Any) -> list[Any]:
    """The items of a splittable value as plain Python objects, in order (rows for 2-D)."""
    kind = splittable_kind(value)
    if kind == "numpy.ndarray":
        return [row.tolist() if hasattr(row, "tolist") else row for row in value]
    if kind == "pandas.DataFrame":
        return [tuple(row) for row in value.itertuples()]
    if kind == "pandas.Series":
        return list(value.items())
    return list(value)


@pytest.mark.parametrize("maker", list(MAKERS), ids=list(MAKERS))
def test_every_kind_splits_into_near_equal_contiguous_batches_of_its_own_type(maker: str) -> None:
    for n, m in KIND_CASES:
        where = f"{maker}, n={n}, m={m}"
        value = MAKERS[maker](n)
        batches = split_batches(value, m)
        assert all(type(b) is type(value) for b in batches), where
        sizes = [len(b) for b in batches]
        if n == 0:
            assert sizes == [0], where
            continue
        assert len(batches) == min(n, m), where
        assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1, where
        assert all(a >= b for a, b in itertools.pairwise(sizes)), where
        # Batch i holds exactly the items of batch_ranges' range i, in order.
        whole = _positions(value)
        for (a, b), batch in zip(batch_ranges(n, m), batches, strict=True):
            assert _positions(batch) == whole[a:b], where


@pytest.mark.parametrize("maker", list(MAKERS), ids=list(MAKERS))
def test_every_kind_merges_back_to_an_identical_value(maker: str) -> None:
    for n, m in KIND_CASES:
        value = MAKERS[maker](n)
        _assert_identical(merge_batches(split_batches(value, m)), value, f"{maker}, n={n}, m={m}")


def test_array_batches_are_views_on_the_first_axis() -> None:
    np = pytest.importorskip("numpy")
    grid = _array_2d(10)
    batches = split_batches(grid, 3)
    assert [b.shape for b in batches] == [(4, 3), (3, 3), (3, 3)]
    assert all(np.shares_memory(b, grid) for b in batches)


def test_dataframe_batches_keep_columns_dtypes_and_index_labels() -> None:
    frame = _frame(7)
    first, second = split_batches(frame, 2)
    assert list(first.columns) == list(frame.columns)
    assert first.dtypes.equals(frame.dtypes)
    assert list(second.index) == list(frame.index[4:])
    assert str(second["species"].dtype) == "category"


def test_empty_values_split_into_one_empty_batch_of_their_kind() -> None:
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    [batch] = split_batches(np.zeros((0, 4), dtype=np.int16), 3)
    assert batch.shape == (0, 4) and batch.dtype == np.int16
    [frame] = split_batches(_frame(0), 3)
    assert isinstance(frame, pd.DataFrame) and frame.dtypes.equals(_frame(0).dtypes)
    assert split_batches(range(0), 2) == [range(0)]
    assert split_batches((), 2) == [()]


@pytest.mark.parametrize(
    ("value", "type_name"),
    [({"a": 1}, "dict"), ({1, 2}, "set"), ("abc", "str"), (5, "int"), (iter([1]), "list_iterator")],
)
def test_split_of_anything_else_names_its_type_and_lists_the_accepted_ones(
    value: Any, type_name: str
) -> None:
    with pytest.raises(ValueError) as err:
        split_batches(value, 2)
    message = str(err.value)
    assert f"type {type_name}" in message
    for accepted in ("a list", "a tuple", "a range", "a numpy array", "pandas DataFrame or Series"):
        assert accepted in message


def test_a_0d_array_cannot_be_split() -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(ValueError, match="0-d numpy array"):
        split_batches(np.array(3.0), 2)


def test_splittable_kind_names_each_kind_and_none_for_others() -> None:
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    assert [
        splittable_kind(v)
        for v in ([], (), range(2), np.zeros(2), pd.DataFrame(), pd.Series(dtype=float))
    ] == list(SPLITTABLE_KINDS)
    assert splittable_kind({}) is None
    assert splittable_kind(np.float64(1.0)) is None  # a numpy scalar is one value, not a sequence


def test_subclasses_count_as_their_base_kind() -> None:
    import collections

    pd = pytest.importorskip("pandas")

    class Plots(pd.DataFrame):  # stands for geopandas.GeoDataFrame and the like
        pass

    Point = collections.namedtuple("Point", "x y")
    assert splittable_kind(Point(1, 2)) == "tuple"
    assert splittable_kind(Plots({"a": [1]})) == "pandas.DataFrame"


# -- merging the processors' per-batch outputs -----------------------------------------------------


def test_merge_of_tuples_is_a_tuple() -> None:
    assert merge_batches([(1, 2), (3,), ()]) == (1, 2, 3)
    assert type(merge_batches([(1,), (2,)])) is tuple


def test_merge_of_ranges_that_follow_each_other_is_one_range() -> None:
    assert merge_batches([range(0, 6, 2), range(6, 10, 2)]) == range(0, 10, 2)
    assert isinstance(merge_batches([range(3, 4), range(4, 5)]), range)


def test_merge_of_ranges_with_a_gap_is_the_list_of_their_items() -> None:
    assert merge_batches([range(0, 3), range(10, 12)]) == [0, 1, 2, 10, 11]
    assert merge_batches([range(0, 6, 2), range(6, 9)]) == [0, 2, 4, 6, 7, 8]


def test_merge_of_arrays_concatenates_on_the_first_axis() -> None:
    np = pytest.importorskip("numpy")
    merged = merge_batches([np.ones((2, 3), dtype=np.float32), np.zeros((1, 3), dtype=np.float32)])
    assert merged.shape == (3, 3) and merged.dtype == np.float32


def test_merge_of_one_empty_array_keeps_its_dtype_and_shape() -> None:
    np = pytest.importorskip("numpy")
    merged = merge_batches([np.zeros((0, 2), dtype="datetime64[s]")])
    assert merged.dtype == np.dtype("datetime64[s]") and merged.shape == (0, 2)


def test_merge_refuses_0d_arrays_rather_than_stacking_them() -> None:
    # The notebook computes one value for all the data; stacking per-batch values would hand the
    # merger a different thing, silently.
    np = pytest.importorskip("numpy")
    with pytest.raises(ValueError, match="batch 1 gave a 0-d numpy array"):
        merge_batches([np.array([1.0]), np.array(2.0)])


def test_merge_of_arrays_with_other_trailing_shapes_lists_the_shapes() -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(ValueError, match=r"shapes by batch: \(1, 2\), \(1, 3\)"):
        merge_batches([np.zeros((1, 2)), np.zeros((1, 3))])


def test_merge_of_series_keeps_name_index_and_categorical_dtype() -> None:
    series = _series(9)
    merged = merge_batches(split_batches(series, 4))
    assert merged.name == "class"
    assert str(merged.dtype) == "category"
    assert list(merged.index) == list(series.index)


def test_merge_of_dataframes_keeps_column_order() -> None:
    pd = pytest.importorskip("pandas")
    parts = [pd.DataFrame({"b": [1], "a": [2.0]}), pd.DataFrame({"b": [3], "a": [4.0]}, index=[1])]
    merged = merge_batches(parts)
    assert list(merged.columns) == ["b", "a"]
    assert list(merged.index) == [0, 1]


def test_merge_of_mixed_kinds_names_both_types() -> None:
    with pytest.raises(
        ValueError, match="batch 0 gave a value of type list but batch 1 gave one of type tuple"
    ):
        merge_batches([[1], (2,)])


def test_merge_of_a_frame_and_a_series_names_both_types() -> None:
    pd = pytest.importorskip("pandas")
    with pytest.raises(
        ValueError, match="pandas.DataFrame but batch 1 gave one of type pandas.Series"
    ):
        merge_batches([pd.DataFrame({"a": [1]}), pd.Series([2])])


def test_merge_of_a_value_that_is_not_splittable_names_the_batch_and_type() -> None:
    with pytest.raises(ValueError, match="batch 1 gave a value of type str"):
        merge_batches([["a"], "bc"])


def test_merge_of_no_parts_is_an_empty_list() -> None:
    assert merge_batches([]) == []


# -- the pasted rule: what step scripts run --------------------------------------------------------


def _pasted_rule() -> dict[str, Any]:
    """The rule exactly as scripts.rules_source pastes it into step scripts, run in a namespace of
    its own (no module globals: a helper the functions call but the paste lacks fails here)."""
    namespace: dict[str, Any] = {"__name__": "step_script"}
    exec(compile(rules_source(), "<rules>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("maker", list(MAKERS), ids=list(MAKERS))
def test_pasted_rule_splits_and_merges_every_kind_on_its_own(maker: str) -> None:
    rule = _pasted_rule()
    value = MAKERS[maker](11)
    batches = rule["split_batches"](value, 4)
    assert [len(b) for b in batches] == [3, 3, 3, 2]
    _assert_identical(rule["merge_batches"](batches), value, maker)


def test_split_module_never_holds_a_double_brace_and_imports_no_library_at_module_level() -> None:
    from naavre_batch_ext.core import split

    text = inspect.getsource(split)
    assert "{{" not in text and "}}" not in text
    top_level_imports = [
        line for line in text.splitlines() if line.startswith(("import ", "from "))
    ]
    assert not [line for line in top_level_imports if "numpy" in line or "pandas" in line]


def test_pasted_rule_runs_without_numpy_or_pandas_installed() -> None:
    # A step image without the libraries: plain lists must still split and merge.
    code = (
        "import sys\n"
        "sys.modules['numpy'] = None\nsys.modules['pandas'] = None\n"
        f"exec(compile({rules_source()!r}, '<rules>', 'exec'))\n"
        "print(merge_batches(split_batches(list(range(7)), 3)), split_batches((1, 2, 3), 2))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[0, 1, 2, 3, 4, 5, 6] [(1, 2), (3,)]"
