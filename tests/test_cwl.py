"""The CWL export: valid CWL v1.2 for cwltool, one tool per task running the runner's scripts,
scatter over the splitter's batches, parameters as typed workflow inputs, options, and the files
``naavre-batch export --format cwl`` and ``POST export`` write.

Validity is checked by cwltool itself (``cwltool --validate``, run in-process through
``cwltool.main.main``), the reference implementation that also runs the exports in
tests/test_cwl_execution.py. Where a test models what cwltool does, it names the function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import (
    NOTEBOOKS,
    TUTORIALS,
    api_error,
    api_post,
    code_notebook,
    cwltool_exit,
    export_cases,
    section_tags,
    sections_notebook,
    tagged_seed_notebook,
    write_tmp,
)

from naavre_batch_ext.cli import main
from naavre_batch_ext.core.notebook import load_notebook
from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.exporters import cwl
from naavre_batch_ext.exporters.argo import ArgoOptions, NothingToExportError, load_yaml
from naavre_batch_ext.exporters.export import export_files, job_path, write_exports
from naavre_batch_ext.steps.scripts import plan_tasks, task_script

pytest.importorskip("cwltool.main")


CASES = export_cases()
ALL_OPTIONS = ArgoOptions(
    image="registry.example.org/lab/py:1",
    images={"processor": "registry.example.org/lab/py-gpu:1"},
    cpu="500m",
    memory="1Gi",
)


def _spec(nb: Any, name: str = "splitting-batches.ipynb") -> dict[str, Any]:
    return build_spec(nb, name)


def _doc(spec: dict[str, Any], options: ArgoOptions | None = None) -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(cwl.export_cwl(spec, options))
    return document


def _graph(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in doc["$graph"]}


def _requirement(process: dict[str, Any], cls: str) -> dict[str, Any] | None:
    for req in process.get("requirements", []):
        if req["class"] == cls:
            found: dict[str, Any] = req
            return found
    return None


def _listing(tool: dict[str, Any]) -> dict[str, str]:
    req = _requirement(tool, "InitialWorkDirRequirement")
    assert req is not None
    return {e["entryname"]: e["entry"] for e in req["listing"]}


def cwltool_validate(folder: Path, spec: dict[str, Any], options: ArgoOptions | None = None) -> str:
    """Export into ``folder`` and run ``cwltool --validate DOC JOB``; cwltool's output if it
    fails, "" when it accepts the document and the job file."""
    files = export_files(spec, "cwl", folder / "nb.cwl", options)
    write_exports(files, force=True)
    return cwltool_exit(["--validate", str(files[0][0]), str(files[1][0])])


def evaluate_entry(entry: str, javascript: bool = False) -> Any:
    """An ``InitialWorkDirRequirement`` entry as cwltool evaluates it: its ``Builder.do_eval``
    calls cwl_utils.expression.do_eval with ``strip_whitespace=False``
    (cwltool/command_line_tool.py, ``CommandLineTool._initialworkdir``), which interpolates only
    strings holding ``$(`` or ``${``."""
    from cwl_utils.expression import do_eval

    requirements = [{"class": "InlineJavascriptRequirement"}] if javascript else []
    return do_eval(
        entry, {}, requirements, None, None, {}, strip_whitespace=False, cwlVersion="v1.2"
    )


# -- validity -----------------------------------------------------------------------------------


def test_every_tagged_test_notebook_is_exported() -> None:
    names = {name for name, _ in CASES}
    assert {"seed", *(f"tutorial:{t}" for t in TUTORIALS)} <= names
    assert any(name.startswith("file:runner/") for name in names)


@pytest.mark.parametrize("name,nb", CASES, ids=[c[0] for c in CASES])
def test_cwltool_validates_the_export_and_its_job_file(name: str, nb: Any, tmp_path: Path) -> None:
    assert cwltool_validate(tmp_path, _spec(nb)) == ""


def test_cwltool_validates_an_export_with_every_option(tmp_path: Path) -> None:
    assert cwltool_validate(tmp_path, _spec(tagged_seed_notebook()), ALL_OPTIONS) == ""


def test_cwltool_refuses_a_broken_document(tmp_path: Path) -> None:
    """The validation above can fail: a step wired to an output that does not exist."""
    spec = _spec(tagged_seed_notebook())
    doc = _doc(spec)
    doc["$graph"][0]["steps"]["process-batches"]["in"]["naavre-batch"] = "gen-batches/nothing"
    path = tmp_path / "broken.cwl"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert "gen-batches/nothing" in cwltool_exit(["--validate", str(path)])


# -- shape --------------------------------------------------------------------------------------


def test_document_is_one_packed_cwl_v1_2_workflow_with_one_tool_per_task() -> None:
    spec = _spec(tagged_seed_notebook())
    doc = _doc(spec)
    assert doc["cwlVersion"] == "v1.2"
    graph = _graph(doc)
    assert graph["main"]["class"] == "Workflow"
    tools = [p for p in doc["$graph"] if p["class"] == "CommandLineTool"]
    assert [t["id"] for t in tools] == [t.id for t in plan_tasks(spec)]
    steps = graph["main"]["steps"]
    assert list(steps) == [t.id for t in plan_tasks(spec)]
    assert all(step["run"] == f"#{step_id}" for step_id, step in steps.items())


@pytest.mark.parametrize("name,nb", CASES, ids=[c[0] for c in CASES])
def test_each_tool_ships_the_runner_script_and_runs_it_with_python3(name: str, nb: Any) -> None:
    """The script runs the code the local runner and Argo run (one generator): the shared
    runtime file, then the task's payload. CWL would evaluate ``$(`` in either, so they are
    escaped, and evaluating the entries as cwltool does (see :func:`evaluate_entry`) gives the
    runtime and the payload back byte for byte."""
    spec = _spec(nb)
    graph = _graph(_doc(spec))
    for task in plan_tasks(spec):
        tool = graph[task.id]
        assert tool["baseCommand"] == ["python3", cwl.SCRIPT_NAME]
        listing = _listing(tool)
        runtime = evaluate_entry(listing[cwl.RUNTIME_NAME])
        script = evaluate_entry(listing[cwl.SCRIPT_NAME])
        assert runtime + script.removeprefix(cwl.RUNTIME_LOADER) == task_script(spec, task)
        assert script.startswith(cwl.RUNTIME_LOADER)


def test_the_runtime_is_written_once_and_shared_by_every_tool() -> None:
    """Issue 22: the runtime appears once in the YAML text (an anchor, then aliases), however
    many tools there are, as the Argo export keeps it once in an annotation."""
    spec = _spec(sections_notebook(5))
    text = cwl.export_cwl(spec)
    runtime_line = "# The value transport, verbatim from naavre_batch_ext/steps/transport.py."
    assert text.count(runtime_line) == 1
    tools = [t for t in yaml.safe_load(text)["$graph"] if t["class"] == "CommandLineTool"]
    assert len(tools) == 15
    assert all(cwl.RUNTIME_NAME in _listing(tool) for tool in tools)


@pytest.mark.parametrize("sections,limit", [(1, 100 * 1024), (20, 300 * 1024)], ids=["1", "20"])
def test_cwl_export_of_20_sections_stays_under_300_kib(sections: int, limit: int) -> None:
    """Issue 22's goal (was about 200 KB per section): the size grows by each task's payload."""
    text = cwl.export_cwl(_spec(sections_notebook(sections)))
    assert len(text.encode("utf-8")) < limit


@pytest.mark.parametrize(
    "text",
    [
        'print("$(inputs.x) ${ return 1; }")\n',
        'print(r"\\$(y) \\\\$(z) \\ \\\\ end\\")\n',
        're.sub(r"\\d+$", "", s)  # a backslash, no expression\n',
    ],
)
def test_user_code_with_cwl_expressions_is_escaped_not_evaluated(text: str) -> None:
    assert evaluate_entry(cwl.escape_literal(text)) == text
    assert evaluate_entry(cwl.escape_literal(text), javascript=True) == text


def test_processor_chain_is_scattered_over_the_splitters_batches() -> None:
    doc = _doc(_spec(tagged_seed_notebook()))
    main_wf = _graph(doc)["main"]
    chain = main_wf["steps"]["process-batches"]
    assert chain["scatter"] == "naavre-batch"
    assert chain["in"]["naavre-batch"] == "gen-batches/naavre-batches"
    assert {"class": "ScatterFeatureRequirement"} in main_wf["requirements"]
    splitter = _graph(doc)["gen-batches"]
    batches = splitter["outputs"]["naavre-batches"]
    assert batches["type"] == {"type": "array", "items": "File"}
    assert batches["outputBinding"]["glob"] == "naavre-outputs/naavre-batches/*"


def test_merger_gets_every_batch_result_and_the_batch_count() -> None:
    doc = _doc(_spec(tagged_seed_notebook()))
    merger = _graph(doc)["main"]["steps"]["retrieve-batches"]
    assert merger["in"]["naavre-batch-results"] == "process-batches/naavre-result"
    assert merger["in"]["naavre-batch-count"] == "gen-batches/naavre-batch-count"
    listing = _listing(_graph(doc)["retrieve-batches"])
    assert listing["naavre-inputs/naavre-batch-count"] == '$(inputs["naavre-batch-count"])'
    # All result files are named naavre-result: staged by position into one folder.
    assert "naavre-inputs/naavre-batch-results" in listing


def test_javascript_is_required_by_mergers_only() -> None:
    doc = _doc(_spec(tagged_seed_notebook()))
    with_js = [p["id"] for p in doc["$graph"] if _requirement(p, "InlineJavascriptRequirement")]
    assert with_js == ["retrieve-batches"]
    assert all(_requirement(p, "StepInputExpressionRequirement") is None for p in doc["$graph"])


def test_parameters_are_typed_workflow_inputs_with_their_defaults() -> None:
    nb = code_notebook(
        "param_n = 3\nparam_rate = 0.5\nparam_label = 'x'\nparam_on = True\n"
        "param_xs = [3, 1]\nparam_cfg = {'b': 1, 'a': 2}\nparam_none = None\n"
        "param_big = 1099511627776",
        "items = list(range(param_n))",
        "out = [x for x in items]",
        "print(out)",
        tags=section_tags(1),
    )
    spec = _spec(nb)
    inputs = _graph(_doc(spec))["main"]["inputs"]
    got = {name: (i["type"], i.get("default")) for name, i in inputs.items()}
    assert got == {
        "param_n": ("int", 3),
        "param_rate": ("double", 0.5),
        "param_label": ("string", "x"),
        "param_on": ("boolean", True),
        "param_xs": ("string", "[3, 1]"),
        "param_cfg": ("string", '{"b": 1, "a": 2}'),  # the notebook's key order, as JSON text
        "param_none": ("string?", None),
        "param_big": ("long", 2**40),
    }


def test_parameters_reach_every_script_as_files_in_naavre_parameters() -> None:
    spec = _spec(tagged_seed_notebook())
    doc = _doc(spec)
    for task in plan_tasks(spec):
        listing = _listing(_graph(doc)[task.id])
        for name in ("param_item_count", "param_max_batch_count"):
            assert listing[f"naavre-inputs/naavre-parameters/{name}"] == f'$(inputs["{name}"])'
        step = _graph(doc)["main"]["steps"][task.id]
        assert step["in"]["param_item_count"] == "param_item_count"


def test_job_file_holds_every_default() -> None:
    spec = _spec(tagged_seed_notebook())
    job = yaml.safe_load(cwl.export_job(spec, "splitting-batches"))
    assert job == {"param_item_count": 28, "param_max_batch_count": 5}
    assert "cwltool splitting-batches.cwl splitting-batches.job.yml" in cwl.export_job(
        spec, "splitting-batches"
    )


def test_values_between_steps_are_files_staged_under_their_variable_names() -> None:
    path = NOTEBOOKS / "runner" / "two-sections.ipynb"
    spec = build_spec(load_notebook(path), path.name)
    doc = _doc(spec)
    tasks = plan_tasks(spec)
    for task in tasks:
        tool = _graph(doc)[task.id]
        for item in task.inputs:
            assert tool["inputs"][item.name]["type"] == "File"
            assert _listing(tool)[f"naavre-inputs/{item.name}"] == f'$(inputs["{item.name}"])'
            source = _graph(doc)["main"]["steps"][task.id]["in"][item.name]
            assert source == f"{item.task}/{item.name}"
    env = _requirement(_graph(doc)[tasks[0].id], "EnvVarRequirement")
    assert env is not None
    values = {e["envName"]: e["envValue"] for e in env["envDef"]}
    assert values["NAAVRE_VALUES"] == "binary"
    assert values["NAAVRE_INPUTS_DIR"] == "$(runtime.outdir)/naavre-inputs"
    assert values["NAAVRE_OUTPUTS_DIR"] == "$(runtime.outdir)/naavre-outputs"


def test_non_ascii_variable_names_get_cwl_ids_and_keep_their_file_names() -> None:
    nb = code_notebook(
        "données = [1, 2, 3]\nfacteur = 2",
        "résultat = [d * facteur for d in données]",
        "print(résultat)",
        tags={
            0: ["naavre:splitter", "naavre:batch-count:2", "naavre:split:données"],
            1: ["naavre:processor"],
            2: ["naavre:merger"],
        },
    )
    spec = _spec(nb)
    assert cwl.cwl_id("résultat") == "u_" + "résultat".encode().hex()
    assert cwl.cwl_id("facteur") == "facteur"
    # The merged value reaches nothing later, but the broadcast one is a File input.
    doc = _doc(spec)
    assert "facteur" in _graph(doc)[plan_tasks(spec)[1].id]["inputs"]


def test_every_value_crossing_a_step_is_a_workflow_output() -> None:
    spec = _spec(tagged_seed_notebook())
    outputs = _graph(_doc(spec))["main"]["outputs"]
    assert set(outputs) == set(cwl.workflow_outputs(spec))
    assert outputs["process-batches.naavre-result"]["outputSource"] == (
        "process-batches/naavre-result"
    )


def test_export_is_deterministic() -> None:
    spec = _spec(tagged_seed_notebook())
    assert cwl.export_cwl(spec) == cwl.export_cwl(_spec(tagged_seed_notebook()))


# -- options -------------------------------------------------------------------------------------


def test_image_options_become_docker_hints_per_role() -> None:
    doc = _doc(_spec(tagged_seed_notebook()), ALL_OPTIONS)
    images = {
        p["id"]: next(h["dockerPull"] for h in p["hints"] if h["class"] == "DockerRequirement")
        for p in doc["$graph"]
        if p["class"] == "CommandLineTool"
    }
    assert images == {
        "gen-batches": "registry.example.org/lab/py:1",
        "process-batches": "registry.example.org/lab/py-gpu:1",
        "retrieve-batches": "registry.example.org/lab/py:1",
    }


def test_default_image_is_the_argo_default() -> None:
    doc = _doc(_spec(tagged_seed_notebook()))
    tool = _graph(doc)["gen-batches"]
    assert {"class": "DockerRequirement", "dockerPull": "python:3.11-slim"} in tool["hints"]
    assert _requirement(tool, "ResourceRequirement") is None


def test_cpu_and_memory_become_a_resource_requirement() -> None:
    doc = _doc(_spec(tagged_seed_notebook()), ALL_OPTIONS)
    for process in doc["$graph"][1:]:
        assert _requirement(process, "ResourceRequirement") == {
            "class": "ResourceRequirement",
            "coresMin": 0.5,
            "ramMin": 1024,
        }


@pytest.mark.parametrize(
    ("quantity", "cores"), [("500m", 0.5), ("2", 2), ("1.5", 1.5), ("250m", 0.25)]
)
def test_kubernetes_cpu_quantities_as_cwl_cores(quantity: str, cores: float) -> None:
    assert cwl.cpu_cores(quantity) == cores


@pytest.mark.parametrize(
    ("quantity", "mib"), [("1Gi", 1024), ("512Mi", 512), ("1G", 954), ("1000000", 1)]
)
def test_kubernetes_memory_quantities_as_cwl_mebibytes(quantity: str, mib: int) -> None:
    assert cwl.memory_mebibytes(quantity) == mib


@pytest.mark.parametrize(
    ("options", "word"),
    [
        (ArgoOptions(cpu="lots"), "cpu"),
        (ArgoOptions(cpu="0"), "cpu"),
        (ArgoOptions(memory="1 gigabyte"), "memory"),
        (ArgoOptions(image="has space"), "image"),
    ],
)
def test_bad_options_are_refused_with_their_name(options: ArgoOptions, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        cwl.export_cwl(_spec(tagged_seed_notebook()), options)


def test_untagged_notebook_has_nothing_to_export() -> None:
    with pytest.raises(NothingToExportError):
        cwl.export_cwl(_spec(code_notebook("x = 1")))


# -- files: naavre-batch export --format cwl -----------------------------------------------------


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    return write_tmp(tagged_seed_notebook(), tmp_path, "splitting-batches.ipynb")


def test_cli_writes_the_document_and_its_job_file_beside_the_notebook(
    seed_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(seed_file), "--format", "cwl"]) == 0
    document = seed_file.with_name("splitting-batches.cwl")
    job = seed_file.with_name("splitting-batches.job.yml")
    assert yaml.safe_load(document.read_text(encoding="utf-8"))["cwlVersion"] == "v1.2"
    assert yaml.safe_load(job.read_text(encoding="utf-8"))["param_max_batch_count"] == 5
    out = capsys.readouterr().out
    assert f"cwltool {document} {job}" in out


def test_cli_never_overwrites_an_existing_job_file(
    seed_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = seed_file.with_name("splitting-batches.job.yml")
    job.write_text("param_item_count: 1000  # my run\n", encoding="utf-8")
    assert main(["export", str(seed_file), "--format", "cwl"]) == 1
    assert job.read_text(encoding="utf-8") == "param_item_count: 1000  # my run\n"
    assert not seed_file.with_name("splitting-batches.cwl").exists()  # nothing half-written
    assert "splitting-batches.job.yml exists" in capsys.readouterr().err
    assert main(["export", str(seed_file), "--format", "cwl", "--force"]) == 0
    assert "param_item_count: 28" in job.read_text(encoding="utf-8")


def test_cli_output_file_takes_its_job_file_along(seed_file: Path) -> None:
    target = seed_file.parent / "out" / "wf.cwl"
    target.parent.mkdir()
    assert main(["export", str(seed_file), "--format", "cwl", "-o", str(target)]) == 0
    assert job_path(target) == target.parent / "wf.job.yml"
    assert job_path(target).exists()


@pytest.mark.parametrize(
    "flag", [["--retries", "2"], ["--parallelism", "3"], ["--namespace", "lab"]]
)
def test_cli_refuses_argo_only_options_for_cwl(
    seed_file: Path, flag: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(seed_file), "--format", "cwl", *flag]) == 2
    assert f"{flag[0]} does not apply to --format cwl" in capsys.readouterr().err
    assert not seed_file.with_name("splitting-batches.cwl").exists()


def test_cli_refuses_a_bad_memory_quantity(
    seed_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(seed_file), "--format", "cwl", "--memory", "lots"]) == 2
    assert "--memory: 'lots' is not a Kubernetes quantity" in capsys.readouterr().err


# -- REST: POST export format cwl ---------------------------------------------------------------


async def test_rest_cwl_export_returns_the_document_and_the_job(
    jp_fetch: Any, jp_root_dir: Path, seed: str
) -> None:
    reply = await api_post(jp_fetch, "export", {"path": seed, "format": "cwl"})
    spec = build_spec(tagged_seed_notebook(), seed)
    assert reply["text"] == cwl.export_cwl(spec)
    assert reply["job"] == {"text": cwl.export_job(spec, "seed"), "path": None}
    assert not (jp_root_dir / "seed.cwl").exists()


async def test_rest_cwl_save_writes_both_files(jp_fetch: Any, jp_root_dir: Path, seed: str) -> None:
    body = {"path": seed, "format": "cwl", "save": True}
    reply = await api_post(jp_fetch, "export", body)
    assert reply["path"] == "seed.cwl" and reply["job"]["path"] == "seed.job.yml"
    assert (jp_root_dir / "seed.cwl").read_text(encoding="utf-8") == reply["text"]
    assert (jp_root_dir / "seed.job.yml").read_text(encoding="utf-8") == reply["job"]["text"]


async def test_rest_cwl_save_refuses_an_existing_job_file_and_writes_nothing(
    jp_fetch: Any, jp_root_dir: Path, seed: str
) -> None:
    (jp_root_dir / "seed.job.yml").write_text("param_item_count: 9\n", encoding="utf-8")
    code, reply = await api_error(jp_fetch, "export", {"path": seed, "format": "cwl", "save": True})
    assert code == 409 and reply["path"] == "seed.job.yml"
    assert (jp_root_dir / "seed.job.yml").read_text(encoding="utf-8") == "param_item_count: 9\n"
    assert not (jp_root_dir / "seed.cwl").exists()


async def test_rest_cwl_bad_cpu_is_a_400_naming_options_cpu(jp_fetch: Any, seed: str) -> None:
    code, reply = await api_error(
        jp_fetch, "export", {"path": seed, "format": "cwl", "options": {"cpu": "many"}}
    )
    assert code == 400 and reply["field"] == "options.cpu" and "many" in reply["message"]


def test_run_parameters_become_the_job_in_each_inputs_form() -> None:
    """``naavre-batch run --context cwl -p``: typed values as they are, lists and dicts as the
    JSON text their ``string`` input takes, other parameters at their defaults."""
    from naavre_batch_ext.engines.cwl_runner import job_values

    nb = code_notebook(
        "param_n = 3\nparam_xs = [3, 1]\nparam_label = 'x'\nparam_none = None",
        "items = list(range(param_n))",
        "out = [x for x in items]",
        "print(out)",
        tags=section_tags(1),
    )
    spec = _spec(nb)
    job = job_values(spec, {"param_xs": [5, {"b": 1, "a": 2}], "param_none": 7})
    assert job == {
        "param_n": 3,
        "param_xs": '[5, {"b": 1, "a": 2}]',
        "param_label": "x",
        "param_none": "7",
    }
