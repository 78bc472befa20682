"""Run exported workflows the way Argo would, without a cluster, and compare with the notebook.

:class:`ArgoPlayer` reads the exported YAML and plays Argo's part, following Argo's source
(v3.6.17, ``/work/.mirror/argoproj+argo-workflows``; file and function named at each model):

- DAG tasks in dependency order; ``{{...}}`` substitution (``util/template/simple_template.go``
  ``simpleReplace``: one pass, whitespace inside the braces trimmed, an unresolved reference is an
  error, the value inserted through ``strconv.Quote`` into the template's JSON, i.e. exactly) over
  each task's ``withParam`` and arguments and then over the *whole* template (script source
  included), with ``workflow.parameters.*``, ``workflow.annotations.*`` and ``workflow.labels.*``
  (``operator.go`` ``setGlobalParameters``), ``workflow.name``, ``item``, ``inputs.parameters.*``
  and ``tasks.*.outputs.parameters.*``;
- ``{{item}}`` as ``operator.go`` ``processItem`` renders it: a string item through
  ``Item.String`` (``pkg/apis/workflow/v1alpha1/item.go``: ``json.Marshal``, outer quotes
  stripped, escapes left in, then ``util/json/fix.go`` ``Fix``), a map item as Go's
  ``json.Marshal`` of ``map[string]Item`` (sorted keys, raw numbers, HTML escaping);
- a fan-out's outputs aggregated as ``operator.go`` ``processAggregateNodeOutputs`` does, of
  succeeded pods only, in item order, under both behaviours (:data:`AGGREGATIONS`): before v3.5.11
  ``json.Marshal`` of the list of strings; from v3.5.11 ``aggregatedJSONValueList`` /
  ``tryJSONUnmarshal`` (when every value is a JSON object or array, each is unmarshalled into
  ``any``, numbers as float64, and marshalled again: sorted keys, Go's float format, ``<``, ``>``
  and ``&`` escaped);
- each pod: one fresh folder standing in for its file system, ``raw`` input artifacts written
  into it, ``env`` expanded as the kubelet does (``k8s.io/kubernetes``
  ``third_party/forked/golang/expansion/expand.go`` ``Expand``: ``$$`` becomes ``$``, ``$(NAME)``
  of a variable defined earlier in the list is replaced), ``script.source`` written to a file and
  run with ``python`` (environment strings over 128 KiB fail to start, as in a container);
  output parameters read back from their ``valueFrom.path`` files; ``continueOn.failed`` lets
  dependants run after failed pods.

What this cannot show without a cluster is listed in docs/argo.md.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import (
    TUTORIALS,
    code_notebook,
    reference_runs,
    section_tags,
    tagged_notebook_files,
    tagged_seed_notebook,
    tagged_tutorial,
    write_tmp,
)

from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.engines.compare import compare_traces
from naavre_batch_ext.engines.runner import joiner, run_notebook
from naavre_batch_ext.exporters import argo, r_export
from naavre_batch_ext.exporters.argo import ArgoOptions, argo_name, export_argo
from naavre_batch_ext.steps import r_scripts, transport
from naavre_batch_ext.steps.scripts import plan_tasks
from naavre_batch_ext.steps.transport import RValue

AGGREGATIONS = ("json-strings", "aggregatedJSONValueList")
"""Argo's fan-in encodings: before v3.5.11 (a JSON list of the output strings) and from v3.5.11
(``aggregatedJSONValueList``: values that are all JSON objects or arrays are re-encoded by Go)."""
TRANSPORTS = ("parameters/json-strings", "parameters/aggregatedJSONValueList", "artifacts")
"""``--values parameters`` under both of Argo's fan-in behaviours, and ``--values artifacts``."""
ENCODINGS = TRANSPORTS
WORKFLOW_NAME = "played-wf-x7k2p"
_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class Unresolved(Exception):
    """A ``{{...}}`` reference Argo could not resolve (Argo fails the node)."""


def substitute(text: str, scope: dict[str, str]) -> str:
    """Argo's simple templating: each ``{{ tag }}`` replaced once, unknown tags are errors."""

    def replace(match: re.Match[str]) -> str:
        tag = match.group(1).strip()
        if tag not in scope:
            raise Unresolved(tag)
        return scope[tag]

    return _TAG.sub(replace, text)


def substitute_all(value: Any, scope: dict[str, str]) -> Any:
    """Substitute in every string of a template (Argo templates the whole template object)."""
    if isinstance(value, str):
        return substitute(value, scope)
    if isinstance(value, list):
        return [substitute_all(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: substitute_all(v, scope) for k, v in value.items()}
    return value


# -- Go's encoding/json, as Argo's controller uses it (Go 1.24) ---------------------------------


class RawNumber(str):
    """A JSON number kept as its text (Go's ``json.RawMessage`` inside an ``Item``)."""


_GO_SHORT = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def go_string(text: str) -> str:
    """``encoding/json`` ``appendString`` with ``escapeHTML``: ``<``, ``>``, ``&``, control
    characters, U+2028 and U+2029 as ``\\u00XX``; everything else as it is."""
    out = ['"']
    for char in text:
        if char in _GO_SHORT:
            out.append(_GO_SHORT[char])
        elif char < " " or char in "<>&\u2028\u2029":
            out.append(f"\\u{ord(char):04x}")
        elif "\ud800" <= char <= "\udfff":
            out.append("\ufffd")  # invalid UTF-8 becomes U+FFFD
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def go_float(value: float) -> str:
    """``encoding/json`` ``floatEncoder`` for float64: ``strconv.AppendFloat(f, fmt, -1, 64)``,
    ``'e'`` below 1e-6 or from 1e21 (``e-07`` shortened to ``e-7``), ``'f'`` otherwise."""
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0") or "0"
    exponent += len("".join(map(str, digit_tuple))) - len(digits)  # lstrip keeps the scale
    while len(digits) > 1 and digits.endswith("0"):
        digits, exponent = digits[:-1], exponent + 1
    minus = "-" if sign else ""
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        power = exponent + len(digits) - 1
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        tail = (
            f"e-{-power}" if -10 < power < 0 else f"e{'+' if power >= 0 else '-'}{abs(power):02d}"
        )
        return minus + mantissa + tail
    if exponent >= 0:
        return minus + digits + "0" * exponent
    point = len(digits) + exponent
    if point > 0:
        return minus + digits[:point] + "." + digits[point:]
    return minus + "0." + "0" * -point + digits


def go_marshal(value: Any) -> str:
    """``json.Marshal`` of what ``json.Unmarshal`` into ``any`` gives: maps with sorted keys,
    float64 numbers (or :class:`RawNumber` text, for ``Item`` values), HTML-escaped strings."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, RawNumber):
        return str(value)
    if isinstance(value, str):
        return go_string(value)
    if isinstance(value, (int, float)):
        return go_float(float(value))
    if isinstance(value, list):
        return "[" + ",".join(go_marshal(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(go_string(k) + ":" + go_marshal(v) for k, v in items) + "}"
    raise TypeError(type(value))


def go_unmarshal(text: str) -> Any:
    """``json.Unmarshal`` into ``any``: every number a float64."""
    return json.loads(text, parse_int=float, parse_float=float)


def try_json_unmarshal(values: list[str]) -> tuple[list[Any], bool]:
    """``operator.go`` ``tryJSONUnmarshal``: all values must unmarshal to maps or lists."""
    result = []
    for value in values:
        try:
            decoded = go_unmarshal(value)
        except ValueError:
            return result, False
        if not isinstance(decoded, (list, dict)):
            return result, False
        result.append(decoded)
    return result, True


def aggregated_json_value_list(values: list[str]) -> str:
    """``operator.go`` ``aggregatedJSONValueList`` (Argo v3.5.11 and later)."""
    decoded, success = try_json_unmarshal(values)
    return go_marshal(decoded if success else values)


def aggregate(values: list[str], behaviour: str) -> str:
    """What ``{{tasks.T.outputs.parameters.P}}`` holds after a fan-out, per Argo version."""
    if behaviour == "json-strings":
        return go_marshal(values)  # json.Marshal([]string) before v3.5.11
    assert behaviour == "aggregatedJSONValueList", behaviour
    return aggregated_json_value_list(values)


def item_text(raw_item: Any) -> str:
    """``{{item}}`` for one element of a ``withParam`` list, as ``operator.go`` ``processItem``
    renders it (``raw_item`` parsed with numbers kept as :class:`RawNumber`)."""
    if isinstance(raw_item, (dict, list)):
        return go_marshal(raw_item)  # json.Marshal(map[string]Item) / ([]Item)
    text = go_marshal(raw_item)  # Item.String(): json.Marshal(item) ...
    if text.startswith('"'):
        text = text[1:-1]  # ... "this convenience to remove quotes from strings" ...
    for escaped, char in (("\\u003c", "<"), ("\\u003e", ">"), ("\\u0026", "&")):
        text = text.replace(escaped, char)  # ... and util/json/fix.go Fix
    return text


def parse_with_param(text: str) -> list[Any]:
    """``expandTask``: ``json.Unmarshal`` of ``withParam`` into ``[]Item`` (numbers raw)."""
    items = json.loads(text, parse_int=RawNumber, parse_float=RawNumber)
    assert isinstance(items, list), "withParam value could not be parsed as a JSON list"
    return items


# -- Kubernetes: env[].value expansion ------------------------------------------------------------


def kube_expand(text: str, defined: dict[str, str]) -> str:
    """``third_party/forked/golang/expansion/expand.go`` ``Expand`` with the kubelet's mapping
    (``MappingFuncFor`` over the variables defined earlier in the container's ``env``): ``$$`` is
    ``$``, ``$(NAME)`` of a defined variable its value, anything else left as written."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            rest = text[cursor + 1 :]
            if rest[0] == "$":  # escaped operator
                read, is_var, advance = "$", False, 1
            elif rest[0] == "(":
                close = rest.find(")", 1)
                if close > 0:
                    read, is_var, advance = rest[1:close], True, close + 1
                else:  # incomplete reference
                    read, is_var, advance = "$(", False, 1
            else:
                read, is_var, advance = "$" + rest[0], False, 1
            out.append((defined.get(read, f"$({read})")) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def container_env(env: list[dict[str, str]]) -> dict[str, str]:
    """A container's environment from its ``env`` list, in order, as the kubelet builds it."""
    result: dict[str, str] = {}
    for entry in env:
        result[entry["name"]] = kube_expand(entry.get("value", ""), result)
    return result


@dataclass
class Pod:
    """One pod's run: exit code, logs, output parameters (as Argo stores them: text)."""

    task: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)
    item: Any = None
    folder: Path | None = None
    stored: dict[str, Path] = field(default_factory=dict)
    printed: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    """The input parameters as the task's arguments resolved them (the node's ``inputs``)."""
    input_artifacts: list[dict[str, Any]] = field(default_factory=list)
    """The input artifacts as the controller resolves them into the node's ``inputs`` (operator.go
    ``initializeExecutableNode``: ``node.Inputs = executeTmpl.Inputs``, the template after substitution,
    each artifact's location from the task's arguments): ``raw`` data and ``s3.key`` filled in."""
    desc: str = ""
    """What the controller puts between the parentheses of a fan-out node's name (``node_desc``)."""
    attempts: list[Pod] = field(default_factory=list)
    """Earlier failed attempts under a ``retryStrategy``, oldest first (this pod is the last)."""


def node_desc(raw_item: Any) -> str:
    """The description in a fan-out instance's node name ``<task>(<i>:<desc>)``: operator.go
    ``processItem`` (a string or number item as ``fmt.Sprint(item)``, which is ``Item.String``;
    a map item as its ``key:value`` pairs sorted and joined by commas, each value through
    ``Item.String``), then ``generateNodeName`` drops every ``(`` and ``)``."""
    if isinstance(raw_item, dict):
        desc = ",".join(sorted(f"{k}:{item_text(v)}" for k, v in raw_item.items()))
    else:
        desc = item_text(raw_item)
    return desc.replace("(", "").replace(")", "")


@dataclass
class Play:
    """A whole workflow run: pods per DAG task, and the phase Argo would give the workflow."""

    pods: dict[str, list[Pod]]
    phase: str
    message: str = ""

    def only(self, task: str) -> Pod:
        pods = self.pods[task]
        assert len(pods) == 1, f"{task} ran {len(pods)} pods"
        return pods[0]


class ArgoPlayer:
    """Plays an exported Workflow locally; see the module docstring for what it imitates.

    ``root`` holds one folder per pod and ``artifact-repository/``, the cluster's default
    artifact repository: a key-only artifact (``s3.key`` only) is relocated there
    (``ArtifactLocation.Relocate``, workflow_types.go), a key naming objects below it (``key/...``)
    loads as a folder, as the S3, GCS and Azure drivers load a directory.
    """

    def __init__(
        self,
        text: str,
        root: Path,
        encoding: str = "aggregatedJSONValueList",
        name: str = WORKFLOW_NAME,
        env: dict[str, str] | None = None,
    ) -> None:
        """``name`` is ``{{workflow.name}}``; ``env`` is added to every pod's environment (what a
        cluster's nodes would give, e.g. to reach a shared file system)."""
        assert encoding in AGGREGATIONS, encoding
        self.name = name
        self.env = dict(env or {})
        self.doc = argo.load_yaml(text)
        self.root = root
        self.repository = root / "artifact-repository"
        self.repository.mkdir(parents=True, exist_ok=True)
        self.encoding = encoding
        self.templates = {t["name"]: t for t in self.doc["spec"]["templates"]}
        self.pod_count = 0
        self.last_stored: dict[str, Path] = {}

    def play(
        self,
        parameters: dict[str, str] | None = None,
        keep: dict[tuple[str, int | None], Pod] | None = None,
    ) -> Play:
        """Run the workflow. ``keep`` holds pods of an earlier run that succeeded, by (task,
        item index or None): they are not run again, as workflow/util/util.go
        ``FormulateRetryWorkflow`` keeps succeeded nodes when a failed run is retried."""
        keep = keep or {}
        spec = self.doc["spec"]
        values = {p["name"]: p["value"] for p in spec.get("arguments", {}).get("parameters", [])}
        for name, value in (parameters or {}).items():
            assert name in values, f"argo submit -p {name}: no such workflow parameter"
            values[name] = value
        scope = {f"workflow.parameters.{k}": v for k, v in values.items()}
        metadata = self.doc["metadata"]
        for kind in ("annotations", "labels"):  # operator.go setGlobalParameters
            scope.update({f"workflow.{kind}.{k}": v for k, v in metadata.get(kind, {}).items()})
        scope["workflow.name"] = self.name
        dag = self.templates[spec["entrypoint"]]["dag"]["tasks"]
        pods: dict[str, list[Pod]] = {}
        done: dict[str, bool] = {}  # task -> whether dependants may run
        for task in dag:
            for dep in task.get("dependencies", []):
                assert dep in done, f"{task['name']} listed before its dependency {dep}"
                if not done[dep]:
                    return Play(pods, "Failed", f"{dep} failed, so {task['name']} did not run")
            try:
                if "withParam" in task:
                    items = parse_with_param(substitute(task["withParam"], scope))
                    if not items:  # Argo skips the task; dependants that need its outputs fail
                        return Play(pods, "Failed", f"{task['name']}: withParam is empty")
                    runs = [
                        keep.get((task["name"], i)) or self._run_retrying(task, scope, item)
                        for i, item in enumerate(items)
                    ]
                else:
                    runs = [keep.get((task["name"], None)) or self._run_retrying(task, scope, None)]
            except Unresolved as exc:
                return Play(pods, "Error", f"{task['name']}: unable to resolve {{{{{exc}}}}}")
            pods[task["name"]] = runs
            ok = [p for p in runs if p.returncode == 0]
            continue_on_failed = task.get("continueOn", {}).get("failed", False)
            done[task["name"]] = len(ok) == len(runs) or continue_on_failed
            self._publish(task, runs, scope)
            if not done[task["name"]]:
                return Play(pods, "Failed", f"{task['name']} failed")
        failed = [p for runs in pods.values() for p in runs if p.returncode != 0]
        return Play(pods, "Failed" if failed else "Succeeded")

    def _publish(self, task: dict[str, Any], runs: list[Pod], scope: dict[str, str]) -> None:
        """Make ``tasks.<name>.outputs.parameters.<p>`` available, aggregated for a fan-out
        (``operator.go`` ``processAggregateNodeOutputs``: succeeded pods only, in item order)."""
        template = self.templates[task["template"]]
        names = [p["name"] for p in template.get("outputs", {}).get("parameters", [])]
        ok = [p for p in runs if p.returncode == 0]
        for name in names:
            key = f"tasks.{task['name']}.outputs.parameters.{name}"
            if "withParam" not in task:
                if ok:
                    scope[key] = ok[0].outputs[name]
                continue
            if not ok:
                continue  # nothing to aggregate: a reference to it is unresolvable
            scope[key] = aggregate([p.outputs[name] for p in ok], self.encoding)

    def _run_retrying(self, task: dict[str, Any], scope: dict[str, str], item: Any) -> Pod:
        """One node's pods: under the template's ``retryStrategy`` a failed pod runs again, at
        most ``limit`` more times (operator.go ``executeTemplate`` and ``processNodeRetries``;
        the backoff's waiting is not played)."""
        strategy = self.templates[task["template"]].get("retryStrategy") or {}
        limit = int(strategy.get("limit", 0))
        pod = self._run_task(task, scope, item)
        attempts: list[Pod] = []
        while pod.returncode != 0 and len(attempts) < limit:
            attempts.append(pod)
            pod = self._run_task(task, scope, item)
        pod.attempts = attempts
        return pod

    def _run_task(self, task: dict[str, Any], scope: dict[str, str], item: Any) -> Pod:
        local = dict(scope)
        if item is not None:
            local["item"] = item_text(item)
            if isinstance(item, dict):  # processItem: item.<key> is fmt %v of the value
                local.update({f"item.{k}": item_text(v) for k, v in item.items()})
        arguments = task.get("arguments", {})
        args = {a["name"]: substitute(a["value"], local) for a in arguments.get("parameters", [])}
        given = {a["name"]: substitute_all(a, local) for a in arguments.get("artifacts", [])}
        template = self.templates[task["template"]]
        declared = [p["name"] for p in template.get("inputs", {}).get("parameters", [])]
        assert sorted(declared) == sorted(args), (
            f"{task['name']}: arguments {sorted(args)} != inputs {declared}"
        )
        template = copy.deepcopy(template)
        for artifact in template.get("inputs", {}).get("artifacts", []):
            if artifact["name"] in given:  # the task's argument gives the artifact's location
                artifact.update(
                    {k: v for k, v in given.pop(artifact["name"]).items() if k != "name"}
                )
        assert not given, f"{task['name']}: arguments for undeclared artifacts {sorted(given)}"
        template_scope = {k: v for k, v in scope.items() if k.startswith("workflow.")}
        template_scope.update({f"inputs.parameters.{k}": v for k, v in args.items()})
        resolved = substitute_all(template, template_scope)
        shown = json.loads(go_marshal(item)) if item is not None else None
        pod = self._run_pod(task["name"], resolved, shown)
        pod.inputs = args
        pod.input_artifacts = copy.deepcopy(resolved.get("inputs", {}).get("artifacts", []))
        pod.desc = node_desc(item) if item is not None else ""
        return pod

    def _load_artifact(self, artifact: dict[str, Any], target: Path) -> str | None:
        """Write an input artifact into the pod, as Argo's init container does; an error text."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if "raw" in artifact:
            target.write_bytes(artifact["raw"]["data"].encode("utf-8"))
            return None
        assert set(artifact) <= {"name", "path", "s3", "optional"}, artifact
        assert set(artifact["s3"]) == {"key"}, "only key-only artifacts are played"
        key = artifact["s3"]["key"]
        stored = self.repository / key
        if stored.is_file():
            shutil.copyfile(stored, target)
        elif stored.is_dir() and any(stored.iterdir()):
            shutil.copytree(stored, target)
        elif not artifact.get("optional"):
            return f"failed to load artifact {artifact['name']}: key {key} does not exist"
        return None

    def _save_artifact(self, artifact: dict[str, Any], source: Path) -> str | None:
        """Store an output artifact under its key, unarchived (``archive: none``)."""
        assert artifact.get("archive") == {"none": {}}, "a tarred artifact would not load as is"
        assert set(artifact["s3"]) == {"key"}, "only key-only artifacts are played"
        if not source.exists():
            return None if artifact.get("optional") else f"{artifact['path']}: no such file"
        stored = self.repository / artifact["s3"]["key"]
        stored.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, stored, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, stored)
        self.last_stored[artifact["name"]] = stored
        return None

    def _run_pod(self, name: str, template: dict[str, Any], item: Any) -> Pod:
        self.pod_count += 1
        pod_root = self.root / f"pod-{self.pod_count}-{name}"
        (pod_root / "argo" / "staging").mkdir(parents=True)

        def in_pod(path: str) -> Path:
            assert path.startswith("/"), path
            return pod_root / path.lstrip("/")

        script = template["script"]
        assert script["command"] in (["python"], r_export.ARGO_COMMAND), script["command"]
        source_file = pod_root / "argo" / "staging" / "script"
        source_file.write_text(script["source"], encoding="utf-8")
        for artifact in template.get("inputs", {}).get("artifacts", []):
            error = self._load_artifact(artifact, in_pod(artifact["path"]))
            if error:  # the init container fails: the main container never starts
                return Pod(name, 1, "", error, item=item)
        env = container_env(script.get("env", []))
        for key, value in env.items():  # paths inside the pod
            if key.endswith(("_DIR", "_FILE")) and value.startswith("/"):
                env[key] = str(in_pod(value))
        env["PATH"] = os.environ.get("PATH", "")
        env.update(self.env)
        # Instrumentation, not Argo: what each cell printed, as the pod's log shows it but cut by
        # cell, for the comparison with the notebook (compare.compare_traces).
        env["NAAVRE_PRINTED_FILE"] = str(pod_root / "printed-by-cell.json")
        # workflowpod.go: a script template runs as its command with the script's path appended
        # (ExecutorScriptSourcePath); the image's python or Rscript is this machine's.
        program = sys.executable if script["command"][0] == "python" else r_scripts.rscript()
        proc = subprocess.run(
            [program, *script["command"][1:], str(source_file)],
            check=False,
            env=env,
            cwd=pod_root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        pod = Pod(name, proc.returncode, proc.stdout, proc.stderr, item=item)
        pod.folder = pod_root
        printed = pod_root / "printed-by-cell.json"
        if printed.exists():
            pod.printed = json.loads(printed.read_text(encoding="utf-8"))
        outputs = template.get("outputs", {})
        # postmain.go PostMain: output parameters are saved after the main container ended,
        # whether it failed or not (executor.go SaveParameters: a missing file is an error
        # unless valueFrom.default is given).
        for param in outputs.get("parameters", []):
            path = in_pod(param["valueFrom"]["path"])
            if path.exists():
                text = path.read_text(encoding="utf-8")
            elif "default" in param["valueFrom"]:
                text = param["valueFrom"]["default"]
            elif proc.returncode != 0:
                continue  # the node has failed already
            else:  # Argo fails the node when an output file is missing
                pod.returncode = 1
                pod.stderr += f"\noutput parameter file {param['valueFrom']['path']} missing"
                return pod
            # executor.go SaveParameters: "Trims off a single newline for user convenience"
            pod.outputs[param["name"]] = text.removesuffix("\n")
        if proc.returncode != 0:
            return pod
        self.last_stored = pod.stored
        for artifact in outputs.get("artifacts", []):
            error = self._save_artifact(artifact, in_pod(artifact["path"]))
            if error:
                pod.returncode = 1
                pod.stderr += "\n" + error
                return pod
        return pod


# -- helpers ------------------------------------------------------------------------------------


def export_and_play(
    nb: Any,
    tmp_path: Path,
    transport_mode: str,
    parameters: dict[str, str] | None = None,
) -> tuple[dict[str, Any], Play]:
    """Export ``nb`` with ``--values parameters|artifacts`` and play it (``transport_mode`` is
    one of :data:`TRANSPORTS`, or an aggregation behaviour alone for parameters)."""
    values, _, encoding = transport_mode.partition("/")
    if values in AGGREGATIONS:
        values, encoding = "parameters", values
    path = write_tmp(nb, tmp_path, "notebook.ipynb")
    spec = build_spec(nb, path.name)
    assert not spec["summary"]["errors"], spec["diagnostics"]
    text = export_argo(spec, ArgoOptions(values=values))
    (tmp_path / "pods").mkdir()
    return spec, ArgoPlayer(text, tmp_path / "pods", encoding or AGGREGATIONS[1]).play(parameters)


def notebook_context(
    spec: dict[str, Any], nb: Any, tmp_path: Path, parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    result = run_notebook(spec, nb, tmp_path / "notebook.ipynb", parameters or {})
    assert result["status"] == "ok", result["errors"]
    return result


def cell_stdout(result: dict[str, Any], indices: list[int]) -> str:
    """What the notebook printed in these cells (stream outputs on stdout)."""
    return "".join(
        o.get("text", "")
        for cell in result["cells"]
        if cell["index"] in indices
        for o in cell["outputs"]
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )


def _step_cells(spec: dict[str, Any], step_ids: list[str]) -> list[int]:
    return [c["index"] for s in spec["steps"] if s["id"] in step_ids for c in s["cells"]]


def handed_on(pod: Pod, name: str) -> Any:
    """Output ``name`` of a pod as the next pod gets it: the output parameter's text, or the file
    or folder stored in the artifact repository (a folder: its values in name order)."""
    name = argo_name(name)
    if name in pod.outputs:
        return transport.loads(pod.outputs[name].encode("utf-8"), stub_missing=True)
    stored = pod.stored[name]
    if stored.is_dir():
        # Batch files are named by item index (0, 1, ..., 10): in number order.
        files = sorted(stored.iterdir(), key=lambda p: (len(p.name), p.name))
        return [transport.load(str(p), stub_missing=True) for p in files]
    return transport.load(str(stored), stub_missing=True)


def batches_of(pod: Pod) -> list[Any]:
    """The splitter's batches: a JSON list of text-form values, or a folder of value files."""
    if "naavre-batches" in pod.outputs:
        texts = json.loads(pod.outputs["naavre-batches"])
        return [transport.loads(t.encode("ascii"), stub_missing=True) for t in texts]
    batches = handed_on(pod, "naavre-batches")
    assert isinstance(batches, list)
    if batches and isinstance(batches[0], RValue):
        return batches  # R values: in file order, which is batch order
    return sorted(batches, key=lambda b: b["index"])


def joined(parts: list[Any], keys: tuple[str, ...]) -> Any:
    """Per-batch parts joined as the local runner joins them (``runner.joiner``: by
    core/split.py, or for an R notebook by R's merge rule)."""
    return joiner(parts)(parts, keys)


def played_trace(spec: dict[str, Any], play: Play) -> dict[str, dict[str, Any]]:
    """What each step handed on in the played run, built as the local runner builds its trace
    (``runner._record_trace``): merged values for processor outputs, the whole split variable."""
    trace: dict[str, dict[str, Any]] = {}
    steps = {s["id"]: s for s in spec["steps"]}
    for task in plan_tasks(spec):
        if task.kind == "processors":
            results = [handed_on(p, "naavre-result") for p in play.pods[task.id]]
            for name in task.merged:
                step = task.merged_steps.get(name, task.steps[-1])
                trace.setdefault(step, {})[name] = joined(results, ("outputs", name))
            continue
        pod = play.only(task.id)
        for step_id in task.steps:
            entry = trace.setdefault(step_id, {})
            for name in steps[step_id].get("outputs", []):
                if task.kind == "splitter" and name == task.split_variable:
                    entry[name] = joined(batches_of(pod), ("items",))
                elif argo_name(name) in pod.outputs or argo_name(name) in pod.stored:
                    entry[name] = handed_on(pod, name)
    return trace


def played_comparison(spec: dict[str, Any], play: Play, nb_run: dict[str, Any]) -> dict[str, Any]:
    """``compare.compare_traces`` of the played run against the notebook, as ``run`` makes it."""
    printed = {
        k: v for pods in play.pods.values() if len(pods) == 1 for k, v in pods[0].printed.items()
    }
    played = {"status": "ok", "trace": played_trace(spec, play), "printed": printed}
    return compare_traces(spec, nb_run, played)


def differing(comparison: dict[str, Any]) -> set[tuple[str, str]]:
    """(step, variable) of every difference a comparison found."""
    return {(d["step"], d["variable"]) for d in comparison["differences"]}


def assert_same_as_notebook(spec: dict[str, Any], play: Play, nb_run: dict[str, Any]) -> None:
    """The comparison the local runner makes (``compare.compare_traces``) says "same", and every
    merger printed what the notebook printed in its cells."""
    assert play.phase == "Succeeded", play.message
    comparison = played_comparison(spec, play, nb_run)
    assert comparison["same"], (comparison["differences"], comparison["not_compared"])
    assert comparison["compared"] > 0
    for section in spec["sections"]:
        merger = section["merger"]
        assert play.only(merger).stdout == cell_stdout(nb_run, _step_cells(spec, [merger]))


# -- tests --------------------------------------------------------------------------------------

EXAMPLES = [("seed", tagged_seed_notebook)] + [
    (t, (lambda t=t: tagged_tutorial(t))) for t in TUTORIALS
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name,make", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_exported_example_gives_the_notebook_result(
    name: str, make: Any, encoding: str, tmp_path: Path
) -> None:
    nb = make()
    spec, play = export_and_play(nb, tmp_path, encoding)
    assert_same_as_notebook(spec, play, notebook_context(spec, nb, tmp_path))


def test_seed_merger_prints_the_seed_documents_items(tmp_path: Path) -> None:
    _, play = export_and_play(tagged_seed_notebook(), tmp_path, "json-strings")
    printed = play.only("retrieve-batches").stdout
    expected = [i / 42 for i in range(28)]
    assert f"Processed items: {expected}" in printed
    assert len(play.pods["process-batches"]) == 5


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_batch_count_parameter_is_read_at_run_time(encoding: str, tmp_path: Path) -> None:
    nb = tagged_seed_notebook()
    spec, play = export_and_play(nb, tmp_path, encoding, {"param_max_batch_count": "2"})
    assert len(play.pods["process-batches"]) == 2
    assert_same_as_notebook(
        spec, play, notebook_context(spec, nb, tmp_path, {"param_max_batch_count": 2})
    )


def test_item_count_parameter_override_reaches_the_header(tmp_path: Path) -> None:
    nb = tagged_tutorial("splitting-classic")
    spec, play = export_and_play(nb, tmp_path, "aggregatedJSONValueList", {"param_item_count": "9"})
    assert len(play.pods["process-item-list"]) == 9
    assert_same_as_notebook(
        spec, play, notebook_context(spec, nb, tmp_path, {"param_item_count": 9})
    )


SECTION = section_tags(1, "3")
SECTION[1].append("naavre:split:items")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_empty_list_still_gives_one_batch_and_a_merger_run(encoding: str, tmp_path: Path) -> None:
    nb = code_notebook(
        "param_n = 0",
        "items = list(range(param_n))\nlabel = 'x'",
        "out = [label + str(i) for i in items]",
        "print('merged:', out)",
        tags=SECTION,
    )
    spec, play = export_and_play(nb, tmp_path, encoding)
    assert len(play.pods["processor-1"]) == 1
    assert play.only("merger-1").stdout == "merged: []\n"
    assert_same_as_notebook(spec, play, notebook_context(spec, nb, tmp_path))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_merger_names_the_batch_whose_pod_failed(encoding: str, tmp_path: Path) -> None:
    nb = code_notebook(
        "import os",
        "items = list(range(9))\nbad = 4",
        "out = []\nfor i in items:\n    if i == bad:\n        raise RuntimeError('item 4 is broken')\n    out.append(i)",
        "print(out)",
        tags=SECTION,
    )
    _, play = export_and_play(nb, tmp_path, encoding)
    chain = play.pods["processor-1"]
    assert [p.returncode != 0 for p in chain] == [False, True, False]  # items 3..5 are batch 1
    assert "item 4 is broken" in chain[1].stderr
    merger = play.only("merger-1")  # continueOn: the merger runs after a failed pod ...
    assert merger.returncode != 0  # ... and fails, naming the missing batch
    assert "batch(es) 1 of 3 are missing" in merger.stderr
    assert play.phase == "Failed"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_cell_with_argo_braces_runs_exactly_as_written(encoding: str, tmp_path: Path) -> None:
    nb = code_notebook(
        'template = "run {{ workflow.name }} on {{item}}"',
        "items = list(range(4))\nprefix = template + ' }} {{ '",
        "out = [prefix + str(i) for i in items]",
        "print(out)",
        tags=SECTION,
    )
    spec, play = export_and_play(nb, tmp_path, encoding)
    nb_run = notebook_context(spec, nb, tmp_path)
    assert_same_as_notebook(spec, play, nb_run)
    assert "run {{ workflow.name }} on {{item}} }} {{ 0" in play.only("merger-1").stdout
    assert WORKFLOW_NAME not in play.only("merger-1").stdout


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_values_flow_between_two_sections_and_into_every_batch(
    encoding: str, tmp_path: Path
) -> None:
    nb = code_notebook(
        "param_scale = 3",
        "items = list(range(8))\nfacteur_é = {'k': [1, 2]}",
        "out = [x * param_scale + facteur_é['k'][1] for x in items]",
        "total = sum(out)\nprint(total)",
        "more = list(range(total % 5 + 4))",
        "again = [m + total for m in more]",
        "print(again)",
        tags={
            1: SECTION[1],
            2: ["naavre:processor"],
            3: ["naavre:merger"],
            4: ["naavre:splitter", "naavre:batch-count:param_scale"],
            5: ["naavre:processor"],
            6: ["naavre:merger"],
        },
    )
    spec, play = export_and_play(nb, tmp_path, encoding, {"param_scale": "2"})
    assert len(spec["sections"]) == 2
    assert_same_as_notebook(spec, play, notebook_context(spec, nb, tmp_path, {"param_scale": 2}))
    assert len(play.pods["processor-2"]) == 2


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_values_larger_than_an_environment_string_reach_the_pods(
    encoding: str, tmp_path: Path
) -> None:
    """Batches, broadcast values and aggregates over 128 KiB (Linux's limit for one environment
    string, which the player's subprocess enforces) travel as files of the inputs folder."""
    nb = code_notebook(
        "import os",
        "items = ['i' * 1000 for _ in range(200)]\npad = 'p' * 150_000",
        "out = [s.upper() + pad[:10] for s in items]",
        "print(len(out), sum(map(len, out)))",
        tags=SECTION,
    )
    spec, play = export_and_play(nb, tmp_path, encoding)
    batch_sizes = [
        (p.folder / "tmp/naavre/inputs/naavre-batch").stat().st_size
        for p in play.pods["processor-1"]
        if p.folder is not None
    ]
    assert min(batch_sizes) > 60_000 and max(batch_sizes) < 128 * 1024
    assert len(play.pods["processor-1"]) == 3
    assert_same_as_notebook(spec, play, notebook_context(spec, nb, tmp_path))
    assert play.only("merger-1").stdout == "200 202000\n"


def test_player_fails_on_an_unresolvable_reference(tmp_path: Path) -> None:
    nb = tagged_seed_notebook()
    text = export_argo(build_spec(nb, "seed.ipynb")).replace(
        "{{workflow.parameters.param_item_count}}", "{{workflow.parameters.param_nope}}", 1
    )
    (tmp_path / "pods").mkdir()
    play = ArgoPlayer(text, tmp_path / "pods").play()
    assert play.phase == "Error" and "param_nope" in play.message


def test_player_substitutes_inside_script_sources(tmp_path: Path) -> None:
    """The player templates sources as Argo does, so the brace test above can fail."""
    nb = tagged_seed_notebook()
    spec = build_spec(nb, "seed.ipynb")
    doc = yaml.safe_load(export_argo(spec))
    merger = next(t for t in doc["spec"]["templates"] if t["name"] == "retrieve-batches")
    merger["script"]["source"] = 'print("{{ workflow.name }}")\n'
    (tmp_path / "pods").mkdir()
    play = ArgoPlayer(yaml.safe_dump(doc), tmp_path / "pods").play()
    assert play.only("retrieve-batches").stdout == WORKFLOW_NAME + "\n"


# -- every tagged notebook file of the test suite -------------------------------------------------

FILE_CASES = [path for path, _ in tagged_notebook_files(python_only=True, runnable=True)]


def batch_index(pod: Pod) -> int | None:
    """The batch a processor pod ran: its item is the batch (a text-form value) or its listing."""
    if isinstance(pod.item, str):
        # stand-ins for classes of the notebook (the test process is not the steps' __main__)
        return int(transport.loads(pod.item.encode("ascii"), stub_missing=True)["index"])
    return pod.item["index"] if isinstance(pod.item, dict) else None


def _failed_batches(play: Play) -> set[tuple[str, int | None]]:
    """(task, batch index) of every failed pod, except mergers (they fail for missing batches)."""
    failed = set()
    for task, pods in play.pods.items():
        for pod in pods:
            if pod.returncode != 0 and "are missing" not in pod.stderr:
                failed.add((task, batch_index(pod)))
    return failed


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("path", FILE_CASES, ids=[p.name for p in FILE_CASES])
def test_every_tagged_test_notebook_plays_like_the_local_workflow(
    path: Path, encoding: str, tmp_path: Path
) -> None:
    """Success: the comparison with the notebook gives the local run's verdict, with the same
    differences (none, or e.g. a merger that prints its process id). Failure: the same pods fail
    as in the local run."""
    from naavre_batch_ext.core.notebook import load_notebook

    spec, play = export_and_play(load_notebook(path), tmp_path, encoding)
    local, nb_run = reference_runs(path)[1:]
    if local["status"] == "ok":
        assert nb_run is not None and nb_run["status"] == "ok", nb_run
        expected = compare_traces(spec, nb_run, local)
        if expected["same"]:
            assert_same_as_notebook(spec, play, nb_run)
            return
        assert play.phase == "Succeeded", play.message
        played = played_comparison(spec, play, nb_run)
        assert not played["same"]
        assert differing(played) == differing(expected) != set()
        return
    # "Error" when every pod of a fan-out failed: Argo cannot resolve the empty aggregate.
    assert play.phase in ("Failed", "Error")
    expected = {(e["task"], e.get("batch", {}).get("index")) for e in local["errors"]}
    assert _failed_batches(play) == expected


# -- the models of Argo's and Kubernetes' code, checked on their own ------------------------------


def test_aggregated_json_value_list_re_encodes_objects_through_float64_sorted_and_html_escaped() -> (
    None
):
    """operator.go aggregatedJSONValueList / tryJSONUnmarshal, Go encoding/json."""
    values = ['{"z": [0.0, 2.0, 1e21], "a": "<b> & c", "n": 1152921504606846977}', "[1.50]"]
    assert aggregated_json_value_list(values) == (
        '[{"a":"\\u003cb\\u003e \\u0026 c","n":1152921504606847000,"z":[0,2,1e+21]},[1.5]]'
    )


def test_aggregated_json_value_list_keeps_strings_when_one_value_is_not_an_object() -> None:
    """tryJSONUnmarshal fails as soon as one value is a string, number or not JSON."""
    values = ['{"b": 0.0}', '"text"']
    assert json.loads(aggregated_json_value_list(values)) == values
    assert json.loads(aggregate(values, "json-strings")) == values


def test_item_of_a_string_list_keeps_its_json_escapes() -> None:
    """processItem -> Item.String(): quotes stripped, escapes left (only <, >, & fixed)."""
    (item,) = parse_with_param(json.dumps(['line 1\nsays "<hi>"']))
    assert item_text(item) == 'line 1\\nsays \\"<hi>\\"'


def test_item_of_an_object_list_is_go_json_with_raw_numbers() -> None:
    """processItem for a map: json.Marshal(map[string]Item): sorted keys, numbers as written."""
    (item,) = parse_with_param('[{"stop": 2, "items": [0.0, "<"], "index": 0}]')
    assert item_text(item) == '{"index":0,"items":[0.0,"\\u003c"],"stop":2}'


@pytest.mark.parametrize(
    "value,expanded",
    [
        ("cost$$", "cost$"),
        ("$(A)/data", "a-value/data"),
        ("$(UNDEFINED)/data", "$(UNDEFINED)/data"),
        ("$$(A)", "$(A)"),
        ("$x $", "$x $"),
        ("$(A", "$(A"),
    ],
)
def test_kubelet_expands_env_values(value: str, expanded: str) -> None:
    """expansion/expand.go Expand with the variables defined before in the env list."""
    env = container_env([{"name": "A", "value": "a-value"}, {"name": "B", "value": value}])
    assert env["B"] == expanded


# -- what the models show ------------------------------------------------------------------------


def test_results_reach_the_merger_byte_for_byte_where_json_objects_would_not(
    tmp_path: Path,
) -> None:
    """Issue 11 item 4. Under Argo v3.5.11+ (aggregatedJSONValueList) the processors' results,
    text-form values, come back exactly as the pods wrote them; the same results sent as JSON
    objects (the export before) come back re-encoded by Go: 0.0 as 0."""
    spec, play = export_and_play(tagged_seed_notebook(), tmp_path, "aggregatedJSONValueList")
    texts = [p.outputs["naavre-result"] for p in play.pods["process-batches"]]
    assert json.loads(aggregate(texts, "aggregatedJSONValueList")) == texts
    objects = [json.dumps(transport.loads(t.encode("ascii"))) for t in texts]
    back = json.loads(aggregate(objects, "aggregatedJSONValueList"))
    items = [x for r in back for batch in r["outputs"]["processed_batches"] for x in batch]
    assert repr(items).startswith("[0, 0.023809523809523808,")
    before = json.loads(aggregate(objects, "json-strings"))  # before v3.5.11: unchanged
    assert before == objects
    merged = play.only("retrieve-batches").stdout
    assert "Processed items: [0.0, 0.023809523809523808," in merged


PARAMETER_NB = code_notebook(
    'param_price = "cost"\nparam_path = "data"',
    "items = [param_price, param_path]",
    "out = [x + '!' for x in items]",
    "print(out)",
    tags=SECTION,
)
WRITTEN = {"param_price": "cost$$", "param_path": "$(NAAVRE_PARAM_param_price)/data"}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_parameters_with_dollar_signs_arrive_as_written(encoding: str, tmp_path: Path) -> None:
    spec, play = export_and_play(PARAMETER_NB, tmp_path, encoding, WRITTEN)
    assert play.only("merger-1").stdout == ("['cost$$!', '$(NAAVRE_PARAM_param_price)/data!']\n")
    assert_same_as_notebook(spec, play, notebook_context(spec, PARAMETER_NB, tmp_path, WRITTEN))


def test_parameters_in_env_values_would_be_rewritten_by_kubernetes(tmp_path: Path) -> None:
    """Why parameters are files: the same values through env[].value (the old export) change."""
    path = write_tmp(PARAMETER_NB, tmp_path, "notebook.ipynb")
    doc = yaml.safe_load(export_argo(build_spec(PARAMETER_NB, path.name)))
    for template in doc["spec"]["templates"]:
        if "script" in template:
            template["inputs"]["artifacts"] = [
                a for a in template["inputs"]["artifacts"] if "naavre-parameters" not in a["path"]
            ]
            template["script"]["env"] += [
                {"name": f"NAAVRE_PARAM_{n}", "value": "{{workflow.parameters." + n + "}}"}
                for n in ("param_price", "param_path")
            ]
    (tmp_path / "pods").mkdir()
    play = ArgoPlayer(yaml.safe_dump(doc), tmp_path / "pods").play(WRITTEN)
    assert play.only("merger-1").stdout == "['cost$!', 'cost$/data!']\n"


# -- data of real size: artifacts, and the parameters' limit -------------------------------------

TABLE_NB = code_notebook(
    "import numpy as np\nimport pandas as pd",
    "n = 1_250_000\n"
    "table = pd.DataFrame({'x': np.random.default_rng(7).random(n), 'y': np.linspace(0, 1, n)})\n"
    "items = list(range(6))",
    "picked = [float(table.y.iloc[i * 1000]) for i in items]",
    "print(len(table), table.x.dtype, float(table.y.sum()), picked)",
    tags={**section_tags(1, "3"), 1: [*section_tags(1, "3")[1], "naavre:split:items"]},
)
"""A 20 MB DataFrame (two float64 columns of 1.25 million rows) handed to every processor and to
the merger."""


def test_a_20_mb_dataframe_passes_between_steps_as_artifacts(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    spec, play = export_and_play(TABLE_NB, tmp_path, "artifacts")
    assert play.phase == "Succeeded", play.message
    stored = tmp_path / "pods" / "artifact-repository" / WORKFLOW_NAME / "splitter-1" / "table"
    assert stored.stat().st_size > 20_000_000  # through the repository, as a file
    n = 1_250_000
    x = np.random.default_rng(7).random(n)
    expected = pd.DataFrame({"x": x, "y": np.linspace(0, 1, n)})
    pd.testing.assert_frame_equal(transport.load(str(stored)), expected, check_exact=True)
    nb_run = notebook_context(spec, TABLE_NB, tmp_path)
    assert play.only("merger-1").stdout == cell_stdout(nb_run, _step_cells(spec, ["merger-1"]))
    assert len(play.pods["processor-1"]) == 3


def test_a_value_over_the_parameter_limit_fails_naming_it_and_the_artifacts_option(
    tmp_path: Path,
) -> None:
    pytest.importorskip("pandas")
    _, play = export_and_play(TABLE_NB, tmp_path, "parameters/aggregatedJSONValueList")
    splitter = play.only("splitter-1")
    assert splitter.returncode != 0 and play.phase == "Failed"
    assert "variable table is 2" in splitter.stderr  # 20,000,000-odd bytes
    assert f"over the limit of {argo.PARAMETER_VALUE_LIMIT:,} bytes" in splitter.stderr
    assert "--values artifacts" in splitter.stderr


AWKWARD_NB = code_notebook(
    "items = ['<b> & \"q\"', 'back\\\\u003cslash \\\\u0026 \\\\\\\\u003e', 'line\\nbreak\\ttab', 'é ✓', "
    "'\\\\', 0.0, 2**60 + 1, -0.0]",
    "out = [repr(x) for x in items]",
    "print(out)",
    tags={**section_tags(0, "3"), 0: [*section_tags(0, "3")[0], "naavre:split:items"]},
)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_batches_with_escapes_html_characters_and_floats_arrive_exactly(
    encoding: str, tmp_path: Path
) -> None:
    """The batch reaches a processor through withParam's item (processItem -> Item.String, which
    keeps JSON escapes and util/json/fix.go, which unescapes <, > and &): the Argo prologue undoes
    both, even for a text that holds a backslash followed by u003c."""
    spec, play = export_and_play(AWKWARD_NB, tmp_path, encoding)
    assert_same_as_notebook(spec, play, notebook_context(spec, AWKWARD_NB, tmp_path))
