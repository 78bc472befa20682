"""Run a tagged notebook in notebook context (one kernel) and in workflow context (one process per
task instance), and record what crosses each step boundary so the two can be compared.

Both contexts are plain functions that block until done and return a JSON-serialisable dict, so the
CLI calls them directly and the REST handlers call them in a worker thread. Progress arrives through
a callback (``progress(event: dict)``) and a :class:`CancelHandle` stops a run from any thread: it
kills the step processes (each in its own process group) and shuts the kernel down.

Workflow context runs exactly the scripts of :func:`naavre_batch_ext.steps.scripts.task_script`, as Argo
would: nothing shared between instances but the JSON files in the run folder
(``.naavre-batch/runs/<id>/``). See docs/running.md.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import errno
import inspect
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from ..core import split
from ..core.analysis import json_kind
from ..core.spec import resolve_batch_count
from ..steps import r_scripts, scripts, step_runtime, transport
from ..steps.step_runtime import format_parameter, parse_parameter
from . import batch_progress, compare, preview, r_values, reuse, timings
from .safe_folder import FolderMovedError, SafeFolder

__all__ = [
    "CancelHandle",
    "ParameterError",
    "Progress",
    "RunError",
    "check_parameters",
    "parse_parameter_options",
    "resolve_kernel",
    "run",
    "run_notebook",
    "run_workflow",
]

Progress = Callable[[dict[str, Any]], None]
"""Receives events: ``run-started``, ``task-started``, ``instance-finished``, ``task-finished``,
``run-finished`` (see docs/running.md for their fields)."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class RunError(Exception):
    """A run that cannot start (bad parameters, analysis errors); ``message`` and ``hint`` say why."""

    def __init__(
        self, message: str, hint: str = "", diagnostics: list[dict[str, Any]] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.diagnostics = diagnostics or []


class ParameterError(RunError):
    """An override names no workflow parameter of the notebook."""


class CancelHandle:
    """Stops a run from another thread: kills step processes and shuts the kernel down.

    The runner registers what it starts; :meth:`cancel` is idempotent and thread-safe.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._processes: set[subprocess.Popen[bytes]] = set()
        self._callbacks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._event.is_set()

    def cancel(self) -> None:
        """Kill every registered process group (TERM, then KILL after 2 s) and run the callbacks."""
        self._event.set()
        with self._lock:
            processes = list(self._processes)
            callbacks = list(self._callbacks)
        for proc in processes:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        for proc in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
            _signal_group(proc, signal.SIGKILL)
        for callback in callbacks:
            callback()

    def _add_process(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._processes.add(proc)
        if self.cancelled:
            _signal_group(proc, signal.SIGKILL)

    def _remove_process(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._processes.discard(proc)

    def _add_callback(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)
        if self.cancelled:
            callback()

    def _remove_callback(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _emit(progress: Progress | None, event: str, **fields: Any) -> None:
    if progress is not None:
        progress({"event": event, **fields})


# -- parameters -------------------------------------------------------------------------------


def parse_parameter_options(options: list[str], spec: dict[str, Any]) -> dict[str, Any]:
    """``["param_x=12", ...]`` to values: JSON literals when they parse (string parameters stay
    text), every name checked against the notebook's parameters."""
    types = {p["name"]: p.get("type") for p in spec.get("parameters", [])}
    values: dict[str, Any] = {}
    for option in options:
        name, sep, raw = option.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(
                f"-p {option!r}: expected NAME=VALUE", "for example -p param_item_count=100"
            )
        values[name] = parse_parameter(raw, types.get(name))
    check_parameters(spec, values)
    return values


def check_parameters(spec: dict[str, Any], values: Mapping[str, Any]) -> None:
    """Refuse, before anything runs, overrides that can only fail later: names that are not
    workflow parameters (listing the ones there are), a value of another JSON type than the
    parameter's default (an ``int`` is fine for a ``float``; a ``null`` default takes anything),
    and a batch-count parameter that is not an integer >= 1. The CLI, the runner and the REST API
    all call this one check."""
    declared = {p["name"]: p for p in spec.get("parameters", [])}
    unknown = [n for n in values if n not in declared]
    if unknown:
        listed = (
            ", ".join(declared)
            if declared
            else "none (assign a literal to a param_* name in the header)"
        )
        raise ParameterError(
            f"unknown parameter {', '.join(unknown)}",
            f"the notebook's parameters are: {listed}",
        )
    for name, value in values.items():
        want = declared[name].get("type")
        got = json_kind(value)
        if want in (None, "null") or got == want or (want, got) == ("float", "int"):
            continue
        default = json.dumps(declared[name].get("default"))
        shown = json.dumps(value, default=repr)
        raise ParameterError(
            f"parameter {name} takes {_KIND_WORDS.get(want, want)}, like its default {default}; "
            f"got {shown if len(shown) <= 80 else shown[:77] + '...'} "
            f"({_KIND_WORDS.get(got or '', 'not JSON')})",
            f"give {name} {_KIND_WORDS.get(want, want)}",
        )
    for section in spec.get("sections", []):
        try:
            resolve_batch_count(section.get("batch_count"), values)
        except ValueError as exc:
            raise ParameterError(str(exc), "give the batch count as a whole number >= 1") from None


_KIND_WORDS = {
    "int": "an integer",
    "float": "a number",
    "str": "text",
    "bool": "true or false",
    "list": "a list",
    "dict": "an object",
    "null": "null",
}


def _parameter_values(spec: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    values = {p["name"]: p["default"] for p in spec.get("parameters", [])}
    values.update(overrides)
    return values


# -- workflow context ---------------------------------------------------------------------------


LOG_TAIL_CHARS = 4000
"""How much of a failed instance's stdout and stderr its error record carries."""


@dataclass
class _Instance:
    """One process of a task. ``inputs`` maps entries of its inputs folder to the files (or
    folders) they come from: earlier instances' outputs, linked, never read by the runner."""

    task: scripts.Task
    number: int
    count: int
    folder: Path
    inputs: dict[str, Path]
    parameters: dict[str, str]
    batch: dict[str, Any] | None = None
    status: str = "pending"
    seconds: float = 0.0
    outputs: Path | None = None
    printed: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    pid: int | None = None
    reused: bool = False


def new_run_id() -> str:
    """A run id that sorts by start time and cannot be guessed: ``20261125-093012-a1b2c3``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def _shown(path: Path, root: str | Path | None) -> str:
    """``path`` as the user knows it: relative to the server root when there is one."""
    if root is not None and path.is_absolute():
        try:
            relative = path.relative_to(os.path.realpath(root)).as_posix()
        except ValueError:
            pass
        else:
            return relative if relative != "." else str(path)
    return str(path)


def check_runs_folder(
    notebook_path: str | Path,
    runs_dir: str | Path | None = None,
    root: str | Path | None = None,
) -> Path:
    """Create the folder runs are kept in (``runs_dir``, default ``.naavre-batch/runs`` beside the
    notebook) and return its real path, before anything runs; :class:`RunError` naming it
    (relative to ``root``) when it cannot be: a file in the way, no permission, or, with
    ``root``, a symbolic link that leads outside the root (nothing is created there then)."""
    base = Path(runs_dir) if runs_dir else Path(notebook_path).parent / ".naavre-batch" / "runs"
    shown = _shown(base, root)
    real = Path(os.path.realpath(base))
    if root is not None:
        real_root = os.path.realpath(root)
        if str(real) != real_root and not str(real).startswith(real_root.rstrip(os.sep) + os.sep):
            raise RunError(
                f"the runs folder {shown} leads outside the server root "
                "(a symbolic link?); nothing was run",
                "remove the link, or run from a folder whose .naavre-batch is a plain folder",
            )
    for part in [*reversed(base.parents), base]:
        if part.exists() and not part.is_dir():
            raise RunError(
                f"cannot create the runs folder {shown}: {_shown(part, root)} is a file; "
                "nothing was run",
                "move that file away, or keep runs elsewhere (naavre-batch run --runs-dir DIR)",
            )
    try:  # created through open folders: a link swapped in meanwhile is not followed
        SafeFolder.open(real, root=os.path.realpath(root) if root is not None else None).close()
    except OSError as exc:
        raise RunError(
            f"cannot create the runs folder {shown}: {exc.strerror or exc}; nothing was run",
            "keep runs in a folder you can write to (naavre-batch run --runs-dir DIR)",
        ) from None
    if not os.access(real, os.W_OK | os.X_OK):
        raise RunError(
            f"cannot write in the runs folder {shown}: permission denied; nothing was run",
            "keep runs in a folder you can write to (naavre-batch run --runs-dir DIR)",
        )
    return real


def _open_runs_folder(notebook_path: Path, runs_dir: str | Path | SafeFolder | None) -> SafeFolder:
    """The runs folder, opened once (see :mod:`.safe_folder`): every run folder and file of the
    run is then created through it, so a rename of the path cannot send them elsewhere."""
    if isinstance(runs_dir, SafeFolder):
        return runs_dir
    base = Path(runs_dir) if runs_dir else notebook_path.parent / ".naavre-batch" / "runs"
    try:
        return SafeFolder.open(base)
    except OSError as exc:
        raise RunError(
            f"cannot open the runs folder {base}: {_os_reason(exc, base)}; nothing was run",
            "keep runs in a folder you can write to (naavre-batch run --runs-dir DIR)",
        ) from None


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
"""A full disk or an exhausted quota: reported as "no space left in <folder>", never a traceback."""


def _os_reason(exc: OSError, folder: str | Path) -> str:
    """An ``OSError`` in words that name the folder, without the descriptor paths it went through."""
    if exc.errno in NO_SPACE:
        return f"no space left in {folder}"
    if isinstance(exc, FolderMovedError):
        return f"{exc.shown} {exc.why}"
    return exc.strerror or type(exc).__name__


def _open_checked(folder: Path, shown: str | Path, root: str | Path | None) -> SafeFolder:
    """:meth:`SafeFolder.open` of a folder :func:`check_runs_folder` accepted; a link swapped in
    since is refused as that check refuses one (:class:`RunError`, nothing run)."""
    try:
        return SafeFolder.open(folder, root=root, label=str(shown))
    except OSError as exc:
        raise RunError(
            f"cannot open the runs folder {shown}: {_os_reason(exc, shown)}; nothing was run",
            "keep .naavre-batch a plain folder while runs go on",
        ) from None


def _new_run_folder(runs: SafeFolder, run_id: str | None) -> tuple[str, SafeFolder]:
    """A new run folder in the open runs folder; :class:`RunError` when the runs folder was moved
    or replaced since it was opened (the run's files would not be where the user looks)."""
    run_id = run_id or new_run_id()
    try:
        runs.check_in_place()
        return run_id, runs.mkdir(run_id)
    except FolderMovedError as exc:
        raise RunError(
            f"the runs folder {exc.shown} {exc.why} while the run was going; "
            "the workflow context was not run and nothing was written there",
            "keep .naavre-batch a plain folder while runs go on",
        ) from None
    except OSError as exc:
        raise RunError(
            f"cannot create a run folder in {runs.real}: {_os_reason(exc, runs.real)}; "
            "the workflow context was not run",
            "free some space or keep runs elsewhere (naavre-batch run --runs-dir DIR)",
        ) from None


def _read_json(path: Path) -> Any:
    """A JSON file a step process wrote, or ``None`` when it is missing, cut short (a full disk)
    or not JSON: the caller then reports the process's exit status and log instead."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _hash_seed() -> str:
    """The notebook context's kernel and every local step process run with
    :data:`~naavre_batch_ext.steps.scripts.HASH_SEED`, unless the environment sets a seed."""
    seed = os.environ.get("PYTHONHASHSEED", "")
    return seed if seed.isdigit() else scripts.HASH_SEED


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAAVRE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONHASHSEED"] = _hash_seed()
    for name, value in batch_progress.TQDM_ENV.items():
        env.setdefault(name, value)
    return env


def _link(source: Path, target: Path) -> None:
    """Give ``target`` the content of ``source`` (a file, or a folder of files): a hard link when
    the file system allows (no copy, even for gigabytes), else a copy."""
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for child in source.iterdir():
            _link(child, target / child.name)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


_LAUNCH = (
    "import importlib.util as u, sys; "
    "s = u.spec_from_file_location('naavre_step', sys.argv[1]); m = u.module_from_spec(s); "
    "sys.modules['naavre_step'] = m; s.loader.exec_module(m); "
    "sys.exit(m.execute(m.TASK, m.RULES_SOURCE))"
)
"""How the local runner starts a step script: imported as a module, so Python reuses the
bytecode :func:`_precompile` cached instead of compiling the script's 50 KB again in each of
thousands of instances (about 60 ms each on a loaded 2-core machine). The script is the same text
Argo runs as ``python script.py``; the user's code runs in its own ``__main__`` module either way.
Loaded from its path under one fixed name, never through ``sys.path``: a step named ``json`` or
``math`` must not shadow the module of that name for the runtime or the user's code."""


def _precompile(script: Path) -> None:
    """Write the script's bytecode where its import will look for it (``__pycache__``)."""
    import importlib.util
    import py_compile

    with contextlib.suppress(py_compile.PyCompileError, OSError):
        py_compile.compile(
            str(script), cfile=importlib.util.cache_from_source(str(script)), doraise=True
        )


def _command(script: Path, python: str) -> list[str]:
    """How one instance of a task is started: the one place that chooses the command per
    language (``Rscript`` for an R notebook's ``.R`` scripts, Python's launcher otherwise)."""
    if script.suffix == ".R":
        return r_scripts.command(str(script))
    return [python, "-c", _LAUNCH, str(script)]


def _run_instance(
    inst: _Instance,
    script: Path,
    cwd: Path,
    python: str,
    cancel: CancelHandle,
    pass_fds: tuple[int, ...] = (),
    reuser: reuse.Reuser | None = None,
    may_reuse: bool = True,
) -> _Instance:
    """One process for one task instance; its files stay in ``inst.folder`` (``in/``, ``out/``,
    ``stdout.txt``, ``stderr.txt``, ``printed.json``, ``error.json``, and ``reuse.json`` once it
    succeeded). With ``reuser``, an instance whose key is stored is taken, not run."""
    if cancel.cancelled:
        inst.status = "cancelled"
        return inst
    inst.folder.mkdir(parents=True, exist_ok=True)
    inputs = inst.folder / "in"
    outputs = inst.folder / "out"
    inputs.mkdir(exist_ok=True)
    for name, source in inst.inputs.items():
        _link(source, inputs / name)
    if inst.parameters:
        params = inputs / step_runtime.PARAMETERS_DIR
        params.mkdir(exist_ok=True)
        for name, text in inst.parameters.items():
            (params / name).write_text(text, encoding="utf-8")
    key = reuser.key(script, inst.folder) if reuser is not None else None
    if reuser is not None and may_reuse and (taken := reuser.take(key, inst.folder)) is not None:
        inst.printed, inst.outputs, inst.status, inst.reused = taken, outputs, "ok", True
        return inst
    error = inst.folder / "error.json"
    printed = inst.folder / "printed.json"
    env = _child_env()
    env.update(
        NAAVRE_INPUTS_DIR=str(inputs),
        NAAVRE_OUTPUTS_DIR=str(outputs),
        NAAVRE_ERROR_FILE=str(error),
        NAAVRE_PRINTED_FILE=str(printed),
        NAAVRE_VALUES="binary",
    )
    start = time.perf_counter()
    with (
        open(inst.folder / "stdout.txt", "wb") as out,
        open(inst.folder / "stderr.txt", "wb") as err,
    ):
        proc = subprocess.Popen(
            _command(script, python),
            cwd=str(cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # own process group: Ctrl-C handling and cancel kill it whole
            pass_fds=pass_fds,  # the open run and notebook folders its paths go through
        )
        inst.pid = proc.pid
        cancel._add_process(proc)
        try:
            code = proc.wait()
        finally:
            cancel._remove_process(proc)
    inst.seconds = time.perf_counter() - start
    printed_values = _read_json(printed)
    if isinstance(printed_values, dict):
        inst.printed = printed_values
    if code == 0 and outputs.is_dir():
        inst.outputs = outputs
        inst.status = "ok"
        if reuser is not None:
            reuser.record(key, inst.folder)
        return inst
    if cancel.cancelled:
        inst.status = "cancelled"
        return inst
    inst.status = "failed"
    recorded = _read_json(error)
    if isinstance(recorded, dict):
        inst.error = recorded
    else:
        tail = _tail(inst.folder / "stderr.txt")
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        inst.error = {"kind": "process", "message": f"the step process {how}", "traceback": tail}
    return inst


def _tail(path: Path, limit: int = LOG_TAIL_CHARS) -> str:
    """The last ``limit`` characters of a log file ("" when there is none)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return text if len(text) <= limit else "…" + text[-limit:]


def _describe_failure(inst: _Instance, shown: Callable[[str], str] = str) -> dict[str, Any]:
    """The error record of a failed instance; ``shown`` turns the paths the runner and the step
    went through (descriptor paths, see :mod:`.safe_folder`) into the ones the user knows."""
    record = {k: shown(v) if isinstance(v, str) else v for k, v in (inst.error or {}).items()}
    record.setdefault("step", inst.task.steps[0])
    record["task"] = inst.task.id
    record["instance"] = inst.number
    record["instances"] = inst.count
    record["folder"] = shown(str(inst.folder))
    # The run folder is hidden from the contents API, so the logs travel with the error.
    for stream in ("stdout", "stderr"):
        record[stream] = shown(_tail(inst.folder / f"{stream}.txt"))
    where = f"task {inst.task.id}"
    if inst.count > 1 or inst.task.kind == "processors":
        where += f", instance {inst.number + 1}/{inst.count}"
    if inst.batch is not None:
        start, stop = inst.batch.get("start"), inst.batch.get("stop")
        record["batch"] = {"index": inst.batch["index"], "start": start, "stop": stop}
        if start is not None and stop is not None:
            items = f"items {start}..{stop - 1}" if stop > start else "no items"
            where += f" (batch {inst.batch['index']}: {items} of {inst.task.split_variable})"
    record["where"] = where
    return record


def run_workflow(
    spec: dict[str, Any],
    notebook_path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    parallelism: int | None = None,
    runs_dir: str | Path | SafeFolder | None = None,
    run_id: str | None = None,
    progress: Progress | None = None,
    cancel: CancelHandle | None = None,
    python: str = sys.executable,
    workdir: SafeFolder | None = None,
    reuse_store: bool = False,
    resume: str | None = None,
    reuse_limit: int | None = None,
) -> dict[str, Any]:
    """Run the spec's tasks as a cluster would, each instance in its own process.

    The splitter runs once; the processor chain once per batch, ``parallelism`` at a time (default:
    CPU count); the merger and later tasks once. A failed instance lets the others of its task
    finish, then the run stops (as Argo stops a DAG). Returns the result dict (docs/running.md).

    Every file goes through the runs folder opened once (``runs_dir``, a path or an open
    :class:`SafeFolder`) and the step processes work in ``workdir`` (default: the notebook's
    folder, opened here), so renaming either path while the run goes on cannot send a write
    elsewhere. A full disk fails the run with "no space left in <runs folder>" and keeps the
    steps' own errors.

    ``reuse_store`` takes every instance whose key is in the runs folder's store from there and
    stores the others; ``resume`` takes them from run ``resume`` of the same runs folder
    (:mod:`naavre_batch_ext.engines.reuse`). Steps tagged ``naavre:no-reuse`` always run.
    """
    overrides = dict(parameters or {})
    check_parameters(spec, overrides)
    cancel = cancel or CancelHandle()
    parallelism = max(1, parallelism or os.cpu_count() or 1)
    notebook_path = Path(notebook_path).resolve()
    tasks = scripts.plan_tasks(spec)
    runs = _open_runs_folder(notebook_path, runs_dir)
    try:
        reuser = _reuser(runs, python, reuse_store, resume, reuse_limit)
        try:
            run_id, run_folder = _new_run_folder(runs, run_id)
        except BaseException:
            reuser.close()
            raise
    finally:
        if runs is not runs_dir:
            runs.close()
    opened = contextlib.ExitStack()
    opened.callback(run_folder.close)
    opened.callback(reuser.close)
    if workdir is None:
        try:
            workdir = opened.enter_context(SafeFolder.open(notebook_path.parent, create=False))
        except OSError as exc:
            opened.close()
            raise RunError(
                f"cannot open the notebook's folder {notebook_path.parent}: "
                f"{_os_reason(exc, notebook_path.parent)}",
                "check the folder still exists and is readable",
            ) from None
    folder = run_folder.path
    pass_fds = (*run_folder.pass_fds, *workdir.pass_fds)

    def shown(text: str) -> str:
        return text.replace(str(folder), str(run_folder.real))

    paths: dict[str, Path] = {}
    steps_by_id = {s["id"]: s for s in spec["steps"]}
    values = _parameter_values(spec, overrides)
    outputs_of: dict[str, Path] = {}
    results_of: dict[str, list[Path]] = {}
    trace: dict[str, dict[str, Any]] = {}
    printed: dict[str, str] = {}
    summary: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    status = "ok"
    started = time.perf_counter()
    _emit(
        progress,
        "run-started",
        context="workflow",
        run_id=run_id,
        folder=str(run_folder.real),
        tasks=[t.id for t in tasks],
    )
    pool = ThreadPoolExecutor(max_workers=parallelism)
    kinds = {p["name"]: p.get("type") for p in spec.get("parameters", [])}
    parameter_texts = {name: format_parameter(v, kinds.get(name)) for name, v in values.items()}
    try:
        (folder / "spec.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
        script_dir = folder / "scripts"
        script_dir.mkdir()
        language_r = r_scripts.is_r(spec)
        for task in tasks:
            paths[task.id] = script_dir / r_scripts.script_name(task.id, language_r)
            paths[task.id].write_text(scripts.task_script(spec, task), encoding="utf-8")
            if not language_r:
                _precompile(paths[task.id])
        for task in tasks:
            if cancel.cancelled:
                status = "cancelled"
                break
            run_folder.guard()
            inputs = {i.name: outputs_of[i.task] / i.name for i in task.inputs}
            instances: list[_Instance] = []
            if task.kind == "processors":
                assert task.splitter is not None
                split_out = outputs_of[task.splitter]
                listing = json.loads(
                    (split_out / step_runtime.RESERVED_BATCH_LIST).read_text(encoding="utf-8")
                )
                for b in listing:
                    batch_file = split_out / scripts.RESERVED_BATCHES
                    batch_file = batch_file / step_runtime.batch_file_name(b["index"])
                    instances.append(
                        _Instance(
                            task,
                            b["index"],
                            len(listing),
                            folder / task.id / step_runtime.batch_file_name(b["index"]),
                            {**inputs, step_runtime.RESERVED_BATCH: batch_file},
                            parameter_texts,
                            batch=b,
                        )
                    )
            else:
                if task.kind == "merger":
                    assert task.processors is not None and task.splitter is not None
                    results = folder / task.id / "results"
                    results.mkdir(parents=True, exist_ok=True)
                    for i, out in enumerate(results_of[task.processors]):
                        _link(
                            out / scripts.RESERVED_RESULT,
                            results / step_runtime.batch_file_name(i),
                        )
                    inputs[step_runtime.RESERVED_BATCH_RESULTS] = results
                    inputs[scripts.RESERVED_BATCH_COUNT] = (
                        outputs_of[task.splitter] / scripts.RESERVED_BATCH_COUNT
                    )
                instances.append(_Instance(task, 0, 1, folder / task.id, inputs, parameter_texts))
            _emit(
                progress,
                "task-started",
                context="workflow",
                task=task.id,
                kind=task.kind,
                steps=list(task.steps),
                instances=len(instances),
            )
            task_start = time.perf_counter()
            done = 0

            def finished(inst: _Instance) -> None:
                nonlocal done
                done += 1
                _emit(
                    progress,
                    "instance-finished",
                    context="workflow",
                    task=inst.task.id,
                    instance=inst.number,
                    instances=inst.count,
                    done=done,
                    status=inst.status,
                    seconds=round(inst.seconds, 4),
                    reused=inst.reused,
                )

            may_reuse = not any(steps_by_id[s].get("no_reuse") for s in task.steps)
            futures = [
                pool.submit(
                    _run_instance,
                    inst,
                    paths[task.id],
                    workdir.path,
                    python,
                    cancel,
                    pass_fds,
                    reuser,
                    may_reuse,
                )
                for inst in instances
            ]
            with _watch_bars(progress, task, instances):
                for future in as_completed(futures):
                    finished(future.result())
            wall = time.perf_counter() - task_start
            failed = [i for i in instances if i.status == "failed"]
            for inst in failed:
                errors.append(_describe_failure(inst, shown))
            if failed and _no_space_left(folder):  # the steps' errors stay; this says why
                errors.append(_no_space_error(run_folder))
            task_status = "ok"
            if failed:
                task_status = "failed"
            elif any(i.status == "cancelled" for i in instances):
                task_status = "cancelled"
            summary.append(
                {
                    "task": task.id,
                    "kind": task.kind,
                    "steps": list(task.steps),
                    "instances": len(instances),
                    "failed": [i.number for i in failed],
                    "reused": [i.number for i in instances if i.reused],
                    "status": task_status,
                    "wall_seconds": round(wall, 4),
                    "instance_seconds": [round(i.seconds, 4) for i in instances],
                    "folder": str(run_folder.real / task.id),
                }
            )
            _emit(
                progress,
                "task-finished",
                context="workflow",
                task=task.id,
                status=task_status,
                seconds=round(wall, 4),
                failed=len(failed),
            )
            for inst in instances:
                printed.update(inst.printed)
            if task.kind == "processors":
                results_of[task.id] = [i.outputs for i in instances if i.outputs is not None]
            elif instances[0].outputs is not None:
                outputs_of[task.id] = instances[0].outputs
            if task_status != "ok":
                status = task_status
                break
            _record_trace(trace, task, outputs_of, results_of, steps_by_id)
    except OSError as exc:
        if exc.errno not in NO_SPACE and not isinstance(exc, FolderMovedError):
            cancel.cancel()
            opened.close()
            raise
        # the instances already started end on their own; nothing queued starts
        status = "failed"
        if isinstance(exc, FolderMovedError):
            errors.append(
                {
                    "kind": "runs-folder",
                    "where": "run folder",
                    "message": f"{exc.shown} {exc.why} while the run was going; the run stopped",
                    "hint": "keep .naavre-batch a plain folder while runs go on",
                }
            )
        else:
            errors.append(_no_space_error(run_folder))
    except BaseException:
        cancel.cancel()
        opened.close()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    wall = time.perf_counter() - started
    result = {
        "context": "workflow",
        "status": status,
        "notebook": str(notebook_path),
        "run_id": run_id,
        "folder": str(run_folder.real),
        "parameters": values,
        "parallelism": parallelism,
        "tasks": [t.to_dict() for t in tasks],
        "steps": summary,
        "timings": timings.section_timings(spec, "workflow", summary, trace, values),
        "wall_seconds": round(wall, 4),
        "trace": trace,
        "printed": printed,
        "errors": errors,
        "warnings": [],
        "reuse": _reuse_summary(reuser, summary),
    }
    try:
        (folder / "result.json").write_text(
            json.dumps(readable_result(result), indent=1), encoding="utf-8"
        )
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            opened.close()
            raise
        if not any(e.get("kind") == "disk-full" for e in errors):
            errors.append(_no_space_error(run_folder, "result.json was not written"))
        result["status"] = status = "failed"
    finally:
        opened.close()
    _emit(progress, "run-finished", context="workflow", status=status, seconds=round(wall, 4))
    return result


def _watch_bars(
    progress: Progress | None, task: scripts.Task, instances: list[_Instance]
) -> batch_progress.Watcher:
    """``instance-progress`` events from the tqdm bars of the task's running instances."""

    def running() -> list[tuple[int, Path]]:
        return [
            (i.number, i.folder / "stderr.txt")
            for i in instances
            if i.pid is not None and i.status == "pending"
        ]

    def report(number: int, n: int, total: int) -> None:
        _emit(
            progress,
            "instance-progress",
            context="workflow",
            task=task.id,
            instance=number,
            instances=len(instances),
            n=n,
            total=total,
        )

    return batch_progress.Watcher(running, report)


def _reuser(
    runs: SafeFolder, python: str, store: bool, resume: str | None, limit: int | None
) -> reuse.Reuser:
    """The run's :class:`reuse.Reuser`: the store opened below the open runs folder (so a link
    swapped in cannot redirect it); :class:`RunError` for a store or a run to resume that cannot
    be used, before anything runs."""
    try:
        index = reuse.RunIndex.open(runs.real, resume) if resume else None
        opened = reuse.Store.open(runs, limit or reuse.DEFAULT_LIMIT_BYTES) if store else None
    except reuse.ReuseError as exc:
        raise RunError(exc.message, exc.hint) from None
    return reuse.Reuser(python, opened, index)


def _reuse_summary(reuser: reuse.Reuser, summary: list[dict[str, Any]]) -> dict[str, Any]:
    """How many instances were taken from the store or the resumed run, ran, failed; the store
    trimmed to its limit."""
    reused = sum(len(t["reused"]) for t in summary)
    failed = sum(len(t["failed"]) for t in summary)
    record: dict[str, Any] = {
        "enabled": reuser.active,
        "reused": reused,
        "ran": sum(t["instances"] for t in summary) - reused,
        "failed": failed,
    }
    if reuser.index is not None:
        record["resumed_from"] = reuser.index.run_id
    if reuser.store is not None:
        record["evicted"] = reuser.store.trim()
        record["store_bytes"] = reuser.store.size()
        record["store_limit_bytes"] = reuser.store.limit_bytes
    return record


def _no_space_left(folder: Path) -> bool:
    """True when the file system of ``folder`` has no free block left for this user."""
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def _no_space_error(folder: SafeFolder, what: str = "the run stopped") -> dict[str, Any]:
    """The error record of a full disk: names the runs folder, says what was kept."""
    runs = folder.label.rpartition("/")[0] or folder.label
    return {
        "kind": "disk-full",
        "where": "run folder",
        "message": f"no space left in {runs}; {what} (the files written so far are kept "
        f"in {folder.label})",
        "hint": "free some space there, or keep runs elsewhere (naavre-batch run --runs-dir DIR, "
        "c.NaavreBatch.runs_dir)",
    }


def _load_value(path: Path) -> Any:
    """A value file as the next step would see it; classes of the notebook's header (which only
    the steps define) load as stand-ins with the same module, name and attributes."""
    return transport.load(str(path), stub_missing=True)


def _record_trace(
    trace: dict[str, dict[str, Any]],
    task: scripts.Task,
    outputs_of: dict[str, Path],
    results_of: dict[str, list[Path]],
    steps_by_id: dict[str, dict[str, Any]],
) -> None:
    """What each step handed on, as the next step saw it (merged values for processor outputs,
    the whole list for the split variable), loaded for the comparison. Per-batch parts are joined
    by :func:`join_parts`, or for an R notebook's values by R (:func:`r_values.join_parts`)."""
    if task.kind == "processors":
        results = [_load_value(out / scripts.RESERVED_RESULT) for out in results_of[task.id]]
        join = joiner(results)
        for name in task.merged:
            step = task.merged_steps.get(name, task.steps[-1])
            trace.setdefault(step, {})[name] = join(results, ("outputs", name))
        return
    out = outputs_of[task.id]
    for step_id in task.steps:
        entry = trace.setdefault(step_id, {})
        for name in steps_by_id[step_id].get("outputs", []):
            if task.kind == "splitter" and name == task.split_variable:
                batch_dir = out / scripts.RESERVED_BATCHES
                batches = [_load_value(p) for p in sorted(batch_dir.iterdir())]
                join = joiner(batches)
                entry[name] = join(batches, ("items",))
            elif (out / name).exists():
                entry[name] = _load_value(out / name)


def joiner(parts: list[Any]) -> Callable[[list[Any], tuple[str, ...]], Any]:
    """How per-batch values are joined: an R notebook's by R, others by :func:`join_parts`."""
    return r_values.join_parts if any(r_values.is_r_value(p) for p in parts) else join_parts


def join_parts(parts: list[Any], keys: tuple[str, ...]) -> Any:
    """Per-batch values (batches or results, ``{"index", ...}``) joined in batch order by the one
    split rule, after picking ``keys`` inside each (``("items",)``, ``("outputs", name)``)."""
    parts = sorted(parts, key=lambda part: part["index"])
    for key in keys:
        parts = [part[key] for part in parts]
    return split.merge_batches(parts)


def readable_result(result: dict[str, Any]) -> dict[str, Any]:
    """A run's result with every traced value JSON can show as it is, and a short summary
    (type, shape, length, preview) of the others: for result.json, ``--json`` and the REST API."""
    trace = result.get("trace")
    if not isinstance(trace, dict):
        return result
    r_values.describe_all(v for values in trace.values() for v in values.values())
    shown = {
        step: {name: preview.for_json(value) for name, value in values.items()}
        for step, values in trace.items()
    }
    return {**result, "trace": shown}


# -- notebook context --------------------------------------------------------------------------

_TRACE_HELPER = """
def __naavre_error_line__():
    import sys as _sys
    _tb, _frames = getattr(_sys, "last_traceback", None), []
    while _tb is not None:
        _frames.append((_tb.tb_frame.f_code.co_filename, _tb.tb_frame.f_code.co_name, _tb.tb_lineno))
        _tb = _tb.tb_next
    _cell = next((_f for _f, _n, _l in _frames if _n == "<module>"), None)
    _lines = [_l for _f, _n, _l in _frames if _f == _cell]
    print(_lines[-1] if _lines else "")


def __naavre_trace__(names, folder):
    import json as _json, os as _os
    _ns = globals()
    _out = {}
    for _name in names:
        if _name not in _ns:
            _out[_name] = {"defined": False}
            continue
        try:
            _codec = __naavre_transport__.dump(_ns[_name], _os.path.join(folder, _name))
            _out[_name] = {"defined": True, "codec": _codec}
        except __naavre_transport__.NotPassableError as _exc:
            _out[_name] = {"defined": True, "error": str(_exc), "type": _exc.type_name,
                           "path": _exc.path, "reason": _exc.reason}
    with open(_os.path.join(folder, "index.json"), "w", encoding="utf-8") as _f:
        _json.dump(_out, _f)
"""
"""Run in the kernel after each step: each output written with the value transport, as a step
script writes it, so both contexts' values are read back the same way for the comparison."""


def _kernel_setup_source(values: dict[str, Any]) -> str:
    """The hidden first cell: the transport as a module of its own (not imported from this package,
    which the kernel's environment may not have), the trace helper and the run's parameters."""
    source = inspect.getsource(transport)
    return (
        "import types as __naavre_types__\n"
        "__naavre_transport__ = __naavre_types__.ModuleType('naavre_transport')\n"
        f"exec(compile({source!r}, 'naavre_batch_ext/steps/transport.py', 'exec'), "
        "__naavre_transport__.__dict__)\n" + _TRACE_HELPER + "\nimport json as __naavre_json__\n"
        f"__naavre_params__ = __naavre_json__.loads({json.dumps(json.dumps(values))})\n"
    )


def _printed(cell: NotebookNode) -> str:
    """What a cell printed to stdout (its stream outputs), as the step scripts record it."""
    return "".join(
        "".join(o.get("text", ""))
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )


def resolve_kernel(spec: dict[str, Any], requested: str | None = None) -> tuple[str, list[str]]:
    """The kernel to start: ``requested``, else the notebook's if installed, else ``python3``."""
    from jupyter_client.kernelspec import KernelSpecManager

    installed = KernelSpecManager().find_kernel_specs()
    if requested:
        if requested not in installed:
            raise RunError(
                f"kernel {requested!r} is not installed",
                f"installed kernels: {', '.join(sorted(installed))}",
            )
        return requested, []
    wanted = (spec.get("notebook") or {}).get("kernel") or "python3"
    if wanted in installed:
        return wanted, []
    return "python3", [
        (
            f"kernel {wanted!r} of the notebook is not installed; using python3 instead "
            "(choose one with --kernel)"
        )
    ]


def _cell_error(cell: NotebookNode) -> tuple[str, str, int | None]:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = _ANSI.sub("", "\n".join(output.get("traceback", [])))
            lines = re.findall(r"(?:Cell In\[\d*\]|<module>|Input In \[\d*\]), line (\d+)", text)
            line = int(lines[0]) if lines else None
            return f"{output.get('ename')}: {output.get('evalue')}", text, line
    return "the cell failed", "", None


class _Cancelled(Exception):
    """Raised between cells once the run is cancelled."""


def run_notebook(
    spec: dict[str, Any],
    nb: NotebookNode,
    notebook_path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    kernel: str | None = None,
    progress: Progress | None = None,
    cancel: CancelHandle | None = None,
) -> dict[str, Any]:
    """Run every code cell in order in one fresh kernel; never writes the user's file.

    Parameter overrides apply right after the header statement that sets each parameter (the
    header cell runs in chunks, as in the step scripts). After each step, the JSON value of each of
    its outputs is fetched from the kernel into the trace.
    """
    overrides = dict(parameters or {})
    check_parameters(spec, overrides)
    cancel = cancel or CancelHandle()
    kernel_name, warnings = resolve_kernel(spec, kernel)
    return asyncio.run(
        _run_notebook_async(
            spec,
            nb,
            Path(notebook_path).resolve(),
            overrides,
            kernel_name,
            warnings,
            progress,
            cancel,
        )
    )


def _local_kernel_config(folder: Path) -> Any:
    """Kernel manager settings for a kernel only this process talks to: over IPC (Unix sockets in
    ``folder``, a private temporary folder) instead of TCP on localhost. Nothing else on the
    machine can connect to it, and ipykernel has no reason to print its "Kernel is running over
    TCP without encryption" warning into the run's output. TCP where there are no Unix sockets."""
    from traitlets.config import Config

    config = Config()
    if os.name == "posix":
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(folder / "kernel")
    return config


async def _run_notebook_async(
    spec: dict[str, Any],
    nb: NotebookNode,
    notebook_path: Path,
    overrides: dict[str, Any],
    kernel_name: str,
    warnings: list[str],
    progress: Progress | None,
    cancel: CancelHandle,
) -> dict[str, Any]:
    from jupyter_core.utils import ensure_async
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    work = copy.deepcopy(nb)
    tmp = tempfile.TemporaryDirectory(prefix="naavre-trace-")
    client = NotebookClient(
        work,
        kernel_name=kernel_name,
        timeout=None,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(notebook_path.parent)}},
        config=_local_kernel_config(Path(tmp.name)),
    )
    header = {c["index"]: c for c in spec.get("header", {}).get("cells", [])}
    owner: dict[int, dict[str, Any]] = {}
    last_cell: dict[str, int] = {}
    for step in spec["steps"]:
        for ref in step["cells"]:
            owner[ref["index"]] = step
            last_cell[step["id"]] = ref["index"]
    params_by_cell: dict[int, list[str]] = {}
    for p in spec.get("parameters", []):
        if p["name"] in overrides:
            params_by_cell.setdefault(p["cell_index"], []).append(p["name"])
    values = _parameter_values(spec, overrides)
    trace: dict[str, dict[str, Any]] = {}
    not_json: list[dict[str, Any]] = []
    printed: dict[str, str] = {}
    cells: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    status = "ok"
    loop = asyncio.get_running_loop()
    stopping: set[asyncio.Task[None]] = set()

    async def stop_kernel() -> None:
        """Kill the kernel; the cell being run then ends with DeadKernelError, and nbclient's own
        clean-up runs as usual. Cancelling the task instead could land inside nbclient's kernel
        start-up, which leaves its atexit hook behind and has been seen to hang."""
        km = client.km
        if km is not None and km.has_kernel:
            with contextlib.suppress(Exception):
                await ensure_async(km.shutdown_kernel(now=True))

    def on_cancel() -> None:
        def start() -> None:
            task = loop.create_task(stop_kernel())
            stopping.add(task)
            task.add_done_callback(stopping.discard)

        loop.call_soon_threadsafe(start)

    def check_cancel() -> None:
        if cancel.cancelled:
            raise _Cancelled

    cancel._add_callback(on_cancel)
    started = time.perf_counter()
    _emit(
        progress,
        "run-started",
        context="notebook",
        kernel=kernel_name,
        tasks=["header"] * bool(header) + [s["id"] for s in spec["steps"]],
    )

    originals = list(work.cells)
    language_r = r_scripts.is_r(spec)

    async def scratch(cell: NotebookNode, index: int, store_history: bool = True) -> NotebookNode:
        """Run a cell that is not the notebook's. nbclient stores every executed cell back into
        ``nb.cells[index]``, so the notebook's own cell is put back afterwards."""
        try:
            await client.async_execute_cell(cell, index, store_history=store_history)
        finally:
            if index < len(originals):
                work.cells[index] = originals[index]
        return cell

    async def hidden(source: str) -> NotebookNode:
        check_cancel()
        return await scratch(nbformat.v4.new_code_cell(source), 0, store_history=False)

    async def error_line() -> int | None:
        """The failed cell's line as the step scripts name it (its innermost frame in that
        cell, from ``sys.last_traceback``): the same line in both contexts for the same error,
        and a line for ``sys.exit(1)``, whose notebook traceback shows no frame."""
        try:
            out = await hidden("__naavre_error_line__()")
        except Exception:  # noqa: BLE001 - the kernel may be gone: keep the traceback's line
            return None
        text = _printed(out).strip()
        return int(text) if text.isdigit() else None

    current: str | None = None
    step_start = 0.0

    def open_step(name: str) -> None:
        nonlocal current, step_start
        current, step_start = name, time.perf_counter()
        _emit(progress, "task-started", context="notebook", task=name, instances=1)

    def close_step(state: str) -> None:
        nonlocal current
        if current is None:
            return
        wall = time.perf_counter() - step_start
        kind = (
            "header"
            if current == "header"
            else next(s["role"] for s in spec["steps"] if s["id"] == current)
        )
        summary.append(
            {
                "task": current,
                "kind": kind,
                "steps": [current],
                "instances": 1,
                "failed": [0] if state == "failed" else [],
                "status": state,
                "wall_seconds": round(wall, 4),
                "instance_seconds": [round(wall, 4)],
            }
        )
        _emit(
            progress,
            "instance-finished",
            context="notebook",
            task=current,
            instance=0,
            instances=1,
            done=1,
            status=state,
            seconds=round(wall, 4),
        )
        _emit(
            progress,
            "task-finished",
            context="notebook",
            task=current,
            status=state,
            seconds=round(wall, 4),
            failed=int(state == "failed"),
        )
        current = None

    try:
        async with client.async_setup_kernel(env={**os.environ, "PYTHONHASHSEED": _hash_seed()}):
            await hidden(
                r_scripts.kernel_setup_source() if language_r else _kernel_setup_source(values)
            )
            for index, cell in enumerate(originals):
                if cell.cell_type != "code":
                    continue
                check_cancel()
                step = owner.get(index)
                name = (
                    step["id"] if step else ("header" if index in header else current or "header")
                )
                if name != current:
                    close_step("ok")
                    open_step(name)
                cell_start = time.perf_counter()
                try:
                    if index in params_by_cell and index in header and language_r:
                        await _run_r_header(scratch, cell, index, header[index], spec, overrides)
                    elif index in params_by_cell and index in header:
                        cell.outputs = []
                        source = header[index]["source"]
                        lines = source.splitlines(True)
                        for first, last, names in scripts.header_chunks(
                            source, params_by_cell[index]
                        ):
                            text = "\n" * (first - 1) + "".join(lines[first - 1 : last])
                            chunk = nbformat.v4.new_code_cell(text)
                            try:
                                await scratch(chunk, index)
                            finally:
                                cell.outputs.extend(chunk.outputs)
                            if names:
                                await hidden(
                                    "".join(f"{n} = __naavre_params__[{n!r}]\n" for n in names)
                                )
                    else:
                        await client.async_execute_cell(cell, index)
                except CellExecutionError:
                    summary_text, tb, line = _cell_error(cell)
                    line = await error_line() or line
                    errors.append(
                        {
                            "kind": "cell-error",
                            "step": name,
                            "cell_index": index,
                            "line": line,
                            "exception": summary_text,
                            "traceback": tb,
                            "where": f"step {name}",
                            "message": f"step {name} failed in cell {index}"
                            + (f", line {line}" if line else "")
                            + f": {summary_text}",
                        }
                    )
                    cells.append(_cell_record(index, name, cell, cell_start))
                    close_step("failed")
                    status = "failed"
                    break
                cells.append(_cell_record(index, name, cell, cell_start))
                if step is not None:
                    printed[str(index)] = _printed(cell)
                if step is not None and last_cell[step["id"]] == index and step.get("outputs"):
                    step_dir = Path(tmp.name) / str(index)
                    step_dir.mkdir()
                    try:
                        await hidden(
                            r_scripts.kernel_trace_source(step["outputs"], str(step_dir))
                            if language_r
                            else f"__naavre_trace__({step['outputs']!r}, {str(step_dir)!r})"
                        )
                        snapshot = json.loads((step_dir / "index.json").read_text(encoding="utf-8"))
                    except CellExecutionError as exc:
                        # Writing the values failed in a way the transport did not foresee:
                        # said once per output, without the kernel's coloured traceback, the
                        # internal call or the temporary folder.
                        failure = f"{exc.ename}: {_ANSI.sub('', exc.evalue)}"
                        snapshot = {
                            var: {"defined": True, "type": "value", "error": failure}
                            for var in step["outputs"]
                        }
                    entry = trace.setdefault(step["id"], {})
                    for var, info in snapshot.items():
                        if "codec" in info:
                            try:
                                entry[var] = _load_value(step_dir / var)
                            except transport.ValueFileError as exc:
                                info = {"defined": True, "type": info["codec"], "error": str(exc)}
                        if "codec" not in info and info.get("defined"):
                            not_json.append(
                                {
                                    "step": step["id"],
                                    "variable": var,
                                    "type": info["type"],
                                    "error": info["error"],
                                    **{k: info[k] for k in ("path", "reason") if k in info},
                                }
                            )
            close_step("ok")
    except Exception as exc:
        if cancel.cancelled:  # whatever the kernel's death raised on its way out
            status = "cancelled"
            close_step("cancelled")
        elif not isinstance(exc, DeadKernelError):
            raise
        else:
            status = "failed"
            errors.append(
                {
                    "kind": "kernel-died",
                    "message": f"the kernel died ({exc})",
                    "where": f"step {current}",
                }
            )
            close_step("failed")
    finally:
        cancel._remove_callback(on_cancel)
        # nbclient unregisters its atexit clean-up only when the kernel started; never leave it.
        atexit.unregister(client._cleanup_kernel)
        tmp.cleanup()
    wall = time.perf_counter() - started
    for item in not_json:
        warnings.append(_not_passable_warning(item))
    _emit(progress, "run-finished", context="notebook", status=status, seconds=round(wall, 4))
    return {
        "context": "notebook",
        "status": status,
        "notebook": str(notebook_path),
        "kernel": kernel_name,
        "parameters": values,
        "steps": summary,
        "timings": timings.section_timings(spec, "notebook", summary, trace, values, cells),
        "cells": cells,
        "wall_seconds": round(wall, 4),
        "trace": trace,
        "printed": printed,
        "not_json": not_json,
        "errors": errors,
        "warnings": warnings,
    }


async def _run_r_header(
    scratch: Callable[[NotebookNode, int], Any],
    cell: NotebookNode,
    index: int,
    ref: dict[str, Any],
    spec: dict[str, Any],
    overrides: dict[str, Any],
) -> None:
    """An R header cell with parameter overrides: R's parser cuts it into expressions and each
    parameter takes its run value, in its R type, right after its assignment (as in the step
    scripts); the cell's outputs are what that run printed."""
    kinds = {p["name"]: p.get("type") for p in spec.get("parameters", [])}
    texts = {
        p["name"]: format_parameter(overrides[p["name"]], kinds.get(p["name"]))
        for p in spec.get("parameters", [])
        if p["name"] in overrides and p.get("cell_index") == index
    }
    source = r_scripts.kernel_header_source(scripts.notebook_file_name(spec), ref, texts)
    chunk = nbformat.v4.new_code_cell(source)
    cell.outputs = []
    try:
        await scratch(chunk, index)
    finally:
        cell.outputs.extend(chunk.outputs)


def _not_passable_warning(item: dict[str, Any]) -> str:
    """The notebook context's warning for a value that cannot cross a step boundary: the same
    one sentence (variable, type, where inside it, why) and hint the workflow step fails with."""
    if "reason" in item:
        exc = transport.NotPassableError(item.get("path", ""), item["type"], item["reason"])
        record = step_runtime._not_passable(exc, item["variable"], item["step"]).record
        return f"{record['message']}; {record['hint']}"
    # A value file the kernel wrote that cannot be read back here (ValueFileError), or writing
    # it failed in the kernel in a way the transport did not foresee.
    return (
        f"step {item['step']}: variable {item['variable']} could not be passed on for the "
        f"comparison ({item['error']})"
    )


def _cell_record(index: int, step: str, cell: NotebookNode, start: float) -> dict[str, Any]:
    return {
        "index": index,
        "step": step,
        "execution_count": cell.get("execution_count"),
        "outputs": json.loads(json.dumps(cell.get("outputs", []))),
        "seconds": round(time.perf_counter() - start, 4),
    }


# -- both ----------------------------------------------------------------------------------------


def run(
    notebook_path: str | Path,
    context: str = "both",
    parameters: Mapping[str, Any] | None = None,
    *,
    spec: dict[str, Any] | None = None,
    nb: NotebookNode | None = None,
    parallelism: int | None = None,
    kernel: str | None = None,
    runs_dir: str | Path | None = None,
    run_id: str | None = None,
    progress: Progress | None = None,
    cancel: CancelHandle | None = None,
    root: str | Path | None = None,
    reuse_store: bool = False,
    resume: str | None = None,
    reuse_limit: int | None = None,
) -> dict[str, Any]:
    """Analyse, then run in ``notebook``, ``workflow`` or ``both`` contexts (and compare).

    Raises :class:`RunError` before anything executes when the notebook has analysis errors, a
    parameter override is unknown or the runs folder cannot be created (see
    :func:`check_runs_folder`; with ``root``, it must resolve inside it). The result's ``status`` is ``ok`` only when every run succeeded
    and, for ``both``, the comparison found the same values.

    ``reuse_store``, ``resume`` and ``reuse_limit`` go to :func:`run_workflow`; with ``resume``
    the run's parameters are those of the run resumed, ``parameters`` applied over them.
    """
    if context not in ("notebook", "workflow", "both"):
        raise RunError(f"unknown context {context!r}", "use notebook, workflow or both")
    path = Path(notebook_path)
    if nb is None:
        from ..core.notebook import load_notebook

        nb = load_notebook(path)
    if spec is None:
        from ..core.spec import build_spec

        spec = build_spec(nb, str(path))
    if spec.get("summary", {}).get("errors"):
        raise RunError(
            "the notebook has analysis errors; nothing was run",
            "fix them and run again",
            diagnostics=[d for d in spec.get("diagnostics", [])],
        )
    overrides = dict(parameters or {})
    check_parameters(spec, overrides)
    if resume and context not in ("workflow", "both"):
        raise RunError(
            f"--resume applies to the workflow context, not {context}",
            "resume with --context workflow or both",
        )
    with contextlib.ExitStack() as opened:
        runs: SafeFolder | None = None
        if context in ("workflow", "both"):  # before the notebook context spends its minutes
            real = check_runs_folder(path, runs_dir, root)
            if resume:
                overrides = {**_resumed_parameters(spec, real, resume), **overrides}
            # opened now and kept: a rename during the notebook context cannot redirect it
            runs = opened.enter_context(_open_checked(real, _shown(real, root), root))
        cancel = cancel or CancelHandle()
        result: dict[str, Any] = {"notebook": str(path), "context": context}
        if context in ("notebook", "both"):
            result["notebook_run"] = run_notebook(
                spec, nb, path, overrides, kernel=kernel, progress=progress, cancel=cancel
            )
        if runs is not None and not cancel.cancelled:
            result["workflow_run"] = run_workflow(
                spec,
                path,
                overrides,
                parallelism=parallelism,
                runs_dir=runs,
                run_id=run_id,
                progress=progress,
                cancel=cancel,
                reuse_store=reuse_store,
                resume=resume,
                reuse_limit=reuse_limit,
            )
        if runs is not None and "notebook_run" in result and "workflow_run" in result:
            timings.save_run_measurement(result["workflow_run"], result["notebook_run"], runs)
    return conclude(spec, result, cancel, compare_runs=context == "both")


def _resumed_parameters(spec: dict[str, Any], runs_dir: Path, run_id: str) -> dict[str, Any]:
    """The parameter values of the run to resume that the notebook still declares."""
    try:
        used = reuse.RunIndex.open(runs_dir, run_id).parameters() or {}
    except reuse.ReuseError as exc:
        raise RunError(exc.message, exc.hint) from None
    declared = {p["name"] for p in spec.get("parameters", [])}
    return {name: value for name, value in used.items() if name in declared}


def conclude(
    spec: dict[str, Any], result: dict[str, Any], cancel: CancelHandle, compare_runs: bool
) -> dict[str, Any]:
    """A run's ``status`` from its contexts' (``cancelled`` over ``failed`` over ``ok``), the
    comparison of both contexts when asked (``different`` when they differ), and every value in its
    JSON view. One ending for the local workflow context and the CWL engine."""
    statuses = [result[k]["status"] for k in ("notebook_run", "workflow_run") if k in result]
    status = "ok"
    for s in ("cancelled", "failed"):
        if s in statuses:
            status = s
            break
    if cancel.cancelled:
        status = "cancelled"
    if compare_runs and "notebook_run" in result and "workflow_run" in result:
        comparison = compare.compare_traces(spec, result["notebook_run"], result["workflow_run"])
        result["comparison"] = compare.comparison_for_json(comparison)
        if status == "ok" and not comparison["same"]:
            status = "different"
    for key in ("notebook_run", "workflow_run"):
        if key in result:
            result[key] = readable_result(result[key])
    result["status"] = status
    return result
