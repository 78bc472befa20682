"""Notebook context and workflow context on the seed, the tutorials and the runner's test notebooks.

Kernels are slow to start, so each notebook is run once per module (``both`` contexts) and the
tests read the shared result.
"""

from __future__ import annotations

import ast
import json
import threading
from pathlib import Path
from typing import Any

import nbformat
import pytest
from helpers import (
    NOTEBOOKS,
    SEED,
    TUTORIALS,
    code_notebook,
    pid_exists,
    section_tags,
    tagged_seed_notebook,
    tagged_tutorial,
    wait_for_pid_files,
    write_tmp,
)

from naavre_batch_ext.core.notebook import load_notebook
from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.engines import runner
from naavre_batch_ext.steps import transport

RUNNER_NOTEBOOKS = NOTEBOOKS / "runner"


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


def _run_file(name: str, runs: Path, context: str = "both", **params: Any) -> dict[str, Any]:
    return runner.run(RUNNER_NOTEBOOKS / f"{name}.ipynb", context, params, runs_dir=runs)


def _run_nb(
    nb: nbformat.NotebookNode, path: Path, runs: Path, context: str = "both", **params: Any
) -> dict[str, Any]:
    return runner.run(path, context, params, nb=nb, runs_dir=runs)


@pytest.fixture(scope="module")
def seed_result(runs_dir: Path) -> dict[str, Any]:
    return _run_nb(tagged_seed_notebook(), SEED, runs_dir)


@pytest.fixture(scope="module", params=TUTORIALS)
def tutorial_result(request: pytest.FixtureRequest, runs_dir: Path) -> dict[str, Any]:
    return _run_nb(tagged_tutorial(request.param), NOTEBOOKS / f"{request.param}.ipynb", runs_dir)


@pytest.fixture(scope="module", params=["mutation", "two-sections", "braces", "empty-list"])
def case_result(request: pytest.FixtureRequest, runs_dir: Path) -> dict[str, Any]:
    return _run_file(request.param, runs_dir)


def _trace(result: dict[str, Any], context: str, step: str, name: str) -> Any:
    return result[f"{context}_run"]["trace"][step][name]


def test_seed_gives_the_same_result_in_both_contexts(seed_result: dict[str, Any]) -> None:
    assert seed_result["status"] == "ok"
    assert seed_result["comparison"]["same"] is True
    assert seed_result["comparison"]["compared"] == 2  # batches, processed_batches


def test_seed_runs_one_processor_instance_per_batch(seed_result: dict[str, Any]) -> None:
    steps = {s["task"]: s for s in seed_result["workflow_run"]["steps"]}
    assert [
        steps[t]["instances"] for t in ("gen-batches", "process-batches", "retrieve-batches")
    ] == [1, 5, 1]


def test_seed_merged_items_equal_the_printed_output_of_the_notebook(
    seed_result: dict[str, Any],
) -> None:
    """The tutorial copy of the seed (splitting-batch.ipynb) stores the seed's printed outputs."""
    text = load_notebook(NOTEBOOKS / "splitting-batch.ipynb").cells[9].outputs[0]["text"]
    stored = "".join(text) if isinstance(text, list) else text
    printed = next(line for line in stored.splitlines() if line.startswith("Processed items: "))
    folder = Path(seed_result["workflow_run"]["folder"]) / "retrieve-batches"
    merger_stdout = (folder / "stdout.txt").read_text().splitlines()
    assert printed in merger_stdout
    merged = _trace(seed_result, "workflow", "process-batches", "processed_batches")
    assert [x for batch in merged for x in batch] == ast.literal_eval(printed.split(": ", 1)[1])


def test_each_tutorial_gives_the_same_result(tutorial_result: dict[str, Any]) -> None:
    assert tutorial_result["status"] == "ok", tutorial_result["comparison"]
    assert tutorial_result["comparison"]["same"] is True


def test_test_notebooks_give_the_same_result(case_result: dict[str, Any]) -> None:
    assert case_result["status"] == "ok", case_result.get("comparison")
    assert case_result["comparison"]["compared"] >= 2


def test_mutation_style_processor_merges_what_it_appended(runs_dir: Path) -> None:
    result = _run_file("mutation", runs_dir, "workflow")
    assert _trace(result, "workflow", "square-items", "results") == [x * x for x in range(7)]


def test_two_sections_run_in_a_row(runs_dir: Path) -> None:
    result = _run_file("two-sections", runs_dir, "workflow")
    counts = {s["task"]: s["instances"] for s in result["workflow_run"]["steps"]}
    assert counts["lengths"] == 2 and counts["shifted-squares"] == 3
    assert _trace(result, "workflow", "shifted-squares", "squares") == [
        51**2,
        21**2,
        51**2,
        51**2,
        11**2,
        101**2,
    ]


def test_empty_list_runs_one_instance_with_an_empty_batch(runs_dir: Path) -> None:
    result = _run_file("empty-list", runs_dir, "workflow")
    steps = {s["task"]: s for s in result["workflow_run"]["steps"]}
    assert steps["plus-one"]["instances"] == 1
    assert _trace(result, "workflow", "plus-one", "plus") == []


@pytest.mark.parametrize(("batch_count", "instances"), [(40, 28), (28, 28), (1, 1)])
def test_seed_batch_counts_larger_equal_and_one(
    runs_dir: Path, batch_count: int, instances: int
) -> None:
    result = _run_nb(tagged_seed_notebook(), SEED, runs_dir, param_max_batch_count=batch_count)
    assert result["comparison"]["same"] is True
    steps = {s["task"]: s for s in result["workflow_run"]["steps"]}
    assert steps["process-batches"]["instances"] == instances


def test_parameter_override_is_seen_by_later_header_statements(runs_dir: Path) -> None:
    result = _run_file("header-uses-param", runs_dir, param_n=5)
    assert result["comparison"]["same"] is True
    assert _trace(result, "notebook", "items", "items") == list(range(10))
    assert _trace(result, "workflow", "items", "items") == list(range(10))


@pytest.fixture(scope="module")
def failing_run(runs_dir: Path) -> dict[str, Any]:
    return _run_file("failing-instance", runs_dir, "workflow")["workflow_run"]


def test_failing_instance_reports_step_instance_batch_and_cell_line(
    failing_run: dict[str, Any],
) -> None:
    run = failing_run
    assert run["status"] == "failed"
    [error] = run["errors"]
    assert (error["step"], error["instance"], error["instances"]) == ("double-items", 2, 3)
    assert error["batch"] == {"index": 2, "start": 7, "stop": 10}
    assert "items 7..9 of items" in error["where"]
    assert (error["cell_index"], error["line"]) == (3, 5)
    assert '"<failing-instance.ipynb cell 3>", line 5' in error["traceback"]


def test_other_instances_finish_and_keep_their_outputs(failing_run: dict[str, Any]) -> None:
    run = failing_run
    folder = Path(run["folder"]) / "double-items"
    result = transport.load(str(folder / "00000" / "out" / "naavre-result"))
    assert result["outputs"] == {"doubled": [0, 2, 4, 6]}
    assert (folder / "00001" / "out" / "naavre-result").exists()
    assert not (folder / "00002" / "out" / "naavre-result").exists()
    assert not (Path(run["folder"]) / "total").exists()  # the merger did not run


def test_notebook_context_failure_names_the_cell(runs_dir: Path) -> None:
    run = _run_file("failing-instance", runs_dir, "notebook")["notebook_run"]
    [error] = run["errors"]
    assert (error["step"], error["cell_index"], error["line"]) == ("double-items", 3, 5)
    assert "ValueError: cannot double item 7" in error["exception"]


def test_unpicklable_value_names_variable_step_type_and_remedy(runs_dir: Path) -> None:
    """A lambda defined in a cell cannot reach another process by any codec."""
    run = _run_file("non-json", runs_dir, "workflow")["workflow_run"]
    [error] = run["errors"]
    assert (error["kind"], error["variable"], error["step"], error["type"]) == (
        "not-passable",
        "scale",
        "make-items",
        "function",
    )
    assert "compute scale in the step that uses it" in error["hint"] and "path" in error["hint"]


def test_merged_output_that_is_not_a_list_says_its_type(runs_dir: Path) -> None:
    run = _run_file("not-a-list", runs_dir, "workflow")["workflow_run"]
    error = run["errors"][0]
    assert (error["kind"], error["variable"], error["type"]) == (
        "merge-not-list",
        "subtotal",
        "int",
    )
    assert "must give a list, tuple, range, numpy array, DataFrame or Series" in error["message"]


def test_run_folder_keeps_inputs_outputs_and_logs_of_every_instance(
    seed_result: dict[str, Any],
) -> None:
    folder = Path(seed_result["workflow_run"]["folder"])
    instances = sorted((folder / "process-batches").iterdir())
    assert len(instances) == 5
    for inst in instances:
        assert {p.name for p in inst.iterdir()} >= {"in", "out", "stdout.txt", "stderr.txt"}
    batch = transport.load(str(instances[3] / "in" / "naavre-batch"))
    assert batch["items"] == [[18, 19, 20, 21, 22, 23]]
    assert (instances[3] / "in" / "naavre-batch").read_bytes().startswith(b"naavre-value/1 json\n")


def test_result_is_json_serialisable(seed_result: dict[str, Any]) -> None:
    assert json.loads(json.dumps(seed_result))["status"] == "ok"


def test_unknown_parameter_stops_before_running(runs_dir: Path) -> None:
    with pytest.raises(runner.ParameterError, match="unknown parameter param_nope"):
        _run_file("mutation", runs_dir, param_nope=1)


def test_analysis_errors_stop_before_running(tmp_path: Path) -> None:
    nb = tagged_seed_notebook()
    nb.cells[8].metadata["tags"] = []  # a splitter without a merger
    with pytest.raises(runner.RunError) as info:
        runner.run(SEED, "workflow", nb=nb, runs_dir=tmp_path)
    assert info.value.diagnostics and not list(tmp_path.iterdir())


def test_notebook_file_is_never_written(runs_dir: Path) -> None:
    path = RUNNER_NOTEBOOKS / "header-uses-param.ipynb"
    before = path.read_bytes()
    _run_file("header-uses-param", runs_dir, "notebook", param_n=2)
    assert path.read_bytes() == before


def test_cancel_kills_every_processor_process(tmp_path: Path) -> None:
    path = RUNNER_NOTEBOOKS / "sleeping.ipynb"
    spec = build_spec(load_notebook(path), str(path))
    cancel = runner.CancelHandle()
    pids = tmp_path / "pids"
    pids.mkdir()
    out: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: out.update(
            runner.run_workflow(
                spec,
                path,
                {"param_pid_dir": str(pids)},
                runs_dir=tmp_path / "runs",
                parallelism=2,
                cancel=cancel,
            )
        )
    )
    thread.start()
    started = wait_for_pid_files(pids, 2)
    assert len(started) == 2 and all(pid_exists(p) for p in started)
    cancel.cancel()
    thread.join(10)
    assert not thread.is_alive()
    assert out["status"] == "cancelled"
    assert not any(pid_exists(p) for p in started)


def test_cancel_stops_the_notebook_kernel(tmp_path: Path) -> None:
    path = RUNNER_NOTEBOOKS / "sleeping.ipynb"
    nb = load_notebook(path)
    spec = build_spec(nb, str(path))
    cancel = runner.CancelHandle()
    out: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    thread = threading.Thread(
        target=lambda: out.update(
            runner.run_notebook(
                spec,
                nb,
                path,
                {"param_pid_dir": str(tmp_path)},
                progress=events.append,
                cancel=cancel,
            )
        )
    )
    thread.start()
    kernel_pid = wait_for_pid_files(tmp_path, 1)[0]
    cancel.cancel()
    thread.join(15)
    assert not thread.is_alive()
    assert out["status"] == "cancelled"
    assert not pid_exists(kernel_pid)


@pytest.mark.parametrize("overrides", [{}, {"param_k": 4}])
def test_header_as_first_cell_runs_in_notebook_context(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    """Regression: the kernel's helper code must not take the place of notebook cell 0."""
    nb = code_notebook(
        "param_k = 2\nprint(param_k)",
        "# items\nitems = list(range(param_k))",
        "# inc\nplus = [x + 1 for x in items]",
        "# show\nprint(plus)",
        tags=section_tags(1),
    )
    path = write_tmp(nb, tmp_path)
    result = runner.run(path, "both", overrides, nb=nb, runs_dir=tmp_path / "runs")
    k = overrides.get("param_k", 2)
    assert result["notebook_run"]["cells"][0]["outputs"][0]["text"] == f"{k}\n"
    assert result["comparison"]["same"] is True
    assert _trace(result, "notebook", "items", "items") == list(range(k))


def test_failed_instance_error_carries_its_log_tails(failing_run: dict[str, Any]) -> None:
    """The run folder is hidden from the contents API, so the error brings the instance's logs."""
    [error] = failing_run["errors"]
    folder = Path(failing_run["folder"]) / "double-items" / "00002"
    assert error["stderr"] == (folder / "stderr.txt").read_text()
    assert "cannot double item 7" in error["stderr"]
    assert error["stdout"] == (folder / "stdout.txt").read_text()


def test_steps_named_like_modules_do_not_shadow_them(tmp_path: Path) -> None:
    """Step ids come from the cells' comments: a step called ``json`` or ``math`` is fine."""
    nb = code_notebook(
        "import math",
        "# json\nitems = [1.0, 4.0, 9.0]",
        "# math\nroots = [math.sqrt(x) for x in items]",
        "# random\nprint(roots)",
        tags={
            1: ["naavre:splitter", "naavre:batch-count:2"],
            2: ["naavre:processor"],
            3: ["naavre:merger"],
        },
    )
    path = write_tmp(nb, tmp_path, "named.ipynb")
    result = runner.run(path, "workflow", runs_dir=tmp_path / "runs")
    run = result["workflow_run"]
    assert [s["task"] for s in run["steps"]] == ["json", "math", "random"]
    assert run["status"] == "ok", run["errors"]
    assert run["trace"]["math"]["roots"] == [1.0, 2.0, 3.0]
