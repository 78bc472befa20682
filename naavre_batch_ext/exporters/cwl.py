"""Export a workflow spec as one packed CWL v1.2 document that ``cwltool`` and Toil run as is.

Pure: a spec and options in, YAML text out (PyYAML); no engine, no file system. Each task of
:func:`naavre_batch_ext.steps.scripts.plan_tasks` becomes one ``CommandLineTool`` that runs the task's
step script (:func:`naavre_batch_ext.steps.scripts.task_script`: what the local runner and the Argo
export run) with ``python3``; the script travels inside the tool, in its
``InitialWorkDirRequirement``, so the document is one self-contained file. The step runtime, which
every script starts with, is one entry that every tool shares (a YAML anchor and its aliases), so
the document grows by each task's own payload, not by a copy of the runtime per tool.

Values cross steps as CWL ``File`` objects holding value files of the transport module
(``NAAVRE_VALUES=binary``, docs/running.md), so any size and any type the transport carries passes,
and parameters reach the scripts as files ``naavre-parameters/<name>`` (the raw text, as given to
``naavre-batch run -p``). Shape (docs/cwl.md):

- ``$graph``: the ``Workflow`` (``#main``) and one ``CommandLineTool`` per task;
- workflow inputs: every ``param_*`` with a CWL type and its default; the job file beside the
  document (:func:`export_job`) repeats the defaults;
- a section's processor chain is one step scattered over the splitter's ``naavre-batches`` (a
  ``File[]``, one file per batch, in batch order); CWL gathers the scattered outputs in input
  order, and the merger stages them as the folder ``naavre-batch-results`` (the only place that
  needs ``InlineJavascriptRequirement``: plain CWL cannot rename files that all have one name);
- workflow outputs: every value that crosses a step boundary, so a run can be compared with the
  notebook context (:mod:`naavre_batch_ext.engines.cwl_runner`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import SPEC_API_VERSION
from ..steps import r_scripts
from ..steps.scripts import (
    HASH_SEED,
    RESERVED_BATCH_COUNT,
    RESERVED_BATCHES,
    RESERVED_RESULT,
    Task,
    plan_tasks,
    script_prefix,
    task_payload_text,
)
from . import r_export
from .argo import (
    ArgoOptions,
    NothingToExportError,
    dump_yaml,
    parameter_value,
    third_party_imports,
)
from .k8s_options import parse_quantity

__all__ = [
    "CWL_VERSION",
    "INPUTS_DIR",
    "OUTPUTS_DIR",
    "RUNTIME_LOADER",
    "RUNTIME_NAME",
    "SCRIPT_NAME",
    "OutputRef",
    "build_job",
    "build_workflow",
    "check_options",
    "cwl_id",
    "cwl_parameter",
    "escape_literal",
    "export_cwl",
    "export_job",
    "memory_mebibytes",
    "cpu_cores",
    "runtime_entry",
    "script_entry",
    "workflow_outputs",
]

CWL_VERSION = "v1.2"

SCRIPT_NAME = "naavre-step.py"
"""The step script's file name in each tool's working directory."""

RUNTIME_NAME = "naavre-runtime.py"
"""The step runtime's file beside it (:func:`naavre_batch_ext.steps.scripts.script_prefix`)."""

RUNTIME_LOADER = (
    "import os as _os\n"
    "_naavre_runtime = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "
    f"{RUNTIME_NAME!r})\n"
    'with open(_naavre_runtime, encoding="utf-8") as _handle:\n'
    f'    exec(compile(_handle.read(), {RUNTIME_NAME!r}, "exec"))\n'
)
"""The start of every tool's script: runs the runtime staged beside it, in the script's own
namespace, as the Argo export's loader runs the runtime of its annotation; then the task's
payload follows, so a tool runs :func:`~naavre_batch_ext.steps.scripts.task_script`'s code."""

INPUTS_DIR = "naavre-inputs"
"""Folder (in the tool's working directory) staged with the task's inputs: ``NAAVRE_INPUTS_DIR``."""

OUTPUTS_DIR = "naavre-outputs"
"""Folder the script writes its outputs into: ``NAAVRE_OUTPUTS_DIR``; the tool globs them."""

ERROR_FILE = "naavre-error.json"
"""The script's failure record (``NAAVRE_ERROR_FILE``), left in the job's folder."""

PRINTED_FILE = "naavre-printed.json"
"""What each step cell printed (``NAAVRE_PRINTED_FILE``), left in the job's folder."""

PARAMETERS_DIR = "naavre-parameters"
"""Subfolder of the inputs: one file per workflow parameter, its raw text."""

BATCH = "naavre-batch"
BATCH_RESULTS = "naavre-batch-results"
BATCH_COUNT = RESERVED_BATCH_COUNT

_CWL_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def cwl_id(variable: str) -> str:
    """A Python variable name as a CWL identifier (a step input, output or workflow output).

    ASCII identifiers are kept (readable documents and ``$(inputs.name)`` references); others
    (``données``) get a stable ``u_<hex of UTF-8>`` form. The file the script reads keeps the
    variable's own name. Reserved names are hyphenated, so they never clash with a variable.
    """
    if _CWL_ID.match(variable):
        return variable
    return "u_" + variable.encode("utf-8").hex()


def _ref(input_id: str) -> str:
    """A CWL parameter reference to a tool input (bracket form: ids may contain hyphens)."""
    return f"$(inputs[{json.dumps(input_id)}])"


def escape_literal(text: str) -> str:
    """``text`` as a CWL string that evaluates to itself (an ``InitialWorkDirRequirement`` entry).

    CWL evaluates ``$(...)`` and ``${...}`` in such strings; a script holding either (a cell with
    ``"$(date)"``, a regular expression) would be changed. In a string that holds one, CWL v1.1+
    reads ``\\$(`` as a literal ``$(`` and ``\\\\`` as one backslash (cwl_utils/expression.py,
    ``interpolate``, escaping behaviour 2), so backslashes are doubled first. A string without
    either is not evaluated at all and is returned unchanged.
    """
    if "$(" not in text and "${" not in text:
        return text
    return text.replace("\\", "\\\\").replace("$(", "\\$(").replace("${", "\\${")


def cpu_cores(quantity: str) -> float | int:
    """A Kubernetes CPU quantity (``500m``, ``2``, ``1.5``) as CWL ``coresMin`` (cores); the
    grammar is the Argo export's (:func:`naavre_batch_ext.exporters.k8s_options.parse_quantity`)."""
    amount = parse_quantity(quantity.strip())
    if amount is None or amount <= 0:
        raise ValueError(f"cpu must be a number of cores such as 2, 0.5 or 500m, got {quantity!r}")
    value = float(amount)
    return int(value) if value == int(value) else value


def memory_mebibytes(quantity: str) -> int:
    """A Kubernetes memory quantity (``1Gi``, ``512Mi``, ``2G``) as CWL ``ramMin`` (MiB, up)."""
    amount = parse_quantity(quantity.strip())
    if amount is None or amount <= 0:
        raise ValueError(f"memory must be a quantity such as 512Mi, 1Gi or 2G, got {quantity!r}")
    mib = float(amount) / 1024**2
    return max(1, int(mib) if mib == int(mib) else int(mib) + 1)


def cwl_parameter(param: Mapping[str, Any]) -> tuple[Any, Any]:
    """A notebook parameter as a workflow input: ``(CWL type, default)``.

    Numbers, strings and booleans keep their type (``int`` or, beyond 32 bits, ``long``;
    ``double``; ``string``; ``boolean``), so ``cwltool ... --param_n 10`` is checked by the engine.
    Lists, dicts and ``None`` are JSON text in a ``string`` (as ``naavre-batch run -p`` takes them):
    a CWL engine would re-serialise a structured value with its keys sorted, and the notebook's
    own order must survive. A ``None`` default is an optional string without a default (the script
    then uses the notebook's ``None``).
    """
    default = param.get("default")
    kind = param.get("type")
    if kind == "bool" or isinstance(default, bool):
        return "boolean", default
    if kind == "int" and isinstance(default, int):
        return ("int" if -(2**31) <= default < 2**31 else "long"), default
    if kind == "float" and isinstance(default, float):
        return "double", default
    if kind == "str" and isinstance(default, str):
        return "string", default
    if default is None:
        return "string?", None
    return "string", parameter_value(default, kind)


@dataclass(frozen=True)
class OutputRef:
    """What a workflow output holds: ``name`` (a variable, or a reserved name) of task ``task``.

    ``many`` is true for a ``File[]``: the splitter's batches and a processor chain's results.
    """

    task: str
    name: str
    many: bool = False


def _output_names(task: Task) -> list[str]:
    """Files a task's tool hands on: its outputs and the reserved names of its kind."""
    names = list(task.outputs)
    if task.kind == "splitter":
        names += [RESERVED_BATCHES, RESERVED_BATCH_COUNT]
    if task.kind == "processors":
        names.append(RESERVED_RESULT)
    return names


def _output_id(name: str) -> str:
    return name if name.startswith("naavre-") else cwl_id(name)


def workflow_outputs(spec: Mapping[str, Any]) -> dict[str, OutputRef]:
    """The workflow's outputs by id: every value that crosses a step boundary.

    Ids are ``<task>.<name>`` (a CWL id may hold dots, and task ids never do), the same for the
    exporter and for :mod:`naavre_batch_ext.engines.cwl_runner`, which reads them back.
    """
    refs: dict[str, OutputRef] = {}
    for task in plan_tasks(dict(spec)):
        for name in _output_names(task):
            many = name == RESERVED_BATCHES or task.kind == "processors"
            refs[f"{task.id}.{_output_id(name)}"] = OutputRef(task.id, name, many)
    return refs


def _tool_id(task: Task) -> str:
    """The tool's id in ``$graph``: the task id, unless that is the workflow's ``main``."""
    return task.id if task.id != "main" else "main-tool"


def check_options(options: ArgoOptions) -> None:
    """Raise ``ValueError`` for options a CWL document cannot carry, naming the option: the
    image checks of :meth:`ArgoOptions.check`, and ``cpu``/``memory`` as CWL numbers."""
    options.check()
    if options.cpu is not None:
        cpu_cores(options.cpu)
    if options.memory is not None:
        memory_mebibytes(options.memory)


def runtime_entry() -> dict[str, str]:
    """The ``InitialWorkDirRequirement`` entry staging the step runtime as :data:`RUNTIME_NAME`.

    Every tool lists this one dict, so the YAML holds the runtime once (an anchor where the first
    tool lists it, an alias in every other: YAML 1.2 section 3.2.2.2, which schema-salad's loader
    resolves) instead of a copy per tool, as the Argo export keeps it once in an annotation."""
    return {"entryname": RUNTIME_NAME, "entry": escape_literal(script_prefix())}


def script_entry(spec: Mapping[str, Any], task: Task) -> dict[str, str]:
    """The entry of the task's own script: :data:`RUNTIME_LOADER`, then its payload."""
    if r_scripts.is_r(dict(spec)):  # an R script carries its runtime; see r_scripts
        text = r_scripts.r_task_script(dict(spec), task)
        return {"entryname": r_export.CWL_SCRIPT_NAME, "entry": escape_literal(text)}
    text = RUNTIME_LOADER + task_payload_text(dict(spec), task)
    return {"entryname": SCRIPT_NAME, "entry": escape_literal(text)}


def _tool(
    spec: Mapping[str, Any], task: Task, options: ArgoOptions, runtime: dict[str, str]
) -> dict[str, Any]:
    """The ``CommandLineTool`` of one task: its script, its staged inputs, its output files;
    ``runtime`` is the one :func:`runtime_entry` every tool shares."""
    role = {"splitter": "splitter", "processors": "processor", "merger": "merger"}.get(
        task.kind, "step"
    )
    inputs: dict[str, Any] = {}
    r_notebook = r_scripts.is_r(dict(spec))
    script = script_entry(spec, task)
    script_name = script["entryname"]
    # An R tool's script carries its own runtime (base R): the Python runtime is not staged.
    listing: list[dict[str, Any]] = [script] if r_notebook else [runtime, script]
    for param in spec.get("parameters", []):
        cwl_type, _ = cwl_parameter(param)
        inputs[cwl_id(param["name"])] = {"type": cwl_type}
        # A parameter reference alone: a string gives its text, a number or boolean its JSON,
        # null no file at all (cwltool: command_line_tool.py, _initialworkdir), which the script
        # reads as "use the notebook's default".
        listing.append(
            {
                "entryname": f"{INPUTS_DIR}/{PARAMETERS_DIR}/{param['name']}",
                "entry": _ref(cwl_id(param["name"])),
            }
        )
    needs_js = False
    if task.kind == "processors":
        inputs[BATCH] = {"type": "File", "doc": "this instance's batch (a value file)"}
        listing.append({"entryname": f"{INPUTS_DIR}/{BATCH}", "entry": _ref(BATCH)})
    if task.kind == "merger":
        needs_js = True
        inputs[BATCH_RESULTS] = {
            "type": {"type": "array", "items": "File"},
            "doc": "the processor chain's naavre-result files, in batch order",
        }
        inputs[BATCH_COUNT] = {"type": "File"}
        # Every result file is called naavre-result: renamed by position into one folder.
        listing.append(
            {
                "entryname": f"{INPUTS_DIR}/{BATCH_RESULTS}",
                "entry": "${ return {'class': 'Directory', 'listing': inputs["
                + json.dumps(BATCH_RESULTS).replace('"', "'")
                + "].map(function (f, i) { return {'class': 'File', 'location': f.location, "
                "'basename': String(i)}; })}; }",
            }
        )
        listing.append({"entryname": f"{INPUTS_DIR}/{BATCH_COUNT}", "entry": _ref(BATCH_COUNT)})
    for item in task.inputs:
        input_id = cwl_id(item.name)
        inputs[input_id] = {"type": "File", "doc": f"{item.name} ({item.kind}, from {item.task})"}
        listing.append({"entryname": f"{INPUTS_DIR}/{item.name}", "entry": _ref(input_id)})
    outputs: dict[str, Any] = {}
    for name in _output_names(task):
        if name == RESERVED_BATCHES:
            # One value file per batch, named by index with leading zeros, so the engine's sorted
            # glob (cwltool: command_line_tool.py, collect_output) lists them in batch order.
            outputs[name] = {
                "type": {"type": "array", "items": "File"},
                "outputBinding": {"glob": f"{OUTPUTS_DIR}/{RESERVED_BATCHES}/*"},
            }
        else:
            outputs[_output_id(name)] = {
                "type": "File",
                "outputBinding": {"glob": f"{OUTPUTS_DIR}/{name}"},
            }
    requirements: list[dict[str, Any]] = []
    if needs_js:
        requirements.append({"class": "InlineJavascriptRequirement"})
    requirements.append({"class": "InitialWorkDirRequirement", "listing": listing})
    requirements.append(
        {
            "class": "EnvVarRequirement",
            "envDef": [
                {"envName": "NAAVRE_VALUES", "envValue": "binary"},
                {"envName": "PYTHONHASHSEED", "envValue": HASH_SEED},
                {"envName": "NAAVRE_INPUTS_DIR", "envValue": f"$(runtime.outdir)/{INPUTS_DIR}"},
                {"envName": "NAAVRE_OUTPUTS_DIR", "envValue": f"$(runtime.outdir)/{OUTPUTS_DIR}"},
                {"envName": "NAAVRE_ERROR_FILE", "envValue": f"$(runtime.outdir)/{ERROR_FILE}"},
                {
                    "envName": "NAAVRE_PRINTED_FILE",
                    "envValue": f"$(runtime.outdir)/{PRINTED_FILE}",
                },
            ],
        }
    )
    resources: dict[str, Any] = {"class": "ResourceRequirement"}
    if options.cpu is not None:
        resources["coresMin"] = cpu_cores(options.cpu)
    if options.memory is not None:
        resources["ramMin"] = memory_mebibytes(options.memory)
    if len(resources) > 1:
        requirements.append(resources)
    tool: dict[str, Any] = {
        "class": "CommandLineTool",
        "id": _tool_id(task),
        "label": f"{task.kind} {task.id}",
        "doc": f"Runs step(s) {', '.join(task.steps)} of the notebook"
        + (" once per batch (the processor chain, fused)" if task.kind == "processors" else ""),
        "requirements": requirements,
        "hints": [
            {"class": "DockerRequirement", "dockerPull": options.image_for(role)},
            {"class": "NetworkAccess", "networkAccess": True},
        ],
        "baseCommand": (
            ["Rscript", *r_scripts.SOURCE_ARGS, script_name]
            if script_name == r_export.CWL_SCRIPT_NAME
            else ["python3", script_name]
        ),
        "inputs": inputs,
        "outputs": outputs,
    }
    return tool


def _step(spec: Mapping[str, Any], task: Task) -> dict[str, Any]:
    """The workflow step running a task's tool: where each of its inputs comes from."""
    sources: dict[str, Any] = {
        cwl_id(p["name"]): cwl_id(p["name"]) for p in spec.get("parameters", [])
    }
    step: dict[str, Any] = {"run": f"#{_tool_id(task)}"}
    if task.kind == "processors":
        sources[BATCH] = f"{task.splitter}/{RESERVED_BATCHES}"
        step["scatter"] = BATCH
    if task.kind == "merger":
        sources[BATCH_RESULTS] = f"{task.processors}/{RESERVED_RESULT}"
        sources[BATCH_COUNT] = f"{task.splitter}/{RESERVED_BATCH_COUNT}"
    for item in task.inputs:
        sources[cwl_id(item.name)] = f"{item.task}/{cwl_id(item.name)}"
    step["in"] = sources
    step["out"] = [_output_id(n) for n in _output_names(task)]
    return step


def build_workflow(spec: Mapping[str, Any], options: ArgoOptions | None = None) -> dict[str, Any]:
    """The packed CWL document as a plain dict (what :func:`export_cwl` dumps as YAML).

    Raises :class:`naavre_batch_ext.steps.scripts.PlanError` when the spec has analysis errors,
    :class:`NothingToExportError` when it has no steps, and ``ValueError`` for bad options.
    Only the image options and ``cpu``/``memory`` of :class:`~naavre_batch_ext.exporters.argo.ArgoOptions`
    apply; the Kubernetes ones (namespace, service account) and Argo's parallelism and retries
    belong to the engine's command line (docs/cwl.md).
    """
    options = options or ArgoOptions()
    check_options(options)
    options = r_export.for_language(spec, options)
    tasks = plan_tasks(dict(spec))
    if not tasks:
        raise NothingToExportError(
            "the notebook has no steps, so there is no workflow to export; tag cells with "
            "naavre:splitter, naavre:processor and naavre:merger first"
        )
    notebook = spec.get("notebook", {})
    inputs: dict[str, Any] = {}
    for param in spec.get("parameters", []):
        cwl_type, default = cwl_parameter(param)
        entry: dict[str, Any] = {"type": cwl_type}
        if default is not None:
            entry["default"] = default
        entry["doc"] = f"notebook parameter (cell {param.get('cell_index')})" + (
            "; JSON text" if cwl_type == "string" and param.get("type") != "str" else ""
        )
        inputs[cwl_id(param["name"])] = entry
    outputs: dict[str, Any] = {}
    for output_id, ref in workflow_outputs(spec).items():
        source = f"{ref.task}/{_output_id(ref.name)}"
        file_type: Any = {"type": "array", "items": "File"} if ref.many else "File"
        outputs[output_id] = {"type": file_type, "outputSource": source}
    requirements: list[dict[str, Any]] = []
    if any(t.kind == "processors" for t in tasks):
        requirements.append({"class": "ScatterFeatureRequirement"})
    imports = third_party_imports(spec)
    workflow: dict[str, Any] = {
        "class": "Workflow",
        "id": "main",
        "label": str(notebook.get("name") or "notebook"),
        "doc": (
            f"Exported by naavre-batch-ext from {notebook.get('path') or notebook.get('name')} "
            f"(spec {spec.get('apiVersion', SPEC_API_VERSION)}). Third-party imports: "
            + (", ".join(imports) if imports else "none")
            + ". Edit the notebook and export again rather than editing this file."
        ),
    }
    if requirements:
        workflow["requirements"] = requirements
    workflow["inputs"] = inputs
    workflow["outputs"] = outputs
    workflow["steps"] = {t.id: _step(spec, t) for t in tasks}
    runtime = runtime_entry()
    return {
        "cwlVersion": CWL_VERSION,
        "$graph": [workflow] + [_tool(spec, t, options, runtime) for t in tasks],
    }


def build_job(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The job (input object) with every parameter's default: what the notebook would use."""
    job: dict[str, Any] = {}
    for param in spec.get("parameters", []):
        _, default = cwl_parameter(param)
        job[cwl_id(param["name"])] = default
    return job


def export_cwl(spec: Mapping[str, Any], options: ArgoOptions | None = None) -> str:
    """The packed CWL v1.2 document of a spec (deterministic: same spec and options, same text)."""
    return dump_yaml(build_workflow(spec, options))


def export_job(spec: Mapping[str, Any], stem: str = "NOTEBOOK") -> str:
    """The job file's YAML text (``<stem>.job.yml``), with a comment on how to run it."""
    head = (
        "# Inputs of the exported CWL workflow, set to the notebook's defaults.\n"
        f"# Run: cwltool {stem}.cwl {stem}.job.yml   (edit the values here to change them)\n"
    )
    job = build_job(spec)
    return head + (dump_yaml(job) if job else "{}\n")
