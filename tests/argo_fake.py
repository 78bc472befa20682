"""A small fake Argo server for the tests: tornado on 127.0.0.1, a random port, and nothing else.

It models the Argo Server API as its OpenAPI description says (argo-server-swagger-v4.1.2.json,
the file server/workflow/workflow_server.go implements) and plays the controller's part on a
**real run** of the submitted workflow, so its answers cannot drift from what the exported
scripts do: on the first poll the workflow's pods run for real with the tests' Argo player
(tests/test_argo_execution.py ``ArgoPlayer``: the scripts, Argo's substitution, ``withParam``
fan-out, fan-in aggregation, artifacts, ``retryStrategy``), with the workflow's own name and
parameters and the environment ``FakeArgo.pod_env``; each later poll is one reconciliation that
shows more of that run (the splitter, then two batches running, then the first three done, the
rest, the merger) until the workflow ends with the phase the pods gave it. Nothing in
``status.nodes`` or a log is written by hand: inputs, output parameters, exit codes and log lines
are what the pods read and wrote.

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
- with ``retryStrategy``, each instance is a ``Retry`` node whose children are its attempts
  ``<name>(0)``, ``<name>(1)``, ... (operator.go ``executeTemplate``, ``processNodeRetries``), the
  last attempt's outputs copied onto it;
- pod names: workflow/util/pod_name.go ``GeneratePodName`` (v2), ``<workflow>-<template>-<fnv32a>``;
- output parameters are saved after the main container ended, failed or not (executor
  postmain.go ``PostMain``, executor.go ``SaveParameters``: one trailing newline trimmed,
  ``valueFrom.default`` for a missing file);
- logs: ``GET .../log`` streams one ``{"result": LogEntry}`` JSON per line (NDJSON) of what the pod
  printed; pod GC (workflow/controller/pod/cleanup.go ``determinePodCleanupAction``) deletes
  completed pods as ``spec.podGC.strategy`` says, and a deleted pod's log is empty, as
  util/logs/workflow-logger.go ``WorkflowLogs`` streams nothing when it finds no pod;
- every created workflow is checked by Argo's own validation (../shared/tools/argo-validate);
- stop: operator.go sets ``Stopped with strategy 'Stop'`` on the workflow and exec_control.go
  ``workflow shutdown with strategy:  Stop`` on the nodes it stops;
- retry: workflow/util/util.go, ``FormulateRetryWorkflow``: failed pod nodes and what depends on
  them are removed (their pods deleted) and run again, succeeded ones kept, the workflow Running
  again;
- resubmit: a new workflow from the old one's spec (util.go, ``FormulateResubmitWorkflow``);
- input artifacts: ``GET /input-artifacts/{namespace}/{name}/{nodeId}/{artifactName}``
  (server/artifacts/artifact_server.go ``GetInputArtifact``; see ``_ArtifactHandler``), the bytes
  the pods stored, or the server's plain-text errors (``FakeArgo.repository_readable``), or with
  ``ARGO_ARTIFACT_SERVER=false`` the UI's index.html (``FakeArgo.artifact_server``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import tornado.httpserver
import tornado.web
import yaml
from test_argo_execution import ArgoPlayer, Play, Pod

SWAGGER_PATH = Path("/work/shared/argo/argo-server-swagger-v4.1.2.json")
_LOCAL_SWAGGER = Path(__file__).parent / "fixtures" / "argo-server-swagger-v4.1.2.json"
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=60)


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


def pod_name(workflow: str, node_name: str, template: str) -> str:
    """workflow/util/pod_name.go, ``GeneratePodName`` (v2, the default): the workflow name for
    the workflow's own node, else ``<workflow>-<template>-<fnv32a(node name)>``, the prefix cut
    to 253 - 10 - 1 characters."""
    if node_name == workflow:
        return workflow
    prefix = f"{workflow}-{template}" if template else workflow
    return f"{prefix[: 253 - 10 - 1]}-{fnv32a(node_name)}"


POD_GC_DELETES = {
    "OnPodCompletion": lambda pod_phase, wf_phase: pod_phase in ("Succeeded", "Failed"),
    "OnPodSuccess": lambda pod_phase, wf_phase: pod_phase == "Succeeded",
    "OnWorkflowCompletion": lambda pod_phase, wf_phase: wf_phase in ("Succeeded", "Failed"),
    "OnWorkflowSuccess": lambda pod_phase, wf_phase: wf_phase == "Succeeded",
}
"""workflow/controller/pod/cleanup.go, ``determinePodCleanupAction``: which completed pods a
``spec.podGC.strategy`` deletes (the others are only labelled completed)."""


def node_inputs(pod: Pod) -> dict[str, Any]:
    """A pod node's ``inputs``: operator.go ``initializeExecutableNode`` sets ``node.Inputs``
    to the template's inputs after substitution (common/util.go ``ProcessArgs``), the parameters with their values and the artifacts
    with their ``raw`` data and locations (``s3.key``) resolved (``Pod.input_artifacts``)."""
    inputs: dict[str, Any] = {}
    if pod.inputs:
        inputs["parameters"] = [{"name": k, "value": v} for k, v in pod.inputs.items()]
    if pod.input_artifacts:
        inputs["artifacts"] = copy.deepcopy(pod.input_artifacts)
    return inputs


@dataclass
class Shown:
    """One pod of the played run as the controller shows it: its node name, the DAG task, the
    item index (None outside a fan-out), and when it starts and ends on the fake's clock (in
    reconciliations, ``Run.stage``)."""

    pod: Pod
    task: dict[str, Any]
    index: int | None
    start: int
    end: int


@dataclass
class Run:
    """One workflow, the real run of its pods (``play``) and how far the controller got."""

    workflow: dict[str, Any]
    folder: Path
    play: Play | None = None
    stage: int = 0
    last: int = 1
    stopped: bool = False
    hold: bool = False
    kept: set[int] = field(default_factory=set)
    """``id()`` of pods a retry kept (shown finished from the start)."""
    retried_at: float | None = None
    """When the last retry happened (seconds from the start): util.go ``createNewRetryWorkflow``
    sets ``status.startedAt`` to it and ``resetNode`` the re-run nodes' ancestors' ``startedAt``."""
    deleted: set[str] = field(default_factory=set)
    """Pods deleted by pod GC: their logs are gone."""
    shown: list[Shown] = field(default_factory=list)
    healed: bool = False
    """The run was retried on a server with ``heal_on_retry``: its pods run without ``pod_env``."""


@dataclass
class FakeArgo:
    """The fake server's state; ``mode`` switches failure cases (``ok``, ``5xx``, ``hang``).

    ``pod_env`` is added to every pod's environment (what the cluster gives its pods; tests use
    it to break one item, :func:`helpers.seed_with_a_broken_item`). Pods run in ``root`` (a new
    temporary folder when not given)."""

    token: str = "fake-argo-token-s3cr3t"
    namespaces: tuple[str, ...] = ("naavre",)
    mode: str = "ok"
    runs: dict[str, Run] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    port: int = 0
    tls: bool = False
    pod_env: dict[str, str] = field(default_factory=dict)
    root: Path | None = None
    encoding: str = "aggregatedJSONValueList"
    """The fan-in encoding of the server's version (v4.1.2: ``aggregatedJSONValueList``)."""
    heal_on_retry: bool = False
    """A retried run's pods run without ``pod_env`` (the UI tests' broken service came back for
    that run; runs submitted later still meet it, so each UI test sees the failure it expects)."""
    artifact_server: bool = True
    """False: the server runs with ``ARGO_ARTIFACT_SERVER=false``, so argoserver.go registers no
    artifact route and the UI's file server (server/static/static.go ``ServerFiles``) answers
    ``/input-artifacts/...`` with its ``index.html``, 200."""
    repository_readable: bool = True
    """False: the server cannot read the artifact repository (unreachable from it, or its
    credentials Secret not readable with the caller's token): ``/input-artifacts/`` answers 500
    for every artifact but ``raw`` ones, as artifact_server.go does when the driver fails."""
    _counter: int = 0

    def __post_init__(self) -> None:
        self.api = Swagger(swagger())
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="argo-fake-"))

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
        assert self.root is not None
        self.runs[name] = Run(wf, self.root / name)
        self.problems += self.validate(self.runs[name])
        return wf

    def validate(self, run: Run) -> list[str]:
        """Argo's own validation of a created workflow (../shared/tools/argo-validate, what
        ``argo lint`` checks; the server runs the same ``validate.ValidateWorkflow`` on create):
        its errors as problems, none when the tool is not installed here."""
        from test_argo import ARGO_VALIDATE

        if ARGO_VALIDATE is None:
            return []
        run.folder.mkdir(parents=True, exist_ok=True)
        path = run.folder / "workflow.yaml"
        submitted = {k: v for k, v in run.workflow.items() if k != "status"}
        path.write_text(yaml.safe_dump(submitted), encoding="utf-8")
        proc = subprocess.run(
            [str(ARGO_VALIDATE), str(path)], capture_output=True, text=True, check=False
        )
        said = (proc.stdout + proc.stderr).strip()
        return [] if said == "OK" else [f"argo-validate: {said}"]

    def execute(self, run: Run, keep: dict[tuple[str, int | None], Pod] | None = None) -> None:
        """Run the workflow's pods for real: the exported scripts, in the tests' Argo player
        (tests/test_argo_execution.py), with the workflow's own name and parameters."""
        run.folder.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="play-", dir=run.folder))
        player = ArgoPlayer(
            yaml.safe_dump(run.workflow),
            folder,
            self.encoding,
            name=run.workflow["metadata"]["name"],
            env={} if run.healed else self.pod_env,
        )
        if keep:  # a retry reads what the kept pods stored in the artifact repository
            old = run.folder / "repository"
            if old.exists():
                shutil.copytree(old, player.repository, dirs_exist_ok=True)
        run.play = player.play(keep=keep)
        shutil.copytree(player.repository, run.folder / "repository", dirs_exist_ok=True)
        run.shown = self._timeline(run)
        run.last = max((s.end for s in run.shown), default=1) + 1

    def _timeline(self, run: Run) -> list[Shown]:
        """When each pod runs, in reconciliations: the DAG's tasks one after the other (as their
        dependencies make them here), a fan-out's first two instances a step before the others,
        the first three done a step before the others (so a poll sees batches running)."""
        assert run.play is not None
        shown: list[Shown] = []
        tick = 1
        for task in _dag(run.workflow):
            pods = run.play.pods.get(task["name"])
            if pods is None:
                continue
            if "withParam" not in task:
                shown.append(Shown(pods[0], task, None, tick, tick + 1))
                tick += 1
                continue
            for i, pod in enumerate(pods):
                shown.append(
                    Shown(
                        pod, task, i, tick if i < 2 else tick + 1, tick + 1 if i < 3 else tick + 2
                    )
                )
            tick += 2
        return shown

    def advance(self, run: Run) -> None:
        """One controller reconciliation (nothing moves after a stop or the end)."""
        if run.stopped or run.hold:
            return
        if run.play is None:
            self.execute(run)
        run.stage = min(run.stage + 1, run.last)
        self.fill(run)

    def fill(self, run: Run) -> None:
        """``status`` at ``run.stage``: the nodes the controller has created by then, those
        finished with what their pods really wrote, then pod GC."""
        if run.stage == 0:
            run.workflow["status"] = {}
            return
        if run.play is None:
            self.execute(run)
        assert run.play is not None
        wf = run.workflow
        name = wf["metadata"]["name"]
        spec = wf["spec"]
        final = run.stage >= run.last
        nodes: dict[str, Any] = {}
        clock = run.stage

        def node(
            node_name: str, kind: str, template: str | None, phase: str, **extra: Any
        ) -> dict[str, Any]:
            """operator.go ``initializeNode``: id from ``Workflow.NodeID``, ``displayName``
            the name without the boundary's, ``boundaryID`` the DAG node."""
            entry: dict[str, Any] = {
                "id": node_id(name, node_name),
                "name": node_name,
                "displayName": node_name[len(name) + 1 :] if node_name != name else name,
                "type": kind,
                "phase": phase,
            }
            if template:
                entry["templateName"] = template
            if node_name != name:
                entry["boundaryID"] = name
            entry.update({k: v for k, v in extra.items() if v is not None})
            nodes[entry["id"]] = entry
            return entry

        def pod_node(
            node_name: str, s: Shown, pod: Pod, phase: str, **extra: Any
        ) -> dict[str, Any]:
            template = s.task["template"]
            entry = node(node_name, "Pod", template, phase, **extra)
            started = s.start if id(s.pod) not in run.kept else 0
            if phase != "Pending":
                entry["startedAt"] = _ts(started * 10)
            if phase in ("Succeeded", "Failed"):
                entry["finishedAt"] = _ts(max(s.end, started) * 10 - 1)
                entry["progress"] = "1/1"
                if pod.inputs or pod.input_artifacts:
                    entry["inputs"] = node_inputs(pod)
                declared = self._template(wf, template).get("outputs", {}).get("parameters", [])
                params = [
                    {
                        "name": p["name"],
                        "value": pod.outputs[p["name"]],
                        "valueFrom": p["valueFrom"],
                    }
                    for p in declared
                    if p["name"] in pod.outputs
                ]
                entry["outputs"] = {"exitCode": str(pod.returncode)}
                if params:
                    entry["outputs"]["parameters"] = params
                if phase == "Failed":
                    entry["message"] = f"Error (exit code {pod.returncode})"
            elif pod.inputs or pod.input_artifacts:
                entry["inputs"] = node_inputs(pod)
            return entry

        def phase_of(s: Shown, pod: Pod) -> str:
            if id(s.pod) in run.kept or clock >= s.end:
                return "Succeeded" if pod.returncode == 0 else "Failed"
            return "Running" if clock >= s.start else "Pending"

        root = node(name, "DAG", spec["entrypoint"], "Running", startedAt=_ts(run.retried_at or 0))
        outbound: dict[str, list[dict[str, Any]]] = {}  # task -> nodes its dependants hang from
        by_task: dict[str, list[Shown]] = {}
        for s in run.shown:
            by_task.setdefault(s.task["name"], []).append(s)
        pods_shown: list[tuple[dict[str, Any], str]] = []  # (pod node, phase)
        for task in _dag(wf):
            group_of = by_task.get(task["name"], [])
            if not any(clock >= s.start or id(s.pod) in run.kept for s in group_of):
                continue  # not reached yet (or never: its dependencies failed)
            task_name = f"{name}.{task['name']}"
            if "withParam" not in task:
                s = group_of[0]
                pn = pod_node(task_name, s, s.pod, phase_of(s, s.pod))
                pods_shown.append((pn, pn["phase"]))
                outbound[task["name"]] = [pn]
                created = [pn]
            else:
                # dag.go executeDAGTask: a TaskGroup node, one child per item (operator.go
                # processItem / generateNodeName: "<task>(<i>:<desc>)"), created all at once.
                children = []
                leaves = []
                for s in by_task[task["name"]]:
                    inst_name = f"{task_name}({s.index}:{s.pod.desc})"
                    template = self._template(wf, task["template"])
                    phase = phase_of(s, s.pod)
                    if "retryStrategy" in template:
                        # operator.go executeTemplate: a Retry node named as the instance, its
                        # attempts "<name>(0)", "<name>(1)", ... the pods (nodeFlag.retried).
                        attempts = [*s.pod.attempts, s.pod] if phase != "Pending" else []
                        kids = []
                        for k, attempt in enumerate(attempts):
                            last = k == len(attempts) - 1
                            kid = pod_node(
                                f"{inst_name}({k})",
                                s,
                                attempt,
                                phase if last else "Failed",
                                nodeFlag={"retried": True},
                            )
                            pods_shown.append((kid, kid["phase"]))
                            kids.append(kid)
                        inst = node(inst_name, "Retry", task["template"], phase)
                        if kids:
                            inst["children"] = [k["id"] for k in kids]
                            inst["startedAt"] = kids[0].get("startedAt")
                            if phase in ("Succeeded", "Failed"):
                                inst["finishedAt"] = kids[-1]["finishedAt"]
                                inst["outputs"] = kids[-1]["outputs"]  # the last child's
                                if phase == "Failed":
                                    inst["message"] = kids[-1]["message"]
                            leaves.append(kids[-1])
                    else:
                        inst = pod_node(inst_name, s, s.pod, phase)
                        pods_shown.append((inst, phase))
                        leaves.append(inst)
                    children.append(inst)
                phases = {c["phase"] for c in children}
                group_phase = (
                    "Running"
                    if phases & {"Running", "Pending"}
                    else ("Failed" if "Failed" in phases else "Succeeded")
                )
                group = node(
                    task_name,
                    "TaskGroup",
                    task["template"],
                    group_phase,
                    children=[c["id"] for c in children],
                    startedAt=_ts(
                        run.retried_at  # resetNode: an ancestor of a re-run pod starts again
                        if run.retried_at is not None
                        and any(id(s.pod) not in run.kept for s in by_task[task["name"]])
                        else min(s.start for s in by_task[task["name"]]) * 10
                    ),
                )
                outbound[task["name"]] = leaves
                created = [group]
            for dep in task.get("dependencies", []) or [None]:
                parents = outbound.get(dep, []) if dep else [root]
                for parent in parents:
                    if parent.get("phase") in ("Succeeded", "Failed") or parent is root:
                        for c in created:
                            kids = parent.setdefault("children", [])
                            if c["id"] not in kids:
                                kids.append(c["id"])
        failed = [n for n in nodes.values() if n["type"] == "Pod" and n["phase"] == "Failed"]
        done = sum(1 for n in nodes.values() if n["type"] == "Pod" and n["phase"] == "Succeeded")
        total = len(run.shown) + sum(len(s.pod.attempts) for s in run.shown)
        phase, message = "Running", ""
        if final:
            phase = run.play.phase
            if phase == "Failed" and failed:
                message = f"child '{failed[-1]['id']}' failed"
            elif run.play.message:
                message = run.play.message
            root["phase"] = phase if phase != "Error" else "Failed"
            root["finishedAt"] = _ts(run.last * 10)
        self._status(
            wf,
            nodes,
            phase,
            f"{done}/{total}",
            message,
            run.last * 10 if final else None,
            started=run.retried_at or 0,
        )
        # pod/cleanup.go determinePodCleanupAction, once each pod completed
        strategy = (spec.get("podGC") or {}).get("strategy")
        deletes = POD_GC_DELETES.get(str(strategy))
        if deletes is not None:
            for pn, node_phase in pods_shown:
                if node_phase in ("Succeeded", "Failed") and deletes(node_phase, phase):
                    run.deleted.add(pod_name(name, pn["name"], pn.get("templateName", "")))

    def _template(self, wf: dict[str, Any], name: str) -> dict[str, Any]:
        return next(t for t in wf["spec"]["templates"] if t["name"] == name)

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
        """workflow/util/util.go ``FormulateRetryWorkflow``: succeeded pod nodes are kept, failed
        ones and every node that depends on them are removed (their pods deleted) and run again;
        the workflow is Running again."""
        assert run.play is not None
        run.healed = self.heal_on_retry
        keep: dict[tuple[str, int | None], Pod] = {}
        for s in run.shown:
            if s.pod.returncode == 0 and not _depends_on_failure(run, s):
                keep[(s.task["name"], s.index)] = s.pod
        self.execute(run, keep)
        run.kept = {id(p) for p in keep.values()}
        run.stage = min((s.start for s in run.shown if id(s.pod) not in run.kept), default=run.last)
        run.retried_at = run.stage * 10
        name = run.workflow["metadata"]["name"]
        for s in run.shown:
            if id(s.pod) not in run.kept:  # a new pod of the same name, with its own log
                run.deleted.discard(pod_name(name, self._node_name(run, s), s.task["template"]))
        self.fill(run)

    def _node_name(self, run: Run, s: Shown) -> str:
        name = run.workflow["metadata"]["name"]
        base = f"{name}.{s.task['name']}"
        return base if s.index is None else f"{base}({s.index}:{s.pod.desc})"

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
        """The ``main`` container's log of a pod that exists: what the step script printed
        (stdout, then stderr). A pod deleted by pod GC, or not started, has none:
        util/logs/workflow-logger.go ``WorkflowLogs`` lists the pods by name and streams
        nothing when none is found."""
        if pod in run.deleted:
            return []
        name = run.workflow["metadata"]["name"]
        for n in run.workflow.get("status", {}).get("nodes", {}).values():
            if n["type"] != "Pod" or n["phase"] in ("Pending",):
                continue
            if pod_name(name, n["name"], n.get("templateName", "")) != pod:
                continue
            found = self._pod_of(run, n["name"])
            if found is None or n["phase"] == "Running":
                return []
            return (found.stdout + found.stderr).splitlines()
        return []

    def _pod_of(self, run: Run, node_name: str) -> Pod | None:
        for s in run.shown:
            base = self._node_name(run, s)
            if node_name == base:
                return s.pod
            attempts = [*s.pod.attempts, s.pod]
            for k, attempt in enumerate(attempts):
                if node_name == f"{base}({k})":
                    return attempt
        return None


def _dag(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workflow["spec"]
    entry = next(t for t in spec["templates"] if t["name"] == spec["entrypoint"])
    tasks: list[dict[str, Any]] = entry["dag"]["tasks"]
    return tasks


def _depends_on_failure(run: Run, s: Shown) -> bool:
    """Whether a task depends, directly or not, on a task that had a failed pod."""
    assert run.play is not None
    failed = {t for t, pods in run.play.pods.items() if any(p.returncode != 0 for p in pods)}
    tasks = {t["name"]: t for t in _dag(run.workflow)}
    todo = list(tasks[s.task["name"]].get("dependencies", []))
    seen: set[str] = set()
    while todo:
        dep = todo.pop()
        if dep in failed:
            return True
        if dep not in seen:
            seen.add(dep)
            todo += tasks[dep].get("dependencies", [])
    return False


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


class _ArtifactHandler(tornado.web.RequestHandler):
    """``GET /input-artifacts/{namespace}/{name}/{nodeId}/{artifactName}``: server/artifacts/
    artifact_server.go ``GetInputArtifact`` (``getArtifact``, routed in server/apiserver/
    argoserver.go), serving the bytes the played pods really stored. As there: the path split in
    six (else 400), the token checked (``gateKeeping``: 401), the workflow read
    (``getWorkflowAndValidate``: 403 for a forbidden namespace, 404 for an unknown workflow), the
    node's input artifact by name (``getArtifactAndDriver``: a missing node or artifact, or a
    repository the server cannot use, is 500), then the driver's stream (``returnArtifact``): a
    ``raw`` artifact's data, a key-only one relocated into the repository (``Relocate``), a key that
    does not exist 404 (s3.go ``streamS3Artifact``: ``CodeNotFound``), a folder 501
    (``CodeNotImplemented``). Errors are Go's ``http.Error``: the status text, plain text."""

    fake: FakeArgo

    def initialize(self, fake: FakeArgo) -> None:
        self.fake = fake

    def _error(self, status: int) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(f"{self._reason}\n")

    def get(self, path: str) -> None:
        fake = self.fake
        fake.requests.append(
            {
                "method": "GET",
                "path": path,
                "query": [],
                "body": None,
                "authorization": self.request.headers.get("Authorization"),
            }
        )
        if not fake.artifact_server:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish("<!doctype html><html><head><title>Argo</title></head></html>")
            return None
        parts = path.split("/", 5)
        if len(parts) != 6:
            return self._error(400)
        _, _, namespace, name, node, artifact_name = parts
        if self.request.headers.get("Authorization") != f"Bearer {fake.token}":
            return self._error(401)
        if namespace not in fake.namespaces:
            return self._error(403)
        run = fake.runs.get(name)
        if run is None or run.workflow["metadata"]["namespace"] != namespace:
            return self._error(404)
        found = run.workflow.get("status", {}).get("nodes", {}).get(node)
        artifacts = (found or {}).get("inputs", {}).get("artifacts", [])
        artifact = next((a for a in artifacts if a["name"] == artifact_name), None)
        if artifact is None:
            return self._error(500)
        if "raw" in artifact:
            data = artifact["raw"]["data"].encode("utf-8")
            key = artifact["name"]
        else:
            if not fake.repository_readable:
                return self._error(500)
            key = artifact["s3"]["key"]
            stored = run.folder / "repository" / key
            if stored.is_dir():
                return self._error(501)
            if not stored.is_file():
                return self._error(404)
            data = stored.read_bytes()
        self.set_header("Content-Disposition", f'filename="{key.rsplit("/", 1)[-1]}"')
        self.set_header("Content-Type", "")
        self.finish(data)


def make_app(fake: FakeArgo, base_href: str = "") -> tornado.web.Application:
    prefix = "/" + base_href.strip("/") if base_href.strip("/") else ""
    return tornado.web.Application(
        [
            (prefix + r"(/api/.*)", _Handler, {"fake": fake}),
            (prefix + r"(/input-artifacts/.*)", _ArtifactHandler, {"fake": fake}),
        ]
    )


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
    # ARGO_FAKE_POD_ENV: JSON of the pods' environment until the first retry (the UI tests break
    # item 13 of ui-tests/notebooks/splitting-batches-broken.ipynb with it)
    pod_env = json.loads(os.environ.get("ARGO_FAKE_POD_ENV") or "{}")
    fake = FakeArgo(
        token=sys.argv[2] if len(sys.argv) > 2 else "fake-argo-token-s3cr3t",
        pod_env=pod_env,
        heal_on_retry=bool(pod_env),
    )

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
