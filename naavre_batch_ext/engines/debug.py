"""Debug a failed task instance where the code lives: load, into a kernel, the header values and
exactly the inputs the instance had (its batch as the splitter's variable), then run its cells.

The loader does not re-implement anything: it imports the instance's own step script from the run
folder (``scripts/<task>.py``: the step runtime and the value transport, pasted) under a private
module name, points it at the instance's ``in/`` folder, and calls the runtime's
``resolve_parameters``, ``run_header``, ``read_inputs`` and ``_batch`` (or ``merge_results``) with
the kernel's ``globals()``. So the kernel sees the same values as the failed process, read with the
same transport. ``naavre-batch debug`` writes it into a small notebook beside the original with the
failing cells after it; the panel runs it in the notebook's own kernel (``GET runs/<id>/debug``).
See docs/running.md#debugging-a-failed-batch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat

from ..steps import r_scripts, step_runtime
from . import reuse

__all__ = [
    "DebugError",
    "DebugTarget",
    "find_target",
    "loader_source",
    "write_notebook",
]


class DebugError(Exception):
    """No such run, batch or failed instance; ``message`` and ``hint`` say what to give."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class DebugTarget:
    """One instance of a run: its task, folders, batch and the cells to run again."""

    def __init__(
        self, run_folder: Path, task: dict[str, Any], instance: int | None, spec: dict[str, Any]
    ) -> None:
        self.run_folder = run_folder
        self.task = task
        self.instance = instance
        self.spec = spec
        self.folder = run_folder / task["id"]
        if instance is not None:
            self.folder = self.folder / step_runtime.batch_file_name(instance)
        self.r = r_scripts.is_r(spec)
        self.script = run_folder / "scripts" / r_scripts.script_name(task["id"], self.r)
        steps = {s["id"]: s for s in spec["steps"]}
        self.cells: list[dict[str, Any]] = [c for s in task["steps"] for c in steps[s]["cells"]]
        self.error: dict[str, Any] | None = None
        error_file = self.folder / "error.json"
        if error_file.is_file():
            self.error = json.loads(error_file.read_text(encoding="utf-8"))

    @property
    def failing_cell(self) -> int | None:
        """The notebook cell index that raised, else the task's first cell."""
        if self.error and isinstance(self.error.get("cell_index"), int):
            return int(self.error["cell_index"])
        return self.cells[0]["index"] if self.cells else None

    @property
    def what(self) -> str:
        """``task process-batches, batch 2`` (for messages and the notebook's first cell)."""
        text = f"task {self.task['id']}"
        return text + (f", batch {self.instance}" if self.instance is not None else "")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def find_target(
    runs_folder: Path, run_id: str, batch: int | None = None, task: str | None = None
) -> DebugTarget:
    """The instance to debug: batch ``batch`` of the processor chain (``task`` or the one that
    failed), or, without ``batch``, the run's first failed instance."""
    if not reuse.is_run_id(run_id):
        raise DebugError(f"{run_id!r} is not a run id", reuse.RUN_ID_HINT)
    run_folder = runs_folder / run_id
    spec = _read_json(run_folder / "spec.json")
    result = _read_json(run_folder / "result.json") or {}
    if not isinstance(spec, dict):
        raise DebugError(
            f"no run {run_id} in {runs_folder}", "give a run id that naavre-batch run printed"
        )
    tasks = result.get("tasks") or []
    if not tasks:
        from ..steps import scripts

        tasks = [t.to_dict() for t in scripts.plan_tasks(spec)]
    errors = result.get("errors") or []
    if batch is None and task is None:
        if not errors:
            raise DebugError(
                f"run {run_id} has no failed instance", "give --batch K to load any batch"
            )
        task, batch = errors[0].get("task"), (errors[0].get("batch") or {}).get("index")
    if batch is not None and task is None:
        failed = [e.get("task") for e in errors if (e.get("batch") or {}).get("index") == batch]
        chains = [t["id"] for t in tasks if t["kind"] == "processors"]
        task = next((t for t in failed if t in chains), chains[0] if chains else None)
    chosen = next((t for t in tasks if t["id"] == task), None)
    if chosen is None:
        raise DebugError(
            f"run {run_id} has no task {task}", "tasks: " + ", ".join(t["id"] for t in tasks)
        )
    instance = batch if chosen["kind"] == "processors" else None
    target = DebugTarget(run_folder, chosen, instance, spec)
    if not (target.folder / "in").is_dir():
        raise DebugError(
            f"{target.what} of run {run_id} did not start, so it has no inputs to load",
            "debug an instance that ran (the summary lists the failed ones)",
        )
    return target


def loader_source(target: DebugTarget) -> str:
    """Code, in the notebook's language, that loads the header and the instance's inputs into
    the running kernel's namespace."""
    if target.r:
        return _r_loader_source(target)
    task = target.task
    lines = [
        f"# naavre-batch debug: {target.what} of run {target.run_folder.name}",
        "# Loads the header (with the run's parameter values) and this instance's inputs, read",
        "# with the run's own step script; then run the step's cells below.",
        "import importlib.util as _nb_u, os as _nb_os, sys as _nb_sys",
        f"_nb_spec = _nb_u.spec_from_file_location('naavre_debug_step', {str(target.script)!r})",
        "_nb_step = _nb_u.module_from_spec(_nb_spec)",
        "_nb_sys.modules['naavre_debug_step'] = _nb_step  # the runtime finds itself there",
        "_nb_old = _nb_os.environ.get('NAAVRE_INPUTS_DIR')",
        "# set before the script runs: an Argo pod's script prepares its inputs folder on start",
        f"_nb_os.environ['NAAVRE_INPUTS_DIR'] = {str(target.folder / 'in')!r}",
        "try:",
        "    _nb_spec.loader.exec_module(_nb_step)",
        "    _nb_step.run_header(_nb_step.TASK, _nb_step.resolve_parameters(_nb_step.TASK), "
        "globals())",
        "    globals().update(_nb_step.read_inputs(_nb_step.TASK))",
    ]
    if task["kind"] == "processors":
        lines.append(f"    {task['split_variable']} = _nb_step._batch()['items']")
    elif task["kind"] == "merger":
        lines += [
            "    _nb_rules = {}",
            "    exec(_nb_step.RULES_SOURCE, _nb_rules)",
            "    globals().update(_nb_step.merge_results(_nb_step.TASK, "
            "_nb_rules['merge_batches']))",
        ]
    lines += [
        "finally:",
        "    if _nb_old is None:",
        "        _nb_os.environ.pop('NAAVRE_INPUTS_DIR', None)",
        "    else:",
        "        _nb_os.environ['NAAVRE_INPUTS_DIR'] = _nb_old",
        "del _nb_u, _nb_os, _nb_sys, _nb_spec, _nb_step, _nb_old",
    ]
    if task["kind"] == "processors":
        lines.append(
            f"print('naavre-batch: loaded batch {target.instance} as {task['split_variable']} "
            f"(' + str(len({task['split_variable']})) + ' items)')"
        )
    return "\n".join(lines) + "\n"


def _r_loader_source(target: DebugTarget) -> str:
    """R that loads the header and the instance's inputs into the kernel's global environment.

    The instance's own R step script is parsed and every expression but its last (the call that
    runs the task and quits) is evaluated in an environment of its own: that defines the runtime
    as ``.naavre`` there and the task's payload, as in the instance's process. The runtime's
    ``run_header``, ``read_inputs`` and batch reading then assign into the global environment, as
    they did for the failed instance; the JIT level the script turned off for the runtime is
    given back to the kernel."""
    task = target.task
    lines = [
        f"# naavre-batch debug: {target.what} of run {target.run_folder.name}",
        "# Loads the header (with the run's parameter values) and this instance's inputs, read",
        "# with the run's own step script; then run the step's cells below.",
        "local({",
        f"  exprs <- parse(file = {r_scripts.r_literal(str(target.script))}, keep.source = FALSE)",
        "  step <- new.env()",
        '  old <- Sys.getenv("NAAVRE_INPUTS_DIR", NA)',
        f"  Sys.setenv(NAAVRE_INPUTS_DIR = {r_scripts.r_literal(str(target.folder / 'in'))})",
        '  on.exit(if (is.na(old)) Sys.unsetenv("NAAVRE_INPUTS_DIR") else '
        "Sys.setenv(NAAVRE_INPUTS_DIR = old))",
        "  jit <- compiler::enableJIT(-1L)",
        "  for (expr in exprs[-length(exprs)]) eval(expr, step)  # all but: run the task, quit",
        "  compiler::enableJIT(jit)",
        "  runtime <- step$.naavre",
        "  task <- step$.naavre_task",
        "  runtime$run_header(task, runtime$parameter_texts(task))",
        "  runtime$read_inputs(task)",
    ]
    if task["kind"] == "processors":
        name = task["split_variable"]
        lines += [
            "  batch <- runtime$read_input(runtime$input_path(runtime$RESERVED_BATCH), "
            '"the batch")',
            f"  assign({r_scripts.r_literal(name)}, batch$items, envir = globalenv())",
            f'  cat(sprintf("naavre-batch: loaded batch %d as {name} (%d items)\n", '
            "as.integer(batch$index), NROW(batch$items)))",
        ]
    elif task["kind"] == "merger":
        lines.append("  runtime$merge_results(task)")
    lines += ["  invisible(NULL)", "})"]
    return "\n".join(lines) + "\n"


def write_notebook(target: DebugTarget, notebook_path: Path) -> Path:
    """``<name>-debug-<run>-batch-<K>.ipynb`` beside the notebook (a free name: ``-2``, ``-3``...
    when taken; an existing file is never written), holding the loader and the task's cells."""
    suffix = f"-batch-{target.instance}" if target.instance is not None else f"-{target.task['id']}"
    stem = f"{notebook_path.stem}-debug-{target.run_folder.name}{suffix}"
    nb = nbformat.v4.new_notebook()
    kernel = target.spec.get("notebook", {}).get("kernel") or ("ir" if target.r else "python3")
    language = "R" if target.r else "python"
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": language}
    message = (target.error or {}).get("message", "")
    nb.cells.append(
        nbformat.v4.new_markdown_cell(
            f"# Debugging {target.what} of run `{target.run_folder.name}`\n\n"
            f"Notebook: `{notebook_path.name}`. "
            + (f"It failed with: `{message}`\n\n" if message else "\n\n")
            + "The first cell loads the header and exactly this instance's inputs; the cells "
            "after it are the step's cells as they were in the run. Run them to see the failure."
        )
    )
    nb.cells.append(nbformat.v4.new_code_cell(loader_source(target)))
    for cell in target.cells:
        code = nbformat.v4.new_code_cell(cell["source"].rstrip("\n"))
        code.metadata["naavre_debug"] = {"cell_index": cell["index"]}
        nb.cells.append(code)
    for n in range(1, 1000):
        path = notebook_path.with_name(stem + (f"-{n}" if n > 1 else "") + ".ipynb")
        try:
            with open(path, "x", encoding="utf-8") as handle:
                nbformat.write(nb, handle)
        except FileExistsError:
            continue
        return path
    raise DebugError(f"too many debug notebooks named {stem}-*.ipynb", "delete old ones")
