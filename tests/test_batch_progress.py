"""A processor that iterates with tqdm reports per-instance progress (``instance-progress``
events, the REST run's live view, the terminal) without any change to the notebook; without tqdm,
nothing changes (naavre_batch_ext/engines/batch_progress.py)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from helpers import code_notebook, section_tags, write_tmp

from naavre_batch_ext.engines import batch_progress, runner
from naavre_batch_ext.progress import ProgressPrinter
from naavre_batch_ext.runs import Run, RunRequest

SLOW_TQDM = (
    "import time\n"
    "from tqdm import tqdm\n"
    "done = []\n"
    "for x in tqdm(items):\n"
    "    time.sleep(0.15)\n"
    "    done.append(x)"
)


def _run(tmp_path: Path, processor: str) -> list[dict[str, Any]]:
    nb = code_notebook(
        "items = list(range(16))", processor, "n = len(done)", tags=section_tags(0, "2")
    )
    path = write_tmp(nb, tmp_path)
    events: list[dict[str, Any]] = []
    result = runner.run(path, "workflow", progress=events.append, parallelism=2)
    assert result["status"] == "ok"
    return events


def test_a_processor_using_tqdm_reports_progress_per_instance(tmp_path: Path) -> None:
    events = _run(tmp_path, SLOW_TQDM)
    bars = [e for e in events if e["event"] == "instance-progress"]
    assert {e["instance"] for e in bars} == {0, 1}
    assert all(e["total"] == 8 and 0 <= e["n"] <= 8 for e in bars)
    first = [e["n"] for e in bars if e["instance"] == 0]
    assert first == sorted(first) and len(set(first)) == len(first)  # only moves are reported


def test_without_tqdm_nothing_is_reported(tmp_path: Path) -> None:
    events = _run(tmp_path, SLOW_TQDM.replace("from tqdm import tqdm\n", "tqdm = iter\n"))
    assert [e for e in events if e["event"] == "instance-progress"] == []


def test_the_last_bar_of_a_log_is_read_from_tqdms_own_output(tmp_path: Path) -> None:
    from tqdm import tqdm

    log = tmp_path / "stderr.txt"
    with open(log, "w") as handle:
        bar = tqdm(total=2500, file=handle, mininterval=0)
        bar.update(1200)
        bar.refresh()
    assert batch_progress.last_progress(log) == (1200, 2500)
    (tmp_path / "empty.txt").write_text("no bar here\n")
    assert batch_progress.last_progress(tmp_path / "empty.txt") is None


def test_progress_shows_in_the_rest_run_view_and_the_terminal() -> None:
    request = RunRequest(Path("nb.ipynb"), "nb.ipynb", "workflow", {}, {}, None)  # type: ignore[arg-type]
    run = Run("r1", request)
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=False)
    events = [
        {"event": "run-started", "context": "workflow", "tasks": ["process"]},
        {"event": "task-started", "context": "workflow", "task": "process", "instances": 2},
        {
            "event": "instance-progress",
            "context": "workflow",
            "task": "process",
            "instance": 1,
            "instances": 2,
            "n": 3,
            "total": 8,
        },
    ]
    for event in events:
        run.on_event(event)
        printer(event)
    task = run.snapshot()["progress"]["workflow"]["tasks"][0]
    assert task["instance_progress"] == {"1": {"n": 3, "total": 8}}
    assert "process: instance 2/2: 3/8" in stream.getvalue()
