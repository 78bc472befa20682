"""The code every generated step script carries: read inputs, run cells, write outputs.

This module is not imported by step scripts: :mod:`naavre_batch_ext.steps.scripts` pastes its source, and
the value transport's (:mod:`naavre_batch_ext.steps.transport`), into each script (after the shebang) so a
script is one standalone file that needs nothing but Python 3's standard library, in a local process
exactly as in an Argo pod or a CWL job. Hence the rules for this file:

- stdlib only, and only cheap imports at the top (``json``, ``os``, ``sys``): a processor instance
  pays Python's start-up plus these imports, thousands of times in a classic split. ``traceback``
  and ``linecache`` are imported only when something failed.
- never two opening or two closing curly braces in a row: Argo would treat them as its own
  template markers (:func:`naavre_batch_ext.steps.scripts.task_script` checks this).

Every value crosses the process boundary as a value file of the transport, in a folder the engine
fills (``NAAVRE_INPUTS_DIR``) and one the script fills (``NAAVRE_OUTPUTS_DIR``); see
docs/running.md for the contract, which every engine (local runner, Argo, CWL) follows.
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - typing only, never imported at run time (start-up cost)
    from typing import Any

if __package__:  # imported as naavre_batch_ext.steps.step_runtime; in a step script the transport's
    from . import transport as _t  # source follows this one and the script binds _t itself

EXIT_FAILED = 1

RESERVED_BATCHES = "naavre-batches"
RESERVED_BATCH_COUNT = "naavre-batch-count"
RESERVED_RESULT = "naavre-result"
RESERVED_BATCH = "naavre-batch"
"""Processors' input: the batch ``{"index", "start", "stop", "items"}``."""
RESERVED_BATCH_RESULTS = "naavre-batch-results"
"""Merger's input: every processor instance's result (a folder of value files, or Argo's JSON list)."""
RESERVED_BATCH_LIST = "naavre-batch-list"
"""Splitter output: ``[{"index", "start", "stop"}, ...]``, small enough for Argo's ``withParam``."""
RESERVED_PRINTED = "naavre-printed"
"""Merger output: ``{"text", "cutBytes"}``, what its cells printed (the end of it, at most
:data:`STORED_PRINTED_LIMIT` bytes), kept where the run's status keeps it (an Argo output
parameter), so it outlives the pod and its log."""
RESERVED_SUMMARY = "naavre-summary"
"""Merger output: ``[{"name", "type", "length", "preview"}]``, a short summary of each merged
variable, kept beside :data:`RESERVED_PRINTED`."""
STORED_PRINTED_LIMIT = 256 * 1024
"""Bytes (UTF-8) of the merger's printed output kept in :data:`RESERVED_PRINTED`: the end of it,
where a merger prints its result; Argo keeps output parameters in the Workflow object (about 1 MB
in all), so the rest stays in the pod's log only."""
SUMMARY_PREVIEW_CHARS = 200
"""Characters of ``repr`` kept per merged variable in :data:`RESERVED_SUMMARY`."""
PARAMETERS_DIR = "naavre-parameters"
"""Folder of the inputs folder with one file per workflow parameter, holding its text."""

DISPLAY_MAGICS = ("matplotlib", "config", "autoreload", "precision", "load_ext autoreload")
"""Line magics that only change how the notebook shows things (plots, float precision, IPython
settings, module reloading), never a value: a workflow step skips them and ``check`` gives a
``display-magic`` warning instead of ``magic``. An entry is a magic name (any arguments), or a name
and its exact argument (``load_ext autoreload``: other extensions can define magics and change
values, so they stay ``magic``)."""

PRINTED_LIMIT = 1_000_000
"""Characters of a cell's printed output kept for the comparison (the rest is cut, and said so)."""


class StepFailure(Exception):
    """A failure the script reports as one JSON error record (never a script traceback)."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(record.get("message", ""))
        self.record = record


def cell_filename(notebook: str, cell_index: int) -> str:
    """The pseudo file name a cell is compiled under, so tracebacks name the notebook cell."""
    return f"<{notebook} cell {cell_index}>"


def parse_parameter(raw: str, kind: str | None) -> Any:
    """A parameter value given as text (Argo, ``-p NAME=VALUE``): JSON when it parses, else text.

    A parameter whose default is a string stays a string, so ``"007"`` is not turned into ``7``.
    """
    if kind == "str":
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _inputs_dir() -> str:
    return os.environ.get("NAAVRE_INPUTS_DIR") or ""


def _input_path(name: str) -> str | None:
    """The path of entry ``name`` of the inputs folder, or None when there is none."""
    folder = _inputs_dir()
    if not folder:
        return None
    path = os.path.join(folder, name)
    return path if os.path.exists(path) else None


def format_parameter(value: Any, kind: str | None) -> str:
    """A parameter value as the text a user would type (the inverse of :func:`parse_parameter`):
    strings as they are, anything else as JSON."""
    if kind == "str" and isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def resolve_parameters(task: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then the files ``naavre-parameters/<name>`` of the inputs folder (the text as
    given to ``argo submit -p`` or ``naavre-batch run -p``), then ``NAAVRE_PARAM_<name>``."""
    declared: dict[str, Any] = task["parameters"]
    values = {name: info["default"] for name, info in declared.items()}
    for name, info in declared.items():
        path = _input_path(os.path.join(PARAMETERS_DIR, name))
        if path is not None:
            # newline="": a parameter's text arrives as written, "\r\n" included.
            with open(path, encoding="utf-8", newline="") as handle:
                values[name] = parse_parameter(handle.read(), info.get("type"))
        raw = os.environ.get("NAAVRE_PARAM_" + name)
        if raw is not None:
            values[name] = parse_parameter(raw, info.get("type"))
    return values


def is_display_magic(name: str, line: str = "") -> bool:
    """Whether the line magic ``%name line`` is one of :data:`DISPLAY_MAGICS`."""
    return name in DISPLAY_MAGICS or f"{name} {line.strip()}" in DISPLAY_MAGICS


class _NoIPython:
    """Stands in for IPython's ``get_ipython()``: display-only magics (``%matplotlib inline``,
    ``%config``, ``%load_ext autoreload``, ``%autoreload``, ``%precision``) do nothing, as they change
    no value; other magics and ``!`` commands do not run in a step and fail with a clear message."""

    def run_line_magic(self, name: str, line: str = "", *args: Any, **kwargs: Any) -> Any:
        if is_display_magic(name, line):
            return None
        return self._refuse("run_line_magic", name, line)

    def _refuse(self, method: str, *args: Any) -> Any:
        what = " ".join(str(a) for a in args[:2])
        raise RuntimeError(
            f"IPython magic or shell command ({method} {what}) cannot run in a workflow step; "
            "do it in the container image or in Python code"
        )

    def __getattr__(self, name: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            return self._refuse(name, *args)

        return refuse


def _new_namespace() -> dict[str, Any]:
    """A fresh ``__main__`` module for the user's code, registered in ``sys.modules`` so that
    classes and functions the header defines pickle and unpickle by name, as in a notebook."""
    import builtins
    import types

    module = types.ModuleType("__main__")
    module.__dict__.update(__builtins__=builtins, get_ipython=_NoIPython)
    sys.modules["__main__"] = module
    return module.__dict__


def _run_source(source: str, filename: str, first_line: int, ns: dict[str, Any]) -> None:
    padded = "\n" * (first_line - 1) + source
    exec(compile(padded, filename, "exec"), ns)  # noqa: S102 - running the user's cell is the point


def _cell_failure(
    exc: BaseException, task: dict[str, Any], step: str, cell_index: int
) -> StepFailure:
    """Turn an exception from a user cell into a record with the cell's own traceback."""
    import linecache
    import traceback

    notebook = task["notebook"]
    for cell in _all_cells(task):
        name = cell_filename(notebook, cell["index"])
        text = cell["source"]
        linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    frames = traceback.extract_tb(exc.__traceback__)
    prefix = f"<{notebook} cell "
    first = next((i for i, f in enumerate(frames) if f.filename.startswith(prefix)), len(frames))
    user_frames = frames[first:]
    lines = ["Traceback (most recent call last):\n"] if user_frames else []
    lines += traceback.format_list(user_frames)
    lines += traceback.format_exception_only(type(exc), exc)
    line = None
    for frame in user_frames:
        if frame.filename == cell_filename(notebook, cell_index):
            line = frame.lineno
    if isinstance(exc, SyntaxError) and exc.filename == cell_filename(notebook, cell_index):
        line = exc.lineno
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    where = f"cell {cell_index}" + (f", line {line}" if line else "")
    return StepFailure(
        {
            "kind": "cell-error",
            "step": step,
            "cell_index": cell_index,
            "line": line,
            "exception": summary,
            "traceback": "".join(lines),
            "message": f"step {step} failed in {where}: {summary}",
        }
    )


def _all_cells(task: dict[str, Any]) -> list[dict[str, Any]]:
    cells = list(task["header"])
    for step in task["steps"]:
        cells += step["cells"]
    return cells


def run_header(task: dict[str, Any], parameters: dict[str, Any], ns: dict[str, Any]) -> None:
    """Run the header cells; right after each statement that sets a parameter, apply its value.

    A header cell is run in chunks that end at parameter assignments (line numbers preserved), so
    a later header statement that uses a parameter sees the run's value, as if the literal had been
    edited.
    """
    for cell in task["header"]:
        lines = cell["source"].splitlines(True)
        filename = cell_filename(task["notebook"], cell["index"])
        try:
            for first, last, names in cell["chunks"]:
                _run_source("".join(lines[first - 1 : last]), filename, first, ns)
                for name in names:
                    if name in parameters:
                        ns[name] = parameters[name]
        except Exception as exc:  # noqa: BLE001 - any error of the user's code is reported
            raise _cell_failure(exc, task, "header", cell["index"]) from None


class _Recorder:
    """Stands in for ``sys.stdout`` while a step cell runs: passes everything on to the real stream
    (the log) and keeps the cell's printed text for the comparison with the notebook."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._parts: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        if self._size < PRINTED_LIMIT:
            self._parts.append(text)
            self._size += len(text)
        return self._stream.write(text)

    def text(self) -> str:
        joined = "".join(self._parts)
        if self._size >= PRINTED_LIMIT:
            return joined[:PRINTED_LIMIT] + "\n[naavre-batch: printed output cut here]\n"
        return joined

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def run_steps(task: dict[str, Any], ns: dict[str, Any], printed: dict[str, str]) -> None:
    """Run every cell of the task's steps in order, in one namespace; what each cell prints to
    stdout is kept in ``printed`` under the cell's index."""
    for step in task["steps"]:
        for cell in step["cells"]:
            filename = cell_filename(task["notebook"], cell["index"])
            recorder = _Recorder(sys.stdout)
            sys.stdout = recorder
            try:
                _run_source(cell["source"], filename, 1, ns)
            except Exception as exc:  # noqa: BLE001 - any error of the user's code is reported
                raise _cell_failure(exc, task, step["id"], cell["index"]) from None
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    raise _cell_failure(exc, task, step["id"], cell["index"]) from None
            finally:
                if sys.stdout is recorder:
                    sys.stdout = recorder._stream
                printed[str(cell["index"])] = recorder.text()


def with_article(name: str) -> str:
    """``"an int"``, ``"a dict"``: type names read as English in messages."""
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _type_name(value: Any) -> str:
    return _t.type_name(value)


# -- values in ----------------------------------------------------------------------------------


def _load(path: str, what: str) -> Any:
    try:
        return _t.load(path)
    except Exception as exc:  # noqa: BLE001 - a broken input is reported, never a traceback
        record = {"kind": "bad-input", "message": f"{what} could not be read from {path}: {exc}"}
        if isinstance(exc, AttributeError) and "'__main__'" in str(exc):
            # pickle names the class it cannot find in this step's __main__: one defined in an
            # earlier step's cell, which only that step's process ran.
            record["hint"] = (
                "the value holds an instance of a class defined in a step cell, which this "
                "step's process never ran: define classes in the header (the code cells before "
                "the first tagged cell), which runs in every step"
            )
        raise StepFailure(record) from None


def read_inputs(task: dict[str, Any]) -> dict[str, Any]:
    """Each input from its value file ``<inputs folder>/<name>``."""
    values: dict[str, Any] = {}
    for item in task["inputs"]:
        name = item["name"]
        path = _input_path(name)
        if path is None:
            raise StepFailure(
                {
                    "kind": "missing-input",
                    "variable": name,
                    "message": f"input {name} (from task {item['task']}) was not provided",
                    "hint": f"put its value file at NAAVRE_INPUTS_DIR/{name} (see docs/running.md)",
                }
            )
        values[name] = _load(path, f"input {name}")
    return values


def _batch() -> dict[str, Any]:
    path = _input_path(RESERVED_BATCH)
    batch = _load(path, "the batch") if path else None
    if not isinstance(batch, dict) or "items" not in batch or "index" not in batch:
        raise StepFailure(
            {
                "kind": "bad-input",
                "message": f"NAAVRE_INPUTS_DIR/{RESERVED_BATCH} must hold the batch "
                '{"index": i, "start": a, "stop": b, "items": ...}',
            }
        )
    return batch


def _batch_results() -> list[Any]:
    """Every processor instance's result: a folder of value files (files, artifacts), or the JSON
    list Argo aggregates from an output parameter (each element one value in the text form)."""
    path = _input_path(RESERVED_BATCH_RESULTS)
    if path is None:
        raise StepFailure(
            {
                "kind": "bad-input",
                "message": f"the merger needs NAAVRE_INPUTS_DIR/{RESERVED_BATCH_RESULTS}",
            }
        )
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        return [_load(os.path.join(path, n), f"batch result {n}") for n in names]
    with open(path, "rb") as handle:
        text = handle.read()
    try:
        elements = json.loads(text)
    except ValueError:
        elements = None
    if not isinstance(elements, list):
        raise StepFailure(
            {
                "kind": "bad-input",
                "message": f"{RESERVED_BATCH_RESULTS} must be a folder of value files or a JSON "
                "list of values",
            }
        )
    results = []
    for element in elements:
        if isinstance(element, str):
            try:
                element = _t.loads(element.encode("utf-8"))
            except Exception as exc:  # noqa: BLE001
                raise StepFailure(
                    {"kind": "bad-input", "message": f"a batch result could not be read: {exc}"}
                ) from None
        results.append(element)
    return results


def _batch_count() -> int:
    path = _input_path(RESERVED_BATCH_COUNT)
    count: Any = None
    if path is not None:
        with open(path, encoding="utf-8") as handle:
            try:
                count = json.loads(handle.read())
            except ValueError:
                count = None
    if type(count) is not int:
        raise StepFailure(
            {
                "kind": "bad-input",
                "message": f"the merger needs NAAVRE_INPUTS_DIR/{RESERVED_BATCH_COUNT} "
                "(an integer)",
            }
        )
    return count


def merge_results(task: dict[str, Any], merge_batches: Any) -> dict[str, Any]:
    """The merged variables from the processor instances' results, checked complete and in order.

    Results arrive in any order, of successful instances only; each carries its batch index.
    """
    results = _batch_results()
    count = _batch_count()
    by_index: dict[int, dict[str, Any]] = {}
    for element in results:
        if not isinstance(element, dict) or "index" not in element or "outputs" not in element:
            raise StepFailure(
                {"kind": "bad-input", "message": "a batch result is not {index, outputs}"}
            )
        index = element["index"]
        if index in by_index:
            raise StepFailure(
                {"kind": "bad-input", "message": f"batch {index} was delivered twice"}
            )
        by_index[index] = element
    missing = [i for i in range(count) if i not in by_index]
    if missing:
        names = ", ".join(str(i) for i in missing)
        raise StepFailure(
            {
                "kind": "missing-batches",
                "missing": missing,
                "message": f"merger {task['id']}: batch(es) {names} of {count} are missing; "
                "their processor instances failed or did not run",
                "hint": "look at the failed processor instances' logs and run the workflow again",
            }
        )
    ordered = [by_index[i] for i in range(count)]
    merged: dict[str, Any] = {}
    for name in task["merged"]:
        parts = [element["outputs"][name] for element in ordered]
        try:
            merged[name] = merge_batches(parts)
        except (TypeError, ValueError) as exc:
            step = task.get("merged_steps", {}).get(name, task["id"])
            raise StepFailure(
                {
                    "kind": "merge-failed",
                    "step": step,
                    "variable": name,
                    "message": f"step {step}: the batches' values of {name} cannot be merged: {exc}",
                    "hint": f"give {name} the same kind of value in every batch (a list, tuple, "
                    "numpy array, DataFrame or Series)",
                }
            ) from None
    return merged


# -- values out ---------------------------------------------------------------------------------


def _not_mergeable(
    task: dict[str, Any], name: str, value: Any, index: int, kind_of: Any
) -> StepFailure | None:
    if kind_of(value) is not None:
        return None
    step = task.get("merged_steps", {}).get(name, task["id"])
    return StepFailure(
        {
            "kind": "merge-not-list",
            "step": step,
            "variable": name,
            "type": _type_name(value),
            "message": (
                f"step {step}: {name} is read after the merge, so each batch must give a list, "
                "tuple, range, numpy array, DataFrame or Series to concatenate, but batch "
                f"{index} gave {with_article(_type_name(value))}"
            ),
            "hint": f"make {name} a list per batch (for example [result]), or read it only "
            "inside the processors",
        }
    )


def collect_outputs(task: dict[str, Any], names: list[str], ns: dict[str, Any]) -> dict[str, Any]:
    """The named variables from the namespace (each must be defined after the step ran)."""
    values: dict[str, Any] = {}
    step = task["steps"][-1]["id"] if task["steps"] else task["id"]
    for name in names:
        owner = task.get("output_steps", {}).get(name, step)
        if name not in ns:
            raise StepFailure(
                {
                    "kind": "missing-output",
                    "step": owner,
                    "variable": name,
                    "message": f"step {owner} should define {name} (a later step reads it), "
                    "but it is not defined after the step ran",
                }
            )
        values[name] = ns[name]
    return values


def _text_mode() -> bool:
    return os.environ.get("NAAVRE_VALUES", "binary") == "text"


def _not_passable(exc: Any, variable: str, step: str) -> StepFailure:
    at = "" if not exc.path else f" (at {variable}{exc.path})"
    return StepFailure(
        {
            "kind": "not-passable",
            "step": step,
            "variable": variable,
            "type": exc.type_name,
            "message": (
                f"step {step}: variable {variable} is passed to a later step but holds "
                f"{with_article(exc.type_name)}{at}, which cannot be passed between steps "
                f"({exc.reason})"
            ),
            "hint": (
                f"compute {variable} in the step that uses it, or keep only data in it "
                "(no open files, generators, locks or lambdas), or save it to a file and "
                "pass the file's path"
            ),
        }
    )


def _check_text_size(size: int, variable: str, step: str) -> None:
    """With values as Argo parameters, one over ``NAAVRE_TEXT_LIMIT`` bytes fails here, naming
    the variable, instead of failing later in the controller with a message about etcd."""
    limit = os.environ.get("NAAVRE_TEXT_LIMIT")
    if limit and size > int(limit):
        raise StepFailure(
            {
                "kind": "value-too-large",
                "step": step,
                "variable": variable,
                "size": size,
                "message": (
                    f"step {step}: variable {variable} is {size:,} bytes as an Argo parameter, "
                    f"over the limit of {int(limit):,} bytes for values passed as parameters"
                ),
                "hint": "export with --values artifacts (values as files in the cluster's "
                "artifact repository), or pass a path or URL instead of the data",
            }
        )


def _text_value(value: Any, variable: str, step: str) -> bytes:
    try:
        data = _t.dumps(value, text=True)
    except _t.NotPassableError as exc:
        raise _not_passable(exc, variable, step) from None
    _check_text_size(len(data), variable, step)
    return data


def write_value(folder: str, file_name: str, value: Any, variable: str, step: str) -> None:
    """One value file, in the form ``NAAVRE_VALUES`` asks for; a value no codec takes fails the
    step with a message naming the variable, its type and where inside it the culprit is."""
    path = os.path.join(folder, file_name)
    if _text_mode():
        data = _text_value(value, variable, step)
        with open(path, "wb") as handle:
            handle.write(data)
        return
    try:
        _t.dump(value, path)
    except _t.NotPassableError as exc:
        raise _not_passable(exc, variable, step) from None


def _outputs_dir() -> str:
    folder = os.environ.get("NAAVRE_OUTPUTS_DIR") or ""
    if not folder:
        raise StepFailure({"kind": "bad-input", "message": "NAAVRE_OUTPUTS_DIR is not set"})
    os.makedirs(folder, exist_ok=True)
    return folder


def write_outputs(task: dict[str, Any], outputs: dict[str, Any]) -> None:
    """``NAAVRE_OUTPUTS_DIR`` gets one value file per output, named after the variable."""
    folder = _outputs_dir()
    step = task["steps"][-1]["id"] if task["steps"] else task["id"]
    for name, value in outputs.items():
        owner = task.get("output_steps", {}).get(name, step)
        write_value(folder, name, value, name, owner)


def write_printed(printed: dict[str, str]) -> None:
    """``NAAVRE_PRINTED_FILE``: what each step cell printed, for the comparison."""
    path = os.environ.get("NAAVRE_PRINTED_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(printed, handle)


def stored_printed(printed: dict[str, str], limit: int = STORED_PRINTED_LIMIT) -> dict[str, Any]:
    """What the cells printed, in cell order, as :data:`RESERVED_PRINTED` keeps it: the last
    ``limit`` bytes of the UTF-8 text, and how many bytes before them were cut (0: none)."""
    text = "".join(printed[key] for key in sorted(printed, key=int))
    data = text.encode("utf-8")
    if len(data) <= limit:
        return {"text": text, "cutBytes": 0}
    kept = data[len(data) - limit :].decode("utf-8", "ignore")  # a cut character is dropped
    return {"text": kept, "cutBytes": len(data) - len(kept.encode("utf-8"))}


def value_summary(names: list[str], ns: dict[str, Any]) -> list[dict[str, Any]]:
    """:data:`RESERVED_SUMMARY`: each merged variable's type, length (when it has one) and the
    start of its ``repr``, small enough for the run's status whatever the values' size."""
    rows: list[dict[str, Any]] = []
    for name in names:
        if name not in ns:
            continue
        value = ns[name]
        try:
            length: int | None = len(value)
        except Exception:  # noqa: BLE001 - no length is a fine answer
            length = None
        try:
            text = repr(value)
        except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not fail the merger
            text = f"<repr failed: {type(exc).__name__}>"
        if len(text) > SUMMARY_PREVIEW_CHARS:
            text = text[:SUMMARY_PREVIEW_CHARS] + "..."
        rows.append({"name": name, "type": _type_name(value), "length": length, "preview": text})
    return rows


def write_stored_results(printed: dict[str, str], summary: list[dict[str, Any]] | None) -> None:
    """A merger's :data:`RESERVED_PRINTED` (always, a failed merger's too) and, once it
    succeeded, :data:`RESERVED_SUMMARY`, into ``NAAVRE_OUTPUTS_DIR``."""
    folder = os.environ.get("NAAVRE_OUTPUTS_DIR") or ""
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    items: list[tuple[str, Any]] = [(RESERVED_PRINTED, stored_printed(printed))]
    if summary is not None:
        items.append((RESERVED_SUMMARY, summary))
    for name, value in items:
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            json.dump(value, handle, ensure_ascii=False)


def report_failure(record: dict[str, Any]) -> int:
    """Print the failure for the log, save it for the runner, and give the exit status."""
    path = os.environ.get("NAAVRE_ERROR_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
    sys.stdout.flush()
    if record.get("traceback"):
        sys.stderr.write(record["traceback"])
    sys.stderr.write("naavre-batch: " + record.get("message", "step failed") + "\n")
    if record.get("hint"):
        sys.stderr.write("hint: " + record["hint"] + "\n")
    sys.stderr.flush()
    return EXIT_FAILED


def execute(task: dict[str, Any], rules_source: str) -> int:
    """Run one task instance end to end; returns the process exit status.

    ``rules_source`` is the split rule and the batch-count rule, pasted from the package
    (:func:`naavre_batch_ext.steps.scripts.rules_source`), so scripts and runner share one implementation.
    """
    rule: dict[str, Any] = {}
    exec(compile(rules_source, "naavre_batch_ext rules", "exec"), rule)  # noqa: S102
    printed: dict[str, str] = {}
    try:
        parameters = resolve_parameters(task)
        ns = _new_namespace()
        run_header(task, parameters, ns)
        ns.update(read_inputs(task))
        kind = task["kind"]
        batch: dict[str, Any] | None = None
        count = _resolve_count(task, parameters, rule) if kind == "splitter" else 0
        if kind == "processors":
            batch = _batch()
            ns[task["split_variable"]] = batch["items"]
        elif kind == "merger":
            ns.update(merge_results(task, rule["merge_batches"]))
        try:
            run_steps(task, ns, printed)
        except StepFailure as failure:
            if batch is not None:
                failure.record["batch"] = {
                    key: batch.get(key) for key in ("index", "start", "stop")
                }
            if kind == "merger":
                write_stored_results(printed, None)
            raise
        finally:
            write_printed(printed)
        if kind == "merger":
            write_stored_results(printed, value_summary(task["merged"], ns))
        outputs = collect_outputs(task, task["outputs"], ns)
        write_outputs(task, outputs)
        if kind == "splitter":
            _split(task, count, ns, rule)
        elif kind == "processors":
            assert batch is not None
            merged = collect_outputs(task, task["merged"], ns)
            for name, value in merged.items():
                refused = _not_mergeable(task, name, value, batch["index"], rule["splittable_kind"])
                if refused is not None:
                    raise refused
            write_value(
                _outputs_dir(),
                RESERVED_RESULT,
                {"index": batch["index"], "outputs": merged},
                ", ".join(task["merged"]) or RESERVED_RESULT,
                task["steps"][-1]["id"],
            )
    except StepFailure as failure:
        return report_failure(failure.record)
    return 0


def _resolve_count(task: dict[str, Any], parameters: dict[str, Any], rule: dict[str, Any]) -> int:
    """Resolve the splitter's batch count before its cells run, so a bad value fails fast."""
    step = task["steps"][0]["id"]
    try:
        count = rule["resolve_batch_count"](task["batch_count"], parameters)
    except ValueError as exc:
        raise StepFailure(
            {
                "kind": "bad-batch-count",
                "step": step,
                "message": f"splitter {step}: {exc}",
                "hint": "give the batch count as a whole number >= 1",
            }
        ) from None
    return count


def batch_file_name(index: int) -> str:
    """``00003``: batch files sort by name in batch order (globs, listings, CWL)."""
    return f"{index:05d}"


def _split(task: dict[str, Any], count: int, ns: dict[str, Any], rule: dict[str, Any]) -> None:
    """Cut the split variable with the one split rule; write the batches, their count and list."""
    name = task["split_variable"]
    step = task["steps"][0]["id"]
    if name not in ns:
        raise StepFailure(
            {
                "kind": "missing-output",
                "step": step,
                "variable": name,
                "message": f"splitter {step} should define the split variable {name}, "
                "but it is not defined after the step ran",
            }
        )
    items = ns[name]
    if rule["splittable_kind"](items) is None:
        raise StepFailure(
            {
                "kind": "split-not-list",
                "step": step,
                "variable": name,
                "type": _type_name(items),
                "message": f"splitter {step}: the split variable {name} must be a list, tuple, "
                "range, numpy array, pandas DataFrame or Series, "
                f"but it is {with_article(_type_name(items))}",
                "hint": f"make {name} a list (for example list(...)) before the processors",
            }
        )
    ranges = rule["batch_ranges"](len(items), count)
    parts = rule["split_batches"](items, count)
    folder = _outputs_dir()
    listing = [{"index": i, "start": a, "stop": b} for i, (a, b) in enumerate(ranges)]
    batches = [
        {"index": i, "start": a, "stop": b, "items": part}
        # Not zip(strict=True): that needs Python 3.10 and the scripts run on any Python 3 image.
        for i, ((a, b), part) in enumerate(zip(ranges, parts))  # noqa: B905
    ]
    if _text_mode():
        # One Argo parameter holding every batch: withParam fans out over this JSON list, and
        # each item is one batch's value in the text form (a string, never re-encoded).
        texts = [_text_value(batch, name, step).decode("ascii") for batch in batches]
        listed = json.dumps(texts)
        _check_text_size(len(listed), name, step)
        with open(os.path.join(folder, RESERVED_BATCHES), "w", encoding="ascii") as handle:
            handle.write(listed)
    else:
        batch_dir = os.path.join(folder, RESERVED_BATCHES)
        os.makedirs(batch_dir, exist_ok=True)
        for batch in batches:
            write_value(batch_dir, batch_file_name(batch["index"]), batch, name, step)
    with open(os.path.join(folder, RESERVED_BATCH_COUNT), "w", encoding="ascii") as handle:
        handle.write(str(len(batches)))
    with open(os.path.join(folder, RESERVED_BATCH_LIST), "w", encoding="ascii") as handle:
        json.dump(listing, handle)
