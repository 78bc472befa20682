"""The code every generated step script carries: read inputs, run cells, write outputs as JSON.

This module is not imported by step scripts: :mod:`naavre_batch_ext.scripts` pastes its source into
each script (after the shebang) so a script is one standalone file that needs nothing but Python 3's
standard library, in a local process exactly as in an Argo pod. Hence the rules for this file:

- stdlib only, and only cheap imports at the top (``json``, ``os``, ``sys``): a processor instance
  pays Python's start-up plus these imports, thousands of times in a classic split. ``traceback``
  and ``linecache`` are imported only when something failed.
- never two opening or two closing curly braces in a row: Argo would treat them as its own
  template markers (:func:`naavre_batch_ext.scripts.task_script` checks this).

All values cross the process boundary as JSON, through environment variables (what Argo can
substitute) or files (what the local runner writes); see docs/running.md for the contract.
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - typing only, never imported at run time (start-up cost)
    from typing import Any

EXIT_FAILED = 1

RESERVED_BATCHES = "naavre-batches"
RESERVED_BATCH_COUNT = "naavre-batch-count"
RESERVED_RESULT = "naavre-result"

_JSON_LEAVES = (str, int, float, bool, type(None))


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


def _read_json_env(name: str) -> Any:
    text = os.environ.get(name)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StepFailure(
            {
                "kind": "bad-input",
                "message": f"environment variable {name} is not valid JSON ({exc})",
            }
        ) from None


def _load_bundle() -> dict[str, Any]:
    path = os.environ.get("NAAVRE_INPUTS_FILE")
    if not path:
        return {}
    with open(path, encoding="utf-8") as handle:
        bundle = json.load(handle)
    if not isinstance(bundle, dict):
        raise StepFailure({"kind": "bad-input", "message": f"{path} must hold a JSON object"})
    return bundle


def resolve_parameters(task: dict[str, Any], bundle: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then the bundle's ``parameters``, then ``NAAVRE_PARAMETERS``, then ``NAAVRE_PARAM_<name>``."""
    declared: dict[str, Any] = task["parameters"]
    values = {name: info["default"] for name, info in declared.items()}
    for source in (bundle.get("parameters"), _read_json_env("NAAVRE_PARAMETERS")):
        if source:
            for name, value in source.items():
                if name in declared:
                    values[name] = value
    for name, info in declared.items():
        raw = os.environ.get("NAAVRE_PARAM_" + name)
        if raw is not None:
            values[name] = parse_parameter(raw, info.get("type"))
    return values


class _NoIPython:
    """Stands in for IPython's ``get_ipython()``: magics and ``!`` commands do not run in a step."""

    def __getattr__(self, name: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            what = " ".join(str(a) for a in args[:2])
            raise RuntimeError(
                f"IPython magic or shell command ({name} {what}) cannot run in a workflow step; "
                "do it in the container image or in Python code"
            )

        return refuse


def _new_namespace() -> dict[str, Any]:
    import builtins

    return {"__name__": "__main__", "__builtins__": builtins, "get_ipython": _NoIPython}


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


def run_steps(task: dict[str, Any], ns: dict[str, Any]) -> None:
    """Run every cell of the task's steps in order, in one namespace."""
    for step in task["steps"]:
        for cell in step["cells"]:
            filename = cell_filename(task["notebook"], cell["index"])
            try:
                _run_source(cell["source"], filename, 1, ns)
            except Exception as exc:  # noqa: BLE001 - any error of the user's code is reported
                raise _cell_failure(exc, task, step["id"], cell["index"]) from None
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    raise _cell_failure(exc, task, step["id"], cell["index"]) from None


def with_article(name: str) -> str:
    """``"an int"``, ``"a dict"``: type names read as English in messages."""
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def find_non_json(value: Any, path: str) -> tuple[str, Any] | None:
    """The first place in ``value`` that JSON cannot carry faithfully, as ``(path, offender)``.

    Tuples count as lists (JSON normalisation); dict keys must be strings (JSON would silently turn
    ``1`` into ``"1"``, and the next step would see different keys than the notebook).
    """
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, _JSON_LEAVES):
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((f"{where}[{i}]", x) for i, x in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            for key, x in item.items():
                if not isinstance(key, str):
                    return f"{where} key {key!r}", key
                stack.append((f"{where}[{key!r}]", x))
        else:
            return where, item
    return None


def check_json(name: str, value: Any, step: str, role: str) -> None:
    """Fail with a clear record when a value crossing a step boundary is not JSON."""
    bad = find_non_json(value, name)
    if bad is None:
        return
    where, offender = bad
    at = "" if where == name else f" (at {where})"
    raise StepFailure(
        {
            "kind": "not-json",
            "step": step,
            "variable": name,
            "type": _type_name(offender),
            "message": (
                f"step {step}: variable {name} is passed to a later step but holds "
                f"{with_article(_type_name(offender))}{at}, which cannot be passed between steps as JSON"
            ),
            "hint": (
                f"compute {name} in the step that uses it, convert it to lists, dicts, strings "
                "and numbers, or save it to a file and pass the file's path"
            ),
        }
    )


def read_inputs(task: dict[str, Any], bundle: dict[str, Any]) -> dict[str, Any]:
    """Each input from ``NAAVRE_INPUT_<name>``, else ``NAAVRE_INPUTS``, else the bundle."""
    whole = _read_json_env("NAAVRE_INPUTS") or {}
    stored = bundle.get("inputs") or {}
    values: dict[str, Any] = {}
    for item in task["inputs"]:
        name = item["name"]
        single = _read_json_env("NAAVRE_INPUT_" + name)
        if single is not None or ("NAAVRE_INPUT_" + name) in os.environ:
            values[name] = single
        elif name in whole:
            values[name] = whole[name]
        elif name in stored:
            values[name] = stored[name]
        else:
            raise StepFailure(
                {
                    "kind": "missing-input",
                    "variable": name,
                    "message": f"input {name} (from task {item['task']}) was not provided",
                    "hint": f"set NAAVRE_INPUT_{name} to its JSON value",
                }
            )
    return values


def _batch(bundle: dict[str, Any]) -> dict[str, Any]:
    batch = _read_json_env("NAAVRE_BATCH")
    if batch is None:
        batch = bundle.get("batch")
    if isinstance(batch, str):  # Argo may hand an item of withParam over as text
        batch = json.loads(batch)
    if not isinstance(batch, dict) or not isinstance(batch.get("items"), list):
        raise StepFailure(
            {
                "kind": "bad-input",
                "message": 'NAAVRE_BATCH must be a JSON object {"index": i, "items": [...]}',
            }
        )
    return batch


def merge_results(
    task: dict[str, Any], bundle: dict[str, Any], merge_batches: Any
) -> dict[str, Any]:
    """The merged variables from the processor instances' results, checked complete and in order.

    Results arrive as Argo aggregates them: a JSON list in any order, of successful instances only,
    each element a JSON object or a string of JSON; each carries its batch index.
    """
    results = _read_json_env("NAAVRE_BATCH_RESULTS")
    if results is None:
        results = bundle.get("batch_results")
    if isinstance(results, str):
        results = json.loads(results)
    count = _read_json_env("NAAVRE_BATCH_COUNT")
    if count is None:
        count = bundle.get("batch_count")
    if not isinstance(results, list) or not isinstance(count, int):
        raise StepFailure(
            {
                "kind": "bad-input",
                "message": "the merger needs NAAVRE_BATCH_RESULTS (a JSON list) and "
                "NAAVRE_BATCH_COUNT (an integer)",
            }
        )
    by_index: dict[int, dict[str, Any]] = {}
    for element in results:
        if isinstance(element, str):
            element = json.loads(element)
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
        parts = []
        for element in ordered:
            part = element["outputs"][name]
            if not isinstance(part, list):
                raise _not_a_list(task, name, part, element["index"])
            parts.append(part)
        merged[name] = merge_batches(parts)
    return merged


def _not_a_list(task: dict[str, Any], name: str, value: Any, index: int) -> StepFailure:
    step = task.get("merged_steps", {}).get(name, task["id"])
    return StepFailure(
        {
            "kind": "merge-not-list",
            "step": step,
            "variable": name,
            "type": _type_name(value),
            "message": (
                f"step {step}: {name} is read after the merge, so each batch must give a list "
                f"to concatenate, but batch {index} gave {with_article(_type_name(value))}"
            ),
            "hint": f"make {name} a list per batch (for example [result]), or read it only "
            "inside the processors",
        }
    )


def collect_outputs(task: dict[str, Any], names: list[str], ns: dict[str, Any]) -> dict[str, Any]:
    """The named variables from the namespace, each checked to be JSON."""
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
        check_json(name, ns[name], owner, task["kind"])
        values[name] = ns[name]
    return values


def write_outputs(outputs: dict[str, Any]) -> None:
    """``NAAVRE_OUTPUTS_FILE`` gets one JSON object; ``NAAVRE_OUTPUTS_DIR`` one file per key."""
    path = os.environ.get("NAAVRE_OUTPUTS_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(outputs, handle)
    folder = os.environ.get("NAAVRE_OUTPUTS_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name, value in outputs.items():
            with open(os.path.join(folder, name + ".json"), "w", encoding="utf-8") as handle:
                json.dump(value, handle)


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
    (:func:`naavre_batch_ext.scripts.rules_source`), so scripts and runner share one implementation.
    """
    rule: dict[str, Any] = {}
    exec(compile(rules_source, "naavre_batch_ext rules", "exec"), rule)  # noqa: S102
    try:
        bundle = _load_bundle()
        parameters = resolve_parameters(task, bundle)
        ns = _new_namespace()
        run_header(task, parameters, ns)
        ns.update(read_inputs(task, bundle))
        kind = task["kind"]
        batch: dict[str, Any] | None = None
        count = _batch_count(task, parameters, rule) if kind == "splitter" else 0
        if kind == "processors":
            batch = _batch(bundle)
            ns[task["split_variable"]] = batch["items"]
        elif kind == "merger":
            ns.update(merge_results(task, bundle, rule["merge_batches"]))
        try:
            run_steps(task, ns)
        except StepFailure as failure:
            if batch is not None:
                failure.record["batch"] = {
                    key: batch.get(key) for key in ("index", "start", "stop")
                }
            raise
        outputs = collect_outputs(task, task["outputs"], ns)
        if kind == "splitter":
            outputs.update(_split(task, count, ns, rule))
        elif kind == "processors":
            assert batch is not None
            merged = collect_outputs(task, task["merged"], ns)
            for name, value in merged.items():
                if not isinstance(value, list):
                    raise _not_a_list(task, name, value, batch["index"])
            outputs[RESERVED_RESULT] = {"index": batch["index"], "outputs": merged}
        write_outputs(outputs)
    except StepFailure as failure:
        return report_failure(failure.record)
    return 0


def _batch_count(task: dict[str, Any], parameters: dict[str, Any], rule: dict[str, Any]) -> int:
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


def _split(
    task: dict[str, Any], count: int, ns: dict[str, Any], rule: dict[str, Any]
) -> dict[str, Any]:
    """Cut the split variable with the one split rule into ``{"index", "start", "stop", "items"}``."""
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
    if isinstance(items, tuple):
        items = list(items)
    if not isinstance(items, list):
        raise StepFailure(
            {
                "kind": "split-not-list",
                "step": step,
                "variable": name,
                "type": _type_name(items),
                "message": f"splitter {step}: the split variable {name} must be a list, "
                f"but it is {with_article(_type_name(items))}",
                "hint": f"make {name} a list (for example list(...)) before the processors",
            }
        )
    check_json(name, items, step, "splitter")
    ranges = rule["batch_ranges"](len(items), count)
    batches = [
        {"index": i, "start": a, "stop": b, "items": part}
        # Not zip(strict=True): that needs Python 3.10 and the scripts run on any Python 3 image.
        for i, ((a, b), part) in enumerate(zip(ranges, rule["split_batches"](items, count)))  # noqa: B905
    ]
    return {RESERVED_BATCHES: batches, RESERVED_BATCH_COUNT: len(batches)}
