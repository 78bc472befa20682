"""Running an exported workflow on an Argo server: connection settings, the API requests, and
the mapping of a Workflow's ``status.nodes`` back onto the notebook's steps.

Pure: no network, no tornado. :mod:`naavre_batch_ext.engines.cluster_client` sends the
:class:`ApiRequest` objects built here (tornado's ``AsyncHTTPClient``) and hands the answers back to
:func:`error_for_status` and :func:`run_status`; the REST handlers and ``naavre-batch submit`` use
both. Documented in docs/cluster.md.

The connection is read like the ``argo`` CLI reads it (``ARGO_SERVER``, ``ARGO_NAMESPACE``,
``ARGO_TOKEN``, ``ARGO_INSECURE_SKIP_VERIFY``, ``ARGO_BASE_HREF``, ``ARGO_SECURE``), with the server
extension's traitlets (``c.NaavreBatch.argo_*``) on top. The token stays in
:class:`ClusterSettings`: it is never part of :meth:`ClusterSettings.describe`, of an error
message or of a run's status, which is all that reaches the browser, the log or the terminal.

A submitted workflow carries labels naming the notebook (so ``GET cluster-runs?path=`` lists the
runs of a notebook from the cluster itself, surviving page reloads and server restarts) and an
annotation with the planned tasks (which task runs which steps and cells), so its status maps onto
the steps even after the notebook was edited.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from ..steps.scripts import RESERVED_BATCHES
from ..steps.step_runtime import (
    RESERVED_BATCH,
    RESERVED_BATCH_LIST,
    RESERVED_PRINTED,
    RESERVED_SUMMARY,
)
from ..steps.transport import MAGIC

__all__ = [
    "ANNOTATION_NOTEBOOK_PATH",
    "ANNOTATION_TASKS",
    "LABEL_NOTEBOOK",
    "LABEL_NOTEBOOK_KEY",
    "LABEL_SUBMITTED_BY",
    "MAX_ANSWER_BYTES",
    "ApiRequest",
    "batch_nodes",
    "ClusterConfigError",
    "ClusterError",
    "ClusterSettings",
    "create_request",
    "error_for_status",
    "failure_location",
    "format_status_table",
    "generate_pod_name",
    "input_artifact_request",
    "item_range_text",
    "get_request",
    "label_selector",
    "list_request",
    "log_request",
    "log_text",
    "missing_log_reason",
    "notebook_key",
    "planned_tasks",
    "prepare_workflow",
    "resubmit_request",
    "retry_request",
    "run_status",
    "run_summary",
    "settings_from",
    "stop_request",
    "task_nodes",
    "version_request",
    "workflow_for",
]

LABEL_SUBMITTED_BY = "naavre-batch/submitted-by"
LABEL_NOTEBOOK = "naavre-batch/notebook"
LABEL_NOTEBOOK_KEY = "naavre-batch/notebook-key"
ANNOTATION_NOTEBOOK_PATH = "naavre-batch/notebook-path"
ANNOTATION_TASKS = "naavre-batch/tasks"
SUBMITTED_BY = "naavre-batch-ext"

DEFAULT_NAMESPACE = "argo"
"""The namespace when neither ``ARGO_NAMESPACE`` nor the traitlet names one: Argo's quick-start
installs into ``argo``, and the argo CLI without a kube context falls back to it too."""

MAX_ANSWER_BYTES = 64 * 2**20
"""The largest answer read (64 MiB: a workflow of some ten thousand nodes, or an artifact); a
larger one is reported as too large, not read into memory. Below tornado's own 100 MB limit, past
which it hangs up and the answer would look like no answer at all."""

DEFAULT_TIMEOUT = 20.0
"""Seconds a request to the Argo server may take; a server that hangs is reported, not waited on."""

_TRUE = ("1", "true", "yes", "on")
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9._-]+")


class ClusterConfigError(ValueError):
    """The connection is not configured (no server) or a setting is malformed."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ClusterError(RuntimeError):
    """A request to the Argo server failed; ``kind`` says how, the message what to do.

    ``kind``: ``unreachable``, ``tls``, ``timeout``, ``unauthorized`` (401), ``forbidden`` (403),
    ``not-found`` (404), ``rejected`` (other 4xx: Argo refused the request), ``server`` (5xx),
    ``bad-answer`` (not the JSON the API describes). ``status`` is the HTTP status, when there was
    one. Never contains the token.
    """

    def __init__(self, kind: str, message: str, hint: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint
        self.status = status


@dataclass(frozen=True)
class ClusterSettings:
    """Where the Argo server is and how to authenticate; ``token`` never leaves this object
    except in :meth:`headers` (``repr`` hides it)."""

    server: str
    namespace: str = DEFAULT_NAMESPACE
    token: str = field(default="", repr=False)
    insecure_skip_verify: bool = False
    base_href: str = ""
    timeout: float = DEFAULT_TIMEOUT

    @property
    def base_url(self) -> str:
        """``https://host:port/<base href>`` without a trailing slash."""
        href = self.base_href.strip("/")
        return self.server.rstrip("/") + (f"/{href}" if href else "")

    def url(self, request: ApiRequest) -> str:
        """The full URL of a request (path and query escaped)."""
        query = "&".join(f"{quote(k, safe='.')}={quote(v, safe='')}" for k, v in request.query)
        return self.base_url + request.path + (f"?{query}" if query else "")

    def headers(self) -> dict[str, str]:
        """Request headers; ``Authorization`` as the argo CLI sends ``ARGO_TOKEN``: as given
        when it already names its scheme (``Bearer ...``, what ``argo auth token`` prints), else
        as a bearer token."""
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        token = _check_token(self.token, "the Argo token")
        if token:
            if not token.lower().startswith(("bearer ", "basic ")):
                token = "Bearer " + token
            headers["Authorization"] = token
        return headers

    def describe(self) -> dict[str, Any]:
        """What the browser and the terminal may see: everything but the token."""
        return {
            "server": self.base_url,
            "namespace": self.namespace,
            "tokenSet": bool(self.token.strip()),
            "insecureSkipVerify": self.insecure_skip_verify,
            "timeout": self.timeout,
        }


def _check_token(token: str, source: str) -> str:
    """The token without surrounding white space; :class:`ClusterConfigError` naming only
    ``source`` (never the token) when it holds a line break or another character an HTTP header
    cannot carry: sent, it would fail inside the HTTP client with the header, token included, in
    the exception text."""
    token = token.strip()
    if any(not (" " <= c <= "~") for c in token):
        raise ClusterConfigError(
            f"{source} holds a line break or another character a token cannot contain; "
            "it was not sent",
            f"set {source} again to the token alone, on one line (argo auth token prints it)",
        )
    return token


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE


def settings_from(
    env: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> ClusterSettings:
    """The connection from environment variables (the argo CLI's names) and overrides.

    ``overrides`` are the server extension's traitlets (``server``, ``namespace``, ``token``,
    ``insecure_skip_verify``, ``base_href``, ``timeout``); an empty or ``None`` value keeps the
    environment's. ``ARGO_SERVER`` is ``host:port`` as for the argo CLI (HTTPS unless
    ``ARGO_SECURE=false``) or a full ``http(s)://`` URL.
    """
    over = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}
    server = str(over.get("server") or env.get("ARGO_SERVER", "")).strip()
    if not server:
        raise ClusterConfigError(
            "no Argo server configured",
            "set ARGO_SERVER (host:port or https://host:port) in the environment of Jupyter, "
            "or c.NaavreBatch.argo_server in its configuration; see docs/cluster.md",
        )
    if "://" not in server:
        secure = env.get("ARGO_SECURE", "true").strip().lower() not in ("0", "false", "no", "off")
        server = ("https://" if secure else "http://") + server
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClusterConfigError(
            f"ARGO_SERVER {server!r} is not a server address",
            "give host:port, e.g. argo.example.org:2746, or https://argo.example.org",
        )
    base_href = str(over.get("base_href") or env.get("ARGO_BASE_HREF", "")).strip()
    if not base_href and parts.path.strip("/"):
        base_href = parts.path
    namespace = str(over.get("namespace") or env.get("ARGO_NAMESPACE", "") or DEFAULT_NAMESPACE)
    insecure = over.get("insecure_skip_verify")
    if insecure is None:
        insecure = _flag(env.get("ARGO_INSECURE_SKIP_VERIFY", "false"))
    timeout = float(over.get("timeout") or DEFAULT_TIMEOUT)
    token = str(over.get("token") or env.get("ARGO_TOKEN", ""))
    _check_token(token, "c.NaavreBatch.argo_token" if over.get("token") else "ARGO_TOKEN")
    return ClusterSettings(
        server=f"{parts.scheme}://{parts.netloc}",
        namespace=namespace.strip(),
        token=token,
        insecure_skip_verify=bool(insecure),
        base_href=base_href,
        timeout=timeout,
    )


# -- requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiRequest:
    """One call of the Argo Server API (argo-server-swagger ``paths``); ``what`` names it in
    error messages (``create workflow``)."""

    method: str
    path: str
    what: str
    query: tuple[tuple[str, str], ...] = ()
    body: dict[str, Any] | None = None
    stream: bool = False
    binary: bool = False
    """The answer is bytes as they are (an artifact), not JSON."""


def _seg(value: str) -> str:
    return quote(value, safe="")


_OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
"""A Kubernetes object name, an RFC 1123 subdomain: how workflows and pods are named
(k8s.io/apimachinery/pkg/util/validation/validation.go, ``IsDNS1123Subdomain``)."""


def check_object_name(name: str, what: str = "name") -> str:
    """``name`` if it is a Kubernetes object name (<= 253 characters), else ``ValueError``
    saying so: nothing else may go into a request path with the token (``..``, ``X_Y``, NUL)."""
    if not isinstance(name, str) or len(name) > 253 or not _OBJECT_NAME.fullmatch(name):
        text = str(name)
        shown = repr(text if len(text) <= 60 else text[:57] + "...")
        raise ValueError(
            f"{shown} is not a Kubernetes object name (lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit, at most 253 characters)"
        )
    return name


def version_request() -> ApiRequest:
    """``GET /api/v1/version`` (InfoService.GetVersion): what "Test connection" asks."""
    return ApiRequest("GET", "/api/v1/version", "read the server version")


def create_request(namespace: str, workflow: Mapping[str, Any]) -> ApiRequest:
    """``POST /api/v1/workflows/{namespace}`` with a WorkflowCreateRequest."""
    return ApiRequest(
        "POST",
        f"/api/v1/workflows/{_seg(namespace)}",
        "create the workflow",
        body={"namespace": namespace, "workflow": dict(workflow)},
    )


def get_request(namespace: str, name: str) -> ApiRequest:
    """``GET /api/v1/workflows/{namespace}/{name}``."""
    return ApiRequest(
        "GET",
        f"/api/v1/workflows/{_seg(namespace)}/{_seg(check_object_name(name))}",
        "read the run",
    )


def list_request(namespace: str, selector: str) -> ApiRequest:
    """``GET /api/v1/workflows/{namespace}?listOptions.labelSelector=...``, without the nodes
    and scripts (``fields``), which a list does not show."""
    fields = (
        "metadata,items.metadata.name,items.metadata.namespace,items.metadata.uid,"
        "items.metadata.creationTimestamp,items.metadata.labels,items.metadata.annotations,"
        "items.spec.arguments,items.status.phase,items.status.message,items.status.startedAt,"
        "items.status.finishedAt,items.status.progress"
    )
    return ApiRequest(
        "GET",
        f"/api/v1/workflows/{_seg(namespace)}",
        "list the runs",
        query=(("listOptions.labelSelector", selector), ("fields", fields)),
    )


LOG_TAIL_LINES = 5000
"""Lines of a pod's log that are fetched: the end, where a failed step prints its traceback."""


def log_request(namespace: str, name: str, pod_name: str) -> ApiRequest:
    """``GET /api/v1/workflows/{namespace}/{name}/log?podName=...`` of the ``main`` container
    (where the step script runs), its last :data:`LOG_TAIL_LINES` lines; the answer is one
    ``{"result": LogEntry}`` JSON per line."""
    return ApiRequest(
        "GET",
        f"/api/v1/workflows/{_seg(namespace)}/{_seg(check_object_name(name))}/log",
        "read the log",
        query=(
            ("podName", pod_name),
            ("logOptions.container", "main"),
            ("logOptions.tailLines", str(LOG_TAIL_LINES)),
        ),
        stream=True,
    )


def input_artifact_request(namespace: str, name: str, node_id: str, artifact: str) -> ApiRequest:
    """``GET /input-artifacts/{namespace}/{name}/{nodeId}/{artifactName}``: the bytes of a
    node's input artifact, read by the Argo server from where the node's inputs say
    (server/artifacts/artifact_server.go ``GetInputArtifact``, routed in
    server/apiserver/argoserver.go; a plain HTTP handler beside the API, so not in its OpenAPI
    description). Errors come as plain text: 401, 403 and 404 for the workflow, 500 when the
    server cannot find the node or artifact or cannot read the artifact repository, 404 for a key
    that is gone (``CodeNotFound``)."""
    return ApiRequest(
        "GET",
        f"/input-artifacts/{_seg(namespace)}/{_seg(check_object_name(name))}/"
        f"{_seg(check_object_name(node_id, 'node id'))}/{_seg(artifact)}",
        f"read the input artifact {artifact}",
        binary=True,
    )


def stop_request(namespace: str, name: str) -> ApiRequest:
    """``PUT .../{name}/stop``: running pods are stopped, exit handlers still run."""
    return ApiRequest(
        "PUT",
        f"/api/v1/workflows/{_seg(namespace)}/{_seg(check_object_name(name))}/stop",
        "stop the run",
        body={"name": name, "namespace": namespace, "message": "stopped from naavre-batch-ext"},
    )


def retry_request(namespace: str, name: str) -> ApiRequest:
    """``PUT .../{name}/retry``: the failed nodes run again, succeeded batches are kept."""
    return ApiRequest(
        "PUT",
        f"/api/v1/workflows/{_seg(namespace)}/{_seg(check_object_name(name))}/retry",
        "retry the run",
        body={"name": name, "namespace": namespace},
    )


def resubmit_request(namespace: str, name: str) -> ApiRequest:
    """``PUT .../{name}/resubmit``: a new workflow with the same spec and parameters."""
    return ApiRequest(
        "PUT",
        f"/api/v1/workflows/{_seg(namespace)}/{_seg(check_object_name(name))}/resubmit",
        "resubmit the run",
        body={"name": name, "namespace": namespace},
    )


def error_for_status(
    status: int, body: bytes | str | None, settings: ClusterSettings, request: ApiRequest
) -> ClusterError:
    """The :class:`ClusterError` of an HTTP error answer: 401 says the token, 403 names the
    namespace, 5xx says the server failed; Argo's own message (``grpc.gateway.runtime.Error``)
    is quoted when it sent one."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    detail = ""
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            detail = str(data.get("message") or data.get("error") or "")
    except ValueError:
        detail = text.strip()[:300] if status < 500 and "<" not in text else ""
    if settings.token and settings.token.strip() and settings.token.strip() in detail:
        detail = detail.replace(settings.token.strip(), "***")
    said = f" (the server says: {detail})" if detail else ""
    where = settings.base_url
    ns = settings.namespace
    if status == 401:
        token_state = "the token was refused" if settings.token.strip() else "no token was sent"
        return ClusterError(
            "unauthorized",
            f"{where} did not accept the credentials: {token_state}{said}",
            "set ARGO_TOKEN to a valid token (argo auth token, or the service account's token) "
            "and restart Jupyter",
            status,
        )
    if status == 403:
        return ClusterError(
            "forbidden",
            f"not allowed to {request.what} in namespace {ns!r} on {where}{said}",
            f"the token's service account needs a Role in {ns!r} allowing workflows "
            "(create, get, list, watch, update, patch) and pods/log (get); or set ARGO_NAMESPACE "
            "to a namespace you may use",
            status,
        )
    if status == 404:
        return ClusterError(
            "not-found",
            f"{where}: cannot {request.what}: not found in namespace {ns!r}{said}",
            "the run may have been deleted (or archived) on the cluster; check ARGO_BASE_HREF "
            "if the server itself was not found",
            status,
        )
    if status >= 500:
        return ClusterError(
            "server",
            f"the Argo server {where} failed to {request.what} (HTTP {status}){said}",
            "try again later; if it persists, the server's own log says why",
            status,
        )
    return ClusterError(
        "rejected",
        f"the Argo server refused to {request.what} (HTTP {status}){said}",
        "",
        status,
    )


# -- submitting ----------------------------------------------------------------------------------


def notebook_key(path: str) -> str:
    """The label value that names a notebook exactly (a label value is at most 63 characters
    of ``[A-Za-z0-9._-]``, which a path is not): the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]


def _label_value(text: str) -> str:
    value = _LABEL_VALUE.sub("-", text)[:63].strip("-._")
    return value or "notebook"


def label_selector(path: str) -> str:
    """The ``labelSelector`` of a notebook's runs."""
    return f"{LABEL_SUBMITTED_BY}={SUBMITTED_BY},{LABEL_NOTEBOOK_KEY}={notebook_key(path)}"


def _task_annotation(spec: Mapping[str, Any], tasks: Sequence[Any]) -> str:
    """The planned tasks as the annotation records them: task id, kind, steps and their cells."""
    steps = {s["id"]: s for s in spec.get("steps", [])}
    rows = []
    for task in tasks:
        cells = [c["index"] for sid in task.steps for c in steps.get(sid, {}).get("cells", [])]
        rows.append({"task": task.id, "kind": task.kind, "steps": list(task.steps), "cells": cells})
    return json.dumps(rows, separators=(",", ":"))


def prepare_workflow(
    workflow: Mapping[str, Any],
    spec: Mapping[str, Any],
    path: str,
    parameters: Mapping[str, str],
    namespace: str,
) -> dict[str, Any]:
    """The exported Workflow ready to create: labels naming the notebook, the tasks annotation,
    the namespace, and the run's parameter values (as text, the way ``argo submit -p`` sets them)
    in ``spec.arguments.parameters``. Unknown parameter names raise ``ValueError``."""
    from ..steps.scripts import plan_tasks

    wf = json.loads(json.dumps(workflow))
    meta = wf.setdefault("metadata", {})
    meta["namespace"] = namespace
    labels = meta.setdefault("labels", {})
    labels[LABEL_SUBMITTED_BY] = SUBMITTED_BY
    labels[LABEL_NOTEBOOK] = _label_value(str(spec.get("notebook", {}).get("name") or path))
    labels[LABEL_NOTEBOOK_KEY] = notebook_key(path)
    annotations = meta.setdefault("annotations", {})
    annotations[ANNOTATION_NOTEBOOK_PATH] = path
    annotations[ANNOTATION_TASKS] = _task_annotation(spec, plan_tasks(dict(spec)))
    arguments = wf.setdefault("spec", {}).setdefault("arguments", {}).setdefault("parameters", [])
    known = {p["name"]: p for p in arguments}
    for name, value in parameters.items():
        if name not in known:
            raise ValueError(
                f"unknown parameter {name!r}; the workflow's parameters are "
                f"{', '.join(known) or 'none'}"
            )
        known[name]["value"] = value
    return wf


# -- following -----------------------------------------------------------------------------------

_PHASE_STATE = {
    "": "pending",
    "Pending": "pending",
    "Running": "running",
    "Succeeded": "succeeded",
    "Failed": "failed",
    "Error": "failed",
    "Skipped": "skipped",
    "Omitted": "skipped",
}
"""Argo's NodePhase / WorkflowPhase to the panel's states (the same words as local runs)."""

_INDEX = re.compile(r"\((\d+):")


def _state(phase: str | None) -> str:
    return _PHASE_STATE.get(phase or "", "pending")


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _seconds(node: Mapping[str, Any], now: datetime) -> float | None:
    start = _time(node.get("startedAt"))
    if start is None:
        return None
    end = _time(node.get("finishedAt")) or now
    return round(max(0.0, (end - start).total_seconds()), 3)


def generate_pod_name(
    workflow_name: str, node_name: str, template_name: str, node_id: str, version: str = "v2"
) -> str:
    """The pod of a node, as Argo names it (workflow/util/pod_name.go, ``GeneratePodName``):
    ``v2`` (the default) ``<workflow>-<template>-<fnv32a(node name)>``, ``v1`` the node id."""
    if version == "v1":
        return node_id
    if workflow_name == node_name:
        return workflow_name
    prefix = workflow_name + (f"-{template_name}" if template_name else "")
    prefix = prefix[: 253 - 10 - 1]
    h = 0x811C9DC5
    for byte in node_name.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{prefix}-{h}"


def planned_tasks(workflow: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The planned tasks of the ``naavre-batch/tasks`` annotation (task, kind, steps, cells)."""
    text = (workflow.get("metadata", {}).get("annotations") or {}).get(ANNOTATION_TASKS)
    try:
        rows = json.loads(text) if text else []
    except ValueError:
        rows = []
    return [r for r in rows if isinstance(r, dict) and "task" in r]


_JSON_VALUE = MAGIC + b"json\n"
_DESC_RANGE = re.compile(r"\((\d+):(?=[^()]*\bstart:(\d+))(?=[^()]*\bstop:(\d+))[^()]*\)$")


def _json_value(text: Any) -> Any:
    """A value as the step scripts write it into a parameter: the transport's text form of a
    ``json`` value (``naavre-value/1 json\n<JSON>``) or plain JSON; ``None`` for anything else
    (other codecs are never decoded here: no pickle is ever read from a cluster's answer)."""
    if not isinstance(text, str):
        return text
    if "\n" not in text and text.startswith(_JSON_VALUE.decode("ascii").replace("\n", "\\n")):
        # the withParam item as a processor's input: Argo renders a string item with its JSON
        # escapes kept (Item.String, pkg/apis/workflow/v1alpha1/item.go), so undo them
        try:
            text = json.loads('"' + text + '"')
        except ValueError:
            return None
    data = text.encode("utf-8")
    if data.startswith(_JSON_VALUE):
        data = data[len(_JSON_VALUE) :]
    elif data.startswith(MAGIC):
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _range_of(value: Any) -> tuple[int, int, int] | None:
    """``(index, start, stop)`` of a batch or a row of the batch table, when it has all three."""
    if not isinstance(value, Mapping):
        return None
    index, start, stop = (value.get(k) for k in ("index", "start", "stop"))
    if type(index) is int and type(start) is int and type(stop) is int:
        return index, start, stop
    return None


def batch_table(splitter: Mapping[str, Any] | None) -> dict[int, tuple[int, int]]:
    """Each batch's item range ``[start, stop)`` by batch index, from what the splitter's pod
    wrote: its ``naavre-batch-list`` output parameter (the batch table, in both value modes),
    else its ``naavre-batches`` parameter (a JSON list of batches in the transport's text form).
    Items are elements of the split variable, counted from 0."""
    table: dict[int, tuple[int, int]] = {}
    if splitter is None:
        return table
    for name in (RESERVED_BATCH_LIST, RESERVED_BATCHES):
        rows = _parameter(splitter, "outputs", name)
        rows = json.loads(rows) if isinstance(rows, str) and rows.startswith("[") else None
        for row in rows if isinstance(rows, list) else []:
            found = _range_of(_json_value(row) if isinstance(row, str) else row)
            if found:
                table[found[0]] = (found[1], found[2])
        if table:
            break
    return table


def _instance_range(node: Mapping[str, Any]) -> tuple[int, int] | None:
    """An instance's item range from the instance itself: its ``naavre-batch`` input parameter
    (``--values parameters``: the batch in the text form), else the ``withParam`` item the
    controller wrote into its name (``--values artifacts``: ``(<i>:index:<i>,start:<a>,stop:<b>)``,
    operator.go ``processItem``)."""
    found = _range_of(_json_value(_parameter(node, "inputs", RESERVED_BATCH)))
    if found:
        return found[1], found[2]
    match = _DESC_RANGE.search(node.get("name") or "")
    if match:
        return int(match.group(2)), int(match.group(3))
    return None


def _parameter(node: Mapping[str, Any], where: str, name: str) -> Any:
    """The text of a node's input or output parameter, or None."""
    for p in (node.get(where) or {}).get("parameters") or []:
        if isinstance(p, Mapping) and p.get("name") == name:
            return p.get("value")
    return None


def stored_output(node: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A merger's printed output as its pod stored it in the status (``naavre-printed``:
    ``{"text", "cutBytes"}``), which outlives the pod; None when there is none."""
    value = _json_value(_parameter(node or {}, "outputs", RESERVED_PRINTED))
    if isinstance(value, Mapping) and isinstance(value.get("text"), str):
        cut = value.get("cutBytes")
        return {"text": value["text"], "cutBytes": cut if type(cut) is int else 0}
    return None


def stored_summary(node: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    """The summary of a merger's merged values (``naavre-summary``), or None."""
    value = _json_value(_parameter(node or {}, "outputs", RESERVED_SUMMARY))
    if isinstance(value, list):
        return [row for row in value if isinstance(row, dict)]
    return None


_GC_DELETES = {
    "OnPodSuccess": lambda pod, wf: pod == "succeeded",
    "OnPodCompletion": lambda pod, wf: pod in ("succeeded", "failed"),
    "OnWorkflowCompletion": lambda pod, wf: wf in ("Succeeded", "Failed", "Error"),
    "OnWorkflowSuccess": lambda pod, wf: wf == "Succeeded",
}
"""When Argo deletes a pod, by ``spec.podGC.strategy`` (workflow/controller/pod/cleanup.go,
``determinePodCleanupAction``)."""


def missing_log_reason(status: Mapping[str, Any], state: str | None) -> str:
    """Why a step's or batch's log came back empty, for the user: the pod was deleted by pod GC
    (the run's strategy deletes pods in this state; the argo server then streams nothing,
    util/logs/workflow-logger.go ``WorkflowLogs`` finding no pod) and how to keep logs, or that
    it printed nothing."""
    strategy = status.get("podGC")
    deletes = _GC_DELETES.get(str(strategy))
    keep = (
        "to keep logs, have the cluster archive them (archiveLogs: true in the workflow "
        "controller's artifactRepository, then the Argo UI shows them) or submit with another "
        "--pod-gc (none keeps every pod)"
    )
    if state in ("pending", "skipped", None):
        return "the pod has not started, so there is no log yet"
    if deletes is not None and deletes(state, status.get("phase")):
        return (
            f"the pod was deleted by pod GC (podGC strategy {strategy}) and its log with it; {keep}"
        )
    return (
        "the log is empty: the step printed nothing, or its pod is gone (deleted by pod GC or "
        f"by hand); {keep}"
    )


def _leaf(nodes: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod of an instance: the node itself, or the last attempt under a ``Retry`` node."""
    while node.get("type") == "Retry" and node.get("children"):
        child = nodes.get(node["children"][-1])
        if not child:
            break
        node = child
    return node


def run_summary(workflow: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """One line of the run list: name, phase, state, times, parameters, notebook path."""
    now = now or datetime.now(timezone.utc)
    meta = workflow.get("metadata") or {}
    status = workflow.get("status") or {}
    phase = status.get("phase") or "Pending"
    params = ((workflow.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "created": meta.get("creationTimestamp"),
        "notebook": (meta.get("annotations") or {}).get(ANNOTATION_NOTEBOOK_PATH),
        "phase": phase,
        "state": _state(phase),
        "finished": phase in ("Succeeded", "Failed", "Error"),
        "message": status.get("message") or "",
        "progress": status.get("progress") or "",
        "startedAt": status.get("startedAt"),
        "finishedAt": status.get("finishedAt"),
        "seconds": _seconds(status, now) if status.get("startedAt") else None,
        "parameters": {p.get("name"): p.get("value") for p in params if isinstance(p, dict)},
        "podGC": ((workflow.get("spec") or {}).get("podGC") or {}).get("strategy"),
    }


def task_nodes(workflow: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Each DAG task's node by its ``displayName`` (the task's name: dag.go ``taskNodeName``
    names it ``<dag node>.<task>``), without the DAG itself and the fan-out's ``(i:...)``
    instances."""
    name = (workflow.get("metadata") or {}).get("name") or ""
    nodes: Mapping[str, Any] = (workflow.get("status") or {}).get("nodes") or {}
    by_display: dict[str, Mapping[str, Any]] = {}
    for node in nodes.values():
        if node.get("type") in ("DAG", "Steps") and node.get("id") == name:
            continue
        display = node.get("displayName") or ""
        if display and not _INDEX.search(display):
            by_display.setdefault(display, node)
    return by_display


def batch_nodes(
    nodes: Mapping[str, Any], group: Mapping[str, Any]
) -> list[tuple[int, Mapping[str, Any], Mapping[str, Any]]]:
    """``(batch index, instance node, its pod node)`` for each child of a fan-out's
    ``TaskGroup`` node: the index from the child's name ``<task>(<i>:...)`` (operator.go
    ``generateNodeName``), the pod the child itself or its last attempt under ``Retry``."""
    found: list[tuple[int, Mapping[str, Any], Mapping[str, Any]]] = []
    for child_id in group.get("children") or []:
        child = nodes.get(child_id)
        if not child:
            continue
        match = _INDEX.search(child.get("name") or "")
        index = int(match.group(1)) if match else len(found)
        found.append((index, child, _leaf(nodes, child)))
    return found


def run_status(workflow: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A Workflow (``GET /api/v1/workflows/{ns}/{name}``) as the panel and ``--watch`` show it.

    Each planned task (the ``naavre-batch/tasks`` annotation) is found among ``status.nodes`` by
    its DAG task name (workflow/controller/dag.go, ``taskNodeName``: ``<dag node>.<task>``, the
    ``displayName`` being ``<task>``). A processor chain fans out: its ``TaskGroup`` node has one
    child per batch, named ``<task>(<i>:<item>)`` (operator.go, ``generateNodeName``), so the
    instances done / running / failed of m are its children's phases; each instance's item range
    comes from the one split rule (:func:`naavre_batch_ext.core.split.batch_ranges`) over the item count
    and batch count the splitter wrote. Every step of a task gets the task's state.
    """
    now = now or datetime.now(timezone.utc)
    summary = run_summary(workflow, now)
    name = summary["name"] or ""
    # A retry (workflow/util/util.go, createNewRetryWorkflow) sets status.startedAt to its own
    # time and keeps the succeeded nodes with their old times: those were reused, not re-run.
    retry_start = _time(summary["startedAt"])

    def kept(node: Mapping[str, Any]) -> bool:
        started = _time(node.get("startedAt"))
        return (
            node.get("phase") == "Succeeded"
            and started is not None
            and retry_start is not None
            and started < retry_start
        )

    nodes: Mapping[str, Any] = (workflow.get("status") or {}).get("nodes") or {}
    annotations = (workflow.get("metadata") or {}).get("annotations") or {}
    pod_version = annotations.get("workflows.argoproj.io/pod-name-format", "v2")
    by_display = task_nodes(workflow)

    ranges: dict[str, dict[int, tuple[int, int]]] = {}
    tasks = planned_tasks(workflow)
    for row in tasks:
        node = by_display.get(row["task"])
        if row.get("kind") == "splitter" and node is not None:
            ranges[row["task"]] = batch_table(_leaf(nodes, node))

    splitter_of: dict[str, str] = {}
    last_splitter: str | None = None
    for row in tasks:
        if row.get("kind") == "splitter":
            last_splitter = row["task"]
        elif row.get("kind") == "processors" and last_splitter:
            splitter_of[row["task"]] = last_splitter

    steps: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for row in tasks:
        node = by_display.get(row["task"])
        entry: dict[str, Any] = {
            "task": row["task"],
            "kind": row.get("kind"),
            "steps": list(row.get("steps") or []),
            "cells": list(row.get("cells") or []),
            "phase": (node or {}).get("phase") or "Pending",
            "state": _state((node or {}).get("phase")) if node else "pending",
            "message": (node or {}).get("message") or "",
            "seconds": _seconds(node, now) if node else None,
            "podName": None,
            "instances": None,
            "output": None,
            "summary": None,
            "reused": bool(node) and kept(node or {}),
        }
        if node is not None and node.get("type") == "TaskGroup":
            task_ranges = ranges.get(splitter_of.get(row["task"], ""), {})
            items: list[dict[str, Any]] = []
            for index, child, pod in batch_nodes(nodes, node):
                found = task_ranges.get(index) or _instance_range(pod) or _instance_range(child)
                start, stop = found if found else (None, None)
                items.append(
                    {
                        "index": index,
                        "phase": child.get("phase") or "Pending",
                        "state": _state(child.get("phase")),
                        "message": child.get("message") or "",
                        "seconds": _seconds(child, now),
                        "start": start,
                        "stop": stop,
                        "reused": kept(child),
                        "podName": generate_pod_name(
                            name,
                            pod.get("name") or "",
                            pod.get("templateName") or "",
                            pod.get("id") or "",
                            pod_version,
                        ),
                    }
                )
            items.sort(key=lambda i: i["index"])
            total = len(task_ranges) or len(items)
            counts = {
                s: sum(1 for i in items if i["state"] == s)
                for s in ("succeeded", "running", "failed")
            }
            entry["instances"] = {
                "total": max(total, len(items)),
                "done": counts["succeeded"],
                "running": counts["running"],
                "failed": counts["failed"],
                "pending": max(total, len(items)) - sum(counts.values()),
                "reused": sum(1 for i in items if i["reused"]),
                "items": items,
            }
            for item in items:
                if item["state"] == "failed":
                    failures.append(
                        {
                            "task": row["task"],
                            "steps": entry["steps"],
                            "cells": entry["cells"],
                            "index": item["index"],
                            "start": item["start"],
                            "stop": item["stop"],
                            "podName": item["podName"],
                            "message": item["message"],
                        }
                    )
        elif node is not None:
            pod = _leaf(nodes, node)
            if row.get("kind") == "merger":
                entry["output"] = stored_output(pod)
                entry["summary"] = stored_summary(pod)
            entry["podName"] = generate_pod_name(
                name,
                pod.get("name") or "",
                pod.get("templateName") or "",
                pod.get("id") or "",
                pod_version,
            )
            if entry["state"] == "failed":
                failures.append(
                    {
                        "task": row["task"],
                        "steps": entry["steps"],
                        "cells": entry["cells"],
                        "index": None,
                        "start": None,
                        "stop": None,
                        "podName": entry["podName"],
                        "message": entry["message"],
                    }
                )
        steps.append(entry)
    summary["steps"] = steps
    summary["failures"] = failures
    return summary


def log_text(body: bytes | str) -> str:
    """The text of a ``.../log`` answer: one ``{"result": {"content": ...}}`` JSON per line
    (grpc-gateway's stream encoding), the contents joined by newlines; a stream error is kept as
    a last line."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    lines: list[str] = []
    for raw in text.splitlines():
        raw = raw.strip()
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            lines.append(raw)
            continue
        result = data.get("result") if isinstance(data, dict) else None
        if isinstance(result, dict):
            lines.append(str(result.get("content", "")))
        elif isinstance(data, dict) and data.get("error"):
            err = data["error"]
            lines.append(
                f"[log stream error: {err.get('message', err) if isinstance(err, dict) else err}]"
            )
    return "\n".join(lines)


_FAILED_IN = re.compile(r"naavre-batch: step (\S+) failed in cell (\d+)(?:, line (\d+))?")
_FRAME = re.compile(r'File "<[^>]* cell (\d+)>", line (\d+)')


def failure_location(log: str, cells: Sequence[int] = ()) -> dict[str, Any]:
    """Where a step's log says it failed: ``{"step", "cell_index", "line"}``, from the line the
    step script prints last (step_runtime.report_failure: ``naavre-batch: step S failed in cell
    N, line L: ...``), else the last traceback frame in a notebook cell, else the task's first
    cell."""
    found = None
    for match in _FAILED_IN.finditer(log):
        found = match
    if found:
        line = found.group(3)
        return {
            "step": found.group(1),
            "cell_index": int(found.group(2)),
            "line": int(line) if line else None,
        }
    frames = _FRAME.findall(log)
    if frames:
        cell, line = frames[-1]
        return {"step": None, "cell_index": int(cell), "line": int(line)}
    return {"step": None, "cell_index": cells[0] if cells else None, "line": None}


def workflow_for(
    spec: Mapping[str, Any],
    path: str,
    options: Any,
    parameters: Mapping[str, Any],
    namespace: str,
) -> dict[str, Any]:
    """The Workflow to create: :func:`naavre_batch_ext.exporters.argo.export_argo` of the spec with these
    options (the same YAML ``naavre-batch export`` writes, parsed), then
    :func:`prepare_workflow` with the run's parameter values as Argo text
    (:func:`naavre_batch_ext.exporters.argo.parameter_value`, what ``argo submit -p`` takes)."""

    from ..exporters.argo import export_argo, load_yaml, parameter_value

    workflow = load_yaml(export_argo(spec, options))
    types = {p["name"]: p.get("type") for p in spec.get("parameters", [])}
    texts = {name: parameter_value(value, types.get(name)) for name, value in parameters.items()}
    return prepare_workflow(workflow, spec, path, texts, namespace)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def item_range_text(start: Any, stop: Any) -> str:
    """A batch's items ``[start, stop)`` as the terminal says them (elements of the split
    variable, counted from 0): ``items 3..5``, ``item 3``, ``no items``; empty when unknown."""
    if type(start) is not int or type(stop) is not int:
        return ""
    if stop <= start:
        return "no items"
    return f"item {start}" if stop == start + 1 else f"items {start}..{stop - 1}"


def format_status_table(status: Mapping[str, Any]) -> str:
    """The progress table ``naavre-batch submit --watch`` prints: one row per task with its
    state, processor instances done/running/failed of m, and duration; then the failed batches
    with their item ranges and the command that prints their log."""
    rows = [("STEP", "STATE", "BATCHES", "DURATION")]
    for step in status.get("steps", []):
        inst = step.get("instances")
        batches = ""
        if inst:
            batches = f"{inst['done']}/{inst['total']} done"
            if inst["running"]:
                batches += f", {inst['running']} running"
            if inst["failed"]:
                batches += f", {inst['failed']} failed"
            if inst.get("reused"):
                batches += f" ({inst['reused']} kept from before the retry)"
        label = ", ".join(step.get("steps") or [step.get("task", "")])
        rows.append((label, step.get("state", ""), batches, _duration(step.get("seconds"))))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    head = (
        f"{status.get('name')} ({status.get('namespace')}): {status.get('phase')}"
        + (f" in {_duration(status.get('seconds'))}" if status.get("seconds") is not None else "")
        + (f": {status['message']}" if status.get("message") else "")
    )
    lines = [head]
    lines += [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    for step in status.get("steps", []):
        items = (step.get("instances") or {}).get("items") or []
        if any(i.get("reused") for i in items):
            kept = [str(i["index"]) for i in items if i.get("reused")]
            again = [str(i["index"]) for i in items if not i.get("reused")]
            lines.append(
                f"  retried: {step['task']}: batch(es) {', '.join(kept)} kept (succeeded before "
                f"the retry)" + (f", batch(es) {', '.join(again)} re-ran" if again else "")
            )
    for f in status.get("failures", []):
        where = f"batch {f['index']}" if f.get("index") is not None else "step"
        items = item_range_text(f.get("start"), f.get("stop"))
        if items:
            where += f" ({items})"
        lines.append(
            f"  failed: {f['task']} {where}: {f.get('message') or 'failed'}; pod {f['podName']}"
        )
    return "\n".join(lines)
