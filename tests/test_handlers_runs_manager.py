"""The run manager behind /naavre-batch-ext/runs, without a server: a stand-in run function shows
how events become progress, and how limits, cancellation, crashes and shutdown are handled."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from naavre_batch_ext.engines import runner
from naavre_batch_ext.runs import (
    ManagerClosedError,
    RunManager,
    RunRequest,
    TooManyRunsError,
    UnknownRunError,
)


def request(context: str = "workflow", root: Path = Path("/srv/root")) -> RunRequest:
    return RunRequest(
        notebook_path=root / "work" / "nb.ipynb",
        display_path="work/nb.ipynb",
        context=context,
        parameters={"param_n": 3},
        spec={},
        nb=nbformat.v4.new_notebook(),
    )


class Blocking:
    """A run function that waits until cancelled (or released) and says which."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[dict[str, Any]] = []

    def __call__(
        self, path: Path, context: str, parameters: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any]:
        self.calls.append({"path": path, "context": context, "parameters": parameters, **kwargs})
        cancel: runner.CancelHandle = kwargs["cancel"]
        while not cancel.cancelled and not self.release.is_set():
            time.sleep(0.005)
        return {"status": "cancelled" if cancel.cancelled else "ok"}


def finished(run_function: Any, **kwargs: Any) -> dict[str, Any]:
    manager = RunManager(run_function=run_function, root="/srv/root", **kwargs)
    run = manager.start(request())
    assert run.wait(5)
    return run.snapshot()


def test_a_run_gets_a_sortable_unguessable_id_and_the_runner_gets_the_request() -> None:
    fake = Blocking()
    fake.release.set()
    manager = RunManager(run_function=fake, parallelism=3)
    run = manager.start(request())
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", run.id)
    assert run.wait(5)
    call = fake.calls[0]
    assert call["path"] == Path("/srv/root/work/nb.ipynb") and call["context"] == "workflow"
    assert call["parameters"] == {"param_n": 3} and call["parallelism"] == 3
    assert call["progress"] == run.on_event and call["cancel"] is run.cancel_handle
    assert run.snapshot()["status"] == "succeeded"


def test_runner_events_become_per_task_and_per_instance_progress() -> None:
    def fake(path: Path, context: str, parameters: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        progress = kwargs["progress"]
        progress(
            {
                "event": "run-started",
                "context": "workflow",
                "run_id": "r1",
                "folder": "/srv/root/work/.naavre-batch/runs/r1",
                "tasks": ["split", "work"],
            }
        )
        progress(
            {
                "event": "task-started",
                "context": "workflow",
                "task": "work",
                "kind": "processors",
                "instances": 3,
            }
        )
        for done, (instance, status) in enumerate([(2, "ok"), (0, "failed")], start=1):
            progress(
                {
                    "event": "instance-finished",
                    "context": "workflow",
                    "task": "work",
                    "instance": instance,
                    "instances": 3,
                    "done": done,
                    "status": status,
                    "seconds": 0.5,
                }
            )
        snapshot.update(kwargs["progress"].__self__.snapshot())  # seen while running
        return {"status": "failed"}

    snapshot: dict[str, Any] = {}
    final = finished(fake)
    work = snapshot["progress"]["workflow"]["tasks"][1]
    assert snapshot["status"] == "running"
    assert snapshot["progress"]["workflow"]["folder"] == "work/.naavre-batch/runs/r1"
    assert snapshot["progress"]["workflow"]["tasks"][0] == {
        "task": "split",
        "status": "pending",
        "instances": None,
        "done": 0,
        "failed": 0,
        "seconds": None,
        "instance_status": [],
    }
    assert (work["status"], work["instances"], work["done"], work["failed"]) == ("running", 3, 2, 1)
    assert [i["instance"] for i in work["instance_status"]] == [0, 2]
    assert final["status"] == "failed"
    assert final["progress"]["workflow"]["status"] == "not-run"


def test_errors_and_paths_of_a_finished_run_are_relative_to_the_root() -> None:
    def fake(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {
            "status": "failed",
            "workflow_run": {
                "context": "workflow",
                "status": "failed",
                "folder": "/srv/root/work/.naavre-batch/runs/r1",
                "trace": {"huge": list(range(10))},
                "steps": [],
                "errors": [
                    {
                        "kind": "cell-error",
                        "cell_index": 3,
                        "line": 5,
                        "message": "boom",
                        "folder": "/srv/root/work/.naavre-batch/runs/r1/work/00001",
                    }
                ],
                "warnings": ["w"],
            },
        }

    run = finished(fake)
    assert run["errors"] == [
        {
            "kind": "cell-error",
            "cell_index": 3,
            "line": 5,
            "message": "boom",
            "folder": "work/.naavre-batch/runs/r1/work/00001",
            "context": "workflow",
        }
    ]
    assert run["result"]["workflow_run"]["folder"] == "work/.naavre-batch/runs/r1"
    assert "trace" not in run["result"]["workflow_run"]
    assert run["warnings"] == ["w"]


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("ok", "succeeded"),
        ("different", "failed"),
        ("failed", "failed"),
        ("cancelled", "cancelled"),
    ],
)
def test_the_runner_verdict_sets_status_and_is_kept_as_outcome(outcome: str, status: str) -> None:
    run = finished(lambda *a, **k: {"status": outcome})
    assert (run["status"], run["outcome"]) == (status, outcome)


def test_a_run_error_is_a_failed_run_with_its_hint() -> None:
    def fake(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise runner.RunError("unknown parameter param_x", "the notebook's parameters are: param_n")

    run = finished(fake)
    assert run["status"] == "failed"
    assert run["errors"] == [
        {
            "kind": "run-error",
            "message": "unknown parameter param_x",
            "hint": "the notebook's parameters are: param_n",
        }
    ]


def test_a_crash_is_a_failed_run_with_a_short_error_and_the_traceback_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def fake(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise KeyError("bug")

    run = finished(fake)
    assert run["status"] == "failed"
    assert run["errors"][0]["kind"] == "internal"
    assert run["errors"][0]["message"] == "internal error: KeyError: 'bug'"
    assert "Traceback" in caplog.text


def test_the_concurrency_limit_refuses_one_more_run_until_one_ends() -> None:
    fake = Blocking()
    manager = RunManager(max_concurrent=2, run_function=fake)
    first = manager.start(request())
    manager.start(request())
    with pytest.raises(TooManyRunsError) as error:
        manager.start(request())
    assert error.value.limit == 2
    manager.cancel(first.id)
    manager.start(request())
    fake.release.set()


def test_cancel_stops_the_run_and_records_why() -> None:
    manager = RunManager(run_function=Blocking())
    run = manager.start(request())
    manager.cancel(run.id)
    snapshot = run.snapshot()
    assert snapshot["status"] == "cancelled" and snapshot["cancel_reason"] == "cancelled on request"
    assert snapshot["progress"]["workflow"]["status"] == "cancelled"


def test_only_the_newest_finished_runs_are_kept() -> None:
    manager = RunManager(max_kept=2, run_function=lambda *a, **k: {"status": "ok"})
    ids = []
    for _ in range(4):
        run = manager.start(request())
        run.wait(5)
        ids.append(run.id)
    time.sleep(0.05)  # the thread forgets old runs after recording its own end
    manager.start(request()).wait(5)
    listed = [r["id"] for r in manager.list()]
    assert len(listed) == 2 and ids[0] not in listed
    with pytest.raises(UnknownRunError):
        manager.get(ids[0])


def test_shutdown_cancels_active_runs_and_refuses_new_ones() -> None:
    manager = RunManager(run_function=Blocking())
    run = manager.start(request())
    manager.shutdown(timeout=5)
    assert run.snapshot()["status"] == "cancelled"
    assert run.snapshot()["cancel_reason"] == "the server stopped"
    with pytest.raises(ManagerClosedError):
        manager.start(request())


def test_both_contexts_are_pending_until_the_runner_reports() -> None:
    manager = RunManager(run_function=Blocking())
    run = manager.start(request(context="both"))
    assert set(run.snapshot()["progress"]) == {"notebook", "workflow"}
    manager.cancel(run.id)
