"""REST handlers: parse the request, call the core, serialise the answer; nothing else lives here.

Endpoints (under ``<base_url>/naavre-batch-ext/``, documented in docs/rest-api.md):

- ``GET info``: package and spec versions.
- ``POST spec``: the spec of a notebook (the saved file, or unsaved content sent in the body).
- ``POST export``: Argo Workflow YAML, a CWL document (with its job file) or the spec JSON,
  optionally saved beside the notebook.
- ``POST runs``, ``GET runs``, ``GET runs/<id>``, ``DELETE runs/<id>``: background runs.
- ``GET cluster/connection``, ``POST cluster-runs``, ``GET cluster-runs?path=``,
  ``GET cluster-runs/<name>``, ``GET cluster-runs/<name>/log?pod=``,
  ``PUT cluster-runs/<name>/(stop|retry|resubmit)``: runs on an Argo server (docs/cluster.md).

Every method is ``@tornado.web.authenticated`` on jupyter-server's ``APIHandler`` (token, XSRF for
browser POSTs, like jupyter-server's own APIs). Files are read and written only through the
contents manager; paths are checked before any access (no ``..``, no absolute path, no symbolic
link out of the server root). Errors are JSON ``{"message", "field"?, "hint"?, ...}`` with a 4xx
status naming what to fix; an unexpected exception is a 500 with a short message, its traceback
only in the server log. The core objects (settings, run manager, analysis thread pool) are created
once in ``naavre_batch_ext._load_jupyter_server_extension`` and read from ``web_app.settings``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import posixpath
import sys
from collections.abc import Callable
from concurrent.futures import Executor
from http.client import responses
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import tornado
from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from nbformat import NotebookNode

from . import SPEC_API_VERSION, __version__
from .config import NaavreBatch
from .core.notebook import NotebookError, deep_path_in_text, nesting_error, read_notebook
from .core.spec import build_spec
from .engines import advisor, debug, reuse, timings
from .engines.cluster import (
    ApiRequest,
    ClusterConfigError,
    ClusterError,
    ClusterSettings,
    check_object_name,
    create_request,
    failure_location,
    get_request,
    label_selector,
    list_request,
    log_request,
    log_text,
    missing_log_reason,
    resubmit_request,
    retry_request,
    run_status,
    run_summary,
    settings_from,
    stop_request,
    version_request,
    workflow_for,
)
from .engines.cluster_answers import read_version, read_workflow, read_workflow_list
from .engines.cluster_client import ArgoClient
from .engines.cluster_debug import ClusterDebugError, load_cluster_target
from .engines.runner import RunError, check_parameters, check_runs_folder
from .exporters.argo import (
    POD_GC_STRATEGIES,
    ArgoOptions,
    NothingToExportError,
    export_warnings,
)
from .exporters.cwl import check_options as check_cwl_options
from .exporters.cwl import export_job
from .exporters.export import FORMATS, default_output_path, job_path, render_export
from .exporters.k8s_options import OptionError
from .runs import ManagerClosedError, RunManager, RunRequest, TooManyRunsError, UnknownRunError
from .steps.scripts import PlanError

NAMESPACE = "naavre-batch-ext"

SETTINGS_CONFIG = "naavre_batch_config"
SETTINGS_RUNS = "naavre_batch_runs"
SETTINGS_EXECUTOR = "naavre_batch_executor"
"""Keys of the core objects in ``web_app.settings``."""

CONTEXTS = ("notebook", "workflow", "both")

T = TypeVar("T")

_JSON_TYPE = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _json_type(value: Any) -> str:
    """What a JSON value is, in the words of an error message."""
    return _JSON_TYPE.get(type(value), type(value).__name__)


class ApiError(tornado.web.HTTPError):
    """An HTTP error whose JSON body carries ``message`` and extra fields (``field``, ``hint``,
    ``diagnostics``, ``path``) the client can show next to the input that caused it."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(status, None)
        self.message = message
        # Headers set on the handler before raising are lost: tornado's send_error clears them
        # before write_error, so the error carries its own (Retry-After of a 429).
        self.headers = dict(headers or {})
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def __str__(self) -> str:
        return f"HTTP {self.status_code}: {self.message}"


def _field_error(field: str, message: str, hint: str | None = None, status: int = 400) -> ApiError:
    return ApiError(status, f"{field}: {message}", field=field, hint=hint)


def _optional(
    body: dict[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    default: Any,
    what: str,
    prefix: str = "",
) -> Any:
    """``body[name]`` if present (and not null), checked against ``kind``; else ``default``."""
    value = body.get(name)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        raise _field_error(prefix + name, f"expected {what}, got {_json_type(value)}")
    return value


def _check_path(value: Any, field: str = "path") -> str:
    """A notebook path relative to the server root, as the file browser shows it; refused
    before any file access when it is absolute, climbs with ``..`` or is not an ``.ipynb``."""
    if value is None:
        raise _field_error(
            field,
            "missing; give the notebook's path relative to the server root",
            hint='for example {"path": "folder/analysis.ipynb"}',
        )
    if not isinstance(value, str):
        raise _field_error(field, f"expected a string, got {_json_type(value)}")
    if not value.strip():
        raise _field_error(field, "empty; give the notebook's path relative to the server root")
    if "\0" in value:
        raise _field_error(field, "contains a NUL character")
    if value.startswith(("/", "\\")) or os.path.isabs(value) or os.path.splitdrive(value)[0]:
        raise _field_error(
            field,
            f"{value!r} is not relative to the server root",
            hint="give the path as the file browser shows it, e.g. folder/notebook.ipynb",
        )
    if ".." in value.replace("\\", "/").split("/"):
        raise _field_error(
            field, f"{value!r} contains '..'; paths must stay inside the server root"
        )
    if not value.endswith(".ipynb"):
        raise _field_error(field, f"{value!r} is not a notebook (.ipynb)")
    # One spelling per notebook from here on: "sub/./a.ipynb" and "sub//a.ipynb" are
    # "sub/a.ipynb" for the label of its cluster runs, the run list and every answer.
    return posixpath.normpath(value)


class _LongInt(str):
    """The digits of an integer too long for ``int()``, kept to find where it was."""


def _long_integer_field(raw: bytes) -> str:
    """Where the first integer over the digit limit is in a JSON body: ``parameters.n``,
    ``options.parallelism``, ``body`` when it cannot be told."""

    def parse_int(text: str) -> Any:
        try:
            return int(text)
        except ValueError:
            return _LongInt(text)

    try:
        body = json.loads(raw, parse_int=parse_int)
    except (ValueError, RecursionError):
        return "body"
    # fields of the body object are named as the error bodies name them ("parameters.n")
    stack: list[tuple[str, Any]] = [("" if isinstance(body, dict) else "body", body)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, _LongInt):
            return where or "body"
        if isinstance(value, dict):
            items = [(f"{where}.{k}" if where else str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(f"{where}[{i}]", v) for i, v in enumerate(value)]
        else:
            continue
        stack.extend(reversed(items))
    return "body"


def _check_object_name(value: str, field: str) -> str:
    """A workflow or pod name checked before it goes into an Argo URL: 400 otherwise, so ``..``,
    ``X_Y``, NUL characters or 300 characters never reach the Argo server with the token."""
    try:
        return check_object_name(value, field)
    except ValueError as exc:
        raise _field_error(
            field, str(exc), hint="use a name that GET cluster-runs?path= lists"
        ) from None


class NaavreBatchHandler(APIHandler):
    """Shared parsing, limits, path checks and error bodies of the extension's handlers."""

    @property
    def naavre_config(self) -> NaavreBatch:
        """The extension's settings (``c.NaavreBatch.*``)."""
        config: NaavreBatch = self.settings[SETTINGS_CONFIG]
        return config

    @property
    def run_manager(self) -> RunManager:
        """The one run manager of this server."""
        manager: RunManager = self.settings[SETTINGS_RUNS]
        return manager

    async def prepare(self) -> None:  # type: ignore[override]
        """Authenticate (jupyter-server), then refuse bodies over ``max_body_size`` with 413."""
        await super().prepare()
        if self.current_user is None:  # the method's @authenticated answers 403
            return
        limit = self.naavre_config.max_body_size
        declared = self.request.headers.get("Content-Length")
        size = len(self.request.body or b"")
        if declared is not None and declared.strip().isdigit():
            size = max(size, int(declared))
        if size > limit:
            raise ApiError(
                413,
                f"request body of {size} bytes is over the limit of {limit} bytes",
                hint="clear the notebook's outputs, or raise c.NaavreBatch.max_body_size",
            )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON errors; never a traceback (tornado already logged it for 500s)."""
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        reply: dict[str, Any] = {"message": responses.get(status_code, "error")}
        if isinstance(exc, ApiError):
            reply = {"message": exc.message, **exc.extra}
            for name, value in exc.headers.items():
                self.set_header(name, value)
        elif isinstance(exc, tornado.web.HTTPError):
            reply["message"] = exc.log_message or exc.reason or reply["message"]
        elif exc is not None:
            reply["message"] = (
                f"internal error in naavre-batch-ext ({type(exc).__name__}); "
                "the server log has the details"
            )
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(reply))

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object, or a 400 that says what is wrong with it."""
        raw = self.request.body or b""
        if not raw.strip():
            raise _field_error("body", "empty; send a JSON object")
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _field_error(
                "body", f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            ) from None
        except UnicodeDecodeError:
            raise _field_error("body", "not UTF-8 text") from None
        except ValueError:  # an integer over Python's 4300-digit limit of int(str)
            field = _long_integer_field(raw)
            raise _field_error(
                field,
                f"a number with more than {sys.get_int_max_str_digits()} digits",
                hint="send it as a string, or a shorter number",
            ) from None
        except RecursionError:  # deeper than json can parse: say where, as for a notebook file
            path = deep_path_in_text(raw.decode("utf-8", "replace"))
            field = "notebook" if path[:1] == ["notebook"] else "body"
            error = nesting_error(path[1:] if field == "notebook" else path)
            raise _field_error(field, error.message, hint=error.hint) from None
        if not isinstance(body, dict):
            raise _field_error("body", f"expected a JSON object, got {_json_type(body)}")
        return body

    async def in_thread(self, func: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound core work (analysis, export) off the event loop."""
        executor: Executor = self.settings[SETTINGS_EXECUTOR]
        try:
            future = asyncio.get_running_loop().run_in_executor(executor, func, *args)
        except RuntimeError:  # the pool is shut down: the server is stopping
            raise ApiError(503, "the server is stopping") from None
        return await future

    def disk_path(self, path: str, field: str = "path") -> Path | None:
        """The real path on disk of an API path, refused when it leads outside the server root
        (``..`` is refused earlier; this catches symbolic links). ``None`` when the contents
        manager keeps files elsewhere than on a local disk."""
        cm = self.contents_manager
        get_os_path = getattr(cm, "_get_os_path", None)
        root = getattr(cm, "root_dir", None)
        if not callable(get_os_path) or not root:
            return None
        try:
            os_path = get_os_path(path)
        except tornado.web.HTTPError:
            raise _field_error(field, f"{path!r} is outside the server root") from None
        real, real_root = os.path.realpath(os_path), os.path.realpath(root)
        if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
            raise _field_error(
                field,
                f"{path!r} leads outside the server root (a symbolic link?); "
                "nothing was read or written",
            )
        return Path(real)

    async def read_notebook_file(self, path: str) -> NotebookNode:
        """Load a notebook through the contents manager; 404/400 naming ``path`` otherwise."""
        cm = self.contents_manager
        self.disk_path(path)
        if not await ensure_async(cm.file_exists(path)):
            if await ensure_async(cm.dir_exists(path)):
                raise _field_error("path", f"{path!r} is a folder, not a notebook")
            raise _field_error(
                "path",
                f"no notebook {path!r} on this server",
                status=404,
                hint="save the notebook first, or check the path",
            )
        try:
            model = await ensure_async(cm.get(path, content=True, type="file", format="text"))
        except tornado.web.HTTPError as exc:
            status = exc.status_code if exc.status_code in (400, 403, 404) else 400
            raise _field_error(
                "path", exc.log_message or f"cannot read {path!r}", status=status
            ) from None
        try:
            return await self.in_thread(read_notebook, model["content"])
        except NotebookError as exc:
            raise _field_error("path", f"{path}: {exc.message}", hint=exc.hint) from None

    async def notebook_from(self, body: dict[str, Any], path: str) -> NotebookNode:
        """The unsaved content in ``body["notebook"]`` if given, else the saved file."""
        content = body.get("notebook")
        if content is None:
            return await self.read_notebook_file(path)
        if not isinstance(content, dict):
            raise _field_error(
                "notebook", f"expected the notebook as a JSON object, got {_json_type(content)}"
            )
        try:
            return await self.in_thread(read_notebook, content)
        except NotebookError as exc:
            raise _field_error("notebook", exc.message, hint=exc.hint) from None

    async def runs_folder(self, path: str) -> Path:
        """The runs folder of the notebook at ``path`` (inside the server root), created."""
        disk = self.disk_path(path)
        if disk is None:
            raise _field_error("path", "the notebook is not on this server's disk")
        runs_root = Path(self.naavre_config.runs_dir) if self.naavre_config.runs_dir else None
        root = runs_root or getattr(self.contents_manager, "root_dir", None)
        try:
            return await self.in_thread(check_runs_folder, disk, runs_root, root)
        except RunError as exc:
            raise _field_error("path", exc.message, hint=exc.hint) from None

    def batch_argument(self) -> int | None:
        """The ``batch`` query argument: a batch number, or None."""
        text = self.get_argument("batch", None)
        try:
            return int(text) if text not in (None, "") else None
        except ValueError:
            raise _field_error("batch", f"expected a batch number, got {text!r}") from None

    async def analyse(self, nb: NotebookNode, path: str) -> dict[str, Any]:
        """The spec of a loaded notebook (off the event loop); a 400 with the hint when it cannot
        be analysed here (an R notebook on a server without R)."""
        try:
            return await self.in_thread(build_spec, nb, path)
        except NotebookError as exc:
            raise _field_error("path", f"{path}: {exc.message}", hint=exc.hint) from None


def _refuse_analysis_errors(spec: dict[str, Any], what: str) -> None:
    """A 400 listing the diagnostics (elyra's validate-before-export) when the spec has errors;
    the message names the first error's cell, so a client that shows only it still helps."""
    errors = [d for d in spec["diagnostics"] if d["severity"] == "error"]
    if not errors:
        return
    first = errors[0]
    where = f"cell {first['cell_index']}" if first.get("cell_index") is not None else "notebook"
    if first.get("cell_index") is not None and first.get("line") is not None:
        where += f", line {first['line']}"
    n = len(errors)
    raise ApiError(
        400,
        f"the notebook has {n} analysis error{'s' * (n != 1)}; nothing was {what} "
        f"(first: {where}: {first['message']})",
        field="notebook",
        hint=first.get("hint") or "fix the errors listed in diagnostics",
        diagnostics=spec["diagnostics"],
        summary=spec["summary"],
    )


class InfoHandler(NaavreBatchHandler):
    """``GET /naavre-batch-ext/info``: which package and spec version this server speaks."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.finish({"version": __version__, "specVersion": SPEC_API_VERSION})


class SpecHandler(NaavreBatchHandler):
    """``POST /naavre-batch-ext/spec`` ``{path, notebook?}``: the spec, diagnostics included.

    Called on every edit, so with ``notebook`` in the body nothing touches the disk: ``path`` only
    names the notebook (and must still be a valid path inside the root).
    """

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        path = _check_path(body.get("path"))
        nb = await self.notebook_from(body, path)
        self.finish(json.dumps(await self.analyse(nb, path)))


_OPTION_FIELDS: dict[str, tuple[str, type | tuple[type, ...], str]] = {
    # REST name: (ArgoOptions field, JSON type, description for errors)
    "image": ("image", str, "a container image name"),
    "parallelism": ("parallelism", int, "an integer >= 1"),
    "retries": ("retries", int, "an integer >= 0"),
    "namespace": ("namespace", str, "a Kubernetes namespace"),
    "serviceAccount": ("service_account", str, "a service account name"),
    "cpu": ("cpu", str, 'a CPU request such as "500m"'),
    "memory": ("memory", str, 'a memory request such as "1Gi"'),
    "values": ("values", str, '"parameters" or "artifacts"'),
    "artifactRepositoryRef": ("artifact_repository_ref", str, "a repository name"),
    "podGC": ("pod_gc", str, 'a pod GC strategy such as "OnPodSuccess"'),
    "ttlAfterSuccess": ("ttl_after_success", int, "seconds (an integer >= 0)"),
    "ttlAfterFailure": ("ttl_after_failure", int, "seconds (an integer >= 0)"),
    "activeDeadlineSeconds": ("active_deadline_seconds", int, "seconds (an integer >= 1)"),
    "retryBackoff": ("retry_backoff", str, 'a duration such as "10s"'),
}
_NULLABLE_OPTIONS = frozenset(
    {"podGC", "ttlAfterSuccess", "ttlAfterFailure", "activeDeadlineSeconds"}
)
"""Options where ``null`` means "leave the setting out of the workflow" rather than "default"."""


def _argo_options(value: Any) -> ArgoOptions:
    """``options`` of POST export as :class:`ArgoOptions` (unset keys keep its defaults)."""
    if value is None:
        return ArgoOptions()
    if not isinstance(value, dict):
        raise _field_error("options", f"expected an object, got {_json_type(value)}")
    known = [*_OPTION_FIELDS, "images"]
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise _field_error(
            f"options.{unknown[0]}", "unknown option", hint=f"options are: {', '.join(known)}"
        )
    given: dict[str, Any] = {}
    for name, (attr, kind, what) in _OPTION_FIELDS.items():
        item = _optional(value, name, kind, None, what, prefix="options.")
        if item is not None:
            given[attr] = item
        elif name in _NULLABLE_OPTIONS and name in value:
            given[attr] = None
    images = _optional(value, "images", dict, {}, "an object of role: image", prefix="options.")
    for role, image in images.items():
        if not isinstance(image, str):
            raise _field_error(
                f"options.images.{role}", f"expected an image name, got {_json_type(image)}"
            )
    options = ArgoOptions(images=dict(images), **given)
    try:
        options.check()
    except OptionError as exc:
        rest = {attr: name for name, (attr, _, _) in _OPTION_FIELDS.items()}
        role = exc.option.removeprefix("image_")
        where = f"images.{role}" if role in options.images else rest.get(exc.option, exc.option)
        raise _field_error(f"options.{where}", exc.problem) from None
    except ValueError as exc:
        raise _field_error("options", str(exc)) from None
    return options


class ExportOptionsHandler(NaavreBatchHandler):
    """``GET /naavre-batch-ext/export-options``: the export options' defaults (the CLI's,
    :class:`ArgoOptions`) by REST name, and the pod GC strategies; ``POST`` ``{options}``: each
    option checked as ``POST export`` checks it, ``{"errors": {name: message}}`` (``{}`` when all
    are fine), so the panel shows a bad value at its field before anything is exported."""

    @tornado.web.authenticated
    def get(self) -> None:
        defaults = ArgoOptions()
        self.finish(
            json.dumps(
                {
                    "defaults": {
                        name: getattr(defaults, attr)
                        for name, (attr, _, _) in _OPTION_FIELDS.items()
                    },
                    "podGCStrategies": list(POD_GC_STRATEGIES),
                }
            )
        )

    @tornado.web.authenticated
    def post(self) -> None:
        options = _optional(self.json_body(), "options", dict, {}, "an object of options")
        errors: dict[str, str] = {}
        for name in options:
            try:
                _argo_options({name: options[name]})
            except ApiError as exc:
                errors[name] = exc.message.split(": ", 1)[-1]
        if not errors:
            try:
                _argo_options(options)
            except ApiError as exc:
                field = str(exc.extra.get("field", "options")).removeprefix("options.")
                errors[field] = exc.message.split(": ", 1)[-1]
        self.finish(json.dumps({"errors": errors}))


class ExportHandler(NaavreBatchHandler):
    """``POST /naavre-batch-ext/export`` ``{path, notebook?, format, options, save, overwrite}``.

    Returns ``{format, text, path, saved, warnings, diagnostics}`` (``cwl`` adds ``job: {text,
    path}``); with ``save`` writes ``<stem>.argo.yaml`` / ``<stem>.cwl`` and ``<stem>.job.yml`` /
    ``<stem>.workflow.json`` beside the notebook through the contents manager, 409 when a file
    exists and ``overwrite`` is not true. Analysis errors: 400 with the
    diagnostics, nothing rendered or written.
    """

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        path = _check_path(body.get("path"))
        fmt = _optional(body, "format", str, "argo", '"argo", "cwl" or "json"')
        if fmt not in FORMATS:
            raise _field_error("format", f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
        options = _argo_options(body.get("options"))
        if fmt == "cwl":
            try:
                check_cwl_options(options)
            except ValueError as exc:
                raise _field_error("options", str(exc)) from None
        save = _optional(body, "save", bool, False, "true or false")
        overwrite = _optional(body, "overwrite", bool, False, "true or false")
        nb = await self.notebook_from(body, path)
        spec = await self.analyse(nb, path)
        _refuse_analysis_errors(spec, "exported")
        try:
            text = await self.in_thread(render_export, spec, fmt, options)
        except (NothingToExportError, PlanError) as exc:
            raise ApiError(
                400, str(exc), field="notebook", diagnostics=spec["diagnostics"]
            ) from None
        warnings = []
        if fmt == "argo":
            warnings = [w.to_dict() for w in export_warnings(spec, options, text)]
        elif fmt == "cwl":  # the image warning applies; Argo's size limits do not
            warnings = [
                w.to_dict()
                for w in export_warnings(spec, options)
                if w.code == "third-party-imports"
            ]
        reply: dict[str, Any] = {
            "format": fmt,
            "text": text,
            "path": None,
            "saved": False,
            "warnings": warnings,
            "diagnostics": spec["diagnostics"],
        }
        job: dict[str, Any] | None = None
        if fmt == "cwl":  # the job file with the parameter defaults, beside the document
            stem = default_output_path(PurePosixPath(path), fmt).name.removesuffix(".cwl")
            job = {"text": export_job(spec, stem), "path": None}
            reply["job"] = job
        if save:
            if job is not None:  # both files are checked before either is written
                document = default_output_path(PurePosixPath(path), fmt)
                job_target = job_path(document).as_posix()
                for target in (document.as_posix(), job_target):
                    self.disk_path(target)
                    await self.check_free(target, overwrite)
                job["path"] = await self.save_text(job_target, job["text"], overwrite)
            reply["path"] = await self.save_beside(path, fmt, text, overwrite)
            reply["saved"] = True
        self.finish(json.dumps(reply))

    async def check_free(self, target: str, overwrite: bool) -> None:
        """409 when ``target`` is a folder, or an existing file and ``overwrite`` is not true."""
        cm = self.contents_manager
        if await ensure_async(cm.dir_exists(target)):
            raise ApiError(
                409, f"{target} is a folder; nothing was written", field="save", path=target
            )
        if not overwrite and await ensure_async(cm.file_exists(target)):
            raise ApiError(
                409,
                f"{target} exists; nothing was written",
                field="overwrite",
                path=target,
                hint="send overwrite: true to replace it",
            )

    async def save_beside(self, path: str, fmt: str, text: str, overwrite: bool) -> str:
        """Write the export next to the notebook through the contents manager; never clobber
        without ``overwrite``. Returns the written file's path."""
        target = default_output_path(PurePosixPath(path), fmt).as_posix()
        return await self.save_text(target, text, overwrite)

    async def save_text(self, target: str, text: str, overwrite: bool) -> str:
        """Write ``text`` to ``target`` through the contents manager; never clobber without
        ``overwrite``. Returns ``target``."""
        cm = self.contents_manager
        self.disk_path(target)
        folder = PurePosixPath(target).parent.as_posix()
        folder = "" if folder == "." else folder
        if not await ensure_async(cm.dir_exists(folder)):
            raise _field_error(
                "path", f"folder {folder!r} does not exist; nothing was written", status=404
            )
        await self.check_free(target, overwrite)
        try:
            await ensure_async(cm.save({"type": "file", "format": "text", "content": text}, target))
        except tornado.web.HTTPError as exc:
            raise ApiError(
                exc.status_code if exc.status_code < 500 else 400,
                f"cannot write {target}: {exc.log_message or exc.reason}",
                field="save",
                path=target,
            ) from None
        return target


class RunsHandler(NaavreBatchHandler):
    """``POST /naavre-batch-ext/runs`` starts a run (202); ``GET`` lists recent runs."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.finish(json.dumps({"runs": self.run_manager.list()}))

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        path = _check_path(body.get("path"))
        context = _optional(body, "context", str, "both", '"notebook", "workflow" or "both"')
        if context not in CONTEXTS:
            raise _field_error(
                "context", f"unknown context {context!r}; use notebook, workflow or both"
            )
        parameters = _optional(body, "parameters", dict, {}, "an object of parameter name: value")
        reuse_store = _optional(body, "reuse", bool, False, "true or false")
        resume = _optional(body, "resume", str, None, "a run id")
        if (reuse_store or resume) and context == "notebook":
            raise _field_error(
                "reuse" if reuse_store else "resume",
                "reuse and resume apply to the workflow context",
                hint='use "context": "workflow" or "both"',
            )
        disk = self.disk_path(path)
        if disk is None:
            raise _field_error(
                "path",
                "runs need the notebook on this server's disk, and this "
                "server's contents manager keeps files elsewhere",
                status=400,
            )
        nb = await self.read_notebook_file(path)
        spec = await self.analyse(nb, path)
        _refuse_analysis_errors(spec, "run")
        try:
            check_parameters(spec, parameters)
        except RunError as exc:
            raise _field_error("parameters", exc.message, hint=exc.hint) from None
        runs_dir = None
        runs_root = Path(self.naavre_config.runs_dir) if self.naavre_config.runs_dir else None
        if context in ("workflow", "both"):  # a runs folder that cannot be made: 400 at once
            root = runs_root or getattr(self.contents_manager, "root_dir", None)
            try:
                runs_dir = await self.in_thread(check_runs_folder, disk, runs_root, root)
            except RunError as exc:
                raise _field_error("path", exc.message, hint=exc.hint) from None
            if resume:
                try:
                    await self.in_thread(reuse.RunIndex.open, runs_dir, resume)
                except reuse.ReuseError as exc:
                    raise _field_error("resume", exc.message, hint=exc.hint) from None
        request = RunRequest(
            notebook_path=disk,
            display_path=path,
            context=context,
            parameters=parameters,
            spec=spec,
            nb=nb,
            runs_dir=runs_dir,
            runs_root=runs_root,
            reuse=reuse_store,
            resume=resume,
        )
        try:
            run = self.run_manager.start(request)
        except TooManyRunsError as exc:
            raise ApiError(
                429,
                str(exc),
                headers={"Retry-After": "10"},
                hint="wait for a run to finish, or cancel one (DELETE runs/<id>)",
                limit=exc.limit,
            ) from None
        except ManagerClosedError as exc:
            raise ApiError(503, str(exc)) from None
        self.set_status(202)
        self.set_header("Location", url_path_join(self.base_url, NAMESPACE, "runs", run.id))
        self.finish(json.dumps(run.snapshot()))


class RunHandler(NaavreBatchHandler):
    """``GET /naavre-batch-ext/runs/<id>``: the run; ``DELETE``: cancel it (idempotent)."""

    def _run_or_404(self, run_id: str) -> Any:
        try:
            return self.run_manager.get(run_id)
        except UnknownRunError:
            raise ApiError(
                404,
                f"no run {run_id!r} on this server",
                field="id",
                hint="GET runs lists the runs this server remembers",
            ) from None

    @tornado.web.authenticated
    def get(self, run_id: str) -> None:
        self.finish(json.dumps(self._run_or_404(run_id).snapshot()))

    @tornado.web.authenticated
    async def delete(self, run_id: str) -> None:
        self._run_or_404(run_id)
        # Cancelling waits for processes to die and the kernel to stop: not on the event loop.
        run = await asyncio.get_running_loop().run_in_executor(
            None, self.run_manager.cancel, run_id
        )
        self.finish(json.dumps(run.snapshot()))


class RunDebugHandler(NaavreBatchHandler):
    """``GET /naavre-batch-ext/runs/<id>/debug?path=NB&batch=K``: the code that loads the header
    and the inputs of one instance of a workflow run into a kernel, and the cell to select (the
    panel's *Debug in notebook*; docs/rest-api.md)."""

    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        path = _check_path(self.get_argument("path", None))
        batch = self.batch_argument()
        task = self.get_argument("task", None)
        runs_dir = await self.runs_folder(path)
        try:
            target = await self.in_thread(debug.find_target, runs_dir, run_id, batch, task)
        except debug.DebugError as exc:
            raise ApiError(404, exc.message, hint=exc.hint) from None
        self.finish(json.dumps(_debug_answer(target, run_id)))


def _debug_answer(target: debug.DebugTarget, run: str) -> dict[str, Any]:
    """The answer of a debug endpoint: the loader code and the cell the panel selects."""
    cell = target.failing_cell
    cell_id = next((c.get("id") for c in target.cells if c["index"] == cell), None)
    return {
        "run_id": run,
        "task": target.task["id"],
        "batch": target.instance,
        "code": debug.loader_source(target),
        "cell_index": cell,
        "cell_id": cell_id,
        "error": (target.error or {}).get("message"),
        "message": f"loaded the header and the inputs of {target.what} of run "
        f"{run}; cell {cell} is selected: run it to debug",
    }


class AdviseHandler(NaavreBatchHandler):
    """``POST /naavre-batch-ext/advise``: the batch-count advisor's tables
    (:func:`naavre_batch_ext.engines.advisor.advise_sections`), from a finished run of this server
    (``run``) or the newest run folder of the notebook with the same parameters. The notebook may
    be sent unsaved (``notebook``), as for ``POST spec``: its batch count is the *current* m."""

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        path = _check_path(body.get("path"))
        run_id = _optional(body, "run", str, None, "a run id")
        parameters = _optional(body, "parameters", dict, {}, "an object of parameter name: value")
        parallelism = _optional(body, "parallelism", int, None, "an integer >= 1, or null")
        if parallelism is not None and parallelism < 1:
            raise _field_error("parallelism", "must be at least 1 (null: no limit)")
        start_cost = _optional(body, "startCost", (int, float), None, "a number of seconds")
        if start_cost is not None and start_cost < 0:
            raise _field_error("startCost", "cannot be negative")
        settings_cost = _optional(
            body, "settingsStartCost", (int, float), None, "a number of seconds, or null"
        )
        if settings_cost is not None and settings_cost < 0:
            raise _field_error("settingsStartCost", "cannot be negative")
        nb = await self.notebook_from(body, path)
        spec = await self.analyse(nb, path)
        _refuse_analysis_errors(spec, "advise on")
        measurement: Any = None
        if run_id is not None:
            try:
                run = self.run_manager.get(run_id).snapshot()
            except UnknownRunError:
                raise _field_error("run", f"no run {run_id!r} on this server", status=404) from None
            if body.get("parameters") is None:
                parameters = dict(run.get("parameters") or {})
            result = run.get("result") or {}
            measurement = {
                key: (result.get(f"{key}_run") or {}).get("timings")
                if (result.get(f"{key}_run") or {}).get("status") == "ok"
                else None
                for key in ("notebook", "workflow")
            }
        try:
            check_parameters(spec, parameters)
        except RunError as exc:
            raise _field_error("parameters", exc.message, hint=exc.hint) from None
        disk = self.disk_path(path)
        cluster_run = None
        if disk is not None:
            runs = (
                Path(self.naavre_config.runs_dir)
                if self.naavre_config.runs_dir
                else disk.parent / ".naavre-batch" / "runs"
            )
            values = {p["name"]: p["default"] for p in spec.get("parameters", [])} | parameters
            if measurement is None:
                measurement = await self.in_thread(
                    lambda: advisor.choose_measurement(
                        timings.load_measurements(runs, disk), values
                    )
                )
            cluster_run = await self.in_thread(timings.last_cluster_run, runs, disk)
        cost, source = advisor.choose_start_cost(
            start_cost, "given", cluster_run, measurement, settings_cost
        )
        sections = (
            advisor.advise_sections(spec, measurement, parameters, parallelism, cost, source)
            if measurement
            else []
        )
        if not sections:
            raise ApiError(
                409,
                "no run of this notebook measured the time per item with these parameters",
                hint="run it (Compare both, or the notebook context) and ask again",
            )
        self.finish(
            json.dumps(
                {
                    "sections": sections,
                    "model": advisor.MODEL,
                    "defaultStartCost": advisor.DEFAULT_START_COST,
                    "startCost": cost,
                    "startCostSource": source,
                }
            )
        )


def setup_handlers(server_app: Any) -> None:
    """Mount every handler under ``<base_url>/naavre-batch-ext/``."""
    web_app = server_app.web_app
    base_url = web_app.settings["base_url"]

    def route(name: str) -> str:
        return url_path_join(base_url, NAMESPACE, name)

    web_app.add_handlers(
        ".*$",
        [
            (route("info"), InfoHandler),
            (route("spec"), SpecHandler),
            (route("export"), ExportHandler),
            (route("export-options"), ExportOptionsHandler),
            (route("runs"), RunsHandler),
            (route("runs/([^/]+)"), RunHandler),
            (route("runs/([^/]+)/debug"), RunDebugHandler),
            (route("advise"), AdviseHandler),
            (route("cluster/connection"), ClusterConnectionHandler),
            (route("cluster-runs"), ClusterRunsHandler),
            (route("cluster-runs/([^/]+)"), ClusterRunHandler),
            (route("cluster-runs/([^/]+)/log"), ClusterRunLogHandler),
            (route("cluster-runs/([^/]+)/debug"), ClusterRunDebugHandler),
            (route("cluster-runs/([^/]+)/(stop|retry|resubmit)"), ClusterRunActionHandler),
        ],
    )


# -- runs on an Argo server (docs/cluster.md) ----------------------------------------------------

_CLUSTER_STATUS = {"not-found": 404, "timeout": 504, "not-configured": 503}
"""HTTP status of a :class:`ClusterError` by kind; the others are 502 (the Argo server, not this
one, failed or refused), except Argo's own 4xx refusals, passed on as 400/409."""


_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)
"""What reading a field of another shape than Argo's raises past the answer readers."""


def _cluster_api_error(exc: ClusterError, settings: ClusterSettings) -> ApiError:
    """The REST error of a :class:`ClusterError`: its kind's status, the message and hint."""
    status = _CLUSTER_STATUS.get(exc.kind, 502)
    if exc.kind == "rejected" and exc.status in (400, 409, 422):
        status = 409 if exc.status == 409 else 400
    return ApiError(
        status,
        exc.message,
        hint=exc.hint or None,
        kind=exc.kind,
        connection=settings.describe(),
        answerField=getattr(exc, "field", None),
        created=getattr(exc, "created", None) or None,
    )


class ClusterHandler(NaavreBatchHandler):
    """Shared parts of the cluster handlers: the connection (environment + ``c.NaavreBatch.argo_*``)
    and errors as JSON ``{message, hint, kind, connection}``, never with the token."""

    def cluster_settings(self) -> ClusterSettings:
        try:
            return settings_from(os.environ, self.naavre_config.argo_overrides())
        except ClusterConfigError as exc:
            raise ApiError(503, exc.message, hint=exc.hint, kind="not-configured") from None

    async def argo(self, request: ApiRequest, read: Callable[[Any], T] | None = None) -> Any:
        """Send one Argo API request and check its answer with ``read`` (a reader of
        :mod:`naavre_batch_ext.engines.cluster_answers`); a :class:`ClusterError` becomes an
        :class:`ApiError` (502 naming the wrong field of an answer of another shape)."""
        settings = self.cluster_settings()
        try:
            answer = await ArgoClient(settings).send(request)
            return read(answer) if read is not None else answer
        except ClusterError as exc:
            raise _cluster_api_error(exc, settings) from None

    async def remember(self, status: dict[str, Any]) -> None:
        """Keep a finished run's processor pod times as its notebook's last cluster run (the
        advisor's start cost, :func:`~naavre_batch_ext.engines.timings.record_cluster_run`), in
        the notebook's runs folder inside the server root (or ``c.NaavreBatch.runs_dir``). The
        notebook is the one the run's annotation names; a path that is not a notebook of this
        server's disk, or a folder that cannot be written, keeps nothing and fails nothing."""
        if not status.get("finished") or not isinstance(status.get("notebook"), str):
            return
        try:
            disk = self.disk_path(_check_path(status["notebook"]))
        except ApiError:
            return
        if disk is None:
            return
        runs_dir = self.naavre_config.runs_dir or None
        root = runs_dir or getattr(self.contents_manager, "root_dir", None)
        try:
            await self.in_thread(timings.record_cluster_run, disk, status, runs_dir, root)
        except OSError as exc:
            self.log.warning("naavre-batch: the cluster run's times were not kept: %s", exc)

    def mapped(self, func: Callable[[Any], T], workflow: Any) -> T:
        """``run_status``/``run_summary`` of a checked answer; should a field the reader does
        not cover still have another shape, a 502 like the reader's (the traceback in the log)."""
        try:
            return func(workflow)
        except _SHAPE_ERRORS:
            raise self.bad_answer() from None

    def bad_answer(self) -> ApiError:
        """The 502 of an answer whose shape a reader did not catch (the traceback goes to the
        log; call it in an ``except`` block)."""
        self.log.exception("naavre-batch: an Argo answer of an unexpected shape")
        return ApiError(
            502,
            "the Argo server's answer is not what Argo sends (see the Jupyter server log)",
            kind="bad-answer",
        )


class ClusterConnectionHandler(ClusterHandler):
    """``GET cluster/connection``: the server's version, or why it cannot be reached."""

    @tornado.web.authenticated
    async def get(self) -> None:
        settings = self.cluster_settings()
        version = await self.argo(version_request(), read_version)
        self.finish(
            json.dumps(
                {
                    "ok": True,
                    "version": version.get("version"),
                    "platform": version.get("platform"),
                    "connection": settings.describe(),
                }
            )
        )


class ClusterRunsHandler(ClusterHandler):
    """``POST cluster-runs`` ``{path, notebook?, parameters?, options?}`` exports the notebook
    and creates the Workflow (201 with its status); ``GET cluster-runs?path=`` lists the
    notebook's runs from the cluster (label ``naavre-batch/notebook-key``), newest first."""

    @tornado.web.authenticated
    async def get(self) -> None:
        path = _check_path(self.get_query_argument("path", None))
        settings = self.cluster_settings()
        items = await self.argo(
            list_request(settings.namespace, label_selector(path)), read_workflow_list
        )
        runs = [self.mapped(run_summary, item) for item in items]
        runs.sort(key=lambda r: r.get("created") or "", reverse=True)
        self.finish(json.dumps({"runs": runs, "connection": settings.describe()}))

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        path = _check_path(body.get("path"))
        parameters = _optional(body, "parameters", dict, {}, "an object of parameter name: value")
        options = _argo_options(body.get("options"))
        settings = self.cluster_settings()
        if options.namespace and options.namespace != settings.namespace:
            raise _field_error(
                "options.namespace",
                f"cluster runs go to namespace {settings.namespace!r} (ARGO_NAMESPACE); "
                f"not {options.namespace!r}",
            )
        options = dataclasses.replace(options, namespace=settings.namespace)
        nb = await self.notebook_from(body, path)
        spec = await self.analyse(nb, path)
        _refuse_analysis_errors(spec, "submitted")
        try:
            check_parameters(spec, parameters)
        except RunError as exc:
            raise _field_error("parameters", exc.message, hint=exc.hint) from None
        try:
            workflow = await self.in_thread(
                workflow_for, spec, path, options, parameters, settings.namespace
            )
        except (NothingToExportError, PlanError) as exc:
            raise ApiError(400, str(exc), field="notebook") from None
        created = await self.argo(
            create_request(settings.namespace, workflow),
            lambda answer: read_workflow(answer, "create the workflow", created=True),
        )
        name = created["metadata"]["name"]
        status = self.mapped(run_status, created)
        self.set_status(201)
        self.set_header("Location", url_path_join(self.base_url, NAMESPACE, "cluster-runs", name))
        self.finish(json.dumps(status))


class ClusterRunHandler(ClusterHandler):
    """``GET cluster-runs/<name>``: the run's status mapped onto the steps and batches."""

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        _check_object_name(name, "name")
        settings = self.cluster_settings()
        workflow = await self.argo(get_request(settings.namespace, name), read_workflow)
        status = self.mapped(run_status, workflow)
        await self.remember(status)
        self.finish(json.dumps(status))


class ClusterRunLogHandler(ClusterHandler):
    """``GET cluster-runs/<name>/log?pod=<pod name>``: a step's or batch's log, with the cell it
    failed in and, for a batch, its index and item range."""

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        _check_object_name(name, "name")
        pod = self.get_query_argument("pod", "")
        if not pod:
            raise _field_error("pod", "missing; give the podName of a step or batch")
        _check_object_name(pod, "pod")
        settings = self.cluster_settings()
        workflow = await self.argo(get_request(settings.namespace, name), read_workflow)
        status = self.mapped(run_status, workflow)
        found: dict[str, Any] | None = None
        for step in status["steps"]:
            if step["podName"] == pod:
                found = {"task": step["task"], "steps": step["steps"], "cells": step["cells"]}
                found.update(index=None, start=None, stop=None, state=step["state"])
            for item in (step["instances"] or {}).get("items", []):
                if item["podName"] == pod:
                    found = {"task": step["task"], "steps": step["steps"], "cells": step["cells"]}
                    found.update(
                        index=item["index"],
                        start=item["start"],
                        stop=item["stop"],
                        state=item["state"],
                    )
        if found is None:
            raise ApiError(404, f"run {name!r} has no pod {pod!r}", field="pod")
        text = log_text(await self.argo(log_request(settings.namespace, name, pod)))
        location = failure_location(text, found["cells"])
        missing = None if text.strip() else missing_log_reason(status, found["state"])
        answer = {"name": name, "podName": pod, "text": text, "missing": missing}
        self.finish(json.dumps({**answer, **found, **location}))


class ClusterRunDebugHandler(ClusterHandler):
    """``GET cluster-runs/<name>/debug?path=NB&batch=K``: the failed batch of a cluster run, its
    script and inputs read through the Argo server and laid out in the notebook's runs folder
    (:mod:`naavre_batch_ext.engines.cluster_debug`); the same answer as ``runs/<id>/debug``."""

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        _check_object_name(name, "name")
        path = _check_path(self.get_argument("path", None))
        batch = self.batch_argument()
        task = self.get_argument("task", None)
        runs_dir = await self.runs_folder(path)
        settings = self.cluster_settings()
        send = ArgoClient(settings).send
        try:
            target = await load_cluster_target(
                send, settings.namespace, name, runs_dir, batch, task
            )
        except ClusterDebugError as exc:
            field = "batch" if exc.kind in ("not-failed", "no-batch") else None
            raise ApiError(
                exc.status, exc.message, hint=exc.hint, kind=exc.kind, field=field
            ) from None
        except ClusterError as exc:
            raise _cluster_api_error(exc, settings) from None
        except _SHAPE_ERRORS:
            raise self.bad_answer() from None
        self.finish(json.dumps(_debug_answer(target, name)))


class ClusterRunActionHandler(ClusterHandler):
    """``PUT`` (or ``POST``) ``cluster-runs/<name>/stop|retry|resubmit``: the run's new status
    (for resubmit, the new run's)."""

    async def _act(self, name: str, action: str) -> None:
        _check_object_name(name, "name")
        settings = self.cluster_settings()
        build = {"stop": stop_request, "retry": retry_request, "resubmit": resubmit_request}
        workflow = await self.argo(build[action](settings.namespace, name), read_workflow)
        self.finish(json.dumps(self.mapped(run_status, workflow)))

    @tornado.web.authenticated
    async def put(self, name: str, action: str) -> None:
        await self._act(name, action)

    @tornado.web.authenticated
    async def post(self, name: str, action: str) -> None:
        await self._act(name, action)
