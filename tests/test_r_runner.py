"""The workflow context of an R notebook: one Rscript process per task instance, as for Python.

Failures are located as the Python path locates them: the cell, the line inside it (from R's
srcrefs, also inside a function the cell defines), the batch and its items.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers import pid_exists, r_notebook, section_tags, wait_for_pid_files, write_tmp
from r_helpers import failing_r_notebook, needs_r

from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.engines import runner

pytestmark = needs_r


def run_workflow(tmp_path: Path, *cells: str, batch_count: str = "3") -> dict:
    nb = r_notebook(*cells, tags=section_tags(batch_count=batch_count))
    path = write_tmp(nb, tmp_path)
    return runner.run(path, "workflow", runs_dir=tmp_path / "runs")["workflow_run"]


def test_a_failing_instance_names_cell_line_batch_and_items(tmp_path: Path) -> None:
    result = run_workflow(
        tmp_path,
        "items <- 1:6",
        "f <- function(x) {\n  if (x == 5L) stop('bad ', x)\n  x\n}\nout <- vapply(items, f, 1L)\n",
        "print(out)",
    )
    assert result["status"] == "failed"
    [error] = result["errors"]
    assert (
        error["message"]
        == "step processor-1 failed in cell 1, line 2: Error in FUN(X[[i]], ...): bad 5"
    )
    assert error["where"] == "task processor-1, instance 3/3 (batch 2: items 4..5 of items)"
    assert error["traceback"].startswith(
        'Calls: vapply(items, f, 1L) -> FUN(X[[i]], ...) -> stop("bad ", x)\n'
    )


def test_each_instance_runs_as_its_own_rscript_process(tmp_path: Path) -> None:
    result = run_workflow(
        tmp_path,
        "items <- 1:4",
        "pid <- rep(Sys.getpid(), length(items))",
        "print(length(unique(pid)))",
    )
    assert result["status"] == "ok"
    folder = Path(result["folder"])
    assert sorted(p.name for p in (folder / "scripts").iterdir()) == [
        "merger-1.R",
        "processor-1.R",
        "splitter-1.R",
    ]
    printed = json.loads((folder / "merger-1" / "printed.json").read_text())
    assert printed == {"2": "[1] 3\n"}


def test_a_cell_r_cannot_parse_is_located_by_rs_parser(tmp_path: Path) -> None:
    """The analysis refuses such a cell first; the runtime still locates it if one runs."""
    from r_helpers import run_r

    from naavre_batch_ext.steps import r_scripts

    done = run_r(
        ".naavre$parse_cell(list(notebook = 'nb.ipynb'), 'step-1', list(index = 4L, source = 'x <- \\n 1 +* 2'))",
        tmp_path,
        check=False,
    )
    assert done.returncode == 1
    assert "step step-1 failed in cell 4, line 2: syntax error: unexpected '*'" in done.stderr
    assert r_scripts.is_r({"notebook": {"language": "R"}})


def _processes_working_in(folder: Path) -> list[int]:
    """Ids of the live processes whose working folder is ``folder`` (read from /proc): step
    instances run beside the notebook, as the notebook's own cells do."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cwd").resolve() == folder.resolve():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_cancel_stops_every_rscript_instance_and_leaves_no_r_process(tmp_path: Path) -> None:
    """As for Python (test_runner.py's cancel test): each processor instance writes its pid and
    sleeps; cancel ends the run as ``cancelled`` and no Rscript of the run is left."""
    pids = tmp_path / "pids"
    pids.mkdir()
    nb = r_notebook(
        "items <- 1:4",
        f'file.create(file.path("{pids}", Sys.getpid()))\nSys.sleep(120)\nout <- items',
        "print(out)",
        tags=section_tags(batch_count="2"),
    )
    path = write_tmp(nb, tmp_path)
    cancel = runner.CancelHandle()
    out: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: out.update(
            runner.run_workflow(
                build_spec(nb, str(path)),
                path,
                runs_dir=tmp_path / "runs",
                parallelism=2,
                cancel=cancel,
            )
        )
    )
    thread.start()
    started = wait_for_pid_files(pids, 2, timeout=60)
    assert len(started) == 2 and all(pid_exists(p) for p in started)
    assert set(started) <= set(_processes_working_in(tmp_path))
    cancel.cancel()
    thread.join(15)
    assert not thread.is_alive()
    assert out["status"] == "cancelled"
    assert not any(pid_exists(p) for p in started)
    assert _processes_working_in(tmp_path) == []


def _failed_r_run(folder: Path) -> str:
    """A workflow run (``param_offset = 100``) of an R notebook whose batch 2 (of 3) fails; its
    run id. The run folder is .naavre-batch/runs beside the notebook, where ``debug`` and
    ``GET runs/<id>/debug`` look."""
    nb = failing_r_notebook()
    result = runner.run(write_tmp(nb, folder, "failing.ipynb"), "workflow", {"param_offset": 100})
    assert result["status"] == "failed"
    return str(result["workflow_run"]["run_id"])


def test_debug_writes_an_r_notebook_that_loads_the_failed_batch_and_fails_on_the_same_item(
    tmp_path: Path,
) -> None:
    """The loader cell runs in IRkernel: the header with the run's parameter value, then batch 2
    (items 5 and 6) as ``items``; the processor cell after it fails as the instance failed."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from naavre_batch_ext import cli

    run_id = _failed_r_run(tmp_path)
    assert cli.main(["debug", run_id, "--runs-dir", str(tmp_path / ".naavre-batch" / "runs")]) == 0
    [written] = [p for p in tmp_path.iterdir() if p.name.startswith("failing-debug-")]
    assert written.name == f"failing-debug-{run_id}-batch-2.ipynb"
    nb = nbformat.read(written, as_version=4)
    assert nb.metadata["kernelspec"]["language"] == "R"
    nb.cells.insert(2, nbformat.v4.new_code_cell("cat(param_offset, scale, items)"))
    client = NotebookClient(nb, kernel_name="ir", resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError, match="item 5 is bad"):
        client.execute()
    assert "naavre-batch: loaded batch 2 as items (2 items)" in nb.cells[1].outputs[0]["text"]
    assert nb.cells[2].outputs[0]["text"] == "100 3 5 6"


async def test_get_debug_of_an_r_run_answers_r_code_and_the_failing_cell(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    from helpers import api_call

    run_id = _failed_r_run(jp_root_dir)
    status, answer = await api_call(
        jp_fetch, "runs", run_id, "debug", params={"path": "failing.ipynb"}
    )
    assert status == 200, answer
    assert "parse(file = " in answer["code"] and "processor-1.R" in answer["code"]
    assert answer["cell_index"] == 2 and answer["batch"] == 2
