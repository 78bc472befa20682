"""The one value transport: how every value that crosses a step boundary is written and read back.

The promise of the extension is that the workflow computes what the notebook computes, so a value
handed from one step to the next must come back *equal and of the same type*: a tuple stays a tuple,
``1.0`` stays a float, ``{1: x}`` keeps its int key, a DataFrame keeps its index and dtypes. Every
engine uses this module and nothing else: the local runner, the generated step scripts (this file's
source is pasted into each script, like :mod:`naavre_batch_ext.steps.step_runtime`), the Argo export and
the CWL export.

A *value file* is one header line and a payload::

    naavre-value/1 <codec>[;<flag>...]\\n<payload>

where the flags are ``base64`` (text form of a binary payload) and, for parquet, ``series`` or
``series-unnamed`` (a Series written as a one-column table).

Codecs, chosen per value by :func:`codec_of`:

- ``json``: the value round-trips through JSON with the same types all the way down (``str``,
  ``int``, ``float`` but not NaN or infinities, ``bool``, ``None``, lists, dicts with ``str`` keys;
  exact types, so a ``numpy.float64`` or a tuple is *not* JSON here). Readable and portable.
- ``npy``: a numpy array whose dtype holds no Python objects, with ``numpy.save`` (no pickle).
- ``parquet``: a pandas DataFrame or Series whose columns and index parquet keeps exactly, when
  pyarrow is importable (an optional speed path, never a dependency of a step).
- ``pickle`` (protocol 5): anything else that pickles: tuples, sets, int keys, dates, Decimal,
  classes defined in the header (the header runs in every step, so they resolve), numpy and pandas
  objects the faster codecs do not take.
- ``rds``: a value of an R step, as R's ``serialize`` writes it (``saveRDS(compress = FALSE)``),
  written and read by the R runtime (``steps/r_runtime.R``). Python never decodes it: it loads as
  :class:`RValue` (the payload's bytes), which R itself compares and describes
  (:mod:`naavre_batch_ext.engines.r_values`), and writes it back unchanged.

Two forms of the same file: the *binary* form (files: local runs, CWL, Argo artifacts) and the *text*
form (Argo output parameters), which is printable ASCII only, never contains two curly braces in a
row (Argo would template them), and never parses as a JSON object or array (so Argo's fan-in,
``aggregatedJSONValueList`` in ``workflow/controller/operator.go``, keeps it a string instead of
re-encoding its numbers through float64). Readers accept both forms, and a file without the header
as plain JSON (a hand-written input).

Rules for this file, as for the runtime: standard library only, cheap imports at the top, numpy,
pandas and pyarrow imported only when a value needs them, and never two curly braces in a row.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - typing only
    from typing import IO, Any

MAGIC = b"naavre-value/1 "
"""How every value file starts; the codec name and ``;base64`` (text form) follow on that line."""

CODECS = ("json", "npy", "parquet", "pickle", "rds")
PICKLE_PROTOCOL = 5

_JSON_SCALARS = (str, int, float, bool, type(None))
_BRACES = (b"{" * 2, b"}" * 2)
"""Argo's template markers, which the text form never contains (written so this file has none)."""


class NotPassableError(Exception):
    """A value no codec can write (a generator, an open file, a lock, a lambda defined in a cell).

    ``path`` is where inside the value the culprit sits (``results[3]["fh"]``), ``type_name`` its
    type, so the step can say which variable, what type and where.
    """

    def __init__(self, path: str, type_name: str, reason: str) -> None:
        super().__init__(
            f"{path} holds {type_name}, which cannot be passed between steps ({reason})"
        )
        self.path = path
        self.type_name = type_name
        self.reason = reason


class RValue:
    """A value an R step wrote (codec ``rds``): the serialized payload, opaque to Python.

    Equal payloads are equal values; different payloads may still be ``identical()`` in R (a
    compact sequence ``1:3`` and the same numbers stored in full), so the comparison asks R.
    ``summary`` is filled in by R (:func:`naavre_batch_ext.engines.r_values.describe_all`).
    """

    __slots__ = ("data", "summary")

    def __init__(self, data: bytes, summary: dict[str, str] | None = None) -> None:
        self.data = bytes(data)
        self.summary = summary

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RValue) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)

    def __repr__(self) -> str:
        if self.summary:
            return f"<R value: {self.summary.get('summary', '')}>"
        return f"<R value, {len(self.data)} bytes>"


class ValueFileError(Exception):
    """A value file that cannot be read (truncated, unknown codec, missing library)."""


def type_name(value: Any) -> str:
    """``int``, ``numpy.ndarray``, ``__main__.Point``: the type as messages show it."""
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def is_plain_json(value: Any) -> bool:
    """True when JSON gives ``value`` back with exactly the same types (no float check here: NaN and
    infinities are refused when dumping with ``allow_nan=False``)."""
    seen: set[int] = set()
    stack = [value]
    pop = stack.pop
    push = stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind in _JSON_SCALARS:
            continue
        if kind is list:
            if id(item) in seen:
                return False  # shared or circular: JSON would copy or refuse it
            seen.add(id(item))
            push(item)
        elif kind is dict:
            if id(item) in seen:
                return False
            seen.add(id(item))
            for key in item:
                if type(key) is not str:
                    return False
            push(item.values())
        else:
            return False
    return True


def _numpy_array(value: Any) -> bool:
    kind = type(value)
    return kind.__name__ == "ndarray" and kind.__module__ == "numpy"


def _pandas_kind(value: Any) -> str | None:
    kind = type(value)
    module = kind.__module__
    if (module == "pandas" or module.startswith("pandas.")) and kind.__name__ in (
        "DataFrame",
        "Series",
    ):
        return kind.__name__
    return None


_PARQUET_DTYPE_KINDS = "biufM"  # bool, int, uint, float, datetime64 (naive or with a time zone)


def _parquet_exact(value: Any) -> bool:
    """Whether parquet (pyarrow) gives this DataFrame or Series back exactly: plain numeric, bool,
    datetime and categorical columns under unique string names, and a range, int or datetime index.
    Object columns (mixed Python values), attrs and anything unusual go to pickle instead."""
    try:
        import pyarrow  # noqa: F401 - only whether it is there
    except ImportError:
        return False
    frame = value.to_frame() if _pandas_kind(value) == "Series" else value
    if _pandas_kind(value) == "Series" and not (value.name is None or type(value.name) is str):
        return False
    if getattr(value, "attrs", None):
        return False
    columns = list(frame.columns)
    if _pandas_kind(value) == "DataFrame" and (
        any(type(c) is not str for c in columns) or len(set(columns)) != len(columns)
    ):
        return False
    if type(frame.columns).__name__ != "Index" or frame.columns.nlevels != 1:
        return False
    import numpy

    for dtype in frame.dtypes:
        name = type(dtype).__name__
        if name == "CategoricalDtype":
            if getattr(dtype.categories.dtype, "kind", "O") not in "biuf":
                return False
        elif name == "DatetimeTZDtype":
            continue
        elif not isinstance(dtype, numpy.dtype) or dtype.kind not in _PARQUET_DTYPE_KINDS:
            return False
    index = frame.index
    index_kind = type(index).__name__
    if index_kind == "RangeIndex":
        return index.name is None or type(index.name) is str
    if index_kind == "DatetimeIndex":
        return index.freq is None and (index.name is None or type(index.name) is str)
    if index_kind == "Index" and getattr(index.dtype, "kind", "O") in "iu":
        return index.name is None or type(index.name) is str
    return False


def codec_of(value: Any) -> str:
    """The codec a value is written with (see the module docstring for the rule)."""
    if is_plain_json(value) and _json_payload(value, False) is not None:
        return "json"
    return _binary_codec(value)


def _binary_codec(value: Any) -> str:
    if isinstance(value, RValue):
        return "rds"
    if _numpy_array(value) and not value.dtype.hasobject:
        return "npy"
    if _pandas_kind(value) and _parquet_exact(value):
        return "parquet"
    return "pickle"


def _json_payload(value: Any, text: bool) -> bytes | None:
    """The JSON text, or None when JSON cannot carry it (NaN, infinities).

    In the text form one element per line (``indent=0``): structural braces are then never
    adjacent, so only user strings could hold two braces in a row, and those go to base64.
    """
    try:
        if text:
            payload = json.dumps(value, ensure_ascii=True, allow_nan=False, indent=0)
        else:
            payload = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return None
    return payload.encode("ascii")


def _flags(value: Any, codec: str) -> list[str]:
    if codec == "parquet" and _pandas_kind(value) == "Series":
        return ["series" if value.name is not None else "series-unnamed"]
    return []


def _write_payload(value: Any, codec: str, handle: IO[bytes]) -> None:
    if codec == "rds":
        handle.write(value.data)
    elif codec == "npy":
        import numpy

        numpy.save(handle, value, allow_pickle=False)
    elif codec == "parquet":
        if _pandas_kind(value) == "Series":
            value.to_frame(name=value.name if value.name is not None else "series").to_parquet(
                handle
            )
        else:
            value.to_parquet(handle)
    else:
        _pickle_dump(value, handle)


def _too_deep(value: Any) -> NotPassableError:
    """A value nested deeper than the writer (or a reader) can follow: json and pickle walk
    values with C recursion, bounded by Python's recursion limit. Said plainly, once, for the
    whole value (looking for a culprit inside would recurse just as deep)."""
    import sys

    return NotPassableError(
        "",
        type_name(value),
        f"it is nested too deeply: more levels than Python's recursion limit "
        f"({sys.getrecursionlimit()}) allows to write and read back",
    )


def _pickle_dump(value: Any, handle: IO[bytes]) -> None:
    import pickle

    try:
        pickle.dump(value, handle, protocol=PICKLE_PROTOCOL)
    except RecursionError:
        raise _too_deep(value) from None
    except Exception as exc:  # noqa: BLE001 - pickle raises many kinds; each means "cannot pass"
        path, culprit = _unpicklable_part(value)
        raise NotPassableError(path, type_name(culprit), str(exc) or type(exc).__name__) from None


def _unpicklable_part(value: Any) -> tuple[str, Any]:
    """Where inside ``value`` the first thing that does not pickle is, as ``([2]["fh"], culprit)``."""
    import pickle

    path = ""
    current = value
    for _ in range(100):
        children: list[tuple[str, Any]] = []
        if isinstance(current, type(os)):
            break  # a module is the culprit itself, not whatever its attributes hold
        if isinstance(current, dict):
            for key, item in current.items():
                children.append((f" key {key!r}", key))
                children.append((f"[{key!r}]", item))
        elif isinstance(current, (list, tuple)):
            children = [(f"[{i}]", item) for i, item in enumerate(current)]
        elif isinstance(current, (set, frozenset)):
            children = [(" element", item) for item in current]
        elif hasattr(current, "__dict__") and not isinstance(current, type):
            children = [(f".{name}", item) for name, item in vars(current).items()]
        for where, child in children:
            try:
                pickle.dumps(child, protocol=PICKLE_PROTOCOL)
            except Exception:  # noqa: BLE001 - any failure: look inside this one
                path += where
                current = child
                break
        else:
            return path, current
    return path, current


def dumps(value: Any, text: bool = False) -> bytes:
    """The value file of ``value`` as bytes (see :func:`dump`)."""
    import io

    buffer = io.BytesIO()
    _dump_to(value, buffer, text)
    return buffer.getvalue()


def dump(value: Any, path: str, text: bool = False) -> str:
    """Write ``value`` to ``path`` as a value file; returns the codec.

    Raises :class:`NotPassableError` (nothing left behind) when no codec can write it.
    """
    try:
        with open(path, "wb") as handle:
            return _dump_to(value, handle, text)
    except NotPassableError:
        os.remove(path)
        raise


def _dump_to(value: Any, handle: IO[bytes], text: bool) -> str:
    try:
        payload = _json_payload(value, text) if is_plain_json(value) else None
    except RecursionError:
        raise _too_deep(value) from None
    if payload is not None:
        if not text or (_BRACES[0] not in payload and _BRACES[1] not in payload):
            handle.write(MAGIC + b"json\n" + payload)
            return "json"
        codec = "json"  # a user string holds two braces in a row: base64 below
    else:
        codec = _binary_codec(value)
    header = ";".join([codec, *_flags(value, codec)])
    if not text:
        handle.write(MAGIC + header.encode("ascii") + b"\n")
        _write_payload(value, codec, handle)
        return codec
    import base64
    import io

    buffer = io.BytesIO()
    if codec == "json":
        buffer.write(_json_payload(value, False) or b"null")
    else:
        _write_payload(value, codec, buffer)
    handle.write(MAGIC + header.encode("ascii") + b";base64\n")
    handle.write(base64.b64encode(buffer.getbuffer()))
    return codec


def loads(data: bytes, stub_missing: bool = False) -> Any:
    """The value of a value file given as bytes (either form; plain JSON without the header)."""
    import io

    return _load_from(io.BytesIO(data), stub_missing)


def load(path: str, stub_missing: bool = False) -> Any:
    """The value of the value file at ``path``.

    ``stub_missing``: classes that cannot be imported here (defined in the notebook's header, so in
    ``__main__`` of the step that wrote them) load as stand-in classes of the same module and name
    whose instances carry the same attributes; the local runner compares values this way without
    running any of the user's code in its own process.
    """
    with open(path, "rb") as handle:
        return _load_from(handle, stub_missing)


def _load_from(handle: IO[bytes], stub_missing: bool) -> Any:
    first = handle.read(len(MAGIC))
    if first != MAGIC:
        try:
            return json.loads(first + handle.read())
        except ValueError as exc:
            raise ValueFileError(f"not a naavre value file and not JSON ({exc})") from None
    line = handle.readline()
    if not line.endswith(b"\n"):
        raise ValueFileError("the value file's header line is cut off")
    codec, *flags = line[:-1].decode("ascii", "replace").split(";")
    if codec not in CODECS or not set(flags) <= {"base64", "series", "series-unnamed"}:
        raise ValueFileError(f"unknown codec {line[:-1].decode('ascii', 'replace')!r}")
    if "base64" in flags:
        import base64
        import io

        handle = io.BytesIO(base64.b64decode(handle.read(), validate=False))
    try:
        if codec == "json":
            return json.loads(handle.read())
        if codec == "rds":
            return RValue(handle.read())
        if codec == "npy":
            import numpy

            return numpy.load(handle, allow_pickle=False)
        if codec == "parquet":
            import io

            import pandas

            # Parquet seeks to absolute offsets (the footer): give it the payload on its own.
            frame = pandas.read_parquet(io.BytesIO(handle.read()))
            if "series" in flags:
                return frame.iloc[:, 0]
            if "series-unnamed" in flags:
                return frame.iloc[:, 0].rename(None)
            return frame
        return _pickle_load(handle, stub_missing)
    except ImportError as exc:
        raise ValueFileError(
            f"the {codec} value needs {exc.name or exc}, which is not installed"
        ) from None
    except RecursionError:
        raise ValueFileError(
            "the value is nested too deeply to read back here (Python's recursion limit)"
        ) from None


_STUBS: dict[tuple[str, str], type] = {}


class Stub:
    """Base of the stand-in classes :func:`load` makes for classes it cannot import.

    A stand-in keeps everything pickle hands it, so two values of a header class compare by what
    they hold: the arguments pickle passes to ``__new__`` (the value of a subclass of ``int``,
    ``float``, ``str``, ``tuple``, a namedtuple's fields), the items a ``list`` or ``dict``
    subclass appends or sets (pickle's APPENDS and SETITEMS), and the state (``__dict__``,
    ``__slots__`` or whatever ``__reduce__`` gave).
    """

    __naavre_stub__ = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Stub:
        self = object.__new__(cls)
        if args:
            self.__dict__["__naavre_args__"] = args
        if kwargs:
            self.__dict__["__naavre_kwargs__"] = kwargs
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to do: ``__new__`` kept the arguments (pickle's REDUCE calls both)."""

    def append(self, item: Any) -> None:
        """pickle's APPEND(S) for a ``list`` subclass: the items, in order."""
        self.__dict__.setdefault("__naavre_items__", []).append(item)

    def extend(self, items: Any) -> None:
        """pickle's APPENDS for a ``list`` subclass."""
        self.__dict__.setdefault("__naavre_items__", []).extend(items)

    def __setitem__(self, key: Any, item: Any) -> None:
        """pickle's SETITEM(S) for a ``dict`` subclass: the items, in insertion order."""
        self.__dict__.setdefault("__naavre_mapping__", {})[key] = item

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
            for name, item in (slots or {}).items():
                self.__dict__[name] = item
        if isinstance(state, dict):
            self.__dict__.update(state)
        elif state is not None:
            self.__dict__["__naavre_state__"] = state

    def __repr__(self) -> str:
        held = self.__dict__
        parts = [repr(a) for a in held.get("__naavre_args__", ())]
        parts += [f"{k}={v!r}" for k, v in held.get("__naavre_kwargs__", {}).items()]
        if "__naavre_items__" in held:
            parts.append(repr(held["__naavre_items__"]))
        if "__naavre_mapping__" in held:
            parts.append(repr(held["__naavre_mapping__"]))
        if "__naavre_state__" in held:
            parts.append(f"state={held['__naavre_state__']!r}")
        parts += [f"{k}={v!r}" for k, v in held.items() if not k.startswith("__naavre_")]
        return f"{type(self).__qualname__}({', '.join(parts)})"


def stub_class(module: str, qualname: str) -> type:
    """The stand-in class for ``module.qualname`` (one per name, so equal names are one type)."""
    key = (module, qualname)
    if key not in _STUBS:
        name = qualname.rpartition(".")[2]
        _STUBS[key] = type(name, (Stub,), {"__module__": module, "__qualname__": qualname})
    return _STUBS[key]


def _pickle_load(handle: IO[bytes], stub_missing: bool) -> Any:
    import pickle

    if not stub_missing:
        return pickle.load(handle)

    class _Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            try:
                return super().find_class(module, name)
            except (AttributeError, ImportError):
                return stub_class(module, name)

    return _Unpickler(handle).load()


def text_of(data: bytes) -> str:
    """A value file's bytes as the text Argo carries in a parameter (only for the text form)."""
    return data.decode("ascii")
