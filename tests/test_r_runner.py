"""The workflow context of an R notebook: one Rscript process per task instance, as for Python.

Failures are located as the Python path locates them: the cell, the line inside it (from R's
srcrefs, also inside a function the cell defines), the batch and its items.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import r_notebook, section_tags, write_tmp
from r_helpers import needs_r

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
