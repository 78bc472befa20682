"""SIGTERM (kill, a CI timeout) and SIGHUP (the terminal closed) stop ``naavre-batch run`` as
Ctrl-C does: every step process group and the kernel are stopped, and the exit status is the one
a shell reports for the signal (143, 129). The step here loops forever, so a process left behind
would be seen by its pid; an R notebook's ``Rscript`` step processes are stopped the same way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import (
    NOTEBOOKS,
    pid_exists,
    r_notebook,
    section_tags,
    start_cli_run,
    wait_for_pid_files,
    write_tmp,
)
from r_helpers import needs_r

ROOT = Path(__file__).resolve().parents[1]


def looping_notebook(folder: Path) -> Path:
    """The runner's sleeping notebook with its processor (and so, in notebook context, the
    kernel) writing its pid and then looping forever."""
    nb = json.loads((NOTEBOOKS / "runner" / "sleeping.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if "time.sleep(120)" in source:
            cell["source"] = source.replace("time.sleep(120)", "while True:\n    time.sleep(0.1)")
    path = folder / "looping.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert "while True" in path.read_text(encoding="utf-8")
    return path


def looping_r_notebook(folder: Path) -> Path:
    """The same in R: each processor instance (an ``Rscript``) writes its pid, then loops."""
    nb = r_notebook(
        'param_pid_dir <- ""',
        "items <- 1:4",
        "file.create(file.path(param_pid_dir, Sys.getpid()))\nrepeat Sys.sleep(0.1)\nout <- items",
        "print(out)",
        tags=section_tags(1, batch_count="2"),
    )
    return write_tmp(nb, folder, "looping-r.ipynb")


def start_run(
    folder: Path, context: str, notebook: Callable[[Path], Path] = looping_notebook
) -> tuple[subprocess.Popen[bytes], Path]:
    pids = folder / "pids"
    pids.mkdir()
    proc = start_cli_run(notebook(folder), context, pids)
    return proc, pids


def gone(pids: list[int], timeout: float = 5) -> bool:
    """True once none of ``pids`` exists (a process killed a moment ago may still be reaped)."""
    deadline = time.monotonic() + timeout
    while any(pid_exists(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(pid_exists(p) for p in pids)


@pytest.mark.parametrize(
    ("signum", "status", "context", "count", "notebook"),
    [
        (signal.SIGTERM, 143, "workflow", 2, looping_notebook),  # two processor instances
        (signal.SIGHUP, 129, "workflow", 2, looping_notebook),
        (signal.SIGTERM, 143, "notebook", 1, looping_notebook),  # the kernel runs the loop
        pytest.param(signal.SIGTERM, 143, "workflow", 2, looping_r_notebook, marks=needs_r),
    ],
    ids=["sigterm-workflow", "sighup-workflow", "sigterm-notebook", "sigterm-r-workflow"],
)
def test_a_signal_stops_every_process_and_exits_with_its_status(
    tmp_path: Path,
    signum: int,
    status: int,
    context: str,
    count: int,
    notebook: Callable[[Path], Path],
) -> None:
    proc, pid_dir = start_run(tmp_path, context, notebook)
    try:
        started = wait_for_pid_files(pid_dir, count, timeout=60)
        assert len(started) == count and all(pid_exists(p) for p in started)
        os.kill(proc.pid, signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status
    assert f"{signal.Signals(signum).name} received; stopping every step process".encode() in err
    assert b"Traceback" not in err
    assert gone(started)
