"""Step scripts: task planning, standalone stdlib-only scripts, Argo-safe text, folder I/O."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import NOTEBOOKS, SEED, code_notebook, tagged_seed_notebook, tagged_tutorial

from naavre_batch_ext.core.notebook import load_notebook
from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.steps import scripts, transport

RUNNER_NOTEBOOKS = NOTEBOOKS / "runner"


def _spec(name: str) -> dict[str, Any]:
    path = RUNNER_NOTEBOOKS / f"{name}.ipynb"
    return build_spec(load_notebook(path), str(path))


@pytest.fixture(scope="module")
def seed_spec() -> dict[str, Any]:
    return build_spec(tagged_seed_notebook(), str(SEED))


def _write_scripts(spec: dict[str, Any], folder: Path) -> dict[str, Path]:
    paths = {}
    for task in scripts.plan_tasks(spec):
        paths[task.id] = folder / f"{task.id}.py"
        paths[task.id].write_text(scripts.task_script(spec, task), encoding="utf-8")
    return paths


def _run(
    script: Path,
    folder: Path,
    inputs: dict[str, Any] | None = None,
    *flags: str,
    parameters: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, dict[str, Path], str]:
    """Run a script as an engine does: inputs as value files in NAAVRE_INPUTS_DIR (a Path value is
    linked as it is: a folder or a file already written), parameters as text files; returns the exit
    status, the files of NAAVRE_OUTPUTS_DIR and stderr."""
    work = folder / f"run-{script.stem}-{len(list(folder.glob('run-*')))}"
    in_dir, out_dir = work / "in", work / "out"
    in_dir.mkdir(parents=True)
    for name, value in (inputs or {}).items():
        if isinstance(value, Path):
            (in_dir / name).symlink_to(value)
        else:
            transport.dump(value, str(in_dir / name))
    if parameters:
        (in_dir / "naavre-parameters").mkdir()
        for name, text in parameters.items():
            (in_dir / "naavre-parameters" / name).write_text(text, encoding="utf-8")
    full = {k: v for k, v in os.environ.items() if not k.startswith("NAAVRE_")}
    full.update(env or {}, NAAVRE_INPUTS_DIR=str(in_dir), NAAVRE_OUTPUTS_DIR=str(out_dir))
    proc = subprocess.run(
        [sys.executable, *flags, str(script)],
        env=full,
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    outputs = {p.name: p for p in out_dir.iterdir()} if out_dir.is_dir() else {}
    return proc.returncode, outputs, proc.stderr


def test_seed_plans_splitter_processor_chain_and_merger(seed_spec: dict[str, Any]) -> None:
    tasks = scripts.plan_tasks(seed_spec)
    assert [(t.id, t.kind) for t in tasks] == [
        ("gen-batches", "splitter"),
        ("process-batches", "processors"),
        ("retrieve-batches", "merger"),
    ]
    assert tasks[1].splitter == "gen-batches" and tasks[1].split_variable == "batches"
    assert tasks[2].processors == "process-batches" and tasks[2].merged == ("processed_batches",)


def test_processor_steps_of_a_section_fuse_into_one_task() -> None:
    nb = code_notebook(
        "# make\nitems = [1, 2, 3]",
        "# double\ndoubled = [2 * x for x in items]",
        "# inc\nplus = [x + 1 for x in doubled]",
        "# show\nprint(plus)",
        tags={
            0: ["naavre:splitter", "naavre:batch-count:2"],
            1: ["naavre:processor"],
            2: ["naavre:processor"],
            3: ["naavre:merger"],
        },
    )
    tasks = scripts.plan_tasks(build_spec(nb, "fuse.ipynb"))
    assert [(t.kind, t.steps) for t in tasks] == [
        ("splitter", ("make",)),
        ("processors", ("double", "inc")),
        ("merger", ("show",)),
    ]
    assert tasks[1].inputs == ()


def test_later_section_reads_merger_outputs_and_broadcasts_splitter_values() -> None:
    tasks = {t.id: t for t in scripts.plan_tasks(_spec("two-sections"))}
    assert tasks["values"].inputs == (scripts.TaskInput("numbers", "scale-lengths", "data"),)
    assert tasks["scale-lengths"].outputs == ("numbers",)
    assert tasks["shifted-squares"].inputs == (scripts.TaskInput("shift", "values", "broadcast"),)


def test_task_ids_are_dns_labels(seed_spec: dict[str, Any]) -> None:
    for task in scripts.plan_tasks(_spec("two-sections")) + scripts.plan_tasks(seed_spec):
        assert len(task.id) <= 63
        assert all(c.islower() or c.isdigit() or c == "-" for c in task.id)


def test_scripts_never_contain_argo_template_braces() -> None:
    spec = _spec("braces")
    cell_sources = [c["source"] for s in spec["steps"] for c in s["cells"]]
    assert any("{{ x }}" in s for s in cell_sources)  # the notebook really has them
    for task in scripts.plan_tasks(spec):
        text = scripts.task_script(spec, task)
        assert "{{" not in text and "}}" not in text


def test_script_carries_cells_exactly_as_written(tmp_path: Path) -> None:
    spec = _spec("braces")
    paths = _write_scripts(spec, tmp_path)
    module = runpy.run_path(str(paths["render"]), run_name="not_main")
    carried = [c["source"] for s in module["TASK"]["steps"] for c in s["cells"]]
    assert carried == [
        c["source"] for c in next(s for s in spec["steps"] if s["id"] == "render")["cells"]
    ]


def test_same_spec_gives_same_script_bytes(seed_spec: dict[str, Any]) -> None:
    task = scripts.plan_tasks(seed_spec)[1]
    assert scripts.task_script(seed_spec, task) == scripts.task_script(
        build_spec(tagged_seed_notebook(), str(SEED)), task
    )


def test_python_literal_round_trips_braces_quotes_and_unicode() -> None:
    text = 'a {{ b }} "c" \\ \n é 😀 \udc80 {x}'
    literal = scripts.python_literal(text)
    assert "{" not in literal and "}" not in literal
    assert eval(literal) == text


def test_header_chunks_end_after_each_parameter_assignment() -> None:
    source = "# p\nimport math\nparam_a = 1\nx = param_a + 1\nparam_b = [\n  2,\n]\ny = 3\n"
    assert scripts.header_chunks(source, ["param_a", "param_b"]) == [
        (1, 3, ["param_a"]),
        (4, 7, ["param_b"]),
        (8, 8, []),
    ]


def test_header_chunks_keep_statements_that_share_a_line() -> None:
    assert scripts.header_chunks("param_a = 1; b = param_a\nc = 2\n", ["param_a"]) == [
        (1, 1, ["param_a"]),
        (2, 2, []),
    ]


def test_seed_scripts_run_by_hand_with_stdlib_only(
    seed_spec: dict[str, Any], tmp_path: Path
) -> None:
    """-S -I: no site-packages, no user environment; the scripts need nothing but the stdlib."""
    paths = _write_scripts(seed_spec, tmp_path)
    params = {"param_item_count": "10", "param_max_batch_count": "3"}
    code, split_out, err = _run(paths["gen-batches"], tmp_path, {}, "-S", "-I", parameters=params)
    assert code == 0, err
    batch_files = sorted(split_out[scripts.RESERVED_BATCHES].iterdir())
    batches = [transport.load(str(p)) for p in batch_files]
    assert [b["items"] for b in batches] == [[[0, 1, 2, 3]], [[4, 5, 6, 7]], [[8, 9]]]
    results = tmp_path / "results"
    results.mkdir()
    for batch_file in batch_files:
        code, out, err = _run(
            paths["process-batches"],
            tmp_path,
            {"naavre-batch": batch_file},
            "-S",
            "-I",
            parameters=params,
        )
        assert code == 0, err
        out[scripts.RESERVED_RESULT].rename(results / batch_file.name)
    code, out, err = _run(
        paths["retrieve-batches"],
        tmp_path,
        {"naavre-batch-results": results, "naavre-batch-count": split_out["naavre-batch-count"]},
        "-S",
        "-I",
        parameters=params,
    )
    assert code == 0, err


def test_merger_reads_argo_aggregate_of_text_values_in_any_order(
    seed_spec: dict[str, Any], tmp_path: Path
) -> None:
    """Argo hands the merger a JSON list of the instances' output parameters, in the text form."""
    paths = _write_scripts(seed_spec, tmp_path)
    parts = [{"index": i, "outputs": {"processed_batches": [[i + 0.5]]}} for i in range(3)]
    texts = [transport.dumps(p, text=True).decode("ascii") for p in parts]
    aggregate = tmp_path / "aggregate.json"
    aggregate.write_text(json.dumps([texts[2], texts[0], texts[1]]), encoding="utf-8")
    count = tmp_path / "count"
    count.write_text("3", encoding="utf-8")
    code, _, err = _run(
        paths["retrieve-batches"],
        tmp_path,
        {"naavre-batch-results": aggregate, "naavre-batch-count": count},
        env={"NAAVRE_PRINTED_FILE": str(tmp_path / "printed.json")},
    )
    assert code == 0, err
    printed = json.loads((tmp_path / "printed.json").read_text())
    assert "[0.5, 1.5, 2.5]" in "".join(printed.values())


def test_merger_names_missing_batches(seed_spec: dict[str, Any], tmp_path: Path) -> None:
    paths = _write_scripts(seed_spec, tmp_path)
    only = {"index": 1, "outputs": {"processed_batches": [[0.5]]}}
    aggregate = tmp_path / "aggregate.json"
    aggregate.write_text(json.dumps([transport.dumps(only, text=True).decode()]), encoding="utf-8")
    count = tmp_path / "count"
    count.write_text("4", encoding="utf-8")
    code, _, err = _run(
        paths["retrieve-batches"],
        tmp_path,
        {"naavre-batch-results": aggregate, "naavre-batch-count": count},
    )
    assert code == 1
    assert "batch(es) 0, 2, 3 of 4 are missing" in err
    assert "Traceback" not in err


def test_splitter_writes_batches_count_and_list(seed_spec: dict[str, Any], tmp_path: Path) -> None:
    paths = _write_scripts(seed_spec, tmp_path)
    code, out, err = _run(paths["gen-batches"], tmp_path, {})
    assert code == 0, err
    assert sorted(out) == ["naavre-batch-count", "naavre-batch-list", "naavre-batches"]
    assert out["naavre-batch-count"].read_text() == "5"
    listing = json.loads(out["naavre-batch-list"].read_text())
    assert [(b["start"], b["stop"]) for b in listing] == [(i, i + 1) for i in range(5)]
    assert sorted(p.name for p in out["naavre-batches"].iterdir()) == [
        "00000",
        "00001",
        "00002",
        "00003",
        "00004",
    ]


def test_text_mode_batches_are_one_json_list_of_opaque_strings(
    seed_spec: dict[str, Any], tmp_path: Path
) -> None:
    """What Argo's withParam fans out over: a list of strings, never objects it would re-encode."""
    paths = _write_scripts(seed_spec, tmp_path)
    code, out, err = _run(paths["gen-batches"], tmp_path, {}, env={"NAAVRE_VALUES": "text"})
    assert code == 0, err
    texts = json.loads(out["naavre-batches"].read_text())
    assert all(isinstance(t, str) and t.startswith("naavre-value/1 ") for t in texts)
    assert [transport.loads(t.encode())["index"] for t in texts] == [0, 1, 2, 3, 4]


def test_text_mode_value_over_the_limit_names_variable_size_and_artifacts(
    seed_spec: dict[str, Any], tmp_path: Path
) -> None:
    paths = _write_scripts(seed_spec, tmp_path)
    code, _, err = _run(
        paths["gen-batches"],
        tmp_path,
        {},
        env={"NAAVRE_VALUES": "text", "NAAVRE_TEXT_LIMIT": "100"},
    )
    assert code == 1
    assert "variable batches is" in err and "bytes as an Argo parameter" in err
    assert "--values artifacts" in err


def test_parameters_from_files_apply_before_later_header_statements(tmp_path: Path) -> None:
    spec = _spec("header-uses-param")
    paths = _write_scripts(spec, tmp_path)
    code, out, err = _run(paths["items"], tmp_path, {}, parameters={"param_n": "4"})
    assert code == 0, err
    batches = [transport.load(str(p)) for p in sorted(out["naavre-batches"].iterdir())]
    assert [b["items"] for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_bad_batch_count_parameter_fails_before_the_splitter_runs(tmp_path: Path) -> None:
    spec = build_spec(tagged_tutorial("splitting-classic"), "splitting-classic.ipynb")
    paths = _write_scripts(spec, tmp_path)
    code, _, err = _run(paths["gen-item-list"], tmp_path, {}, parameters={"param_item_count": "0"})
    assert code == 1
    assert "batch count from parameter param_item_count must be an integer >= 1, got 0" in err
    assert "Generated items" not in err and "Traceback" not in err


def test_cell_traceback_shows_notebook_cell_and_its_line(tmp_path: Path) -> None:
    spec = _spec("failing-instance")
    paths = _write_scripts(spec, tmp_path)
    batch = {"index": 2, "start": 7, "stop": 10, "items": [7, 8, 9]}
    error_file = tmp_path / "error.json"
    code, _, err = _run(
        paths["double-items"],
        tmp_path,
        {"naavre-batch": batch},
        env={"NAAVRE_ERROR_FILE": str(error_file)},
    )
    assert code == 1
    assert 'File "<failing-instance.ipynb cell 3>", line 5, in <module>' in err
    assert "raise ValueError(f'cannot double item {x}')" in err
    assert "step_runtime" not in err and str(paths["double-items"]) not in err
    record = json.loads(error_file.read_text())
    assert (record["step"], record["cell_index"], record["line"]) == ("double-items", 3, 5)
    assert record["batch"] == {"index": 2, "start": 7, "stop": 10}


def test_display_magics_do_nothing_in_a_step_and_other_magics_still_fail(tmp_path: Path) -> None:
    """%matplotlib, %config, %load_ext autoreload, %autoreload, %precision change no value."""
    nb = code_notebook(
        "%load_ext autoreload\n%autoreload 2\n%matplotlib inline\n%config Completer.use_jedi = False",
        "# make\nitems = [1, 2, 3]\n%precision 3",
        "# double\ndoubled = [2 * x for x in items]",
        "# show\nprint(doubled)\n%env X=1",
        tags={
            1: ["naavre:splitter", "naavre:batch-count:2"],
            2: ["naavre:processor"],
            3: ["naavre:merger"],
        },
    )
    spec = build_spec(nb, "magics.ipynb")
    paths = _write_scripts(spec, tmp_path)
    code, split_out, err = _run(paths["make"], tmp_path, {})
    assert code == 0, err
    results = tmp_path / "results"
    results.mkdir()
    for batch_file in sorted(split_out["naavre-batches"].iterdir()):
        code, out, err = _run(paths["double"], tmp_path, {"naavre-batch": batch_file})
        assert code == 0, err
        out["naavre-result"].rename(results / batch_file.name)
    code, _, err = _run(
        paths["show"],
        tmp_path,
        {"naavre-batch-results": results, "naavre-batch-count": split_out["naavre-batch-count"]},
    )
    assert code == 1
    assert "IPython magic or shell command (run_line_magic env X=1) cannot run" in err


def test_a_parameter_text_keeps_its_carriage_returns(tmp_path: Path) -> None:
    """Parameter files are read as written: no newline translation of ``\\r\\n``."""
    nb = code_notebook(
        "param_text = 'a'",
        "# make\nitems = [param_text]",
        "# show\nshown = [repr(x) for x in items]",
        "# end\nprint(shown)",
        tags={
            1: ["naavre:splitter", "naavre:batch-count:1"],
            2: ["naavre:processor"],
            3: ["naavre:merger"],
        },
    )
    paths = _write_scripts(build_spec(nb, "crlf.ipynb"), tmp_path)
    code, out, err = _run(paths["make"], tmp_path, {}, parameters={"param_text": "x\r\ny"})
    assert code == 0, err
    [batch] = [transport.load(str(p)) for p in out["naavre-batches"].iterdir()]
    assert batch["items"] == ["x\r\ny"]
