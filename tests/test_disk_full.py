"""A full disk under the runs folder (issue 22, item 8): the run fails with "no space left in
<runs folder>", the step's own failure stays visible, and there is never a traceback.

The disk is a real one: a tmpfs of a few hundred KiB, mounted in a private mount namespace
(``unshare -Urm``, no root needed where user namespaces are allowed) as ``--runs-dir`` of a
``naavre-batch run`` process. The test is skipped where that cannot be done.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import code_notebook, section_tags, write_tmp

import naavre_batch_ext

ROOT = Path(naavre_batch_ext.__file__).resolve().parent.parent
"""Where the package under test is imported from, for the ``naavre-batch`` child process."""


def _can_mount_tmpfs(tmp: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "-Urm",
            "sh",
            "-c",
            f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(tmp))}",
        ],
        capture_output=True,
    )
    return probe.returncode == 0


def run_on_small_disk(
    tmp_path: Path, notebook: Path, size: str, fill: bool = False
) -> subprocess.CompletedProcess[str]:
    """``naavre-batch run NOTEBOOK --context workflow --runs-dir <tmpfs of size>``; with ``fill``
    the tmpfs is filled up before the run starts."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _can_mount_tmpfs(disk):
        pytest.skip("cannot mount a tmpfs in a user namespace here (unshare -Urm)")
    runs = disk / "runs"
    command = [
        f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(disk))}",
        f"mkdir {shlex.quote(str(runs))}",
    ]
    if fill:
        command.append(f"cat /dev/zero > {shlex.quote(str(disk / 'filler'))} 2>/dev/null; true")
    run = [sys.executable, "-m", "naavre_batch_ext", "run", str(notebook)]
    run += ["--context", "workflow", "--runs-dir", str(runs), "--parallelism", "1"]
    command.append("exec " + shlex.join(run))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        ["unshare", "-Urm", "sh", "-c", " && ".join(command[:2]) + "; " + "; ".join(command[2:])],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_a_full_runs_folder_at_the_start_fails_the_run_with_no_space_left(
    tmp_path: Path,
) -> None:
    """Before: ``OSError: [Errno 28]`` traceback from runner.py."""
    notebook = write_tmp(
        code_notebook(
            "items = [1, 2]", "out = [x + 1 for x in items]", "print(out)", tags=section_tags()
        ),
        tmp_path,
    )
    done = run_on_small_disk(tmp_path, notebook, "256k", fill=True)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert f"no space left in {tmp_path / 'disk' / 'runs'}" in output
    assert "Traceback" not in output and "Errno" not in output


def test_a_disk_that_fills_up_while_a_step_writes_keeps_the_step_failure_and_says_why(
    tmp_path: Path,
) -> None:
    """A processor's output does not fit: before, a ``JSONDecodeError`` traceback (the step's
    error file was cut short) or an ``OSError`` one (result.json)."""
    notebook = write_tmp(
        code_notebook(
            "items = [1, 2]",
            "out = ['x' * 2_000_000 for x in items]",
            "print(len(out))",
            tags=section_tags(),
        ),
        tmp_path,
    )
    done = run_on_small_disk(tmp_path, notebook, "1m")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "failed" in output  # the processor's own failure is listed
    assert "error: task" in output
    assert f"no space left in {tmp_path / 'disk' / 'runs'}" in output
    assert "Traceback (most recent call last)" not in done.stderr
    assert "JSONDecodeError" not in output
