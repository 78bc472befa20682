"""Background runs for the REST API: ids, a concurrency limit, live progress, cancellation, cleanup.

The runner (:func:`naavre_batch_ext.engines.runner.run`) blocks until a run ends, so each run gets its own
daemon thread here and the server's event loop only ever reads snapshots. Progress events from the
runner are folded into a per-context, per-task, per-instance view that ``GET runs/<id>`` returns
while the run goes on. Cancelling goes through the runner's :class:`~naavre_batch_ext.engines.runner.CancelHandle`,
which kills every step process group and shuts the kernel down.

Runs live in memory only (the run folders ``.naavre-batch/runs/<id>/`` stay on disk); a run
survives the browser closing, and :meth:`RunManager.shutdown` (called when the server stops, and
at interpreter exit as a last resort) cancels whatever is still going. No tornado import, so the
manager is tested without a server.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from .engines import runner

__all__ = [
    "ACTIVE",
    "ManagerClosedError",
    "Run",
    "RunManager",
    "RunRequest",
    "TooManyRunsError",
    "UnknownRunError",
]

ACTIVE = ("queued", "running")
"""Statuses of a run that is not over; the other statuses are ``succeeded``, ``failed``, ``cancelled``."""

_STATUS_OF_OUTCOME = {
    "ok": "succeeded",
    "cancelled": "cancelled",
    "failed": "failed",
    "different": "failed",
}
"""The runner's verdict to the run's final status: results that differ between the notebook and
the workflow are a failure of the workflow (the CLI exits 1 for them too); ``outcome`` keeps why."""

_KEPT_RESULT_KEYS = (
    "context",
    "status",
    "kernel",
    "run_id",
    "folder",
    "parameters",
    "parallelism",
    "steps",
    "wall_seconds",
    "errors",
    "warnings",
    "reuse",
)
"""What a finished context's result keeps: the traces and cell outputs can be large and are in
``result.json`` of the run folder (workflow context), so they are not held in memory."""

RunFunction = Callable[..., dict[str, Any]]


class TooManyRunsError(RuntimeError):
    """As many runs as the limit are going already."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"{limit} run{'s' * (limit != 1)} already going, the limit of this server")


class UnknownRunError(KeyError):
    """No run has this id (never started, or forgotten after ``max_kept`` newer runs)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(run_id)


class ManagerClosedError(RuntimeError):
    """The server is stopping; no new run starts."""


@dataclass(frozen=True)
class RunRequest:
    """What to run: a notebook already loaded and analysed (errors were refused by the caller).

    ``notebook_path`` is the file on disk (the runner works in its folder); ``display_path`` is the
    path the client knows it by (relative to the server root), the one every answer shows.
    """

    notebook_path: Path
    display_path: str
    context: str
    parameters: Mapping[str, Any]
    spec: dict[str, Any]
    nb: NotebookNode
    runs_dir: Path | None = None
    """Where run folders go (checked by the caller); ``None``: ``.naavre-batch/runs`` beside it."""
    runs_root: Path | None = None
    """The folder run folders must resolve inside: the configured runs folder
    (``c.NaavreBatch.runs_dir``), or ``None`` for the server root."""
    reuse: bool = False
    """Take unchanged task instances from the runs folder's reuse store (``"reuse": true``)."""
    resume: str | None = None
    """Run again only the failed or missing instances of this earlier run (``"resume"``)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Run:
    """One run: its request, its lifecycle, and what the runner reported so far.

    Mutated by the run's thread (through :meth:`on_event` and the manager) and read by the server
    thread through :meth:`snapshot`; every access holds ``_lock``.
    """

    id: str
    request: RunRequest
    root: Path | None = None
    status: str = "queued"
    outcome: str | None = None
    created: str = field(default_factory=_now)
    started: str | None = None
    finished: str | None = None
    cancel_handle: runner.CancelHandle = field(default_factory=runner.CancelHandle)
    cancel_reason: str | None = None
    progress: dict[str, dict[str, Any]] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _start_clock: float = 0.0
    _seconds: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        contexts = (
            ["notebook", "workflow"] if self.request.context == "both" else [self.request.context]
        )
        for name in contexts:
            self.progress[name] = {"status": "pending", "seconds": None, "tasks": []}

    # -- state ---------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the run reached ``succeeded``, ``failed`` or ``cancelled``."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run is over (or ``timeout`` seconds); True if it is over."""
        return self._done.wait(timeout)

    def _relative(self, value: Any) -> Any:
        """An absolute path under the server root as a root-relative path (what clients know)."""
        if self.root is None or not isinstance(value, str) or not value.startswith("/"):
            return value
        try:
            return Path(value).relative_to(self.root).as_posix()
        except ValueError:
            return value

    def _relative_fields(self, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: self._relative(v) if k in ("folder", "notebook") else self._relative_fields(v)
                for k, v in data.items()
            }
        if isinstance(data, list):
            return [self._relative_fields(v) for v in data]
        return data

    # -- progress (runner callback, run thread) --------------------------------------------------

    def on_event(self, event: dict[str, Any]) -> None:
        """The runner's ``progress`` callback: fold one event into the live view."""
        with self._lock:
            context = self.progress.setdefault(
                str(event.get("context")), {"status": "pending", "seconds": None, "tasks": []}
            )
            kind = event.get("event")
            if kind == "run-started":
                context["status"] = "running"
                context["tasks"] = [_new_task(t) for t in event.get("tasks", [])]
                for key in ("kernel", "run_id"):
                    if event.get(key):
                        context[key] = event[key]
                if event.get("folder"):
                    context["folder"] = self._relative(event["folder"])
            elif kind == "task-started":
                task = _find_task(context, event["task"])
                task.update(
                    status="running",
                    instances=event.get("instances"),
                    done=0,
                    failed=0,
                    reused=0,
                    seconds=None,
                    instance_status=[],
                )
                if event.get("kind"):
                    task["kind"] = event["kind"]
            elif kind == "instance-finished":
                task = _find_task(context, event["task"])
                task["done"] = event.get("done", task["done"] + 1)
                if event.get("status") == "failed":
                    task["failed"] += 1
                if event.get("reused"):
                    task["reused"] = task.get("reused", 0) + 1
                task["instance_status"].append(
                    {
                        "instance": event.get("instance"),
                        "status": event.get("status"),
                        "seconds": event.get("seconds"),
                        "reused": bool(event.get("reused")),
                    }
                )
                task["instance_status"].sort(
                    key=lambda i: i["instance"] if i["instance"] is not None else -1
                )
            elif kind == "instance-progress":  # a tqdm bar inside a running instance
                task = _find_task(context, event["task"])
                bars = task.setdefault("instance_progress", {})
                bars[str(event.get("instance"))] = {
                    "n": event.get("n"),
                    "total": event.get("total"),
                }
            elif kind == "task-finished":
                task = _find_task(context, event["task"])
                task.update(status=event.get("status"), seconds=event.get("seconds"))
                if "failed" in event:
                    task["failed"] = event["failed"]
            elif kind == "run-finished":
                context["status"] = event.get("status")
                context["seconds"] = event.get("seconds")

    # -- views (server thread) -------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The short form ``GET runs`` lists."""
        with self._lock:
            return self._summary()

    def _summary(self) -> dict[str, Any]:
        seconds = self._seconds
        if seconds is None and self.started is not None:
            seconds = time.monotonic() - self._start_clock
        return {
            "id": self.id,
            "path": self.request.display_path,
            "context": self.request.context,
            "status": self.status,
            "outcome": self.outcome,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "seconds": round(seconds, 3) if seconds is not None else None,
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything ``GET runs/<id>`` returns: status, live progress, and once over, the
        per-step timings, the comparison and the errors (with cell locations)."""
        import copy

        with self._lock:
            data = self._summary()
            data.update(
                parameters=dict(self.request.parameters),
                cancel_reason=self.cancel_reason,
                progress=copy.deepcopy(self.progress),
                comparison=copy.deepcopy(self.comparison),
                errors=copy.deepcopy(self.errors),
                warnings=list(self.warnings),
                result=copy.deepcopy(self.result),
            )
        return data

    # -- lifecycle (run thread) ------------------------------------------------------------------

    def _mark_started(self) -> None:
        with self._lock:
            self.status = "running"
            self.started = _now()
            self._start_clock = time.monotonic()

    def _finish(
        self,
        outcome: str,
        result: dict[str, Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        with self._lock:
            self.outcome = outcome
            self.status = _STATUS_OF_OUTCOME.get(outcome, "failed")
            if self.cancel_reason is not None and self.status != "succeeded":  # asked to stop
                self.status = "cancelled"
            self.finished = _now()
            self._seconds = time.monotonic() - self._start_clock if self.started else 0.0
            if result is not None:
                self.result = {}
                for key in ("notebook_run", "workflow_run"):
                    if key in result:
                        part = {k: result[key][k] for k in _KEPT_RESULT_KEYS if k in result[key]}
                        self.result[key] = self._relative_fields(part)
                        for error in part.get("errors", []):
                            self.errors.append(
                                self._relative_fields({**error, "context": part["context"]})
                            )
                        self.warnings.extend(part.get("warnings", []))
                self.comparison = result.get("comparison")
            self.errors.extend(errors or [])
            for context in self.progress.values():
                if context["status"] in ("pending", "running"):
                    context["status"] = "cancelled" if self.status == "cancelled" else "not-run"
        self._done.set()


def _new_task(name: str) -> dict[str, Any]:
    return {
        "task": name,
        "status": "pending",
        "instances": None,
        "done": 0,
        "failed": 0,
        "seconds": None,
        "instance_status": [],
    }


def _find_task(context: dict[str, Any], name: str) -> dict[str, Any]:
    for task in context["tasks"]:
        if task["task"] == name:
            return task
    task = _new_task(name)
    context["tasks"].append(task)
    return task


class RunManager:
    """Starts runs in background threads and keeps the recent ones for the REST API.

    ``run_function`` is :func:`naavre_batch_ext.engines.runner.run` (a stand-in in tests); it is called
    with the notebook path, the context, the parameters and the keyword arguments ``spec``,
    ``nb``, ``parallelism``, ``progress`` and ``cancel``.
    """

    def __init__(
        self,
        max_concurrent: int = 2,
        max_kept: int = 50,
        parallelism: int | None = None,
        root: str | Path | None = None,
        run_function: RunFunction | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.max_concurrent = max_concurrent
        self.max_kept = max_kept
        self.parallelism = parallelism or None
        self.root = Path(root).resolve() if root is not None else None
        self.run_function: RunFunction = run_function or runner.run
        self.log = log or logging.getLogger(__name__)
        self._runs: dict[str, Run] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._closed = False
        _LIVE.add(self)

    @property
    def active(self) -> list[Run]:
        """Runs not over yet, oldest first."""
        with self._lock:
            return [r for r in self._runs.values() if not r.done]

    def start(self, request: RunRequest) -> Run:
        """Start a run in its own thread and return it at once (status ``queued``).

        Raises :class:`TooManyRunsError` at the concurrency limit and :class:`ManagerClosedError`
        once :meth:`shutdown` began.
        """
        with self._lock:
            if self._closed:
                raise ManagerClosedError("the server is stopping; no new run can start")
            if sum(1 for r in self._runs.values() if not r.done) >= self.max_concurrent:
                raise TooManyRunsError(self.max_concurrent)
            run_id = runner.new_run_id()
            while run_id in self._runs:
                run_id = runner.new_run_id()
            run = Run(id=run_id, request=request, root=self.root)
            self._runs[run_id] = run
            thread = threading.Thread(
                target=self._execute, args=(run,), name=f"naavre-batch-run-{run_id}", daemon=True
            )
            self._threads[run_id] = thread
            self._forget_old()
        thread.start()
        return run

    def _forget_old(self) -> None:
        """Drop the oldest finished runs beyond ``max_kept`` (caller holds ``_lock``)."""
        finished = [r for r in self._runs.values() if r.done]
        for run in finished[: max(0, len(finished) - self.max_kept)]:
            del self._runs[run.id]
            self._threads.pop(run.id, None)

    def _execute(self, run: Run) -> None:
        """The run's thread: call the runner, then record the outcome; never raises."""
        request = run.request
        if run.cancel_handle.cancelled:
            run._finish("cancelled")
            return
        run._mark_started()
        try:
            result = self.run_function(
                request.notebook_path,
                request.context,
                dict(request.parameters),
                spec=request.spec,
                nb=request.nb,
                parallelism=self.parallelism,
                run_id=run.id,  # the REST id is also the run folder's name
                runs_dir=request.runs_dir,
                # every folder and file the run creates stays inside the root (or runs_dir)
                root=request.runs_root or self.root,
                progress=run.on_event,
                cancel=run.cancel_handle,
                **(
                    {"reuse_store": request.reuse, "resume": request.resume}
                    if request.reuse or request.resume
                    else {}
                ),
            )
        except runner.RunError as exc:
            error: dict[str, Any] = {"kind": "run-error", "message": exc.message, "hint": exc.hint}
            if exc.diagnostics:
                error["diagnostics"] = exc.diagnostics
            run._finish("failed", errors=[error])
        except BaseException as exc:  # a bug, not the user's: log it whole, report it short
            self.log.exception("naavre-batch run %s crashed", run.id)
            run.cancel_handle.cancel()  # stop whatever it had started
            run._finish(
                "failed",
                errors=[
                    {
                        "kind": "internal",
                        "message": f"internal error: {type(exc).__name__}: {exc}",
                        "hint": "see the Jupyter server log for the traceback",
                    }
                ],
            )
        else:
            run._finish(str(result.get("status", "failed")), result=result)
        finally:
            with self._lock:
                self._forget_old()

    def get(self, run_id: str) -> Run:
        """The run with this id, or :class:`UnknownRunError`."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise UnknownRunError(run_id)
        return run

    def list(self) -> list[dict[str, Any]]:
        """Summaries of the kept runs, newest first."""
        with self._lock:
            runs = list(self._runs.values())
        return [r.summary() for r in reversed(runs)]

    def cancel(self, run_id: str, wait: float = 10.0, reason: str = "cancelled on request") -> Run:
        """Cancel a run (no-op if it is over) and wait up to ``wait`` s for its thread to end.

        Blocking (the runner's cancel waits for processes to die): call it from a worker thread.
        """
        run = self.get(run_id)
        if not run.done:
            with run._lock:
                run.cancel_reason = run.cancel_reason or reason
            run.cancel_handle.cancel()
            run.wait(wait)
        return run

    def shutdown(self, timeout: float = 10.0) -> None:
        """Refuse new runs, cancel every active one, wait up to ``timeout`` s for all to end."""
        with self._lock:
            self._closed = True
            active = [r for r in self._runs.values() if not r.done]
        for run in active:
            self.log.info("naavre-batch: cancelling run %s because the server stops", run.id)
            with run._lock:
                run.cancel_reason = run.cancel_reason or "the server stopped"
            try:
                run.cancel_handle.cancel()
            except Exception:  # keep cancelling the others
                self.log.exception("naavre-batch: cancelling run %s failed", run.id)
        deadline = time.monotonic() + timeout
        for run in active:
            if not run.wait(max(0.0, deadline - time.monotonic())):
                self.log.warning("naavre-batch: run %s did not stop within %.0f s", run.id, timeout)
        _LIVE.discard(self)


_LIVE: weakref.WeakSet[RunManager] = weakref.WeakSet()
"""Managers not shut down yet, for the interpreter-exit safety net."""


@atexit.register
def _shutdown_all() -> None:
    """Last resort if the server did not call :meth:`RunManager.shutdown`: step processes run in
    their own process groups and would outlive the server otherwise."""
    for manager in list(_LIVE):
        manager.shutdown(timeout=5.0)
