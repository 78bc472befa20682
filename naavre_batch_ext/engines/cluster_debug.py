"""Debug a failed batch of a cluster run where the code lives: the batch's inputs, read through
the Argo server, laid out as a local instance folder that :mod:`naavre_batch_ext.engines.debug`
loads unchanged.

From the Workflow the server returns (``GET /api/v1/workflows/{ns}/{name}``) this finds the
processor instance's pod node (the failed batch, or the one asked for) and writes, under
``<runs folder>/.cluster/<workflow>/``, what a local run folder holds for it:

- ``scripts/<task>.py`` (``.R`` for an R notebook): the task's ``script.source`` from
  ``spec.templates`` with the runtime of the ``naavre-batch/runtime`` annotation substituted,
  exactly what the pod ran (the step runtime, the transport and the Argo prologue, which prepares
  the inputs folder as in the pod; for R the runtime the pod's loader decodes, see
  :func:`_script`);
- ``<task>/<batch>/in/``: each of the node's input artifacts (``status.nodes[].inputs``, the
  template's inputs as the controller resolved them: operator.go
  ``initializeExecutableNode``) at its path
  below the inputs folder: a ``raw`` one (the parameters, and with ``--values parameters`` every
  value) from the node itself, any other (``--values artifacts``) through the server's artifact
  endpoint (:func:`~naavre_batch_ext.engines.cluster.input_artifact_request`);
- ``<task>/<batch>/error.json``: the cell and line it failed in, from the pod's log;
- ``spec.json``: the task's steps and cells, read from the script's task payload (Python's
  ``TASK``, parsed with ``ast.literal_eval``; R's ``.naavre_task``, read by the inverse of the
  writer of R literals), never run here.

Nothing from the cluster runs in the Jupyter server: the script only runs in the user's kernel.
A batch whose artifacts the server cannot read (its artifact repository unreachable from it, or
its credentials not readable with the user's token) gives a :class:`ClusterDebugError` saying so.
See docs/cluster.md#debugging-a-failed-batch.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from ..exporters import r_export
from ..exporters.argo import ANNOTATION_RUNTIME, INPUTS_DIR
from ..steps import r_scripts
from ..steps.step_runtime import batch_file_name
from . import debug
from .cluster import (
    MAX_ANSWER_BYTES,
    ApiRequest,
    ClusterError,
    batch_nodes,
    failure_location,
    generate_pod_name,
    get_request,
    input_artifact_request,
    log_request,
    log_text,
    planned_tasks,
    task_nodes,
)
from .cluster_answers import read_workflow

__all__ = [
    "CLUSTER_FOLDER",
    "ClusterDebugError",
    "artifact_error",
    "find_instance",
    "load_cluster_target",
]

CLUSTER_FOLDER = ".cluster"
"""The folder of the runs folder that holds the cluster instances laid out for debugging."""

_RUNTIME_REF = "{{workflow.annotations." + ANNOTATION_RUNTIME + "}}"
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")

Send = Callable[[ApiRequest], Awaitable[Any]]
"""What sends one request to the Argo server (``ArgoClient(settings).send``)."""


class ClusterDebugError(debug.DebugError):
    """A located error of debugging a cluster batch; ``status`` is its HTTP status over REST
    (404: no such batch, 409: the batch cannot be debugged as it is, 502: the Argo server could
    not give its inputs) and ``kind`` says which."""

    def __init__(self, message: str, hint: str, status: int, kind: str) -> None:
        super().__init__(message, hint)
        self.status = status
        self.kind = kind


def _failed(node: Mapping[str, Any]) -> bool:
    return node.get("phase") in ("Failed", "Error")


def find_instance(
    workflow: Mapping[str, Any], batch: int | None = None, task: str | None = None
) -> tuple[dict[str, Any], int, Mapping[str, Any]]:
    """The processor instance to debug: ``(task row, batch index, pod node)``; batch ``batch``
    of chain ``task`` (default: the chain where that batch failed), else the first failed batch.
    Only a failed batch is debugged: the panel and ``submit`` name the failed ones."""
    name = (workflow.get("metadata") or {}).get("name") or ""
    nodes: Mapping[str, Any] = (workflow.get("status") or {}).get("nodes") or {}
    groups = task_nodes(workflow)
    chains = [r for r in planned_tasks(workflow) if r.get("kind") == "processors"]
    if task is not None:
        chains = [r for r in chains if r["task"] == task]
        if not chains:
            known = ", ".join(r["task"] for r in planned_tasks(workflow) if r.get("kind"))
            raise ClusterDebugError(
                f"run {name} has no processor chain {task}",
                f"processor chains: {known or 'none'}",
                404,
                "no-task",
            )
    found: list[tuple[dict[str, Any], int, Mapping[str, Any], Mapping[str, Any]]] = []
    for row in chains:
        group = groups.get(row["task"])
        if group is not None:
            found += [(row, i, child, pod) for i, child, pod in batch_nodes(nodes, group)]
    failed = [f for f in found if _failed(f[2])]
    names = ", ".join(f"{f[0]['task']} batch {f[1]}" for f in failed) or "none"
    if batch is None:
        if not failed:
            raise ClusterDebugError(
                f"run {name} has no failed batch",
                "Debug in notebook loads the inputs of a failed batch; give --batch K of one",
                409,
                "not-failed",
            )
        row, index, _, pod = failed[0]
        return row, index, pod
    chosen = [f for f in found if f[1] == batch]
    if not chosen:
        raise ClusterDebugError(
            f"run {name} has no batch {batch}" + (f" of {task}" if task else "") + " (yet)",
            f"failed batches: {names}",
            404,
            "no-batch",
        )
    row, index, child, pod = next((f for f in chosen if _failed(f[2])), chosen[0])
    if not _failed(child):
        state = (child.get("phase") or "Pending").lower()
        raise ClusterDebugError(
            f"batch {batch} of {row['task']} in run {name} did not fail ({state})",
            f"Debug in notebook loads the inputs of a failed batch; failed batches: {names}",
            409,
            "not-failed",
        )
    return row, index, pod


def _template(workflow: Mapping[str, Any], pod: Mapping[str, Any], row: Mapping[str, Any]) -> Any:
    want = pod.get("templateName") or row["task"]
    templates = (workflow.get("spec") or {}).get("templates") or []
    return next((t for t in templates if isinstance(t, dict) and t.get("name") == want), None)


def _not_naavre(what: str, why: str) -> ClusterDebugError:
    return ClusterDebugError(
        f"{what}: {why}",
        "only runs submitted by naavre-batch (submit, Run on cluster) can be debugged",
        409,
        "not-naavre",
    )


def _script(workflow: Mapping[str, Any], template: Any, what: str) -> tuple[str, bool]:
    """The script the pod ran, with Argo's substitution of the runtime, and whether it is R.

    A Python script is the template's source with the annotation put in where Argo puts it; its
    loader runs the runtime with ``exec`` into the script's module. An R script's loader evaluates the
    runtime in ``globalenv()``, which in the user's kernel is the user's, so the runtime it loads
    is put in its place (:func:`~naavre_batch_ext.exporters.r_export.inline_runtime`)."""
    script = template.get("script") if isinstance(template, dict) else None
    source = script.get("source") if isinstance(script, dict) else None
    command = script.get("command") if isinstance(script, dict) else None
    runtime = ((workflow.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_RUNTIME)
    if not isinstance(source, str) or not isinstance(runtime, str) or _RUNTIME_REF not in source:
        raise _not_naavre(what, "the workflow has no naavre-batch step script for it")
    if command == ["python"]:
        return source.replace(_RUNTIME_REF, runtime), False
    if command == r_export.ARGO_COMMAND:
        inlined = r_export.inline_runtime(source, _RUNTIME_REF, runtime)
        if inlined is not None:
            return inlined, True
        raise _not_naavre(what, "its R step script does not load the runtime as naavre-batch does")
    raise _not_naavre(what, f"its step runs {str(command)[:80]}, not naavre-batch's Python or R")


def _python_payload(script: str) -> Any:
    """The value of a Python script's ``TASK = json.loads("...")``, read with :mod:`ast`."""
    for stmt in ast.parse(script).body:
        if (
            isinstance(stmt, ast.Assign)
            and [getattr(t, "id", None) for t in stmt.targets] == ["TASK"]
            and isinstance(stmt.value, ast.Call)
            and stmt.value.args
        ):
            return json.loads(ast.literal_eval(stmt.value.args[0]))
    return None


def _payload(script: str, r: bool, what: str) -> dict[str, Any]:
    """The script's task payload, read without running anything: Python's ``TASK =
    json.loads("...")`` with :mod:`ast`, R's ``.naavre_task <- list(...)`` with
    :func:`~naavre_batch_ext.steps.r_scripts.read_task_payload`, the exact inverse of the R
    literal writer. Not R's own parser run parse-only: that needs R in the Jupyter server, and
    the writer's grammar is small, its escapes invert exactly, and the reader checks that the
    value it read is written back to the same text, so anything else (any call but ``list()``,
    any name) is refused, never evaluated."""
    try:
        data = r_scripts.read_task_payload(script) if r else _python_payload(script)
    except (SyntaxError, ValueError, TypeError) as exc:
        raise _not_naavre(what, f"its task payload is not naavre-batch's ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return data
    raise _not_naavre(what, "its step script has no task payload")


def _relative(path: Any, what: str) -> PurePosixPath:
    """An input's path below the inputs folder, checked: nothing from the cluster is written
    outside the instance's ``in/`` folder."""
    parts = PurePosixPath(str(path)).parts if isinstance(path, str) else ()
    base = PurePosixPath(INPUTS_DIR).parts
    rest = parts[len(base) :]
    if parts[: len(base)] != base or not rest or not all(_SEGMENT.match(p) for p in rest):
        raise _not_naavre(what, f"an input's path {str(path)[:80]!r} is not in {INPUTS_DIR}")
    if any(p in (".", "..") for p in rest):
        raise ClusterDebugError(f"{what}: bad input path {path!r}", "", 409, "not-naavre")
    return PurePosixPath(*rest)


def artifact_error(exc: ClusterError, artifact: str, what: str, name: str) -> ClusterDebugError:
    """The clear message of an artifact the server could not give (artifact_server.go: 500 when
    it cannot reach or open the repository, 404 ``CodeNotFound`` for a key that is gone, 501 for
    a key that is a folder); other statuses (401, 403, no answer) keep the connection's own."""
    where = f"input {artifact!r} of {what} in run {name}"
    if exc.status == 500:
        return ClusterDebugError(
            f"the Argo server could not read {where} from its artifact repository (HTTP 500)",
            "the repository is not reachable from the Argo server, or its credentials (the "
            "repository's Secret) are not readable with your token; the Argo server's log says "
            "which. Ask the cluster's administrator to let argo-server read the artifact "
            "repository, or debug a local run (naavre-batch run, then naavre-batch debug RUN_ID)",
            502,
            "artifact-unreadable",
        )
    if exc.status in (404, 501):
        return ClusterDebugError(
            f"{where} is no longer in the artifact repository (HTTP {exc.status})",
            "artifacts may be deleted by the repository's lifecycle rules or artifactGC; "
            "resubmit the run, or debug a local run",
            502,
            "artifact-gone",
        )
    if exc.kind == "too-large":
        return ClusterDebugError(
            f"{where} is larger than {MAX_ANSWER_BYTES // 2**20} MiB; it was not read",
            "debug it from a local run of the notebook with a smaller batch (naavre-batch run, "
            "then naavre-batch debug RUN_ID)",
            502,
            "artifact-too-large",
        )
    return ClusterDebugError(exc.message, exc.hint, 502, exc.kind)


async def load_cluster_target(
    send: Send,
    namespace: str,
    name: str,
    runs_folder: Path,
    batch: int | None = None,
    task: str | None = None,
) -> debug.DebugTarget:
    """Read the run, find the instance (:func:`find_instance`), read its inputs through the
    server and lay it out under ``runs_folder/.cluster/<name>/`` (replacing an earlier copy);
    the :class:`~naavre_batch_ext.engines.debug.DebugTarget` that
    :func:`~naavre_batch_ext.engines.debug.loader_source` and
    :func:`~naavre_batch_ext.engines.debug.write_notebook` take. :class:`ClusterError` for the
    connection (an unknown run: ``not-found``), :class:`ClusterDebugError` otherwise."""
    workflow = read_workflow(await send(get_request(namespace, name)))
    row, index, pod = find_instance(workflow, batch, task)
    what = f"batch {index} of {row['task']}"
    template = _template(workflow, pod, row)
    script, r = _script(workflow, template, what)
    payload = _payload(script, r, what)
    artifacts = ((pod.get("inputs") or {}).get("artifacts")) or []
    if not artifacts:
        raise ClusterDebugError(
            f"{what} in run {name} has no inputs in the run's status",
            "its pod may not have started; Debug in notebook needs a batch that ran",
            409,
            "no-inputs",
        )
    files: dict[PurePosixPath, bytes] = {}
    for artifact in artifacts:
        if not isinstance(artifact, dict) or not isinstance(artifact.get("name"), str):
            continue
        relative = _relative(artifact.get("path"), what)
        raw = artifact.get("raw")
        if isinstance(raw, dict) and isinstance(raw.get("data"), str):
            files[relative] = raw["data"].encode("utf-8")
            continue
        request = input_artifact_request(namespace, name, str(pod.get("id")), artifact["name"])
        try:
            data = await send(request)
        except ClusterError as exc:
            if artifact.get("optional") and exc.status == 404:
                continue
            raise artifact_error(exc, artifact["name"], what, name) from None
        if bytes(data[:256]).lstrip()[:1] == b"<":
            # No value file starts with "<" (JSON, or the transport's first line): a web page.
            # With ARGO_ARTIFACT_SERVER=false the route is not registered and the UI's file
            # server answers every unknown path with its index.html (server/static/static.go
            # ServerFiles; server/apiserver/argoserver.go registers the routes only if enabled).
            raise ClusterDebugError(
                f"the Argo server answered with a web page, not input {artifact['name']!r} of "
                f"{what} in run {name}: its artifact endpoint is switched off",
                "the Argo server runs with ARGO_ARTIFACT_SERVER=false (or a proxy in front of it "
                "does not pass /input-artifacts/); ask the cluster's administrator to enable it, "
                "or debug a local run (naavre-batch run, then naavre-batch debug RUN_ID)",
                502,
                "artifact-server-off",
            )
        files[relative] = data
    error: dict[str, Any] = {"message": pod.get("message") or "", "cell_index": None}
    cells = [c["index"] for s in payload.get("steps", []) for c in s.get("cells", [])]
    annotations = (workflow.get("metadata") or {}).get("annotations") or {}
    pod_name = generate_pod_name(
        name,
        pod.get("name") or "",
        pod.get("templateName") or "",
        pod.get("id") or "",
        annotations.get("workflows.argoproj.io/pod-name-format", "v2"),
    )
    try:
        text = log_text(await send(log_request(namespace, name, pod_name)))
    except ClusterError:
        text = ""  # no log (pod GC): the task's first cell is selected
    location = failure_location(text, cells)
    error.update(cell_index=location["cell_index"], line=location["line"])
    last = [ln for ln in text.splitlines() if ln.startswith("naavre-batch: step ")]
    if last:
        error["message"] = last[-1].split(": ", 2)[-1]
    return await asyncio.to_thread(
        _lay_out, runs_folder, name, script, r, payload, index, files, error
    )


def _lay_out(
    runs_folder: Path,
    name: str,
    script: str,
    r: bool,
    payload: dict[str, Any],
    index: int,
    files: Mapping[PurePosixPath, bytes],
    error: dict[str, Any],
) -> debug.DebugTarget:
    """Write the instance folder (in a temporary folder, then renamed into place)."""
    task = {
        "id": payload["id"],
        "kind": payload.get("kind", "processors"),
        "steps": [s["id"] for s in payload.get("steps", [])],
        "split_variable": payload.get("split_variable"),
    }
    notebook = str(payload.get("notebook") or "notebook.ipynb")
    spec = {
        "notebook": {
            "name": PurePosixPath(notebook).stem,
            "path": notebook,
            "language": "R" if r else "python",  # the debug notebook's kernel: ir or python3
        },
        "steps": [
            {"id": s["id"], "role": s.get("role"), "cells": s.get("cells", [])}
            for s in payload.get("steps", [])
        ],
    }
    parent = runs_folder / CLUSTER_FOLDER
    if parent.is_symlink() or (parent / name).is_symlink():
        raise ClusterDebugError(
            f"{parent / name} is a symbolic link; nothing was written through it",
            f"remove it: {CLUSTER_FOLDER} only holds copies of cluster batches",
            409,
            "symlink",
        )
    parent.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
    try:
        (staging / "scripts").mkdir()
        (staging / "scripts" / r_scripts.script_name(task["id"], r)).write_text(
            script, encoding="utf-8"
        )
        (staging / "spec.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
        folder = staging / task["id"] / batch_file_name(index)
        (folder / "in").mkdir(parents=True)
        for relative, data in files.items():
            target = folder / "in" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (folder / "error.json").write_text(json.dumps(error), encoding="utf-8")
        final = parent / name
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return debug.DebugTarget(final, task, index, spec)
