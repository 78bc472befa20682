"""The Argo export: valid against Argo's own schema, step scripts byte for byte, wiring, options.

Every exported workflow is validated against Argo Workflows' official JSON schema (v4.1.2, in
``tests/fixtures``), definition ``io.argoproj.workflow.v1alpha1.Workflow``, and against a strict
copy of it that also rejects unknown keys (the official one allows any key, so a misspelt field
would pass it and be silently ignored by Argo).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import os
import re
import subprocess
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from helpers import (
    NOTEBOOKS,
    TUTORIALS,
    code_notebook,
    export_cases,
    section_tags,
    sections_notebook,
    tagged_seed_notebook,
)

from naavre_batch_ext.core.notebook import load_notebook
from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.exporters import argo
from naavre_batch_ext.exporters.argo import (
    ArgoOptions,
    NothingToExportError,
    export_argo,
    export_warnings,
)
from naavre_batch_ext.steps.scripts import (
    PlanError,
    plan_tasks,
    script_prefix,
    task_payload_text,
    task_script,
)

SCHEMA_PATH = Path(__file__).parent / "fixtures" / "argo-workflow-schema-v4.1.2.json"
WORKFLOW_DEF = "#/definitions/io.argoproj.workflow.v1alpha1.Workflow"
ALL_OPTIONS = ArgoOptions(
    values="artifacts",
    artifact_repository_ref="naavre-minio",
    image="registry.example.org/lab/py:1",
    images={"processor": "registry.example.org/lab/py-gpu:1"},
    parallelism=4,
    retries=2,
    namespace="naavre",
    service_account="runner",
    cpu="500m",
    memory="1Gi",
    pod_gc="OnWorkflowCompletion",
    ttl_after_success=600,
    ttl_after_failure=0,
    active_deadline_seconds=3600,
    retry_backoff="1m30s",
)
NO_HYGIENE = ArgoOptions(
    pod_gc=None, ttl_after_success=None, ttl_after_failure=None, active_deadline_seconds=None
)
OPTION_SETS = {
    "defaults": ArgoOptions(),
    "artifacts": ArgoOptions(values="artifacts"),
    "all-options": ALL_OPTIONS,
    "all-options-parameters": dataclasses.replace(
        ALL_OPTIONS, values="parameters", artifact_repository_ref=None
    ),
    "no-hygiene": NO_HYGIENE,
}


def _argo_validate_binary() -> Path | None:
    """Argo v3.6.17's own validation (``argo lint`` offline), from $ARGO_VALIDATE or the shared
    tools folder beside the repository (``../shared/tools/argo-validate``)."""
    candidates = [os.environ.get("ARGO_VALIDATE", "")]
    for root in (Path(__file__).resolve().parents[1], Path("/work/main")):
        candidates.append(str(root.parent / "shared/tools/argo-validate/argo-validate"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


ARGO_VALIDATE = _argo_validate_binary()


def argo_validate(text: str, tmp_path: Path) -> str:
    """What Argo's validator says about a workflow: ``OK`` or its errors."""
    if ARGO_VALIDATE is None:
        pytest.skip("argo-validate is not installed here (set ARGO_VALIDATE=/path/to/it)")
    path = tmp_path / "workflow.yaml"
    path.write_text(text, encoding="utf-8")
    proc = subprocess.run(
        [str(ARGO_VALIDATE), str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    return (proc.stdout + proc.stderr).strip()


@lru_cache(maxsize=2)
def _validator(strict: bool) -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    definitions = copy.deepcopy(schema["definitions"])
    if strict:
        for definition in definitions.values():
            if "properties" in definition and "additionalProperties" not in definition:
                definition["additionalProperties"] = False
    root = {"$ref": WORKFLOW_DEF, "definitions": definitions}
    validator_cls = jsonschema.validators.validator_for(schema)
    return validator_cls(root)


def schema_errors(document: Any, strict: bool = False) -> list[str]:
    """Messages (with JSON paths) of every schema violation in ``document``."""
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator(strict).iter_errors(document)
    ]


CASES = export_cases()


def _spec(nb: Any, name: str = "splitting-batches.ipynb") -> dict[str, Any]:
    return build_spec(nb, name)


def _doc(spec: dict[str, Any], options: ArgoOptions | None = None) -> dict[str, Any]:
    document: dict[str, Any] = argo.load_yaml(export_argo(spec, options))
    return document


def _templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


def _dag(doc: dict[str, Any]) -> list[dict[str, Any]]:
    entry = _templates(doc)[doc["spec"]["entrypoint"]]
    tasks: list[dict[str, Any]] = entry["dag"]["tasks"]
    return tasks


def _env(template: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in template["script"]["env"]}


def pod_source(doc: dict[str, Any], template: dict[str, Any]) -> str:
    """A template's script as the pod runs it: the loader's runtime (from the annotation Argo
    fills in), then the task's own payload."""
    runtime = doc["metadata"]["annotations"][argo.ANNOTATION_RUNTIME]
    source: str = template["script"]["source"]
    assert source.startswith(argo.RUNTIME_LOADER) and source.count("{{") == 1
    loaded = zlib.decompress(base64.b64decode(runtime, validate=True)).decode("utf-8")
    return loaded + source[len(argo.RUNTIME_LOADER) :]


def without_prologue(source: str) -> str:
    """The pod's script without the Argo prologue (which hands parameter files to the runtime)."""
    assert source.count(argo.ARGO_PROLOGUE) == 1
    return source.replace(argo.ARGO_PROLOGUE, "")


def _input_files(template: dict[str, Any]) -> dict[str, str]:
    """The template's raw input files, by path relative to ``NAAVRE_INPUTS_DIR``."""
    folder = _env(template)["NAAVRE_INPUTS_DIR"] + "/"
    return {
        a["path"].removeprefix(folder): a["raw"]["data"]
        for a in template.get("inputs", {}).get("artifacts", [])
        if "raw" in a
    }


SECTION = section_tags(batch_count="3")
SECTION_ITEMS = {**SECTION, 0: [*SECTION[0], "naavre:split:items"]}
"""A section whose splitter also hands on other values, so it names the list to split."""


def simple_notebook(*header: str) -> Any:
    """A header (optional) and one section: split ``items``, square them, print the sum."""
    cells = [
        *header,
        "items = list(range(7))",
        "squares = [x * x for x in items]",
        "print(sum(squares))",
    ]
    offset = len(header)
    return code_notebook(*cells, tags={offset + k: v for k, v in SECTION.items()})


# -- validity -----------------------------------------------------------------------------------


def test_the_example_notebooks_are_all_exported() -> None:
    names = {name for name, _ in CASES}
    assert {"seed", *(f"tutorial:{t}" for t in TUTORIALS)} <= names


# Every notebook of CASES in a loop per option set, not a test item each (pytest-xdist's per-item
# cost was most of these tests' time); a failure names each notebook and what was said of it.


@pytest.mark.parametrize("options", list(OPTION_SETS.values()), ids=list(OPTION_SETS))
def test_exported_workflow_matches_argo_schema(options: ArgoOptions) -> None:
    errors = {name: e for name, nb in CASES if (e := schema_errors(_doc(_spec(nb), options)))}
    assert errors == {}


@pytest.mark.parametrize("options", list(OPTION_SETS.values()), ids=list(OPTION_SETS))
def test_argo_validates_every_export(options: ArgoOptions, tmp_path: Path) -> None:
    said = {name: argo_validate(export_argo(_spec(nb), options), tmp_path) for name, nb in CASES}
    assert {name: text for name, text in said.items() if text != "OK"} == {}


def test_argo_validate_catches_a_dangling_reference(tmp_path: Path) -> None:
    """The validator does refuse: a reference to an output no task declares."""
    text = export_argo(_spec(tagged_seed_notebook())).replace(
        "outputs.parameters.naavre-batch-count}}", "outputs.parameters.naavre-nope}}"
    )
    assert "naavre-nope" in argo_validate(text, tmp_path)


@pytest.mark.parametrize("name,nb", CASES, ids=[c[0] for c in CASES])
def test_exported_workflow_uses_only_fields_argo_knows(name: str, nb: Any) -> None:
    assert schema_errors(_doc(_spec(nb), ALL_OPTIONS), strict=True) == []


LIBYAML = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml here")


@LIBYAML
@pytest.mark.parametrize("name,nb", CASES, ids=[c[0] for c in CASES])
def test_libyaml_writes_every_export_exactly_as_pyyaml_s_emitter(name: str, nb: Any) -> None:
    """Exports are the same text on machines with and without libyaml."""
    document = argo.build_workflow(_spec(nb), ArgoOptions(values="artifacts"))
    assert argo.dump_yaml(document) == argo.dump_yaml(document, argo._Dumper)


def _characters_to_check() -> list[str]:
    """Latin-1 and its neighbours, the line and paragraph separators, the BOM, the end of the
    BMP, characters beyond it, and a fixed sample of the rest of the BMP."""
    import random

    points = [*range(0x300), 0x2028, 0x2029, 0xFEFF, 0xFFFD, 0xFFFE, 0xFFFF]
    points += [0x10000, 0x1F600, 0x10FFFF]
    bmp = [p for p in range(0x300, 0xFFFE) if not 0xD800 <= p <= 0xDFFF]
    return [chr(p) for p in points + random.Random(19).sample(bmp, 400)]


@LIBYAML
def test_what_libyaml_writes_otherwise_goes_to_pyyaml_s_emitter() -> None:
    """Each character alone, inside a word, on a line of a block and in a key: the text is
    PyYAML's (libyaml escapes emoji, and writes multi-line keys and NEL otherwise)."""
    differ = []
    for c in _characters_to_check():
        for document in ({"k": c}, {"k": f"a{c}b"}, {"k": f"x\n{c}\n"}, {f"a{c}b": 1}, {c: [c]}):
            if argo.dump_yaml(document) != argo.dump_yaml(document, argo._Dumper):
                differ.append((hex(ord(c)), document))
    assert differ == []


def test_an_emoji_in_a_cell_is_written_as_itself() -> None:
    script = "print('done \U0001f600')\n"
    assert "done \U0001f600" in argo.dump_yaml({"source": script})


def test_strict_schema_catches_a_misspelt_field() -> None:
    doc = _doc(_spec(tagged_seed_notebook()))
    doc["spec"]["templates"][1]["script"]["imagee"] = "x"
    assert schema_errors(doc) == []  # the official schema lets it through ...
    assert any("imagee" in e for e in schema_errors(doc, strict=True))  # ... the strict one not


def test_schema_rejects_a_wrongly_typed_field() -> None:
    doc = _doc(_spec(tagged_seed_notebook()))
    doc["spec"]["arguments"]["parameters"][0]["value"] = 28
    assert schema_errors(doc)


# -- scripts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,nb", CASES, ids=[c[0] for c in CASES])
def test_script_sources_are_the_runner_scripts_byte_for_byte(name: str, nb: Any) -> None:
    """Runtime (filled in from the annotation) + task payload = the local runner's script, apart
    from the Argo prologue between them."""
    spec = _spec(nb)
    doc = _doc(spec, ALL_OPTIONS)
    templates = _templates(doc)
    tasks = plan_tasks(spec)
    assert len(templates) == len(tasks) + 1
    for task in tasks:
        source = without_prologue(pod_source(doc, templates[task.id]))
        assert source.encode("utf-8") == task_script(spec, task).encode("utf-8")


def test_the_runtime_is_in_the_workflow_once_and_each_task_carries_only_its_payload() -> None:
    spec = _spec(tagged_seed_notebook())
    doc = _doc(spec)
    annotation = doc["metadata"]["annotations"][argo.ANNOTATION_RUNTIME]
    loaded = zlib.decompress(base64.b64decode(annotation)).decode("utf-8")
    assert loaded == script_prefix() + argo.ARGO_PROLOGUE
    for task in plan_tasks(spec):
        source = _templates(doc)[task.id]["script"]["source"]
        assert source == argo.RUNTIME_LOADER + task_payload_text(spec, task)
        assert "def execute(task" not in source and len(source) < 2500  # cells, wiring


def test_script_with_awkward_characters_round_trips_through_yaml() -> None:
    awkward = 'a = "tab\\there"   \nb = "\u2028\u2029\x85 end"  \r\nc = "{\'k\': 1}"\t\n'
    nb = simple_notebook(awkward)
    spec = _spec(nb)
    doc = _doc(spec)
    templates = _templates(doc)
    for task in plan_tasks(spec):
        assert without_prologue(pod_source(doc, templates[task.id])) == task_script(spec, task)


def test_script_templates_run_python_in_the_default_image() -> None:
    doc = _doc(_spec(tagged_seed_notebook()))
    scripts = [t for t in doc["spec"]["templates"] if "script" in t]
    assert scripts
    for template in scripts:
        assert template["script"]["command"] == ["python"]
        assert template["script"]["image"] == argo.DEFAULT_IMAGE == "python:3.11-slim"


def test_user_code_with_argo_braces_is_not_in_the_yaml_as_written() -> None:
    nb = simple_notebook('label = "{{ workflow.name }} and {{item}}"')
    text = export_argo(_spec(nb))
    assert "{{ workflow.name }}" not in text
    doc = yaml.safe_load(text)
    for template in doc["spec"]["templates"]:
        if "script" in template:
            assert "{{" not in pod_source(doc, template)
            assert "}}" not in pod_source(doc, template)


# -- workflow shape -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "notebook_name,expected",
    [
        ("splitting-batches", "splitting-batches-"),
        ("My Notebook_v2 (copy)", "my-notebook-v2-copy-"),
        ("2024 results", "nb-2024-results-"),
        ("données", "donn-es-"),
        ("", "notebook-"),
        ("___", "notebook-"),
    ],
)
def test_generate_name_is_a_dns_name_from_the_notebook(notebook_name: str, expected: str) -> None:
    assert argo.generate_name(notebook_name) == expected


def test_generate_name_leaves_room_for_argo_suffix_in_a_label() -> None:
    name = argo.generate_name("x" * 300)
    assert name.endswith("-") and len(name) + 5 <= 63
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?-", name)


def test_workflow_is_named_after_the_notebook() -> None:
    doc = _doc(_spec(tagged_seed_notebook(), "work/splitting-batches.ipynb"))
    assert doc["apiVersion"] == "argoproj.io/v1alpha1" and doc["kind"] == "Workflow"
    assert doc["metadata"]["generateName"] == "splitting-batches-"
    annotations = doc["metadata"]["annotations"]
    assert annotations[argo.ANNOTATION_NOTEBOOK] == "splitting-batches.ipynb"
    assert annotations[argo.ANNOTATION_SPEC_VERSION] == "naavre-batch/v1"


def test_source_notebook_annotation_is_the_file_name_not_an_absolute_path() -> None:
    text = export_argo(_spec(tagged_seed_notebook(), "/home/alice/project/seed.ipynb"))
    assert yaml.safe_load(text)["metadata"]["annotations"][argo.ANNOTATION_NOTEBOOK] == "seed.ipynb"
    assert "/home/alice" not in text


def test_every_parameter_default_is_a_workflow_argument_string() -> None:
    nb = simple_notebook(
        'param_n = 28\nparam_rate = 0.5\nparam_label = "007"\nparam_ids = [1, 2]\n'
        "param_on = True\nparam_none = None"
    )
    doc = _doc(_spec(nb))
    values = {p["name"]: p["value"] for p in doc["spec"]["arguments"]["parameters"]}
    assert values == {
        "param_n": "28",
        "param_rate": "0.5",
        "param_label": "007",
        "param_ids": "[1, 2]",
        "param_on": "true",
        "param_none": "null",
    }


def test_every_script_reads_every_parameter_from_the_workflow_at_run_time() -> None:
    """As a file of the inputs folder (a raw input artifact), never in an environment value,
    where Kubernetes would rewrite ``$(NAME)`` and ``$$``."""
    spec = _spec(tagged_seed_notebook())
    doc = _doc(spec)
    for task in plan_tasks(spec):
        template = _templates(doc)[task.id]
        files = {a["path"]: a["raw"]["data"] for a in template["inputs"]["artifacts"]}
        inputs_dir = _env(template)["NAAVRE_INPUTS_DIR"]
        for name in ("param_item_count", "param_max_batch_count"):
            path = f"{inputs_dir}/naavre-parameters/{name}"
            assert files[path] == "{{" + f"workflow.parameters.{name}" + "}}"
        assert all(
            "{{" not in e["value"] and "$" not in e["value"] for e in template["script"]["env"]
        )


def test_processor_chain_runs_once_per_batch_of_the_splitter() -> None:
    spec = _spec(tagged_seed_notebook())
    doc = _doc(spec)
    tasks = {t["name"]: t for t in _dag(doc)}
    proc = tasks["process-batches"]
    assert proc["withParam"] == "{{tasks.gen-batches.outputs.parameters.naavre-batches}}"
    assert proc["dependencies"] == ["gen-batches"]
    assert {"name": "naavre-batch", "value": "{{item}}"} in proc["arguments"]["parameters"]
    files = _input_files(_templates(doc)["process-batches"])
    assert files["naavre-batch"] == "{{inputs.parameters.naavre-batch}}"


def test_processor_steps_of_a_section_are_fused_into_one_pod() -> None:
    nb = code_notebook(
        "items = list(range(5))",
        "doubled = [2 * x for x in items]",
        "shifted = [x + 1 for x in doubled]",
        "print(shifted)",
        tags={
            0: SECTION[0],
            1: ["naavre:processor"],
            2: ["naavre:processor"],
            3: ["naavre:merger"],
        },
    )
    spec = _spec(nb)
    assert [s["role"] for s in spec["steps"]] == ["splitter", "processor", "processor", "merger"]
    dag = _dag(_doc(spec))
    assert [t.get("withParam") is not None for t in dag] == [False, True, False]
    assert len(dag) == 3


def test_merger_gets_the_aggregated_results_and_the_batch_count() -> None:
    doc = _doc(_spec(tagged_seed_notebook()))
    merger = {t["name"]: t for t in _dag(doc)}["retrieve-batches"]
    args = {a["name"]: a["value"] for a in merger["arguments"]["parameters"]}
    assert (
        args["naavre-batch-results"] == "{{tasks.process-batches.outputs.parameters.naavre-result}}"
    )
    assert (
        args["naavre-batch-count"] == "{{tasks.gen-batches.outputs.parameters.naavre-batch-count}}"
    )
    files = _input_files(_templates(doc)["retrieve-batches"])
    assert files["naavre-batch-results"] == "{{inputs.parameters.naavre-batch-results}}"
    assert files["naavre-batch-count"] == "{{inputs.parameters.naavre-batch-count}}"
    assert set(merger["dependencies"]) == {"process-batches", "gen-batches"}


def test_failed_batches_do_not_stop_the_merger_from_naming_them() -> None:
    doc = _doc(_spec(tagged_seed_notebook()))
    tasks = {t["name"]: t for t in _dag(doc)}
    assert tasks["process-batches"]["continueOn"] == {"failed": True}
    entry = _templates(doc)[doc["spec"]["entrypoint"]]
    assert entry["dag"]["failFast"] is False


@pytest.mark.parametrize("values", argo.VALUES_MODES)
def test_outputs_are_read_from_the_files_the_script_writes(values: str) -> None:
    doc = _doc(_spec(tagged_seed_notebook()), ArgoOptions(values=values))
    for template in doc["spec"]["templates"]:
        if "script" not in template:
            continue
        outputs_dir = _env(template)["NAAVRE_OUTPUTS_DIR"]
        outputs = template.get("outputs", {})
        for output in outputs.get("parameters", []) + outputs.get("artifacts", []):
            path = output.get("path") or output["valueFrom"]["path"]
            assert path == f"{outputs_dir}/{output['name']}"


def test_every_template_reference_resolves_to_something_declared() -> None:
    nb = code_notebook(
        "param_scale = 3",
        "items = list(range(6))\noffset = 10",
        "out = [x * param_scale + offset for x in items]",
        "total = sum(out)",
        "more = list(range(total % 5 + 2))",
        "again = [m + total for m in more]",
        "print(again)",
        tags={
            1: SECTION_ITEMS[0],
            2: ["naavre:processor"],
            3: ["naavre:merger"],
            4: ["naavre:splitter", "naavre:batch-count:param_scale"],
            5: ["naavre:processor"],
            6: ["naavre:merger"],
        },
    )
    spec = _spec(nb)
    assert not spec["summary"]["errors"], spec["diagnostics"]
    doc = _doc(spec)
    templates = _templates(doc)
    outputs = {
        name: {p["name"] for p in t.get("outputs", {}).get("parameters", [])}
        for name, t in templates.items()
    }
    params = {p["name"] for p in doc["spec"]["arguments"]["parameters"]}
    seen: set[str] = set()
    for task in _dag(doc):
        for dep in task.get("dependencies", []):
            assert dep in seen, f"{task['name']} depends on {dep}, which comes later"
        texts = [task.get("withParam", "")] + [
            a["value"] for a in task.get("arguments", {}).get("parameters", [])
        ]
        for text in texts:
            for ref in re.findall(r"\{\{(.*?)\}\}", text):
                parts = ref.strip().split(".")
                if parts == ["item"]:
                    assert "withParam" in task
                    continue
                assert parts[0] == "tasks" and parts[2:4] == ["outputs", "parameters"], ref
                assert parts[1] in seen and parts[4] in outputs[parts[1]], ref
        declared = {
            p["name"] for p in templates[task["template"]].get("inputs", {}).get("parameters", [])
        }
        given = {a["name"] for a in task.get("arguments", {}).get("parameters", [])}
        assert declared == given
        template = templates[task["template"]]
        raw = [a["raw"]["data"] for a in template.get("inputs", {}).get("artifacts", [])]
        for value in [*_env(template).values(), *raw]:
            for ref in re.findall(r"\{\{(.*?)\}\}", value):
                kind, _, name = ref.strip().partition(".parameters.")
                assert (kind, name in (params if kind == "workflow" else declared)) in {
                    ("workflow", True),
                    ("inputs", True),
                }, ref
        seen.add(task["name"])


def test_values_from_earlier_steps_reach_later_steps_as_input_files() -> None:
    spec = _spec(
        code_notebook(
            "items = list(range(6))\nfactor = 7",
            "out = [x * factor for x in items]",
            "print(out)",
            tags=SECTION_ITEMS,
        )
    )
    doc = _doc(spec)
    proc = {t["name"]: t for t in _dag(doc)}[spec["steps"][1]["id"]]
    splitter = spec["steps"][0]["id"]
    args = {a["name"]: a["value"] for a in proc["arguments"]["parameters"]}
    assert args["factor"] == "{{" + f"tasks.{splitter}.outputs.parameters.factor" + "}}"
    files = _input_files(_templates(doc)[proc["name"]])
    assert files["factor"] == "{{inputs.parameters.factor}}"
    out = {p["name"]: p for p in _templates(doc)[splitter]["outputs"]["parameters"]}
    assert out["factor"]["valueFrom"]["path"] == f"{argo.OUTPUTS_DIR}/factor"


def test_parameters_mode_writes_text_form_values_with_a_size_limit() -> None:
    doc = _doc(_spec(tagged_seed_notebook()))
    for template in doc["spec"]["templates"]:
        if "script" in template:
            env = _env(template)
            assert env["NAAVRE_VALUES"] == "text"
            assert env["NAAVRE_TEXT_LIMIT"] == str(argo.PARAMETER_VALUE_LIMIT)


def test_artifacts_mode_stores_every_value_as_a_key_only_artifact_under_the_workflow_name() -> None:
    spec = _spec(
        code_notebook(
            "items = list(range(6))\nfactor = 7",
            "out = [x * factor for x in items]",
            "print(out)",
            tags=SECTION_ITEMS,
        )
    )
    doc = _doc(spec, ArgoOptions(values="artifacts"))
    splitter, chain, merger = (s["id"] for s in spec["steps"])
    templates = _templates(doc)
    assert "artifactRepositoryRef" not in doc["spec"]  # the namespace's default repository
    for template in templates.values():
        if "script" in template:
            assert _env(template)["NAAVRE_VALUES"] == "binary"
            assert "NAAVRE_TEXT_LIMIT" not in _env(template)
            for artifact in template.get("outputs", {}).get("artifacts", []):
                assert artifact["archive"] == {"none": {}}
                assert set(artifact["s3"]) == {"key"}
                assert artifact["s3"]["key"].startswith("{{workflow.name}}/" + template["name"])
    out = {a["name"]: a for a in templates[splitter]["outputs"]["artifacts"]}
    assert out["factor"]["s3"]["key"] == f"{{{{workflow.name}}}}/{splitter}/factor"
    (listing,) = templates[splitter]["outputs"]["parameters"]  # only what withParam needs
    assert listing["name"] == "naavre-batch-list"
    dag = {t["name"]: t for t in _dag(doc)}
    assert dag[chain]["withParam"] == (
        "{{" + f"tasks.{splitter}.outputs.parameters.naavre-batch-list" + "}}"
    )
    batch = {a["name"]: a for a in dag[chain]["arguments"]["artifacts"]}["naavre-batch"]
    assert (
        batch["s3"]["key"] == f"{{{{workflow.name}}}}/{splitter}/naavre-batches/{{{{item.index}}}}"
    )
    result = templates[chain]["outputs"]["artifacts"][0]
    assert result["s3"]["key"] == (
        f"{{{{workflow.name}}}}/{chain}/naavre-result/{{{{inputs.parameters.naavre-batch-index}}}}"
    )
    results = {a["name"]: a for a in dag[merger]["arguments"]["artifacts"]}
    assert results["naavre-batch-results"]["s3"]["key"] == (
        f"{{{{workflow.name}}}}/{chain}/naavre-result"  # the prefix: every instance's result
    )


def test_artifact_repository_ref_selects_a_repository_of_the_config_map() -> None:
    options = ArgoOptions(values="artifacts", artifact_repository_ref="my-minio")
    doc = _doc(_spec(tagged_seed_notebook()), options)
    assert doc["spec"]["artifactRepositoryRef"] == {"key": "my-minio"}


def test_artifact_repository_ref_needs_values_as_artifacts() -> None:
    with pytest.raises(ValueError, match="needs --values artifacts"):
        ArgoOptions(artifact_repository_ref="my-minio").check()


def test_non_ascii_variable_names_get_valid_argo_names() -> None:
    spec = _spec(
        code_notebook(
            "items = list(range(6))\nfacteur_é = 7",
            "out = [x * facteur_é for x in items]",
            "print(out)",
            tags=SECTION_ITEMS,
        )
    )
    text = export_argo(spec)
    doc = yaml.safe_load(text)
    names = [
        p["name"]
        for t in doc["spec"]["templates"]
        for group in ("inputs", "outputs")
        for p in t.get(group, {}).get("parameters", [])
    ]
    assert names and all(re.fullmatch(r"[-a-zA-Z0-9_]+", n) for n in names)
    env_names = [
        e["name"] for t in doc["spec"]["templates"] if "script" in t for e in t["script"]["env"]
    ]
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in env_names)
    assert schema_errors(doc, strict=True) == []


def test_entry_template_name_does_not_clash_with_a_step_named_main() -> None:
    nb = code_notebook(
        "# main\nitems = list(range(4))",
        "out = items",
        "print(out)",
        tags=SECTION,
    )
    spec = _spec(nb)
    assert spec["steps"][0]["id"] == "main"
    doc = _doc(spec)
    names = [t["name"] for t in doc["spec"]["templates"]]
    assert len(names) == len(set(names))
    assert "dag" in _templates(doc)[doc["spec"]["entrypoint"]]


def test_export_is_deterministic() -> None:
    spec = _spec(tagged_seed_notebook())
    assert export_argo(spec, ALL_OPTIONS) == export_argo(copy.deepcopy(spec), ALL_OPTIONS)


# -- options ------------------------------------------------------------------------------------


def test_options_set_images_per_role() -> None:
    options = ArgoOptions(image="base:1", images={"splitter": "split:1", "merger": "merge:1"})
    doc = _doc(_spec(tagged_seed_notebook()), options)
    images = {t["name"]: t["script"]["image"] for t in doc["spec"]["templates"] if "script" in t}
    assert images == {
        "gen-batches": "split:1",
        "process-batches": "base:1",
        "retrieve-batches": "merge:1",
    }


def test_options_set_namespace_account_parallelism_and_requests() -> None:
    doc = _doc(_spec(tagged_seed_notebook()), ALL_OPTIONS)
    assert doc["metadata"]["namespace"] == "naavre"
    assert doc["spec"]["serviceAccountName"] == "runner"
    assert doc["spec"]["parallelism"] == 4
    for template in doc["spec"]["templates"]:
        if "script" in template:
            assert template["script"]["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}}


def test_defaults_leave_cluster_settings_to_the_cluster() -> None:
    doc = _doc(_spec(tagged_seed_notebook()))
    assert "namespace" not in doc["metadata"]
    assert "serviceAccountName" not in doc["spec"] and "parallelism" not in doc["spec"]
    assert all("resources" not in t.get("script", {}) for t in doc["spec"]["templates"])
    assert all("retryStrategy" not in t for t in doc["spec"]["templates"])


def test_retries_apply_to_processor_pods_only() -> None:
    doc = _doc(_spec(tagged_seed_notebook()), ArgoOptions(retries=3))
    retried = {
        t["name"]: t["retryStrategy"] for t in doc["spec"]["templates"] if "retryStrategy" in t
    }
    backoff = {"duration": "10s", "factor": "2", "maxDuration": argo.RETRY_MAX_BACKOFF}
    assert retried == {"process-batches": {"limit": "3", "backoff": backoff}}


@pytest.mark.parametrize(
    "options,word",
    [
        (ArgoOptions(parallelism=0), "parallelism"),
        (ArgoOptions(retries=-1), "retries"),
        (ArgoOptions(image="bad image"), "image"),
        (ArgoOptions(images={"worker": "x:1"}), "worker"),
    ],
)
def test_bad_options_are_refused_with_their_name(options: ArgoOptions, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        export_argo(_spec(tagged_seed_notebook()), options)


# -- warnings and refusals ----------------------------------------------------------------------


def test_third_party_imports_are_annotated_and_warned_about() -> None:
    nb = code_notebook(
        "import numpy as np\nimport os",
        "items = list(range(7))",
        "import pandas\nsquares = [x * x for x in items]",
        "print(sum(squares))",
        tags={1: SECTION[0], 2: SECTION[1], 3: SECTION[2]},
    )
    spec = _spec(nb)
    doc = _doc(spec)
    assert doc["metadata"]["annotations"][argo.ANNOTATION_IMPORTS] == "numpy,pandas"
    warnings = export_warnings(spec)
    assert [w.code for w in warnings] == ["third-party-imports"]
    assert "numpy, pandas" in warnings[0].message and "--image" in warnings[0].hint


def test_standard_library_imports_give_no_warning() -> None:
    spec = _spec(simple_notebook("import json\nfrom itertools import chain"))
    assert export_warnings(spec) == []
    assert _doc(spec)["metadata"]["annotations"][argo.ANNOTATION_IMPORTS] == ""


def test_large_parameter_default_is_warned_about() -> None:
    big = "x" * (argo.PARAMETER_WARN_BYTES + 1)
    spec = _spec(simple_notebook(f'param_blob = "{big}"\nparam_n = 3'))
    warnings = export_warnings(spec)
    assert [w.code for w in warnings] == ["large-parameter"]
    assert "param_blob" in warnings[0].message and "path" in warnings[0].hint


def test_small_parameters_adding_up_to_a_lot_are_warned_about() -> None:
    chunk = "y" * argo.PARAMETER_WARN_BYTES  # each at the limit, not above it
    count = argo.PARAMETERS_TOTAL_WARN_BYTES // argo.PARAMETER_WARN_BYTES + 1
    spec = _spec(simple_notebook("\n".join(f'param_{i} = "{chunk}"' for i in range(count))))
    assert [w.code for w in export_warnings(spec)] == ["large-parameters"]


def test_parameter_default_with_argo_braces_is_warned_about() -> None:
    spec = _spec(simple_notebook('param_fmt = "{{x}}"'))
    assert [w.code for w in export_warnings(spec)] == ["parameter-braces"]


def test_large_workflow_is_warned_about() -> None:
    spec = _spec(tagged_seed_notebook())
    text = export_argo(spec)
    assert export_warnings(spec, workflow_text=text) == []
    padded = text + "#" * argo.WORKFLOW_WARN_BYTES
    assert [w.code for w in export_warnings(spec, workflow_text=padded)] == ["large-workflow"]


@pytest.mark.parametrize(
    "sections,limit", [(1, 40_000), (20, 300 * 1024), (100, 1024 * 1024)], ids=["1", "20", "100"]
)
def test_export_size_grows_with_the_tasks_own_code_not_with_copies_of_the_runtime(
    sections: int, limit: int, tmp_path: Path
) -> None:
    """Issue 12's goals: one runtime per workflow keeps 100 sections under Kubernetes' ~1 MiB."""
    spec = _spec(sections_notebook(sections))
    assert len(spec["sections"]) == sections and not spec["summary"]["errors"]
    text = export_argo(spec)
    assert len(text.encode("utf-8")) < limit
    assert argo_validate(text, tmp_path) == "OK"


def test_seed_export_is_under_40_kb() -> None:
    assert len(export_argo(_spec(tagged_seed_notebook())).encode("utf-8")) < 40_000


def test_large_workflow_warning_names_a_large_header_that_every_task_carries() -> None:
    spec = _spec(sections_notebook(10, header="param_scale = 2\nTABLE = " + repr("x" * 30_000)))
    (warning,) = [w for w in export_warnings(spec, workflow_text=export_argo(spec))]
    assert warning.code == "large-workflow"
    assert "the header cells (29 KiB), which each of the 30 tasks carries" in warning.message
    assert "header" in warning.hint


def test_large_workflow_warning_names_large_cells() -> None:
    spec = _spec(sections_notebook(2, cell=f"TABLE = {'x' * 600_000!r}\n"))
    (warning,) = [w for w in export_warnings(spec, workflow_text=export_argo(spec))]
    assert "mostly the tagged cells' code (1172 KiB)" in warning.message


def test_large_workflow_warning_names_the_number_of_tasks() -> None:
    spec = _spec(sections_notebook(200))
    (warning,) = [w for w in export_warnings(spec, workflow_text=export_argo(spec))]
    assert "mostly 600 tasks of about" in warning.message
    assert "fewer" in warning.hint


def test_large_workflow_warning_for_thousands_of_cells_names_the_cells_not_sections() -> None:
    """Issue 22 item 13: one section of 10,000 one-line cells is large because of the cells;
    "merge small sections" does not apply to one section."""
    cells = ["items = list(range(4))", "out = list(items)"]
    cells += [f"x{i} = {i}" for i in range(9_997)] + ["print(out)"]
    spec = _spec(
        code_notebook(
            *cells,
            tags={
                0: ["naavre:splitter", "naavre:batch-count:2"],
                1: ["naavre:processor"],
                9_999: ["naavre:merger"],
            },
        )
    )
    assert len(spec["sections"]) == 1
    (warning,) = export_warnings(spec, workflow_text=export_argo(spec))
    assert warning.code == "large-workflow"
    assert "mostly the 10,000 tagged cells' code" in warning.message
    assert "join the 10,000 small cells into fewer, larger ones" in warning.hint
    assert "sections" not in warning.hint


def test_untagged_notebook_has_nothing_to_export() -> None:
    spec = _spec(load_notebook(NOTEBOOKS / "splitting-batches.ipynb"))
    with pytest.raises(NothingToExportError, match="tag cells"):
        export_argo(spec)


def test_notebook_with_analysis_errors_is_not_exported() -> None:
    nb = code_notebook(
        "items = list(range(3))",
        "out = [undefined_name for x in items]",
        "print(out)",
        tags=SECTION,
    )
    spec = _spec(nb)
    assert spec["summary"]["errors"]
    with pytest.raises(PlanError):
        export_argo(spec)
