"""The fields of Argo server answers this product reads, checked before anything reads them.

An Argo server (or a proxy or login page in front of it) can answer with JSON of another shape:
``["version", 1]`` for the version, ``"items": [1, "x", null]`` for a list, ``metadata.name: 7``.
Reading such an answer with ``.get`` chains fails somewhere inside the status mapping with an
``AttributeError``, a 500 and a traceback; a ``"version": {"a": [1]}`` would pass as "connected".
Each reader here validates exactly the fields :mod:`naavre_batch_ext.engines.cluster` goes on to
read, with their types from Argo's OpenAPI description (``io.argoproj.workflow.v1alpha1.Workflow``,
``WorkflowList``, ``info.Version`` in argo-server-swagger), using jsonschema, and raises
:class:`AnswerError` naming the first wrong field: the handlers answer 502 with it, the CLI prints
it. Fields not read are not checked (Argo adds fields between versions).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from .cluster import ClusterError, check_object_name

__all__ = ["AnswerError", "read_version", "read_workflow", "read_workflow_list"]

_STR = {"type": ["string", "null"]}
_STRINGS = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
_PARAMETERS = {
    "type": ["array", "null"],
    "items": {"type": "object", "properties": {"name": _STR, "value": _STR}},
}
_IO = {
    "type": ["object", "null"],
    "properties": {
        "parameters": _PARAMETERS,
        "artifacts": {  # debugging a batch reads them (cluster_debug.py)
            "type": ["array", "null"],
            "items": {"type": "object", "properties": {"name": _STR, "path": _STR}},
        },
    },
}
_NODE = {
    "type": "object",
    "properties": {
        **{
            name: _STR
            for name in (
                "id",
                "name",
                "displayName",
                "type",
                "templateName",
                "phase",
                "message",
                "startedAt",
                "finishedAt",
                "boundaryID",
                "podIP",
            )
        },
        "children": {"type": ["array", "null"], "items": {"type": "string"}},
        "inputs": _IO,
        "outputs": _IO,
    },
}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "namespace": _STR,
        "uid": _STR,
        "creationTimestamp": _STR,
        "labels": _STRINGS,
        "annotations": _STRINGS,
    },
}
_WORKFLOW = {
    "type": "object",
    "required": ["metadata"],
    "properties": {
        "metadata": _METADATA,
        "spec": {
            "type": ["object", "null"],
            "properties": {
                "arguments": {
                    "type": ["object", "null"],
                    "properties": {"parameters": _PARAMETERS},
                },
                "podGC": {"type": ["object", "null"], "properties": {"strategy": _STR}},
                "templates": {  # debugging a batch reads their scripts (cluster_debug.py)
                    "type": ["array", "null"],
                    "items": {"type": "object", "properties": {"name": _STR}},
                },
            },
        },
        "status": {
            "type": ["object", "null"],
            "properties": {
                **{
                    name: _STR
                    for name in ("phase", "message", "progress", "startedAt", "finishedAt")
                },
                "nodes": {"type": ["object", "null"], "additionalProperties": _NODE},
            },
        },
    },
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "version": {
        "type": "object",
        "required": ["version"],
        "properties": {"version": {"type": "string"}, "platform": _STR},
    },
    "workflow": _WORKFLOW,
    "list": {
        "type": "object",
        "properties": {"items": {"type": ["array", "null"], "items": _WORKFLOW}},
    },
}


class AnswerError(ClusterError):
    """An answer whose field ``field`` (``items[1].metadata.name``) is missing or of another
    type than Argo's API gives it; ``created`` names the workflow when it was created anyway."""

    def __init__(self, what: str, field: str, problem: str, created: str | None = None) -> None:
        message = f"the Argo server's answer when asked to {what} is not what Argo sends: {problem}"
        if created:
            message = f"workflow {created} was created, but {message}"
        elif created is not None:
            message = f"a workflow was created (argo list shows it), but {message}"
        super().__init__(
            "bad-answer",
            message,
            "is ARGO_SERVER an Argo server (not a proxy or its UI)? check ARGO_BASE_HREF too",
        )
        self.field = field
        self.problem = problem
        self.created = created


@cache
def _validator(kind: str) -> Any:
    import jsonschema  # about a second to import: only once a cluster is used

    return jsonschema.Draft202012Validator(_SCHEMAS[kind])


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the answer"


def _check(kind: str, answer: Any, what: str) -> None:
    error = next(iter(_validator(kind).iter_errors(answer)), None)
    if error is None:
        return
    import jsonschema

    error = jsonschema.exceptions.best_match([error, *(error.context or [])]) or error
    field = _path(error.absolute_path)
    if error.validator == "required":
        missing = next((n for n in error.validator_value if n not in error.instance), "")
        field = f"{field}.{missing}" if error.absolute_path else str(missing)
        problem = f"{field} is missing"
    else:
        shown = repr(error.instance)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        problem = f"{field} is {shown}, not {'an' if str(want)[0] in 'ao' else 'a'} {want}"
    raise AnswerError(what, field, problem)


def read_version(answer: Any) -> dict[str, str | None]:
    """``GET /api/v1/version``: ``{"version": "v3.5.2", "platform": ...}`` or :class:`AnswerError`."""
    _check("version", answer, "read the server version")
    return {"version": answer["version"], "platform": answer.get("platform")}


def read_workflow(
    answer: Any, what: str = "read the run", created: bool = False
) -> Mapping[str, Any]:
    """A Workflow answer (get, create, stop, retry, resubmit) whose read fields have Argo's
    types and whose ``metadata.name`` is a Kubernetes name. ``created``: the answer of the
    create call, so the error says the workflow exists (with its name when it can be read)."""
    try:
        _check("workflow", answer, what)
        check_object_name(answer["metadata"]["name"])
    except AnswerError as exc:
        if not created:
            raise
        raise AnswerError(what, exc.field, exc.problem, _name_in(answer) or "") from None
    except ValueError as exc:
        name = (_name_in(answer) or "") if created else None
        raise AnswerError(what, "metadata.name", f"metadata.name: {exc}", name) from None
    result: Mapping[str, Any] = answer
    return result


def _name_in(answer: Any) -> str | None:
    meta = answer.get("metadata") if isinstance(answer, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else None


def read_workflow_list(answer: Any) -> list[Mapping[str, Any]]:
    """``GET /api/v1/workflows/{namespace}``: its ``items`` (none: ``[]``), each a Workflow."""
    _check("list", answer, "list the runs")
    return list(answer.get("items") or [])
