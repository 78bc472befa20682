"""Run the CWL export with cwltool and read its result back: ``naavre-batch run --context cwl``.

The notebook is exported (:mod:`naavre_batch_ext.exporters.cwl`) into a temporary folder with a job file
holding the run's parameters, and ``cwltool --no-container --parallel`` runs it: the reference CWL
engine, on this machine, with the step scripts' ``python3`` taken from the Python running this
(its folder is put first on ``PATH``), so the same packages are there as in workflow context.

The result dict has the shape of :func:`naavre_batch_ext.engines.runner.run_workflow`'s (``context`` is
``cwl``), with a ``trace`` built from cwltool's output ``File``s read with
:mod:`naavre_batch_ext.steps.transport`, so :func:`naavre_batch_ext.engines.compare.compare_traces` compares it
with the notebook context exactly as ``--context both`` compares the workflow context.

cwltool is optional (the ``naavre-batch-ext[cwl]`` extra): :func:`cwltool_command` finds it, and
:class:`CwlUnavailableError` says how to install it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from ..exporters import r_export
from ..exporters.argo import parameter_value
from ..exporters.cwl import (
    ERROR_FILE,
    INPUTS_DIR,
    OUTPUTS_DIR,
    PRINTED_FILE,
    SCRIPT_NAME,
    cwl_id,
    cwl_parameter,
    export_cwl,
    workflow_outputs,
)
from ..steps import scripts, transport
from .runner import (
    CancelHandle,
    Progress,
    RunError,
    check_parameters,
    conclude,
    joiner,
    run_notebook,
)

__all__ = [
    "CWL_EXTRA",
    "CwlUnavailableError",
    "cwltool_command",
    "job_values",
    "run",
    "run_cwl",
]

CWL_EXTRA = "naavre-batch-ext[cwl]"
"""The optional dependency that brings cwltool."""

LOG_TAIL_CHARS = 4000
"""How much of cwltool's log a failure record carries (the run folder may be gone)."""

_STEP_LINE = re.compile(r"\[step ([^\]]+)\] (start|completed (\w+))")
_JOB_LINE = re.compile(r"\[job ([^\]]+)\] (?:(/\S+)\$ |completed (\w+))")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SCRIPT_HEAD = re.compile(r"^# The task (\S+) \((\w+)\): header", re.MULTILINE)
"""The line :func:`naavre_batch_ext.steps.scripts.task_payload_text` opens a task's own part with."""


class CwlUnavailableError(RunError):
    """cwltool is not installed: the message names the extra to install."""


def cwltool_command(python: str | None = None) -> list[str]:
    """How to start cwltool: the ``cwltool`` beside ``python`` (default: this interpreter), on
    ``PATH``, or ``python -m cwltool``. Raises :class:`CwlUnavailableError` when none is there.
    """
    python = python or sys.executable
    beside = Path(python).parent / "cwltool"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("cwltool")
    if found:
        return [found]
    import importlib.util

    if importlib.util.find_spec("cwltool") is not None:
        return [python, "-m", "cwltool"]
    raise CwlUnavailableError(
        "cwltool is not installed, so the CWL export cannot run here",
        f"install the optional engine: pip install '{CWL_EXTRA}' (or pip install cwltool)",
    )


def job_values(spec: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The CWL job: every parameter's value in its workflow input's form (:func:`cwl_parameter`).

    Defaults for what is not overridden; an override of a parameter carried as JSON text (a list,
    a dict, a ``None`` default) is written as the text ``naavre-batch run -p`` would take.
    """
    job: dict[str, Any] = {}
    for param in spec.get("parameters", []):
        name, key = param["name"], cwl_id(param["name"])
        cwl_type, default = cwl_parameter(param)
        if name not in overrides:
            job[key] = default
            continue
        value = overrides[name]
        if cwl_type.startswith("string") and param.get("type") != "str":
            job[key] = parameter_value(value, None)
        else:
            job[key] = value
    return job


def _load(path: str) -> Any:
    """A value file as the next step saw it (header classes as stand-ins, as the workflow
    context loads its trace: runner._load_value)."""
    return transport.load(path, stub_missing=True)


def _tail(text: str, limit: int = LOG_TAIL_CHARS) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def _trace(
    spec: dict[str, Any], tasks: list[scripts.Task], files: dict[str, list[str]]
) -> dict[str, dict[str, Any]]:
    """What each step handed on, as the next step saw it (as runner._record_trace records it):
    the split variable as the concatenation of the batches, processor outputs merged in batch
    order, everything else whole."""
    steps_by_id = {s["id"]: s for s in spec["steps"]}
    values: dict[str, dict[str, Any]] = {}
    for output_id, ref in workflow_outputs(spec).items():
        if ref.name == scripts.RESERVED_BATCH_COUNT:  # text, and the batches say it
            continue
        loaded = [_load(p) for p in files.get(output_id, [])]
        values.setdefault(ref.task, {})[ref.name] = loaded if ref.many else loaded[0]
    trace: dict[str, dict[str, Any]] = {}
    for task in tasks:
        outputs = values.get(task.id, {})
        if task.kind == "processors":
            results = outputs[scripts.RESERVED_RESULT]
            for name in task.merged:
                step = task.merged_steps.get(name, task.steps[-1])
                trace.setdefault(step, {})[name] = joiner(results)(results, ("outputs", name))
            continue
        for step_id in task.steps:
            entry = trace.setdefault(step_id, {})
            for name in steps_by_id[step_id].get("outputs", []):
                if task.kind == "splitter" and name == task.split_variable:
                    batches = outputs[scripts.RESERVED_BATCHES]
                    entry[name] = joiner(batches)(batches, ("items",))
                elif name in outputs:
                    entry[name] = outputs[name]
    return trace


def _output_paths(outputs: Mapping[str, Any]) -> dict[str, list[str]]:
    """cwltool's output object (``{id: File | [File]}``) as ``{id: [path, ...]}``, in order."""
    paths: dict[str, list[str]] = {}
    for key, value in outputs.items():
        items = value if isinstance(value, list) else [value]
        paths[key] = [item["path"] for item in items if isinstance(item, dict) and "path" in item]
    return paths


def _failures(jobs: Path, tasks: list[scripts.Task], log: str) -> list[dict[str, Any]]:
    """The failure records the step scripts left in their job folders (``NAAVRE_ERROR_FILE``),
    each located like the workflow context's: task, instance, batch and its item range."""
    by_id = {t.id: t for t in tasks}
    errors: list[dict[str, Any]] = []
    for error_file in sorted(jobs.glob(f"*/{ERROR_FILE}")):
        folder = error_file.parent
        record: dict[str, Any] = json.loads(error_file.read_text(encoding="utf-8"))
        task = _job_task(folder, by_id)
        if task is None:
            continue
        record.setdefault("step", task.steps[0])
        record["task"] = task.id
        record["folder"] = str(folder)
        where = f"task {task.id}"
        batch_file = folder / INPUTS_DIR / "naavre-batch"
        batch = record.get("batch")
        if task.kind == "processors" and batch is None and batch_file.exists():
            batch = _load(str(batch_file))
        if task.kind == "processors" and isinstance(batch, dict):
            start, stop = batch.get("start"), batch.get("stop")
            record["batch"] = {"index": batch["index"], "start": start, "stop": stop}
            record["instance"] = batch["index"]
            where += f", batch {batch['index']}"
            if start is not None and stop is not None:
                items = f"items {start}..{stop - 1}" if stop > start else "no items"
                where += f" ({items} of {task.split_variable})"
        else:
            record["instance"] = 0
        record["where"] = where
        errors.append(record)
    if not errors and log:
        errors.append(
            {
                "kind": "engine",
                "step": "",
                "message": "cwltool failed before or around the steps (no step reported an "
                "error); see its log",
                "where": "cwltool",
                "traceback": _tail(log),
            }
        )
    return sorted(errors, key=lambda e: (e.get("task", ""), e.get("instance", 0)))


def _job_task(folder: Path, by_id: Mapping[str, scripts.Task]) -> scripts.Task | None:
    """The task a job folder ran, from the line that opens its script's own part (after the
    runtime, which every script shares)."""
    try:
        head = (folder / SCRIPT_NAME).read_text(encoding="utf-8")
    except OSError:
        try:  # an R notebook's step script
            head = (folder / r_export.CWL_SCRIPT_NAME).read_text(encoding="utf-8")
        except OSError:
            return None
    match = _SCRIPT_HEAD.search(head)
    return by_id.get(match.group(1)) if match else None


def _printed(jobs: Path, tasks: list[scripts.Task]) -> dict[str, str]:
    """What each step cell printed (``{cell index: text}``), gathered from the jobs' printed files
    in task order and batch order, as the workflow context gathers its instances'."""
    by_id = {t.id: t for t in tasks}
    order = {t.id: i for i, t in enumerate(tasks)}
    # An R batch is an rds value Python cannot read: its index is the name of the splitter's batch
    # file with the same bytes (the splitter's job folder keeps them: --copy-outputs).
    index_of_bytes = {
        hashlib.sha256(f.read_bytes()).digest(): int(f.name)
        for f in jobs.glob(f"*/{OUTPUTS_DIR}/{scripts.RESERVED_BATCHES}/*")
        if f.name.isdigit()
    }
    found: list[tuple[int, int, dict[str, str]]] = []
    for path in jobs.glob(f"*/{PRINTED_FILE}"):
        task = _job_task(path.parent, by_id)
        if task is None:
            continue
        index = 0
        batch_file = path.parent / INPUTS_DIR / "naavre-batch"
        if task.kind == "processors" and batch_file.exists():
            batch = _load(str(batch_file))
            index = (
                batch["index"]
                if isinstance(batch, dict)
                else index_of_bytes.get(hashlib.sha256(batch_file.read_bytes()).digest(), 0)
            )
        found.append((order[task.id], index, json.loads(path.read_text(encoding="utf-8"))))
    printed: dict[str, str] = {}
    for _, _, texts in sorted(found, key=lambda f: (f[0], f[1])):
        printed.update(texts)
    return printed


class _LogWatcher:
    """Reads cwltool's log as it runs: keeps it, and turns its step and job lines into the
    runner's progress events (task-started, instance-finished, task-finished)."""

    def __init__(self, tasks: list[scripts.Task], progress: Progress | None) -> None:
        self.tasks = {t.id: t for t in tasks}
        self.progress = progress
        self.lines: list[str] = []
        self.started: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.status: dict[str, str] = {}
        self.jobs: dict[str, list[str]] = {}  # task -> job statuses
        self.job_dirs: dict[str, str] = {}
        self.job_started: dict[str, float] = {}

    def _emit(self, event: str, **fields: Any) -> None:
        if self.progress is not None:
            self.progress({"event": event, "context": "cwl", **fields})

    def _task_of_job(self, job: str) -> str | None:
        if job in self.tasks:
            return job
        base, _, number = job.rpartition("_")
        return base if base in self.tasks and number.isdigit() else None

    def _instances(self, task_id: str) -> int:
        task = self.tasks[task_id]
        if task.kind != "processors" or task.splitter is None:
            return 1
        folder = self.job_dirs.get(task.splitter)
        if folder:
            batches = Path(folder) / "naavre-outputs" / scripts.RESERVED_BATCHES
            if batches.is_dir():
                return len(list(batches.iterdir()))
        return 1

    def feed(self, stream: IO[str]) -> None:
        for raw in stream:
            line = _ANSI.sub("", raw)
            self.lines.append(line)
            step = _STEP_LINE.search(line)
            if step and step.group(1) in self.tasks:
                task_id = step.group(1)
                if step.group(2) == "start":
                    if task_id in self.started:  # cwltool says it once per scattered job
                        continue
                    self.started[task_id] = time.perf_counter()
                    self.jobs[task_id] = []
                    instances = self._instances(task_id)
                    self._emit("task-started", task=task_id, instances=instances)
                else:
                    status = "ok" if step.group(3) == "success" else "failed"
                    self.status[task_id] = status
                    seconds = time.perf_counter() - self.started.get(task_id, time.perf_counter())
                    self.wall[task_id] = seconds
                    failed = sum(1 for s in self.jobs.get(task_id, []) if s != "ok")
                    self._emit(
                        "task-finished",
                        task=task_id,
                        status=status,
                        seconds=round(seconds, 4),
                        failed=failed,
                    )
                continue
            job = _JOB_LINE.search(line)
            if job:
                task_id = self._task_of_job(job.group(1))
                if task_id is None:
                    continue
                if job.group(2):
                    self.job_dirs[task_id] = job.group(2)
                    self.job_started[job.group(1)] = time.perf_counter()
                elif job.group(3):
                    began = self.job_started.pop(job.group(1), None)
                    seconds = time.perf_counter() - began if began is not None else 0.0
                    done = self.jobs.setdefault(task_id, [])
                    done.append("ok" if job.group(3) == "success" else "failed")
                    instances = max(self._instances(task_id), len(done))
                    self._emit(
                        "instance-finished",
                        task=task_id,
                        instance=len(done) - 1,
                        instances=instances,
                        done=len(done),
                        status=done[-1],
                        seconds=round(seconds, 4),
                    )

    @property
    def text(self) -> str:
        return "".join(self.lines)


def run_cwl(
    spec: dict[str, Any],
    notebook_path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    progress: Progress | None = None,
    cancel: CancelHandle | None = None,
    python: str = sys.executable,
    keep: bool | None = None,
    extra_args: list[str] | None = None,
) -> dict[str, Any]:
    """Export the spec to a temporary folder and run it with ``cwltool --no-container --parallel``.

    Returns a result dict like :func:`~naavre_batch_ext.engines.runner.run_workflow`'s (``context``:
    ``cwl``; ``folder``: the temporary folder, kept when the run failed, ``keep`` decides
    otherwise; ``command``: cwltool's command line). Failed instances are reported from the
    failure records their scripts left, with the task and batch, as the workflow context does.
    """
    overrides = dict(parameters or {})
    check_parameters(spec, overrides)
    command = cwltool_command(python)
    cancel = cancel or CancelHandle()
    notebook_path = Path(notebook_path).resolve()
    tasks = scripts.plan_tasks(spec)
    folder = Path(tempfile.mkdtemp(prefix="naavre-cwl-"))
    stem = notebook_path.stem
    document = folder / f"{stem}.cwl"
    job = folder / f"{stem}.job.json"
    document.write_text(export_cwl(spec), encoding="utf-8")
    job.write_text(json.dumps(job_values(spec, overrides)), encoding="utf-8")
    for sub in ("jobs", "tmp", "out"):
        (folder / sub).mkdir()
    argv = [
        *command,
        "--no-container",
        "--parallel",
        "--on-error",
        "continue",  # the other batches finish, as in workflow context
        "--disable-color",
        "--no-compute-checksum",
        "--copy-outputs",  # the jobs' folders stay whole: failure records, staged batches
        "--leave-tmpdir",
        "--tmp-outdir-prefix",
        f"{folder / 'jobs'}/",
        "--tmpdir-prefix",
        f"{folder / 'tmp'}/",
        "--outdir",
        str(folder / "out"),
        *(extra_args or []),
        str(document),
        str(job),
    ]
    env = dict(os.environ)
    env["PATH"] = str(Path(python).parent) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONPATH", None)  # the step scripts need nothing but the standard library
    started = time.perf_counter()
    values = {p["name"]: p["default"] for p in spec.get("parameters", [])}
    values.update(overrides)
    _emitter = _LogWatcher(tasks, progress)
    _emitter._emit("run-started", folder=str(folder), tasks=[t.id for t in tasks])
    proc = subprocess.Popen(
        argv,
        cwd=str(folder),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,  # cancel() stops cwltool and every step it started
    )
    cancel._add_process(proc)  # type: ignore[arg-type]
    try:
        assert proc.stderr is not None and proc.stdout is not None
        reader = threading.Thread(target=_emitter.feed, args=(proc.stderr,), daemon=True)
        reader.start()
        stdout = proc.stdout.read()
        code = proc.wait()
        reader.join()
    finally:
        cancel._remove_process(proc)  # type: ignore[arg-type]
    wall = time.perf_counter() - started
    log = _emitter.text
    status = "ok" if code == 0 else "failed"
    if cancel.cancelled:
        status = "cancelled"
    trace: dict[str, dict[str, Any]] = {}
    errors: list[dict[str, Any]] = []
    if status == "ok":
        outputs = json.loads(stdout)
        trace = _trace(spec, tasks, _output_paths(outputs))
    elif status == "failed":
        errors = _failures(folder / "jobs", tasks, log)
        for error in errors:
            error.setdefault("cwltool_log", _tail(log))
    printed = _printed(folder / "jobs", tasks)
    failed: dict[str, list[int]] = {}
    for error in errors:
        failed.setdefault(error.get("task", ""), []).append(error.get("instance", 0))
    summary: list[dict[str, Any]] = []
    for task in tasks:
        count = len(_emitter.jobs.get(task.id, []))
        summary.append(
            {
                "task": task.id,
                "kind": task.kind,
                "steps": list(task.steps),
                "instances": count,
                "failed": sorted(failed.get(task.id, [])),
                "status": _emitter.status.get(task.id, "not run"),
                "wall_seconds": round(_emitter.wall.get(task.id, 0.0), 4),
            }
        )
        for error in errors:
            if error.get("task") == task.id:
                error["instances"] = max(count, 1)
    result = {
        "context": "cwl",
        "status": status,
        "notebook": str(notebook_path),
        "folder": str(folder),
        "command": argv,
        "parameters": values,
        "tasks": [t.to_dict() for t in tasks],
        "steps": summary,
        "wall_seconds": round(wall, 4),
        "trace": trace,
        "printed": printed,
        "errors": errors,
        "warnings": [],
        "log": _tail(log),
    }
    if keep is None:
        keep = status != "ok"
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
        result["folder"] = None
    _emitter._emit("run-finished", status=status, seconds=round(wall, 4))
    return result


def run(
    notebook_path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    spec: dict[str, Any],
    nb: Any,
    kernel: str | None = None,
    progress: Progress | None = None,
    cancel: CancelHandle | None = None,
) -> dict[str, Any]:
    """Notebook context, then the CWL run, then the comparison: ``--context both`` with cwltool
    as the workflow engine. The CWL run's dict is ``workflow_run`` (``context: "cwl"``), so the
    CLI and clients print it as they print the workflow context."""
    overrides = dict(parameters or {})
    check_parameters(spec, overrides)
    cwltool_command()  # before the notebook runs: a missing engine is said at once
    cancel = cancel or CancelHandle()
    path = Path(notebook_path)
    result: dict[str, Any] = {"notebook": str(path), "context": "cwl"}
    result["notebook_run"] = run_notebook(
        spec, nb, path, overrides, kernel=kernel, progress=progress, cancel=cancel
    )
    if not cancel.cancelled:
        result["workflow_run"] = run_cwl(spec, path, overrides, progress=progress, cancel=cancel)
    return conclude(spec, result, cancel, compare_runs=True)
