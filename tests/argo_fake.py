"""A small fake Argo server for the tests: tornado on 127.0.0.1, a random port, and nothing else.

It models the Argo Server API as its OpenAPI description says (argo-server-swagger-v4.1.2.json,
the file server/workflow/workflow_server.go implements) and plays the controller's part on a
scripted run of the submitted workflow:

    pending -> running batches -> one failed batch (workflow Failed) -> retried -> succeeded

Every request it receives is checked against the swagger (the path and method exist, every query
parameter is declared for it, the body is a valid instance of the body parameter's schema, with
the swagger's ``$ref`` resolved), and every answer it sends is checked against the operation's
response schema (``200``, or ``default``: ``grpc.gateway.runtime.Error``). Problems are collected in
``FakeArgo.problems``; tests assert it is empty.

``status.nodes`` are filled the way the controller fills them (argo-workflows, HEAD of the bare
mirror):

- node ids: ``pkg/apis/workflow/v1alpha1/workflow_types.go``, ``Workflow.NodeID``: the workflow
  name, else ``<workflow>-<fnv32a(node name)>``;
- DAG task nodes: ``workflow/controller/dag.go``, ``dagContext.taskNodeName``: ``<dag>.<task>``,
  ``displayName`` the name without the boundary node's name (``operator.go``, ``initializeNode``),
  ``boundaryID`` the DAG node, ``templateName`` the task's template;
- a ``withParam`` task is a ``TaskGroup`` node (dag.go, ``executeDAGTask``) whose children are
  named ``<task>(<i>:<k:v,...>)`` (operator.go, ``processItem`` and ``generateNodeName``, map
  items as sorted ``key:value`` pairs); a dependency's node lists its dependents as ``children``;
- stop: operator.go sets ``Stopped with strategy 'Stop'`` on the workflow and exec_control.go
  ``workflow shutdown with strategy:  Stop`` on the nodes it stops;
- retry: workflow/util/util.go, ``FormulateRetryWorkflow``: failed pod nodes and what depends on
  them are removed, their ancestors set back to Running with ``startedAt`` now (``resetNode``), the
  workflow Running again with ``status.startedAt`` now (``createNewRetryWorkflow``); succeeded
  nodes are kept as they were, with their old times;
- resubmit: a new workflow from the old one's spec (util.go, ``FormulateResubmitWorkflow``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import tornado.httpserver
import tornado.web

from naavre_batch_ext.core.split import batch_ranges

SWAGGER_PATH = Path("/work/shared/argo/argo-server-swagger-v4.1.2.json")
_LOCAL_SWAGGER = Path(__file__).parent / "fixtures" / "argo-server-swagger-v4.1.2.json"
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=60)
RETRY_AT = 40
"""Seconds after T0 at which a retry happens in the script (the failed batch restarts then)."""


def swagger() -> dict[str, Any]:
    """Argo's OpenAPI 2.0 description (tests/fixtures copy, else the shared one)."""
    path = _LOCAL_SWAGGER if _LOCAL_SWAGGER.exists() else SWAGGER_PATH
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def fnv32a(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def node_id(workflow: str, name: str) -> str:
    """workflow_types.go, ``Workflow.NodeID``."""
    return workflow if name == workflow else f"{workflow}-{fnv32a(name)}"


def _ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Swagger:
    """Operations of the swagger as (method, compiled path, operation) and schema checks."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.ops: list[tuple[str, re.Pattern[str], dict[str, Any]]] = []
        for path, item in doc["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            for method, op in item.items():
                if method != "parameters":
                    self.ops.append((method.upper(), pattern, op))

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for m, pattern, op in self.ops:
            if m == method and pattern.match(path):
                return op
        return None

    def errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        root = {**schema, "definitions": self.doc["definitions"]}
        validator = jsonschema.Draft4Validator(root)
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
            for e in validator.iter_errors(instance)
        ]


@dataclass
class Run:
    """One workflow and where it is in the script."""

    workflow: dict[str, Any]
    stage: int = 0
    stopped: bool = False
    retried: bool = False
    fail_index: int = 3
    hold: bool = False


@dataclass
class FakeArgo:
    """The fake server's state; ``mode`` switches failure cases (``ok``, ``5xx``, ``hang``)."""

    token: str = "fake-argo-token-s3cr3t"
    namespaces: tuple[str, ...] = ("naavre",)
    mode: str = "ok"
    fail_index: int = 3
    runs: dict[str, Run] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    port: int = 0
    tls: bool = False
    hold_at_failure: bool = True
    _counter: int = 0

    def __post_init__(self) -> None:
        self.api = Swagger(swagger())

    # -- the controller's part ---------------------------------------------------------------

    def create(self, namespace: str, workflow: dict[str, Any]) -> dict[str, Any]:
        wf = copy.deepcopy(workflow)
        meta = wf.setdefault("metadata", {})
        self._counter += 1
        name = meta.pop("generateName", "workflow-") + f"x{self._counter:04d}"
        meta.update(
            name=name,
            namespace=namespace,
            uid=f"00000000-0000-4000-8000-{self._counter:012d}",
            creationTimestamp=_ts(0),
            resourceVersion=str(1000 + self._counter),
        )
        wf["status"] = {}
        self.runs[name] = Run(wf, fail_index=self.fail_index)
        return wf

    def advance(self, run: Run) -> None:
        """One controller reconciliation: the next stage of the script (held at the failure
        until a retry, and nothing moves after a stop or the end)."""
        if run.stopped or run.hold:
            return
        last = 6
        if run.stage == 4 and not run.retried and self.hold_at_failure:
            return
        run.stage = min(run.stage + 1, last)
        self.fill(run)

    def fill(self, run: Run) -> None:
        wf = run.workflow
        name = wf["metadata"]["name"]
        spec = wf["spec"]
        params = {
            p["name"]: p.get("value") for p in spec.get("arguments", {}).get("parameters", [])
        }
        n = int(json.loads(params.get("param_item_count", "28")))
        m = int(json.loads(params.get("param_max_batch_count", "5")))
        ranges = batch_ranges(n, m)
        stage = run.stage
        dag_tasks = next(t for t in spec["templates"] if t["name"] == spec["entrypoint"])["dag"][
            "tasks"
        ]
        by_name = {t["name"]: t for t in dag_tasks}
        splitter = next(t for t in dag_tasks if "withParam" not in t and "dependencies" not in t)
        fan = next(t for t in dag_tasks if "withParam" in t)
        merger = next(t for t in dag_tasks if fan["name"] in t.get("dependencies", []))
        assert set(by_name) == {splitter["name"], fan["name"], merger["name"]}
        nodes: dict[str, Any] = {}

        def node(
            node_name: str,
            kind: str,
            template: str | None,
            phase: str,
            start: float,
            end: float | None = None,
            boundary: str | None = name,
            **extra: Any,
        ) -> dict[str, Any]:
            nid = node_id(name, node_name)
            entry: dict[str, Any] = {
                "id": nid,
                "name": node_name,
                "displayName": node_name[len(name) + 1 :] if node_name != name else name,
                "type": kind,
                "phase": phase,
                "startedAt": _ts(start),
            }
            if template:
                entry["templateName"] = template
            if boundary and node_name != name:
                entry["boundaryID"] = boundary
            if end is not None:
                entry["finishedAt"] = _ts(end)
            if kind == "Pod" and phase in ("Succeeded", "Failed"):
                entry["progress"] = "1/1"
            entry.update(extra)
            nodes[nid] = entry
            return entry

        if stage == 0:
            wf["status"] = {}
            return
        phase = {1: "Running", 2: "Running", 3: "Running", 4: "Failed", 5: "Running"}.get(
            stage, "Succeeded"
        )
        reset = RETRY_AT if run.retried else None  # resetNode: the ancestors start again
        root = node(
            name, "DAG", spec["entrypoint"], phase, reset or 0, None if phase == "Running" else 70
        )
        split_name = f"{name}.{splitter['name']}"
        batches = [
            {"index": i, "start": a, "stop": b, "items": [f"item-{j}" for j in range(a, b)]}
            for i, (a, b) in enumerate(ranges)
        ]
        split_done = stage >= 2
        split = node(
            split_name,
            "Pod",
            splitter["template"],
            "Succeeded" if split_done else "Running",
            1,
            8 if split_done else None,
        )
        root["children"] = [split["id"]]
        if split_done:
            split["outputs"] = {
                "parameters": [
                    {
                        "name": "naavre-batches",
                        "value": json.dumps(batches),
                        "valueFrom": {"path": "/tmp/naavre-outputs/naavre-batches.json"},
                    },
                    {
                        "name": "naavre-batch-count",
                        "value": str(len(batches)),
                        "valueFrom": {"path": "/tmp/naavre-outputs/naavre-batch-count.json"},
                    },
                ],
                "exitCode": "0",
            }
        if stage < 2:
            self._status(wf, nodes, "Running", "0/1", started=reset or 0)
            return
        group_name = f"{name}.{fan['name']}"
        instances = []
        merger_name = f"{name}.{merger['name']}"
        merger_id = node_id(name, merger_name)
        for i, batch in enumerate(batches):
            pairs = sorted(f"{k}:{json.dumps(v) if k == 'items' else v}" for k, v in batch.items())
            inst_name = f"{group_name}({i}:{','.join(pairs).replace('(', '').replace(')', '')})"
            failing = i == run.fail_index % len(batches)
            if stage == 2:
                state = "Running" if i < 2 else "Pending"
            elif stage == 3:
                state = "Succeeded" if i < 3 and not failing else "Running"
            elif stage == 4:
                state = "Failed" if failing else "Succeeded"
            elif stage == 5:
                state = "Running" if failing else "Succeeded"
            else:
                state = "Succeeded"
            start = 9 + i if state != "Pending" else 9
            if failing and stage >= 5:
                start = RETRY_AT
            end = None if state in ("Running", "Pending") else start + 20
            extra: dict[str, Any] = {
                "inputs": {"parameters": [{"name": "naavre-batch", "value": json.dumps(batch)}]}
            }
            if state == "Failed":
                extra["message"] = "Error (exit code 1)"
            if state == "Succeeded":
                extra["outputs"] = {
                    "parameters": [
                        {
                            "name": "naavre-result",
                            "value": json.dumps({"index": i, "outputs": {}}),
                            "valueFrom": {"path": "/tmp/naavre-outputs/naavre-result.json"},
                        }
                    ],
                    "exitCode": "0",
                }
            template = next(t for t in spec["templates"] if t["name"] == fan["template"])
            if "retryStrategy" in template:
                # operator.go executeTemplate: a Retry node named as the instance, its attempts
                # "<name>(0)", "<name>(1)", ... (the pods), same boundary, nodeFlag.retried
                attempts = []
                failed_tries = int(template["retryStrategy"]["limit"]) if state == "Failed" else 0
                for a in range(failed_tries + 1):
                    last = a == failed_tries
                    attempts.append(
                        node(
                            f"{inst_name}({a})",
                            "Pod",
                            fan["template"],
                            state if last else "Failed",
                            start,
                            end if last else start + 5,
                            nodeFlag={"retried": True},
                            **({**extra, "message": "Error (exit code 1)"} if not last else extra),
                        )
                    )
                inst = node(
                    inst_name,
                    "Retry",
                    fan["template"],
                    state,
                    start,
                    end,
                    children=[a["id"] for a in attempts],
                    **({"message": extra["message"]} if "message" in extra else {}),
                )
                if state in ("Succeeded", "Failed"):
                    attempts[-1]["children"] = [merger_id]
            else:
                inst = node(inst_name, "Pod", fan["template"], state, start, end, **extra)
                if state in ("Succeeded", "Failed"):
                    inst["children"] = [merger_id]
            instances.append(inst)
        group_phase = {4: "Failed", 6: "Succeeded"}.get(stage, "Running")
        group = node(
            group_name,
            "TaskGroup",
            fan["template"],
            group_phase,
            reset or 9,
            None if group_phase == "Running" else 60,
            children=[i["id"] for i in instances],
        )
        split["children"] = [group["id"]]
        done = sum(1 for i in instances if i["phase"] == "Succeeded")
        if stage == 4:
            missing = run.fail_index % len(batches)
            node(
                merger_name,
                "Pod",
                merger["template"],
                "Failed",
                61,
                66,
                message="Error (exit code 1)",
            )
            self._status(
                wf,
                nodes,
                "Failed",
                f"{done + 1}/{len(instances) + 2}",
                f"child '{merger_id}' failed" if missing >= 0 else "",
                finished=70,
            )
            return
        if stage == 6:
            node(merger_name, "Pod", merger["template"], "Succeeded", 61, 66)
            self._status(
                wf,
                nodes,
                "Succeeded",
                f"{len(instances) + 2}/{len(instances) + 2}",
                finished=70,
                started=reset or 0,
            )
            return
        self._status(wf, nodes, "Running", f"{done + 1}/{len(instances) + 2}", started=reset or 0)

    def _status(
        self,
        wf: dict[str, Any],
        nodes: dict[str, Any],
        phase: str,
        progress: str,
        message: str = "",
        finished: float | None = None,
        started: float = 0,
    ) -> None:
        status: dict[str, Any] = {
            "phase": phase,
            "startedAt": _ts(started),
            "progress": progress,
            "nodes": nodes,
        }
        if finished is not None:
            status["finishedAt"] = _ts(finished)
        if message:
            status["message"] = message
        wf["status"] = status

    def stop(self, run: Run) -> None:
        """operator.go and exec_control.go on ``shutdown: Stop``: running and pending nodes
        fail with the shutdown message, the workflow with ``Stopped with strategy 'Stop'``."""
        if run.workflow.get("status", {}).get("phase") in ("Succeeded", "Failed", "Error"):
            return
        if not run.workflow.get("status"):
            run.stage = 1
            self.fill(run)
        run.workflow["spec"]["shutdown"] = "Stop"
        status = run.workflow["status"]
        for n in status.get("nodes", {}).values():
            if n["phase"] in ("Running", "Pending"):
                n["phase"] = "Failed"
                n["finishedAt"] = _ts(50)
                if n["type"] == "Pod":
                    n["message"] = "workflow shutdown with strategy:  Stop"
        status.update(phase="Failed", finishedAt=_ts(50), message="Stopped with strategy 'Stop'")
        run.stopped = True

    def retry(self, run: Run) -> None:
        """util.go ``FormulateRetryWorkflow``: failed pods and their dependents go, ancestors run."""
        run.retried = True
        run.stage = 5
        self.fill(run)

    def resubmit(self, run: Run) -> dict[str, Any]:
        old = run.workflow
        wf = {
            "apiVersion": old.get("apiVersion", "argoproj.io/v1alpha1"),
            "kind": "Workflow",
            "metadata": {
                "generateName": old["metadata"]["name"] + "-",
                "labels": dict(old["metadata"].get("labels", {})),
                "annotations": dict(old["metadata"].get("annotations", {})),
            },
            "spec": copy.deepcopy(old["spec"]),
        }
        wf["spec"].pop("shutdown", None)
        return self.create(old["metadata"]["namespace"], wf)

    def log(self, run: Run, pod: str) -> list[str]:
        """What the step script printed (step_runtime.report_failure for the failed batch)."""
        status = run.workflow.get("status", {})
        from naavre_batch_ext.engines.cluster import generate_pod_name

        name = run.workflow["metadata"]["name"]
        notebook = run.workflow["metadata"]["annotations"].get(
            "naavre-batch/source-notebook", "notebook.ipynb"
        )
        stem = notebook.rsplit(".", 1)[0]
        for n in status.get("nodes", {}).values():
            if n["type"] != "Pod":
                continue
            if generate_pod_name(name, n["name"], n.get("templateName", ""), n["id"]) != pod:
                continue
            if n["phase"] == "Failed" and "(" in n["displayName"]:
                batch = json.loads(n["inputs"]["parameters"][0]["value"])
                item = batch["start"]
                return [
                    "Traceback (most recent call last):",
                    f'  File "<{stem} cell 6>", line 4, in <module>',
                    "    processed_batches.append(process(batch))",
                    f"ValueError: cannot process item {item}",
                    "naavre-batch: step process-batches failed in cell 6, line 4: "
                    f"ValueError: cannot process item {item}",
                ]
            if n["phase"] == "Failed":
                return [f"naavre-batch: step {n['displayName']} failed: a batch is missing"]
            if n["phase"] == "Succeeded" and n["displayName"] == _merger_name(run.workflow):
                # what the seed's merger cell prints (cell 8: the processed items)
                params = {
                    p["name"]: p["value"] for p in run.workflow["spec"]["arguments"]["parameters"]
                }
                count = int(params.get("param_item_count", "28"))
                return [f"Processed items: {[i / 42 for i in range(count)]}"]
            return [f"{n['displayName']}: done"]
        return []


def _merger_name(workflow: dict[str, Any]) -> str:
    spec = workflow["spec"]
    tasks = next(t for t in spec["templates"] if t["name"] == spec["entrypoint"])["dag"]["tasks"]
    fan = next(t for t in tasks if "withParam" in t)
    return str(next(t for t in tasks if fan["name"] in t.get("dependencies", []))["name"])


class _Handler(tornado.web.RequestHandler):
    fake: FakeArgo

    def initialize(self, fake: FakeArgo) -> None:
        self.fake = fake

    def check_xsrf_cookie(self) -> None:  # an API, not a browser form
        return None

    async def _any(self) -> None:
        fake = self.fake
        path = urlsplit(self.request.uri or "").path
        method = self.request.method or "GET"
        query = parse_qsl(urlsplit(self.request.uri or "").query, keep_blank_values=True)
        body: Any = None
        if self.request.body:
            try:
                body = json.loads(self.request.body)
            except ValueError:
                fake.problems.append(f"{method} {path}: body is not JSON")
        fake.requests.append(
            {
                "method": method,
                "path": path,
                "query": query,
                "body": body,
                "authorization": self.request.headers.get("Authorization"),
            }
        )
        op = fake.api.operation(method, path)
        if op is None:
            fake.problems.append(f"{method} {path}: not in the swagger")
            return self._send(404, {"code": 5, "message": "Not Found"}, None)
        declared = {p["name"]: p for p in op.get("parameters", [])}
        for key, _ in query:
            if key not in declared or declared[key]["in"] != "query":
                fake.problems.append(f"{method} {path}: undeclared query parameter {key}")
        body_param = next((p for p in declared.values() if p["in"] == "body"), None)
        if body_param is not None:
            problems = fake.api.errors(body_param["schema"], body)
            fake.problems += [f"{method} {path} body: {p}" for p in problems]
            if problems:  # grpc-gateway cannot unmarshal it: InvalidArgument
                return self._send(400, {"code": 3, "message": problems[0]}, op)
        elif body is not None:
            fake.problems.append(f"{method} {path}: a body where none is declared")
        if fake.mode == "hang":
            await asyncio.sleep(30)
            return None
        if fake.mode == "5xx":
            return self._send(503, {"code": 14, "message": "upstream connect error"}, op)
        if self.request.headers.get("Authorization") != f"Bearer {fake.token}":
            return self._send(401, {"code": 16, "message": "token not valid"}, op)
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "version"]:
            return self._send(
                200,
                {
                    "version": "v4.1.2",
                    "buildDate": "2026-08-21T12:39:06Z",
                    "gitCommit": "f016ad89eb269d282aec06dc491c29f396a38df4",
                    "gitTag": "v4.1.2",
                    "gitTreeState": "clean",
                    "goVersion": "go1.24",
                    "compiler": "gc",
                    "platform": "linux/amd64",
                },
                op,
            )
        namespace = parts[3] if len(parts) > 3 else ""
        if namespace not in fake.namespaces:
            return self._send(
                403,
                {
                    "code": 7,
                    "message": f'workflows.argoproj.io is forbidden: User "system:serviceaccount:'
                    f'jupyter:default" cannot list resource "workflows" in API group '
                    f'"argoproj.io" in the namespace "{namespace}"',
                },
                op,
            )
        if len(parts) == 4 and method == "POST":
            return self._send(200, fake.create(namespace, body["workflow"]), op)
        if len(parts) == 4 and method == "GET":
            selector = dict(query).get("listOptions.labelSelector", "")
            wanted = dict(kv.split("=", 1) for kv in selector.split(",") if "=" in kv)
            items = [
                r.workflow
                for r in fake.runs.values()
                if r.workflow["metadata"]["namespace"] == namespace
                and all(
                    r.workflow["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items()
                )
            ]
            return self._send(200, {"metadata": {"resourceVersion": "2000"}, "items": items}, op)
        name = parts[4] if len(parts) > 4 else ""
        run = fake.runs.get(name)
        if run is None:
            return self._send(
                404, {"code": 5, "message": f'workflows.argoproj.io "{name}" not found'}, op
            )
        action = parts[5] if len(parts) > 5 else ""
        if method == "GET" and not action:
            self._send(200, run.workflow, op)
            fake.advance(run)  # the controller moves on between two polls
            return None
        if method == "GET" and action == "log":
            pod = dict(query).get("podName", "")
            lines = fake.log(run, pod)
            for line in lines:
                entry = {"result": {"content": line, "podName": pod}}
                fake.problems += [
                    f"log line: {p}"
                    for p in fake.api.errors(op["responses"]["200"]["schema"], entry)
                ]
            self.set_header("Content-Type", "application/json")
            self.finish(
                "".join(
                    json.dumps({"result": {"content": line, "podName": pod}}) + "\n"
                    for line in lines
                )
            )
            return None
        if method == "PUT" and action == "stop":
            fake.stop(run)
            return self._send(200, run.workflow, op)
        if method == "PUT" and action == "retry":
            if run.workflow.get("status", {}).get("phase") not in ("Failed", "Error"):
                return self._send(
                    409, {"code": 9, "message": "workflow must be Failed/Error to retry"}, op
                )
            fake.retry(run)
            return self._send(200, run.workflow, op)
        if method == "PUT" and action == "resubmit":
            return self._send(200, fake.resubmit(run), op)
        return self._send(404, {"code": 12, "message": "not implemented by the fake"}, op)

    def _send(self, status: int, data: Any, op: dict[str, Any] | None) -> None:
        if op is not None:
            key = "200" if status == 200 else "default"
            schema = op["responses"][key].get("schema")
            if schema:
                problems = self.fake.api.errors(schema, data)
                self.fake.problems += [
                    f"answer {status} {self.request.path}: {p}" for p in problems
                ]
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    async def get(self, *_: Any) -> None:
        await self._any()

    async def post(self, *_: Any) -> None:
        await self._any()

    async def put(self, *_: Any) -> None:
        await self._any()

    async def delete(self, *_: Any) -> None:
        await self._any()


def make_app(fake: FakeArgo, base_href: str = "") -> tornado.web.Application:
    prefix = "/" + base_href.strip("/") if base_href.strip("/") else ""
    return tornado.web.Application([(prefix + r"(/api/.*)", _Handler, {"fake": fake})])


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 (openssl), for the TLS cases."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def start(fake: FakeArgo, cert: tuple[Path, Path] | None = None) -> tornado.httpserver.HTTPServer:
    """Listen on 127.0.0.1 at a random port (``fake.port``) on the running event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    fake.port = sock.getsockname()[1]
    ssl_ctx = None
    if cert is not None:
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        fake.tls = True
    server = tornado.httpserver.HTTPServer(make_app(fake), ssl_options=ssl_ctx)
    server.add_sockets([sock])
    return server


def main() -> None:  # pragma: no cover - for the Galata configuration and trying by hand
    """``python tests/argo_fake.py PORT``: serve until killed (the Galata tests' Argo)."""
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 2746
    fake = FakeArgo(token=sys.argv[2] if len(sys.argv) > 2 else "fake-argo-token-s3cr3t")

    async def serve() -> None:
        server = tornado.httpserver.HTTPServer(make_app(fake))
        server.listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":  # pragma: no cover
    main()


class FakeThread:
    """The fake server on its own event loop in a daemon thread, for tests whose code under test
    runs its own loop (the CLI's ``asyncio.run``) or a Jupyter server."""

    def __init__(self, fake: FakeArgo, cert: tuple[Path, Path] | None = None) -> None:
        import threading

        self.fake = fake
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = start(fake, cert)
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True, name="fake-argo")
        self.thread.start()
        ready.wait(10)

    @property
    def url(self) -> str:
        return f"{'https' if self.fake.tls else 'http'}://127.0.0.1:{self.fake.port}"

    def close(self) -> None:
        def stop() -> None:
            self.server.stop()
            self.loop.stop()

        self.loop.call_soon_threadsafe(stop)
        self.thread.join(5)
