"""Export a workflow spec as one Argo ``Workflow`` that ``argo submit`` runs as is.

Pure: a spec and options in, YAML text out (PyYAML); no cluster, no file system. The step bodies are
:func:`naavre_batch_ext.steps.scripts.task_script` byte for byte, so what ``naavre-batch run`` checked
locally is what the cluster runs. Everything that varies between runs reaches a script through
what Argo fills in: parameters as environment variables, the batch and the values from earlier
steps in one inputs file written before the script starts. No value is ever pasted into a script's
source, and the scripts never contain ``{{`` or ``}}`` (which Argo would rewrite), so the user's
code runs exactly as written.

Shape of the workflow (docs/argo.md):

- ``spec.arguments.parameters``: every ``param_*`` default as a string (JSON text for non-strings);
  each script reads them as ``NAAVRE_PARAM_<name>`` = ``{{workflow.parameters.<name>}}``, so a
  batch count that names a parameter is read at run time.
- one ``script`` template per task of :func:`~naavre_batch_ext.steps.scripts.plan_tasks`, and a DAG entry
  template with one task each, in notebook order;
- a section's processor chain is one task (one pod per batch) with ``withParam`` over the
  splitter's batches; the merger gets the chain's results aggregated by Argo plus the batch count,
  and checks that every batch is there.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import yaml

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
from ..steps.step_runtime import (
    RESERVED_BATCH,
    RESERVED_BATCH_LIST,
    RESERVED_BATCH_RESULTS,
    RESERVED_PRINTED,
    RESERVED_SUMMARY,
)
from . import r_export
from .k8s_options import (
    OptionError,
    check_dns_label,
    check_dns_subdomain,
    check_duration,
    check_image,
    check_int32,
    check_quantity,
)

__all__ = [
    "ANNOTATION_IMPORTS",
    "ANNOTATION_NOTEBOOK",
    "ANNOTATION_RUNTIME",
    "INPUTS_DIR",
    "RUNTIME_LOADER",
    "LABEL_NOTEBOOK",
    "LABEL_STEP",
    "POD_GC_STRATEGIES",
    "STATUS_OUTPUTS",
    "ANNOTATION_SPEC_VERSION",
    "DEFAULT_IMAGE",
    "PARAMETER_VALUE_LIMIT",
    "VALUES_MODES",
    "OUTPUTS_DIR",
    "PARAMETERS_TOTAL_WARN_BYTES",
    "PARAMETER_WARN_BYTES",
    "WORKFLOW_WARN_BYTES",
    "ArgoOptions",
    "ExportWarning",
    "NothingToExportError",
    "argo_name",
    "build_workflow",
    "export_argo",
    "export_warnings",
    "generate_name",
    "parameter_value",
    "runtime_annotation",
    "script_source",
    "third_party_imports",
]

DEFAULT_IMAGE = "python:3.11-slim"
"""The image every script runs in unless overridden: official Python, standard library only.

The step scripts need nothing else; a notebook that imports third-party packages needs an image
that has them (``--image``), which :func:`export_warnings` points out.
"""

ROLES: tuple[str, ...] = ("splitter", "processor", "merger")
"""Roles whose image can be overridden one by one; tasks outside sections use the main image."""

OUTPUTS_DIR = "/tmp/naavre/outputs"
"""Where a script writes one ``<name>.json`` per output (``NAAVRE_OUTPUTS_DIR``), inside its pod;
Argo reads each file back as an output parameter (``valueFrom.path``)."""

INPUTS_DIR = "/tmp/naavre/inputs"
"""Where Argo writes a task's input files before its script starts (``NAAVRE_INPUTS_DIR``)."""

PARAMETERS_FOLDER = "naavre-parameters"
"""Folder of ``INPUTS_DIR`` with one file per workflow parameter, its raw text as submitted."""

PARAMETER_VALUE_LIMIT = 256 * 1024
"""With ``--values parameters``, a value whose text form is larger fails in the step that makes
it (``NAAVRE_TEXT_LIMIT``), naming the variable, its size and ``--values artifacts``: Argo keeps
every parameter in the Workflow object (about 1 MB), some of them several times (the output of
one pod, the input of the next)."""
"""Where Argo writes a task's inputs bundle (``NAAVRE_INPUTS_FILE``) before its script starts:
``{"batch", "batch_results", "batch_count", "inputs": {name: value}}``, whichever apply."""

PARAMETER_WARN_BYTES = 64 * 1024
"""Warn when one parameter's text is larger: each reaches the scripts as an environment variable,
and Linux refuses to start a process with an environment string over 128 KiB (an override given
to ``argo submit -p`` may be larger than the default; hence the margin)."""

PARAMETERS_TOTAL_WARN_BYTES = 256 * 1024
"""Warn when all parameters together are larger: Argo keeps them in the Workflow object, which
Kubernetes caps at about 1 MB (etcd), with every script and the run's status."""

WORKFLOW_WARN_BYTES = 512 * 1024
"""Warn when the exported YAML is larger: Argo stores the whole spec (every script) and the run's
status in that one object, so a large spec leaves little room for the status."""

ANNOTATION_IMPORTS = "naavre-batch/third-party-imports"
ANNOTATION_SPEC_VERSION = "naavre-batch/spec-version"
ANNOTATION_NOTEBOOK = "naavre-batch/source-notebook"
ANNOTATION_RUNTIME = "naavre-batch/runtime"
"""The annotation holding the step runtime, once per workflow; every script template starts with
``{{workflow.annotations.naavre-batch/runtime}}``, which Argo fills in when it creates the pod."""
LABEL_NOTEBOOK = "naavre-batch/notebook"
LABEL_STEP = "naavre-batch/step"

RUNTIME_LOADER = (
    "import base64, zlib\n"
    'exec(compile(zlib.decompress(base64.b64decode("'
    + "{{workflow.annotations."
    + ANNOTATION_RUNTIME
    + "}}"
    + '")).decode("utf-8"), "naavre-batch runtime", "exec"))\n'
)
"""The start of every script: runs the runtime of the ``naavre-batch/runtime`` annotation."""

RETRY_MAX_BACKOFF = "10m"
"""Longest wait between two retries of a processor pod (the backoff doubles up to this)."""

ARGO_PROLOGUE = """
# Argo: the batch reaches a processor as the item of a withParam over a JSON list of strings, which
# Argo renders with Item.String() (item.go): the string's JSON escapes kept, outer quotes dropped,
# then util/json/fix.go turns \\u003c, \\u003e and \\u0026 back into <, > and &. Undo both.
def _naavre_item_string(text):
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "\\\\":
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in "<>&":  # Fix rewrote an escaped backslash followed by u003c, u003e or u0026
            out.append("\\\\u%04x" % ord(nxt))
            i += 2
        elif nxt == "u":
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
        else:
            out.append(json.loads('"\\\\' + nxt + '"'))
            i += 2
    return "".join(out)


def _naavre_argo_inputs():
    folder = os.environ.get("NAAVRE_INPUTS_DIR", "")
    batch = os.path.join(folder, RESERVED_BATCH)
    if folder and os.path.isfile(batch):
        with open(batch, "rb") as handle:
            data = handle.read()
        if b"\\n" not in data:  # a value file's first line ends with a newline; this is escaped
            with open(batch, "wb") as handle:
                handle.write(_naavre_item_string(data.decode("utf-8")).encode("utf-8"))
    if folder and os.environ.get("NAAVRE_VALUES", "binary") == "binary":
        # No processor succeeded, so no result was stored under the key prefix: the merger
        # reads an empty folder and names every batch as missing.
        os.makedirs(os.path.join(folder, RESERVED_BATCH_RESULTS), exist_ok=True)


def batch_file_name(index):
    # Argo: batch files are named by their index, as withParam's item.index names them.
    return str(index)


_naavre_argo_inputs()
"""
"""Runs after the runtime and before the task in every Argo pod (see the comments in it)."""

_BATCH_INPUT = RESERVED_BATCH
_RESULTS_INPUT = RESERVED_BATCH_RESULTS
_COUNT_INPUT = RESERVED_BATCH_COUNT
_BATCH_INDEX = "naavre-batch-index"
_ARGO_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_NAME_MAX = 50  # generateName + Argo's 5 random characters must fit a 63-character label value


class NothingToExportError(ValueError):
    """The spec has no steps (no cell is tagged): an empty DAG is no workflow."""


VALUES_MODES: tuple[str, ...] = ("parameters", "artifacts")
"""How values cross step boundaries: Argo output parameters (small values, no artifact repository
needed) or artifacts in the cluster's artifact repository (any size)."""

POD_GC_STRATEGIES: tuple[str, ...] = (
    "OnPodCompletion",
    "OnPodSuccess",
    "OnWorkflowCompletion",
    "OnWorkflowSuccess",
)
"""Argo's ``spec.podGC.strategy`` values (``PodGCStrategy`` in Argo's workflow_types.go)."""


@dataclass(frozen=True)
class ArgoOptions:
    """How the exported workflow runs; the defaults are the CLI's and the settings' defaults.

    ``images`` overrides ``image`` per role (``splitter``, ``processor``, ``merger``). ``parallelism``
    caps the pods that run at once (``spec.parallelism``; in practice the processor pods, since the
    other tasks run one after the other). ``retries`` applies to processor pods only: their work is
    the long, per-batch part, and a retry repeats one batch, not the whole run; retries wait
    ``retry_backoff``, doubling each time (at most ``RETRY_MAX_BACKOFF``).

    ``values`` is how values cross step boundaries: ``parameters`` (Argo output parameters, for
    small values, no artifact repository needed) or ``artifacts`` (the cluster's artifact
    repository, any size; ``artifact_repository_ref`` names a repository other than the default,
    a key of the ``artifact-repositories`` config map).

    Cluster hygiene, on by default as Argo operators expect: ``pod_gc`` deletes each pod once it
    succeeded (``None``: keep them); ``ttl_after_success`` / ``ttl_after_failure`` delete the
    Workflow object that many seconds after it ended (``None``: keep it), failed runs stay longer to
    be looked at; ``active_deadline_seconds`` stops a run that takes longer (``None``: no limit).
    Every pod carries the labels ``naavre-batch/notebook`` and ``naavre-batch/step``.
    """

    image: str = DEFAULT_IMAGE
    images: Mapping[str, str] = field(default_factory=dict)
    parallelism: int | None = None
    retries: int = 0
    namespace: str | None = None
    service_account: str | None = None
    cpu: str | None = None
    memory: str | None = None
    values: str = "parameters"
    artifact_repository_ref: str | None = None
    pod_gc: str | None = "OnPodSuccess"
    ttl_after_success: int | None = 24 * 3600
    ttl_after_failure: int | None = 7 * 24 * 3600
    active_deadline_seconds: int | None = 24 * 3600
    retry_backoff: str = "10s"

    def image_for(self, role: str) -> str:
        """The image of a task of this role (``step`` tasks use the main image)."""
        return self.images.get(role) or self.image

    def check(self) -> None:
        """Raise :class:`~naavre_batch_ext.exporters.k8s_options.OptionError` (a ``ValueError``) for the
        first option the cluster would refuse or misread, naming the option."""
        unknown = sorted(set(self.images) - set(ROLES))
        if unknown:
            raise OptionError(
                "images",
                f"image override for unknown role(s) {', '.join(unknown)}; use {', '.join(ROLES)}",
            )
        check_image("image", self.image)
        for role, image in self.images.items():
            check_image(f"image_{role}", image)
        if self.parallelism is not None:
            check_int32("parallelism", self.parallelism, 1)
        check_int32("retries", self.retries, 0)
        if self.namespace is not None:
            check_dns_label("namespace", self.namespace)
        if self.service_account is not None:
            check_dns_subdomain("service_account", self.service_account)
        if self.cpu is not None:
            check_quantity("cpu", self.cpu, "500m")
        if self.memory is not None:
            check_quantity("memory", self.memory, "1Gi")
        if self.values not in VALUES_MODES:
            raise OptionError("values", f"{self.values!r} is not one of {', '.join(VALUES_MODES)}")
        if self.artifact_repository_ref is not None:
            check_dns_subdomain("artifact_repository_ref", self.artifact_repository_ref)
            if self.values != "artifacts":
                raise OptionError(
                    "artifact_repository_ref",
                    "names where artifacts are stored, so it needs --values artifacts",
                )
        if self.pod_gc is not None and self.pod_gc not in POD_GC_STRATEGIES:
            raise OptionError(
                "pod_gc", f"{self.pod_gc!r} is not one of {', '.join(POD_GC_STRATEGIES)}"
            )
        for name in ("ttl_after_success", "ttl_after_failure"):
            value = getattr(self, name)
            if value is not None:
                check_int32(name, value, 0)
        if self.active_deadline_seconds is not None:
            check_int32("active_deadline_seconds", self.active_deadline_seconds, 1)
        check_duration("retry_backoff", self.retry_backoff)


@dataclass(frozen=True)
class ExportWarning:
    """Something the workflow will run with but the user should know before submitting it."""

    code: str
    message: str
    hint: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form for the REST API."""
        return {"code": self.code, "message": self.message, "hint": self.hint}


def generate_name(notebook_name: str) -> str:
    """``metadata.generateName``: the notebook name as a DNS-1123 name, ending in ``-``.

    Lower case, runs of anything else than ``[a-z0-9]`` become one ``-``, at most 50 characters so
    that the workflow name Argo derives (plus 5 random characters) fits a Kubernetes label value.
    """
    base = re.sub(r"[^a-z0-9]+", "-", notebook_name.lower()).strip("-")
    base = base[:_NAME_MAX].rstrip("-")
    if not base or not base[0].isalpha():
        base = ("nb-" + base).rstrip("-") if base else "notebook"
        base = base[:_NAME_MAX].rstrip("-")
    return base + "-"


def parameter_value(default: Any, kind: str | None) -> str:
    """A parameter default as Argo needs it: strings as they are, anything else as JSON text.

    The scripts parse it back the same way (``step_runtime.parse_parameter``), so ``-p name=...``
    on ``argo submit`` takes the same text as ``naavre-batch run -p``.
    """
    if kind == "str" and isinstance(default, str):
        return default
    return json.dumps(default, ensure_ascii=False)


def third_party_imports(spec: Mapping[str, Any]) -> list[str]:
    """Top-level modules outside the standard library that the steps (header included) import."""
    found: set[str] = set(spec.get("header", {}).get("imports", []) or [])
    for step in spec.get("steps", []):
        found.update(step.get("imports", []) or [])
    return sorted(found)


def export_warnings(
    spec: Mapping[str, Any], options: ArgoOptions | None = None, workflow_text: str | None = None
) -> list[ExportWarning]:
    """What the user should fix or know before submitting: packages the image may lack, and
    parameters (or, given ``workflow_text``, a whole workflow) too large for the Workflow object."""
    options = options or ArgoOptions()
    warnings: list[ExportWarning] = []
    imports = third_party_imports(spec)
    images = {options.image_for(role) for role in ("step", *ROLES)}
    if imports:
        warnings.append(
            ExportWarning(
                "third-party-imports",
                f"the steps import {', '.join(imports)}, which the image "
                f"{', '.join(sorted(images))} may not have",
                "build or choose an image with these packages and export with --image IMAGE "
                "(or --image-processor etc. per role)",
            )
        )
    sizes: list[tuple[str, int]] = []
    for param in spec.get("parameters", []):
        text = parameter_value(param.get("default"), param.get("type"))
        size = len(text.encode("utf-8"))
        sizes.append((param["name"], size))
        if size > PARAMETER_WARN_BYTES:
            warnings.append(
                ExportWarning(
                    "large-parameter",
                    f"parameter {param['name']} has a default of {size // 1024} KiB; each "
                    "parameter reaches the steps as an environment variable, which Linux limits "
                    "to 128 KiB, and Argo keeps all of them in the Workflow object (about 1 MB)",
                    "keep parameters small: put the data in a file or object storage and pass "
                    "its path or URL as the parameter",
                )
            )
        if "{{" in text or "}}" in text:
            warnings.append(
                ExportWarning(
                    "parameter-braces",
                    f"the default of parameter {param['name']} contains '{{{{' or '}}}}', which "
                    "Argo may treat as one of its own template expressions",
                    "avoid double curly braces in parameter values",
                )
            )
    total = sum(size for _, size in sizes)
    if total > PARAMETERS_TOTAL_WARN_BYTES and all(
        size <= PARAMETER_WARN_BYTES for _, size in sizes
    ):
        warnings.append(
            ExportWarning(
                "large-parameters",
                f"the parameter defaults add up to {total // 1024} KiB; Argo keeps parameters in "
                "the Workflow object, which Kubernetes limits to about 1 MB",
                "pass paths or URLs of the data instead of the data itself",
            )
        )
    if workflow_text is not None:
        size = len(workflow_text.encode("utf-8"))
        if size > WORKFLOW_WARN_BYTES:
            warnings.append(_large_workflow(spec, size))
    return warnings


MANY_CELLS = 1000
"""From this many tagged cells on, the large-workflow warning names their number as the cause."""


def _large_workflow(spec: Mapping[str, Any], size: int) -> ExportWarning:
    """The large-workflow warning, naming what takes the room: the runtime is stored once, so it
    is the header (which every task carries), the cells, or the number of tasks."""
    try:
        tasks = len(plan_tasks(dict(spec)))
    except ValueError:
        tasks = len(spec.get("steps", []))
    header = sum(
        len(cell["source"].encode("utf-8")) for cell in spec.get("header", {}).get("cells", [])
    )
    step_cells = [cell for step in spec.get("steps", []) for cell in step["cells"]]
    # A cell costs its code plus its entry in the task's JSON (index, source, escaping), which
    # for thousands of one-line cells is most of it: measured as the scripts carry it.
    cells = sum(
        len(json.dumps(json.dumps({"index": cell["index"], "source": cell["source"]}, indent=1)))
        for cell in step_cells
    )
    many = len(step_cells) >= MANY_CELLS
    per_task = max(size - header * tasks - cells, 0) // max(tasks, 1)
    parts = {
        "header": (
            header * tasks,
            f"the header cells ({header // 1024} KiB), which each of the {tasks} tasks carries",
            "move large constants out of the header cells (read them from a file or object "
            "storage), or import them from a module in the image",
        ),
        "cells": (
            cells,
            f"the {len(step_cells):,} tagged cells' code ({cells // 1024} KiB)"
            if many
            else f"the tagged cells' code ({cells // 1024} KiB)",
            f"join the {len(step_cells):,} small cells into fewer, larger ones (each cell is "
            "wrapped on its own in the task's script)"
            if many
            else "keep large constants out of the cells (read them from a file or object storage)",
        ),
        "tasks": (
            max(size - header * tasks - cells, 0),
            f"{tasks} tasks of about {per_task // 1024 or 1} KiB each (wiring, parameters)",
            "merge small sections into fewer, or split the notebook into several workflows",
        ),
    }
    _, cause, hint = max(parts.values(), key=lambda part: part[0])
    return ExportWarning(
        "large-workflow",
        f"the workflow is {size // 1024} KiB, mostly {cause}; Kubernetes stores it, with the "
        "status of every pod, in one object limited to about 1 MB",
        hint,
    )


def argo_name(variable: str) -> str:
    """A Python variable name as an Argo parameter name (``[A-Za-z0-9_-]``).

    ASCII identifiers are kept as they are (readable YAML); others (``données``) get a stable,
    collision-free ``u-<hex of UTF-8>`` form, since Argo rejects non-ASCII parameter names.
    """
    if _ARGO_NAME.match(variable):
        return variable
    return "u-" + variable.encode("utf-8").hex()


def _ref(expression: str) -> str:
    """An Argo template reference, ``{{expression}}``: the only place braces are written."""
    return "{{" + expression + "}}"


def _output_ref(task_id: str | None, parameter: str) -> str:
    """``{{tasks.<task>.outputs.parameters.<parameter>}}`` (aggregated when the task fans out)."""
    return _ref(f"tasks.{task_id}.outputs.parameters.{parameter}")


def _env(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


def _task_role(task: Task) -> str:
    return {"splitter": "splitter", "processors": "processor", "merger": "merger"}.get(
        task.kind, "step"
    )


def _entry_name(tasks: Sequence[Task]) -> str:
    """The DAG template's name: ``main`` unless a step already has that id."""
    taken = {t.id for t in tasks}
    name, n = "main", 1
    while name in taken:
        n += 1
        name = f"main-{n}"
    return name


def _output_names(task: Task, artifacts_mode: bool) -> list[str]:
    """What the task's script writes into ``NAAVRE_OUTPUTS_DIR`` that a later task reads."""
    names = list(task.outputs)
    if task.kind == "splitter":
        names += [RESERVED_BATCHES, RESERVED_BATCH_COUNT, RESERVED_BATCH_LIST]
    if task.kind == "processors":
        names.append(RESERVED_RESULT)
    if task.kind == "merger":
        names += [RESERVED_PRINTED, RESERVED_SUMMARY]
    return names


STATUS_OUTPUTS: tuple[str, ...] = (RESERVED_BATCH_LIST, RESERVED_PRINTED, RESERVED_SUMMARY)
"""Outputs that are output parameters in both value modes, so they live in the Workflow's
``status.nodes`` (what ``GET /api/v1/workflows/{ns}/{name}`` returns) and outlive the pods:
the splitter's batch table ``[{"index", "start", "stop"}]`` (the item range of every batch; in
artifacts mode also the processors' ``withParam``), the merger's printed output and the summary
of its merged values (docs/cluster.md)."""


def _labels(notebook_label: str, task: Task) -> dict[str, str]:
    """``naavre-batch/notebook`` and ``naavre-batch/step`` of a task's pods, so that
    ``kubectl get pods -l naavre-batch/step=<id>`` or ``argo logs -l ...`` finds them."""
    return {LABEL_NOTEBOOK: notebook_label, LABEL_STEP: _label_value(task.id)}


def _label_value(text: str) -> str:
    """A Kubernetes label value (at most 63 of ``[A-Za-z0-9-_.]``, alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value) or "step"


def script_source(spec: Mapping[str, Any], task: Task) -> str:
    """A task's ``script.source``: a two-line loader of the one runtime, then the task's payload.

    Argo substitutes ``{{workflow.annotations.naavre-batch/runtime}}`` (the runtime, stored once in
    the Workflow's annotations, compressed) when it creates the pod; the loader runs it in the
    script's namespace, so the pod runs :func:`~naavre_batch_ext.steps.scripts.script_prefix`, the Argo
    prologue (:data:`ARGO_PROLOGUE`) and the task's payload: the runner's
    :func:`~naavre_batch_ext.steps.scripts.task_script` with the prologue between runtime and payload.
    """
    if r_scripts.is_r(dict(spec)):
        return r_export.argo_script_source(
            spec, task, _ref(f"workflow.annotations.{ANNOTATION_RUNTIME}")
        )
    return RUNTIME_LOADER + task_payload_text(dict(spec), task)


def runtime_annotation() -> str:
    """The ``naavre-batch/runtime`` annotation: the step runtime and the Argo prologue, zlib
    compressed and base64 encoded (printable ASCII without quotes or backslashes, so Argo's
    substitution inserts it unchanged; about a third of the size of the text)."""
    text = (script_prefix() + ARGO_PROLOGUE).encode("utf-8")
    return base64.b64encode(zlib.compress(text, 9)).decode("ascii")


def _input_file(name: str, data: str) -> dict[str, Any]:
    """A ``raw`` input artifact: Argo writes ``data`` (after substitution) to the inputs folder."""
    return {"name": argo_name(name), "path": f"{INPUTS_DIR}/{name}", "raw": {"data": data}}


def _key(task_id: str | None, name: str) -> str:
    """Where a task's output ``name`` is stored in the artifact repository (key-only)."""
    return f"{_ref('workflow.name')}/{task_id}/{argo_name(name)}"


def _stored(name: str, path: str, key: str) -> dict[str, Any]:
    """A key-only artifact: ``s3.key`` only, so Argo takes every other field from the artifact
    repository, whatever its kind (``ArtifactLocation.Relocate`` in Argo's workflow_types.go)."""
    return {"name": argo_name(name), "path": path, "s3": {"key": key}}


def _template(
    spec: Mapping[str, Any], task: Task, options: ArgoOptions, notebook_label: str
) -> dict[str, Any]:
    """The ``script`` template of one task: its payload, wiring, outputs, image, resources.

    Every input is a file of ``NAAVRE_INPUTS_DIR`` that Argo writes before the script starts,
    every output a file of ``NAAVRE_OUTPUTS_DIR`` that Argo reads after it (docs/running.md):

    - workflow parameters: ``naavre-parameters/<name>``, ``raw`` input artifacts holding
      ``{{workflow.parameters.<name>}}``, never ``env[].value`` (where Kubernetes would turn ``$$``
      into ``$`` and expand ``$(NAME)``);
    - ``--values parameters``: values in the text form (``NAAVRE_VALUES=text``), read back as
      output parameters (``valueFrom.path``) and written into the next pods as ``raw`` artifacts;
    - ``--values artifacts``: values in the binary form, as key-only artifacts under
      ``{{workflow.name}}/<task>/`` in the cluster's artifact repository, stored as they are
      (``archive: none``); the merger reads the processors' results by key prefix, as a folder.
    """
    artifacts_mode = options.values == "artifacts"
    env: list[dict[str, str]] = [
        _env("NAAVRE_INPUTS_DIR", INPUTS_DIR),
        _env("NAAVRE_OUTPUTS_DIR", OUTPUTS_DIR),
        _env("NAAVRE_VALUES", "binary" if artifacts_mode else "text"),
        _env("PYTHONHASHSEED", HASH_SEED),  # a printed set of strings as in the notebook
    ]
    if not artifacts_mode:
        env.append(_env("NAAVRE_TEXT_LIMIT", str(PARAMETER_VALUE_LIMIT)))
    parameters: list[dict[str, str]] = []
    artifacts: list[dict[str, Any]] = [
        {
            "name": "naavre-parameter-" + argo_name(p["name"]),
            "path": f"{INPUTS_DIR}/{PARAMETERS_FOLDER}/{p['name']}",
            "raw": {"data": _ref(f"workflow.parameters.{p['name']}")},
        }
        for p in spec.get("parameters", [])
    ]

    def take(name: str) -> None:
        """A value the DAG task hands over: a parameter turned into a file, or an artifact."""
        if artifacts_mode:
            artifact: dict[str, Any] = {"name": argo_name(name), "path": f"{INPUTS_DIR}/{name}"}
            if name == _RESULTS_INPUT:
                # No processor succeeded, nothing is stored under the prefix: the merger still
                # runs (with an empty folder, the prologue) to name every batch as missing.
                artifact["optional"] = True
            artifacts.append(artifact)
        else:
            parameters.append({"name": argo_name(name)})
            artifacts.append(_input_file(name, _ref(f"inputs.parameters.{argo_name(name)}")))

    if task.kind == "processors":
        if artifacts_mode:
            parameters.append({"name": _BATCH_INDEX})
        take(_BATCH_INPUT)
    if task.kind == "merger":
        take(_RESULTS_INPUT)
        take(_COUNT_INPUT)
    for item in task.inputs:
        take(item.name)

    script: dict[str, Any] = {
        "image": options.image_for(_task_role(task)),
        "command": list(r_export.ARGO_COMMAND) if r_scripts.is_r(dict(spec)) else ["python"],
        "env": env,
    }
    requests = {k: v for k, v in (("cpu", options.cpu), ("memory", options.memory)) if v}
    if requests:
        script["resources"] = {"requests": requests}
    script["source"] = script_source(spec, task)
    template: dict[str, Any] = {
        "name": task.id,
        "metadata": {"labels": _labels(notebook_label, task)},
    }
    declared: dict[str, Any] = {}
    if parameters:
        declared["parameters"] = parameters
    if artifacts:
        declared["artifacts"] = artifacts
    if declared:
        template["inputs"] = declared
    outputs: dict[str, Any] = {}
    for name in _output_names(task, artifacts_mode):
        path = f"{OUTPUTS_DIR}/{name}"
        if artifacts_mode and name not in STATUS_OUTPUTS:
            key = _key(task.id, name)
            if name == RESERVED_RESULT:  # one object per instance, read back by prefix
                key += "/" + _ref(f"inputs.parameters.{_BATCH_INDEX}")
            artifact = _stored(name, path, key)
            artifact["archive"] = {"none": {}}
            outputs.setdefault("artifacts", []).append(artifact)
        else:
            param: dict[str, Any] = {"name": argo_name(name), "valueFrom": {"path": path}}
            if name in (RESERVED_PRINTED, RESERVED_SUMMARY):
                # a merger that failed before its cells ran (missing batches) wrote neither
                param["valueFrom"]["default"] = "null"
            outputs.setdefault("parameters", []).append(param)
    if outputs:
        template["outputs"] = outputs
    if task.kind == "processors" and options.retries > 0:
        template["retryStrategy"] = {
            "limit": str(options.retries),
            "backoff": {
                "duration": options.retry_backoff,
                "factor": "2",
                "maxDuration": RETRY_MAX_BACKOFF,
            },
        }
    template["script"] = script
    return template


def _dag_task(task: Task, previous: str | None, artifacts_mode: bool) -> dict[str, Any]:
    """The DAG task running ``task``: its dependencies and the arguments its template takes."""
    depends: list[str] = [previous] if previous else []
    parameters: list[dict[str, str]] = []
    artifacts: list[dict[str, Any]] = []

    def need(task_id: str | None) -> None:
        if task_id and task_id not in depends:
            depends.append(task_id)

    def give(name: str, task_id: str | None, output: str, key: str | None = None) -> None:
        if artifacts_mode:
            artifacts.append({"name": argo_name(name), "s3": {"key": key or _key(task_id, output)}})
        else:
            parameters.append(
                {"name": argo_name(name), "value": _output_ref(task_id, argo_name(output))}
            )

    entry: dict[str, Any] = {"name": task.id, "template": task.id}
    if task.kind == "processors":
        need(task.splitter)
        # Failed instances must not stop the merger: it names the missing batches itself.
        entry["continueOn"] = {"failed": True}
        if artifacts_mode:
            entry["withParam"] = _output_ref(task.splitter, RESERVED_BATCH_LIST)
            parameters.append({"name": _BATCH_INDEX, "value": _ref("item.index")})
            batch_key = _key(task.splitter, RESERVED_BATCHES) + "/" + _ref("item.index")
            give(_BATCH_INPUT, task.splitter, RESERVED_BATCHES, batch_key)
        else:
            entry["withParam"] = _output_ref(task.splitter, RESERVED_BATCHES)
            parameters.append({"name": _BATCH_INPUT, "value": _ref("item")})
    if task.kind == "merger":
        need(task.processors)
        need(task.splitter)
        give(_RESULTS_INPUT, task.processors, RESERVED_RESULT)
        give(_COUNT_INPUT, task.splitter, RESERVED_BATCH_COUNT)
    for item in task.inputs:
        need(item.task)
        give(item.name, item.task, item.name)
    ordered: dict[str, Any] = {"name": entry["name"], "template": entry["template"]}
    if depends:
        ordered["dependencies"] = depends
    ordered.update((k, v) for k, v in entry.items() if k not in ordered)
    arguments: dict[str, Any] = {}
    if parameters:
        arguments["parameters"] = parameters
    if artifacts:
        arguments["artifacts"] = artifacts
    if arguments:
        ordered["arguments"] = arguments
    return ordered


def _source_notebook(notebook: Mapping[str, Any]) -> str:
    """The notebook's file name, never the folders above it: the spec records the path as typed,
    and an absolute path (``/home/alice/...``) would show the user's machine to everyone who can
    read the cluster's workflows, and differ between two users exporting the same notebook."""
    path = str(notebook.get("path") or "")
    return PurePath(path).name if path else str(notebook.get("name") or "")


def build_workflow(spec: Mapping[str, Any], options: ArgoOptions | None = None) -> dict[str, Any]:
    """The Workflow as a plain dict (what :func:`export_argo` dumps as YAML).

    Raises :class:`naavre_batch_ext.steps.scripts.PlanError` when the spec has analysis errors,
    :class:`NothingToExportError` when it has no steps, and ``ValueError`` for bad options.
    """
    options = options or ArgoOptions()
    options.check()
    options = r_export.for_language(spec, options)
    tasks = plan_tasks(dict(spec))
    if not tasks:
        raise NothingToExportError(
            "the notebook has no steps, so there is no workflow to export; tag cells with "
            "naavre:splitter, naavre:processor and naavre:merger first"
        )
    notebook = spec.get("notebook", {})
    name = generate_name(notebook.get("name") or "notebook")
    notebook_label = name.rstrip("-")
    metadata: dict[str, Any] = {"generateName": name}
    if options.namespace:
        metadata["namespace"] = options.namespace
    metadata["labels"] = {LABEL_NOTEBOOK: notebook_label}
    metadata["annotations"] = {
        ANNOTATION_SPEC_VERSION: str(spec.get("apiVersion", SPEC_API_VERSION)),
        ANNOTATION_NOTEBOOK: _source_notebook(notebook),
        ANNOTATION_IMPORTS: ",".join(third_party_imports(spec)),
        ANNOTATION_RUNTIME: (
            r_export.runtime_annotation() if r_scripts.is_r(dict(spec)) else runtime_annotation()
        ),
    }
    entry = _entry_name(tasks)
    dag_tasks: list[dict[str, Any]] = []
    previous: str | None = None
    for task in tasks:
        dag_tasks.append(_dag_task(task, previous, options.values == "artifacts"))
        previous = task.id
    dag: dict[str, Any] = {}
    if any(t.kind == "processors" for t in tasks):
        dag["failFast"] = False  # let every batch finish; the merger reports the missing ones
    dag["tasks"] = dag_tasks
    workflow_spec: dict[str, Any] = {"entrypoint": entry}
    if options.service_account:
        workflow_spec["serviceAccountName"] = options.service_account
    if options.artifact_repository_ref is not None:
        workflow_spec["artifactRepositoryRef"] = {"key": options.artifact_repository_ref}
    if options.parallelism is not None:
        workflow_spec["parallelism"] = options.parallelism
    if options.active_deadline_seconds is not None:
        workflow_spec["activeDeadlineSeconds"] = options.active_deadline_seconds
    if options.pod_gc is not None:
        workflow_spec["podGC"] = {"strategy": options.pod_gc}
    ttl = {
        key: value
        for key, value in (
            ("secondsAfterSuccess", options.ttl_after_success),
            ("secondsAfterFailure", options.ttl_after_failure),
        )
        if value is not None
    }
    if ttl:
        workflow_spec["ttlStrategy"] = ttl
    parameters = [
        {"name": p["name"], "value": parameter_value(p.get("default"), p.get("type"))}
        for p in spec.get("parameters", [])
    ]
    if parameters:
        workflow_spec["arguments"] = {"parameters": parameters}
    workflow_spec["templates"] = [{"name": entry, "dag": dag}] + [
        _template(spec, t, options, notebook_label) for t in tasks
    ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": metadata,
        "spec": workflow_spec,
    }


class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line strings (the scripts) as readable ``|`` blocks.

    A text with characters a block would not keep (``\r``, Unicode line separators) is written
    double-quoted instead, and PyYAML itself falls back to quoting for other cases (trailing
    spaces), so the text always round-trips byte for byte.
    """


class _CDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """:class:`_Dumper` on libyaml's emitter (PyYAML's ``CSafeDumper``, when PyYAML was built
    with it): the same text about 15 times faster. An export is mostly its scripts, and PyYAML's
    pure-Python emitter spent 95% of an export's time scanning them character by character."""


_BLOCK_UNSAFE = frozenset("\r\x85\u2028\u2029\ufeff")
"""Characters a YAML block scalar would turn into plain line breaks (or drop) on reading."""

_LIBYAML_DIFFERS_IN_VALUES = re.compile("[\x85\U00010000-\U0010ffff]")
"""What libyaml writes otherwise than PyYAML's emitter (both read back the same): characters
beyond the BMP (escaped by libyaml), NEL; in keys, line breaks too (tests/test_argo.py checks
every other character of Latin-1 and a sample of the BMP, one by one)."""
_LIBYAML_DIFFERS_IN_KEYS = re.compile("[\n\r\x85\U00010000-\U0010ffff]")


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    block = "\n" in data and _BLOCK_UNSAFE.isdisjoint(data)
    style = "|" if block else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)
_CDumper.add_representer(str, _str_representer)


def _same_in_libyaml(value: Any, key: bool = False) -> bool:
    """Whether libyaml's emitter writes ``value`` exactly as PyYAML's does."""
    if isinstance(value, str):
        return not (_LIBYAML_DIFFERS_IN_KEYS if key else _LIBYAML_DIFFERS_IN_VALUES).search(value)
    if isinstance(value, Mapping):
        return all(_same_in_libyaml(k, True) and _same_in_libyaml(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_same_in_libyaml(v) for v in value)
    return True


def dump_yaml(document: Mapping[str, Any], dumper: type[yaml.SafeDumper] | None = None) -> str:
    """YAML text of a workflow: keys in build order, UTF-8 kept, no line folding.

    The text is the same with or without libyaml (same spec and options, same export on every
    machine): libyaml's emitter writes it unless the document holds what it writes otherwise
    (an emoji in a cell, say), which PyYAML's own emitter then writes. ``dumper`` forces one."""
    if dumper is None:
        dumper = _CDumper if _same_in_libyaml(document) else _Dumper
    return yaml.dump(
        document,
        Dumper=dumper,
        sort_keys=False,
        allow_unicode=True,
        width=1 << 30,
        default_flow_style=False,
    )


def load_yaml(text: str) -> Any:
    """YAML text as data with PyYAML's safe loader, on libyaml when PyYAML has it (the same
    data, read about 20 times faster than the pure-Python reader)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def export_argo(spec: Mapping[str, Any], options: ArgoOptions | None = None) -> str:
    """The Argo Workflow YAML of a spec (deterministic: same spec and options, same text)."""
    return dump_yaml(build_workflow(spec, options))
