"""``naavre-batch run``: exit codes, summary, JSON output, parameter errors, analysis errors, Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from helpers import (
    NOTEBOOKS,
    SEED,
    pid_exists,
    start_cli_run,
    tagged_seed_notebook,
    wait_for_pid_files,
    write_tmp,
)

from naavre_batch_ext.cli import main

RUNNER_NOTEBOOKS = NOTEBOOKS / "runner"


def run_cli(name: str, runs_dir: Path, *options: str) -> int:
    """``naavre-batch run`` on the runner test notebook ``name``, its run folder in ``runs_dir``."""
    return main(
        ["run", str(RUNNER_NOTEBOOKS / f"{name}.ipynb"), *options, "--runs-dir", str(runs_dir)]
    )


def test_workflow_run_prints_summary_table_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli("mutation", tmp_path, "--context", "workflow")
    out = capsys.readouterr()
    assert code == 0
    assert "step" in out.out and "instances" in out.out and "wall time" in out.out
    assert any(line.split()[:2] == ["square-items", "3"] for line in out.out.splitlines())
    assert "square-items: started, 3 instances" in out.err  # plain progress lines off a terminal


def test_both_contexts_print_same_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_tmp(tagged_seed_notebook(), tmp_path, "seed.ipynb")
    code = main(
        ["run", str(path), "--runs-dir", str(tmp_path / "runs"), "-p", "param_item_count=9"]
    )
    assert code == 0
    assert "same result (2 values and 1 printed output compared)" in capsys.readouterr().out


def test_json_output_is_the_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli("empty-list", tmp_path, "--context", "workflow", "--json")
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["status"] == "ok"
    assert result["workflow_run"]["trace"]["plus-one"]["plus"] == []


def test_failure_exits_1_with_cell_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli("failing-instance", tmp_path, "--context", "workflow")
    out = capsys.readouterr().out
    assert code == 1
    assert "instance 3/3 (batch 2: items 7..9 of items)" in out
    assert 'File "<failing-instance.ipynb cell 3>", line 5' in out


def test_unknown_parameter_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli("mutation", tmp_path, "-p", "param_x=1")
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown parameter param_x" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_parameter_of_another_type_than_its_default_stops_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_tmp(tagged_seed_notebook(), tmp_path, "seed.ipynb")
    runs = tmp_path / "runs"
    code = main(["run", str(path), "--runs-dir", str(runs), "-p", "param_item_count=ten"])
    err = capsys.readouterr().err
    assert code == 2
    assert "parameter param_item_count takes an integer, like its default 28" in err
    assert '"ten" (text)' in err and "Traceback" not in err
    assert not runs.exists()


@pytest.mark.parametrize("value", ["0", "2.5"])
def test_bad_batch_count_parameter_stops_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    path = write_tmp(tagged_seed_notebook(), tmp_path, "seed.ipynb")
    runs = tmp_path / "runs"
    code = main(["run", str(path), "--runs-dir", str(runs), "-p", f"param_max_batch_count={value}"])
    err = capsys.readouterr().err
    assert code == 2
    assert "param_max_batch_count" in err and "Traceback" not in err
    assert not runs.exists()


def test_parameter_values_parse_as_json_else_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli("braces", tmp_path, "--context", "workflow", "--json", "-p", "param_label=12")
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["workflow_run"]["parameters"]["param_label"] == "12"  # a str parameter stays text


def test_analysis_errors_print_like_check_and_run_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = tagged_seed_notebook()
    nb.cells[8].metadata["tags"] = []
    path = write_tmp(nb, tmp_path, "broken.ipynb")
    code = main(["run", str(path), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{path}:cell 4" in err and "error:" in err
    assert not (tmp_path / "runs").exists()


def _start_sleeping_run(tmp_path: Path, context: str) -> tuple[subprocess.Popen[bytes], Path]:
    """``naavre-batch run`` on the runner's sleeping notebook, whose processes write their pids."""
    notebook = tmp_path / "sleeping.ipynb"
    shutil.copy(RUNNER_NOTEBOOKS / "sleeping.ipynb", notebook)
    pids = tmp_path / "pids"
    pids.mkdir()
    proc = start_cli_run(notebook, context, pids)
    return proc, pids


def test_ctrl_c_stops_every_step_process(tmp_path: Path) -> None:
    proc, pids = _start_sleeping_run(tmp_path, "workflow")
    started = wait_for_pid_files(pids, 2)
    assert len(started) == 2
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert b"interrupted" in err
    assert not any(pid_exists(p) for p in started)
    runs = list((tmp_path / ".naavre-batch" / "runs").iterdir())
    assert len(runs) == 1  # the run folder is next to the notebook


def test_seed_file_is_unchanged_after_run(tmp_path: Path) -> None:
    before = SEED.read_bytes()
    nb = nbformat.reads(before.decode(), as_version=4)
    assert nb.cells  # the untagged seed has no steps: a run is just its cells
    assert main(["run", str(SEED), "--context", "notebook", "--runs-dir", str(tmp_path)]) == 0
    assert SEED.read_bytes() == before


def test_run_prints_analysis_warnings_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "untagged.ipynb"
    shutil.copyfile(SEED, path)
    code = main(["run", str(path), "--context", "workflow", "--runs-dir", str(tmp_path / "runs")])
    assert code == 0
    assert f"{path}: warning: no cell is tagged" in capsys.readouterr().err


def test_ctrl_c_in_notebook_context_stops_the_kernel_cleanly(tmp_path: Path) -> None:
    """Interrupted while a cell runs: exit 130 at once, the kernel is gone, and no traceback
    (an interrupted Thread.join() used to let the CLI exit before the kernel was cleaned up)."""
    proc, pids = _start_sleeping_run(tmp_path, "notebook")
    [kernel] = wait_for_pid_files(pids, 1)  # in notebook context the sleeping cell is the kernel
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert b"interrupted" in err
    assert b"Traceback" not in err
    deadline = time.monotonic() + 5
    while pid_exists(kernel) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_exists(kernel)


def test_ctrl_c_before_the_run_starts_exits_130_without_traceback(tmp_path: Path) -> None:
    """Ctrl-C while the command is still loading and analysing is not a crash either."""
    proc, _ = _start_sleeping_run(tmp_path, "notebook")
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert b"Traceback" not in err
