"""``naavre-batch debug RUN_ID --batch K`` and ``run --reuse / --resume`` on the command line: the
debug notebook loads exactly the failed batch and fails the same way when its cells run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from helpers import code_notebook, section_tags, write_tmp
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from naavre_batch_ext import cli
from naavre_batch_ext.engines import debug, runner

HEADER = "param_offset = 10\nscale = 3"
SPLITTER = "items = [1, 2, 3, 4, 5, 6, 7, 8]"
PROCESSOR = (
    "import os\n"
    "shifted = [x * scale + param_offset for x in items]\n"
    "if os.path.exists('fail-on-7') and 7 in items:\n"
    "    raise ValueError('item 7 is broken')"
)
MERGER = "total = sum(shifted)\nprint(total)"


@pytest.fixture
def failed_run(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    nb = code_notebook(HEADER, SPLITTER, PROCESSOR, MERGER, tags=section_tags(1, "4"))
    path = write_tmp(nb, tmp_path)
    (tmp_path / "fail-on-7").touch()
    result = runner.run(path, "workflow", {"param_offset": 100})
    assert result["status"] == "failed"
    return path, result


def _debug(path: Path, *args: str) -> int:
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        return cli.main(["debug", *args])
    finally:
        os.chdir(cwd)


def test_debug_notebook_loads_the_failed_batch_and_header_and_fails_the_same_way(
    failed_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, result = failed_run
    run_id = result["workflow_run"]["run_id"]
    assert _debug(path, run_id, "--batch", "3") == 0
    written = Path(capsys.readouterr().out.strip())
    assert written.parent == path.parent and written.name.startswith("nb-debug-")
    nb = nbformat.read(written, as_version=4)
    assert [c.source for c in nb.cells[2:]] == [PROCESSOR]
    client = NotebookClient(
        nb, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    with pytest.raises(CellExecutionError, match="item 7 is broken"):
        client.execute()
    loaded = nb.cells[1].outputs[0]["text"]
    assert "loaded batch 3 as items (2 items)" in loaded


def test_debug_loads_the_run_parameters_and_the_batch_values(
    failed_run: tuple[Path, dict[str, Any]],
) -> None:
    path, result = failed_run
    runs = path.parent / ".naavre-batch" / "runs"
    target = debug.find_target(runs, result["workflow_run"]["run_id"], 1)
    ns: dict[str, Any] = {}
    exec(debug.loader_source(target), ns)  # noqa: S102 - what the kernel runs
    assert (ns["items"], ns["param_offset"], ns["scale"]) == ([3, 4], 100, 3)


def test_debug_without_batch_takes_the_first_failed_instance(
    failed_run: tuple[Path, dict[str, Any]],
) -> None:
    path, result = failed_run
    runs = path.parent / ".naavre-batch" / "runs"
    target = debug.find_target(runs, result["workflow_run"]["run_id"])
    assert target.instance == 3
    assert target.failing_cell == 2


def test_debug_never_writes_over_an_existing_file(
    failed_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, result = failed_run
    run_id = result["workflow_run"]["run_id"]
    taken = path.parent / f"nb-debug-{run_id}-batch-3.ipynb"
    taken.write_text("mine")
    assert _debug(path, run_id, "--batch", "3") == 0
    assert taken.read_text() == "mine"
    assert Path(capsys.readouterr().out.strip()).name == f"nb-debug-{run_id}-batch-3-2.ipynb"


def test_debug_of_an_unknown_run_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _debug(tmp_path / "nb.ipynb", "20260101-000000-abcdef") == 2
    assert "no run 20260101-000000-abcdef" in capsys.readouterr().err


def test_cli_resume_reports_reused_ran_and_failed_again(
    failed_run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, result = failed_run
    (path.parent / "fail-on-7").unlink()
    run_id = result["workflow_run"]["run_id"]
    code = cli.main(["run", str(path), "--context", "workflow", "--resume", run_id, "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    reuse = out["workflow_run"]["reuse"]
    assert (reuse["reused"], reuse["ran"], reuse["failed"]) == (4, 2, 0)
    assert out["workflow_run"]["parameters"] == {"param_offset": 100}


def test_cli_reuse_summary_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = code_notebook(HEADER, SPLITTER, PROCESSOR, MERGER, tags=section_tags(1, "4"))
    path = write_tmp(nb, tmp_path)
    assert cli.main(["run", str(path), "--context", "workflow", "--reuse"]) == 0
    capsys.readouterr()
    assert cli.main(["run", str(path), "--context", "workflow", "--reuse"]) == 0
    out = capsys.readouterr().out
    assert "reuse: 6 instances reused, 0 ran (0 failed); store" in out
