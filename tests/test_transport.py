"""The value transport: every value comes back equal and of the same type, in both forms."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import math
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from naavre_batch_ext.steps import transport

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")


@dataclasses.dataclass
class Point:
    x: int
    label: str


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type, all the way down (a stricter check than ``==``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    if isinstance(a, pd.DataFrame):
        return (
            a.equals(b)
            and a.dtypes.equals(b.dtypes)
            and a.index.equals(b.index)
            and type(a.index) is type(b.index)
            and list(a.columns) == list(b.columns)
        )
    if isinstance(a, pd.Series):
        return a.equals(b) and a.dtype == b.dtype and a.name == b.name and a.index.equals(b.index)
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


VALUES: dict[str, Any] = {
    "plain json": [0.0, 1.5, {"a": {"b": [1, None, True, "x"]}}, -0.0, 2**60 + 1],
    "tuples nested in lists": [(0, 0), (1, (2, 3))],
    "set": {1, 2, 3},
    "frozenset": frozenset({"a"}),
    "dict with int and tuple keys": {1: "a", (2, 3): "b"},
    "date": datetime.date(2024, 1, 2),
    "datetime with tz": datetime.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    ),
    "Decimal": decimal.Decimal("1.10"),
    "-0.0": -0.0,
    "nan": float("nan"),
    "inf": float("inf"),
    "2**60 + 1": 2**60 + 1,
    "dataclass": [Point(1, "a"), Point(2, "b")],
    "strings with braces": ["{{ workflow.name }}", "}}"],
    "numpy int": np.arange(10, dtype="int16"),
    "numpy float 2-D": np.linspace(0, 1, 12).reshape(4, 3),
    "numpy bool": np.array([True, False]),
    "numpy datetime64": np.array(["2024-01-01", "2024-02-01"], dtype="datetime64[D]"),
    "numpy structured": np.array([(1, 2.0), (3, 4.5)], dtype=[("a", "i4"), ("b", "f8")]),
    "numpy object": np.array([1, "a", None], dtype=object),
    "numpy scalar": np.float64(1.5),
    "DataFrame with DatetimeIndex": pd.DataFrame(
        {"a": [1, 2, 3], "b": [0.5, 1.5, np.nan]}, index=pd.date_range("2024-01-01", periods=3)
    ),
    "DataFrame categorical and object": pd.DataFrame(
        {"c": pd.Categorical(["x", "y", "x"]), "o": ["a", 1, None]}
    ),
    "DataFrame numeric": pd.DataFrame({"a": np.arange(5, dtype="int32"), "b": np.arange(5.0)}),
    "Series with a name": pd.Series([1.0, 2.0], name="s"),
    "Series without a name": pd.Series([1, 2]),
}


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
@pytest.mark.parametrize("name", list(VALUES))
def test_value_round_trips_equal_and_of_the_same_type(
    name: str, text: bool, tmp_path: Path
) -> None:
    value = VALUES[name]
    path = tmp_path / "value"
    transport.dump(value, str(path), text=text)
    assert _same(transport.load(str(path)), value)
    assert _same(transport.loads(transport.dumps(value, text=text)), value)


@pytest.mark.parametrize("name", list(VALUES))
def test_text_form_is_printable_ascii_without_argo_braces_and_never_a_json_container(
    name: str,
) -> None:
    data = transport.dumps(VALUES[name], text=True)
    assert all(32 <= byte < 127 or byte == 10 for byte in data)
    assert b"{" * 2 not in data and b"}" * 2 not in data
    with pytest.raises(ValueError):
        json.loads(data)  # Argo's tryJSONUnmarshal fails too, so it keeps the string as it is


@pytest.mark.parametrize(
    ("value", "codec"),
    [
        ([1, 2.0, "x", None, {"k": True}], "json"),
        ([(1, 2)], "pickle"),
        ({1: "a"}, "pickle"),
        ([np.float64(1.0)], "pickle"),
        ([float("nan")], "pickle"),
        (np.zeros(3), "npy"),
        (np.array([None]), "pickle"),
    ],
)
def test_codec_is_json_only_when_json_keeps_every_type(value: Any, codec: str) -> None:
    assert transport.codec_of(value) == codec or (
        codec == "pickle" and transport.codec_of(value) == "pickle"
    )
    assert transport.dumps(value).startswith(f"naavre-value/1 {codec}".encode())


def test_json_values_stay_readable_in_files(tmp_path: Path) -> None:
    transport.dump([0.0, "é"], str(tmp_path / "v"))
    assert (tmp_path / "v").read_bytes() == b'naavre-value/1 json\n[0.0,"\\u00e9"]'


def test_dataframe_uses_parquet_when_pyarrow_is_there() -> None:
    pytest.importorskip("pyarrow", reason="parquet is the optional speed path for pandas")
    assert transport.codec_of(VALUES["DataFrame numeric"]) == "parquet"
    assert transport.dumps(VALUES["Series with a name"]).startswith(
        b"naavre-value/1 parquet;series\n"
    )


def test_a_generator_cannot_pass_and_the_error_says_where_and_what() -> None:
    value = {"ok": [1, 2], "bad": [0, (x for x in range(3))]}
    with pytest.raises(transport.NotPassableError) as info:
        transport.dumps(value)
    assert info.value.path == "['bad'][1]"
    assert info.value.type_name == "generator"


@pytest.mark.parametrize(
    "make",
    [
        threading.Lock,
        lambda: open(__file__),  # noqa: SIM115 - an open file is the point
        lambda: lambda: 1,
    ],
    ids=["lock", "open file", "lambda"],
)
def test_locks_files_and_lambdas_cannot_pass(make: Any, tmp_path: Path) -> None:
    culprit = make()
    with pytest.raises(transport.NotPassableError):
        transport.dump([culprit], str(tmp_path / "v"))
    assert not (tmp_path / "v").exists()  # nothing half-written is left for a later step


def test_header_classes_load_as_stand_ins_outside_the_steps(tmp_path: Path) -> None:
    """The runner never runs the user's header, yet can compare instances of its classes."""
    script = (
        "import dataclasses, sys\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from naavre_batch_ext.steps import transport\n"
        "@dataclasses.dataclass\n"
        "class Site:\n    name: str\n    depth: float\n"
        "transport.dump([Site('a', 1.5)], sys.argv[1])\n"
    )
    path = tmp_path / "v"
    root = str(Path(transport.__file__).parent.parent)
    subprocess.run([sys.executable, "-c", script, str(path), root], check=True)
    with pytest.raises(AttributeError):
        pickle.loads(path.read_bytes().split(b"\n", 1)[1])
    [site] = transport.load(str(path), stub_missing=True)
    assert (type(site).__module__, type(site).__qualname__) == ("__main__", "Site")
    assert vars(site) == {"name": "a", "depth": 1.5}
    again = transport.load(str(path), stub_missing=True)[0]
    assert type(again) is type(site)


def test_a_file_without_the_header_is_read_as_json(tmp_path: Path) -> None:
    (tmp_path / "v").write_text('{"a": [1, 2.5]}')
    assert transport.load(str(tmp_path / "v")) == {"a": [1, 2.5]}


def test_unknown_codec_is_a_clear_error() -> None:
    with pytest.raises(transport.ValueFileError, match="unknown codec"):
        transport.loads(b"naavre-value/1 zip\nxx")


# -- issue 22: stand-ins of header classes ------------------------------------------------------


def _from_a_header(value: Any) -> Any:
    """``value`` written in a step and read back by the runner, which does not have the class
    (defined in a notebook's header, so in the step's ``__main__``): a stand-in."""
    import types

    module = types.ModuleType("naavre_header_of_a_step")
    sys.modules[module.__name__] = module
    try:
        kind = type(value)
        kind.__module__ = module.__name__
        setattr(module, kind.__qualname__, kind)
        data = transport.dumps(value)
    finally:
        del sys.modules[module.__name__]
    return transport.loads(data, stub_missing=True)


def _header_classes() -> dict[str, type]:
    import collections

    classes: dict[str, type] = {
        "Num": type("Num", (int,), {}),
        "Real": type("Real", (float,), {}),
        "Name": type("Name", (str,), {}),
        "Pair": type("Pair", (tuple,), {}),
        "MyList": type("MyList", (list,), {}),
        "MyDict": type("MyDict", (dict,), {}),
        "Point": collections.namedtuple("Point", "x y"),
    }
    for name, kind in classes.items():
        kind.__qualname__ = name
    return classes


@pytest.mark.parametrize(
    "name,args,other",
    [
        ("Num", (99,), (0,)),
        ("Real", (49.5,), (0.0,)),
        ("Name", ("n99",), ("n0",)),
        ("Pair", ((1, 99),), ((1, 0),)),
        ("Point", (1, 99), (1, 0)),
    ],
)
def test_stand_in_of_a_header_builtin_subclass_keeps_its_value(
    name: str, args: tuple[Any, ...], other: tuple[Any, ...]
) -> None:
    """Item 4: the arguments pickle passes to ``__new__`` are the value; the comparison sees them."""
    from naavre_batch_ext.engines.compare import first_difference

    kind = _header_classes()[name]
    loaded = _from_a_header(kind(*args))
    assert type(loaded).__qualname__ == name
    assert type(loaded).__module__ == "naavre_header_of_a_step"
    assert repr(loaded).startswith(f"{name}(")
    assert first_difference(loaded, _from_a_header(kind(*args))) is None
    assert first_difference(loaded, _from_a_header(kind(*other))) is not None


@pytest.mark.parametrize("name,value", [("MyList", [1, [2]]), ("MyDict", {"a": 1, "b": [2]})])
def test_stand_in_of_a_header_list_or_dict_subclass_takes_its_items(name: str, value: Any) -> None:
    """Item 5: pickle's APPENDS and SETITEMS fill the stand-in instead of crashing."""
    from naavre_batch_ext.engines.compare import first_difference

    kind = _header_classes()[name]
    original = kind(value)
    original.note = "kept"
    loaded = _from_a_header(original)
    assert repr(loaded) == f"{name}({value!r}, note='kept')"
    changed = kind(value)
    changed.note = "kept"
    changed[next(iter(value)) if isinstance(value, dict) else 0] = 7
    assert first_difference(loaded, _from_a_header(changed)) is not None


def test_a_value_nested_too_deeply_is_not_passable_with_one_clear_reason() -> None:
    """Item 7: json and pickle cannot follow 5,000 levels: one reason, no path of 5,000 steps."""
    deep: list[Any] = [0]
    for _ in range(5000):
        deep = [deep]
    for value in (deep, (deep,)):
        with pytest.raises(transport.NotPassableError) as caught:
            transport.dumps(value)
        assert caught.value.path == ""
        assert "nested too deeply" in caught.value.reason


def test_a_module_is_reported_as_a_module_not_as_what_it_holds() -> None:
    """Item 12: the culprit of ``m = json`` is the module, not some attribute deep inside it."""
    with pytest.raises(transport.NotPassableError) as caught:
        transport.dumps({"m": json})
    assert (caught.value.path, caught.value.type_name) == ("['m']", "module")
