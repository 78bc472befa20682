"""The one generator of step scripts: a spec becomes tasks, each task one standalone Python script.

A *task* is what runs in one OS process (locally) or one pod (Argo): a step outside a section, a
section's splitter, a section's processor chain (all its processor steps fused, run once per batch)
or its merger. The local runner (:mod:`naavre_batch_ext.engines.runner`) and the Argo exporter embed the text
of :func:`task_script` byte for byte, so what a user checks locally is what the cluster runs.

Scripts need only Python 3's standard library. They carry the runtime from
:mod:`naavre_batch_ext.steps.step_runtime` and the split rule from :mod:`naavre_batch_ext.core.split` as source
(one implementation, pasted, not re-written), and the user's cells as escaped string literals, so a
script never contains two curly braces in a row, which Argo's templating would rewrite. Inputs and
outputs are value files of :mod:`naavre_batch_ext.steps.transport` in two folders (docs/running.md).
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import Any

from ..core import split
from . import step_runtime, transport

__all__ = [
    "RESERVED_BATCHES",
    "RESERVED_BATCH_COUNT",
    "RESERVED_RESULT",
    "Task",
    "TaskInput",
    "header_chunks",
    "plan_tasks",
    "runtime_source",
    "script_prefix",
    "task_payload",
    "task_payload_text",
    "task_script",
]

RESERVED_BATCHES = step_runtime.RESERVED_BATCHES
"""Splitter output: the list of batches ``{"index", "start", "stop", "items"}`` (at least one)."""
RESERVED_BATCH_COUNT = step_runtime.RESERVED_BATCH_COUNT
"""Splitter output: how many batches (k), which the merger checks the results against."""
RESERVED_RESULT = step_runtime.RESERVED_RESULT
"""Processor-chain output: ``{"index": i, "outputs": {merged variable: per-batch list}}``."""

HASH_SEED = "0"
"""``PYTHONHASHSEED`` of every step, in every engine (local runs, the notebook context's kernel,
the Argo and CWL exports): str and bytes hashes, and with them the order in which a set of strings
iterates and prints, are then the same in every process, so ``print(set_of_strings)`` in a merger
prints the same line in the notebook, locally, on Argo and in cwltool."""


@dataclass(frozen=True)
class TaskInput:
    """A value a task reads whole from an earlier task's outputs.

    ``kind`` is ``data`` (step to step) or ``broadcast`` (into a processor chain, the same value
    for every batch). The split variable and merged values are not listed here: they arrive as the
    batch and as the batch results.
    """

    name: str
    task: str
    kind: str


@dataclass(frozen=True)
class Task:
    """One unit that runs in one process or pod; see docs/running.md for every field."""

    id: str
    kind: str  # "step" | "splitter" | "processors" | "merger"
    steps: tuple[str, ...]
    section: int | None
    inputs: tuple[TaskInput, ...]
    outputs: tuple[str, ...]
    split_variable: str | None = None
    batch_count: dict[str, Any] | None = None
    merged: tuple[str, ...] = ()
    splitter: str | None = None
    processors: str | None = None
    output_steps: dict[str, str] = field(default_factory=dict)
    merged_steps: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists instead of tuples), for the REST API and the run record."""
        data = asdict(self)
        return json.loads(json.dumps(data))


class PlanError(ValueError):
    """The spec cannot be turned into tasks (it has analysis errors, or is inconsistent)."""


def plan_tasks(spec: dict[str, Any]) -> list[Task]:
    """The tasks of a spec in run order, each input resolved to the task that provides it.

    A name is provided by the latest earlier task whose steps output it; a merger also passes on
    its section's merged values, so later tasks read them from the merger.
    """
    if spec.get("summary", {}).get("errors"):
        raise PlanError("the notebook has analysis errors; fix them before running or exporting")
    steps = spec["steps"]
    sections = {s["index"]: s for s in spec.get("sections", [])}
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    for step in steps:
        section = step.get("section")
        role = step["role"]
        if section is None:
            groups.append(("step", [step]))
        elif role == "processor":
            if groups and groups[-1][0] == "processors" and groups[-1][1][0]["section"] == section:
                groups[-1][1].append(step)
            else:
                groups.append(("processors", [step]))
        elif role in ("splitter", "merger"):
            groups.append((role, [step]))
        else:
            raise PlanError(f"step {step['id']}: unknown role {role!r}")

    provider: dict[str, str] = {}
    tasks: list[dict[str, Any]] = []
    splitter_of: dict[int, str] = {}
    chain_of: dict[int, str] = {}
    chain_merged_steps: dict[int, dict[str, str]] = {}
    for kind, members in groups:
        first = members[0]
        section_index = first.get("section")
        section = sections.get(section_index) if section_index is not None else None
        task_id = first["id"]
        skip: set[str] = set()
        merged: tuple[str, ...] = ()
        if kind == "processors":
            assert section is not None
            skip.add(section["split_variable"])
            merged = tuple(section.get("merged", []))
        if kind == "merger":
            assert section is not None
            merged = tuple(section.get("merged", []))
            skip.update(merged)
        inputs: list[TaskInput] = []
        seen: set[str] = set()
        internal: set[str] = set()
        for step in members:
            for name in step.get("inputs", []):
                if name in internal or name in skip or name in seen:
                    continue
                if name not in provider:
                    raise PlanError(f"step {step['id']}: no earlier step provides input {name}")
                seen.add(name)
                inputs.append(
                    TaskInput(name, provider[name], "broadcast" if kind == "processors" else "data")
                )
            internal.update(step.get("outputs", []))
        output_steps: dict[str, str] = {}
        for step in members:
            for name in step.get("outputs", []):
                output_steps[name] = step["id"]
        if kind == "merger" and section_index in chain_merged_steps:
            merged_steps = dict(chain_merged_steps[section_index])
        else:
            merged_steps = {n: output_steps.get(n, task_id) for n in merged}
        if kind == "splitter":
            assert section is not None and section_index is not None
            splitter_of[section_index] = task_id
        if kind == "processors":
            assert section_index is not None
            chain_of[section_index] = task_id
            chain_merged_steps[section_index] = merged_steps
        tasks.append(
            {
                "id": task_id,
                "kind": kind,
                "steps": tuple(s["id"] for s in members),
                "section": section_index,
                "inputs": tuple(inputs),
                "provides": set(output_steps) | (set(merged) if kind == "merger" else set()),
                "split_variable": section["split_variable"] if section and kind != "step" else None,
                "batch_count": first.get("batch_count") if kind == "splitter" else None,
                "merged": merged if kind in ("processors", "merger") else (),
                "splitter": (
                    splitter_of.get(section_index)
                    if section_index is not None and kind in ("processors", "merger")
                    else None
                ),
                "processors": (
                    chain_of.get(section_index)
                    if section_index is not None and kind == "merger"
                    else None
                ),
                "output_steps": output_steps,
                "merged_steps": merged_steps,
            }
        )
        if kind != "processors":
            for name in tasks[-1]["provides"]:
                provider[name] = task_id
        else:
            for name in merged:  # only through the merger; nothing later reads the chain directly
                provider.pop(name, None)
    wanted: dict[str, set[str]] = {}
    for task in tasks:
        for item in task["inputs"]:
            wanted.setdefault(item.task, set()).add(item.name)
    result = []
    for task in tasks:
        provides = task.pop("provides")
        outputs = tuple(sorted(wanted.get(task["id"], set()) & provides))
        task["output_steps"] = {n: s for n, s in task["output_steps"].items() if n in outputs}
        for n in task["merged"]:
            if task["kind"] == "merger" and n in outputs:
                task["output_steps"].setdefault(n, task["id"])
        result.append(Task(outputs=outputs, **task))
    return result


def header_chunks(source: str, parameters: list[str]) -> list[tuple[int, int, list[str]]]:
    """Cut a header cell into ``(first_line, last_line, parameters_set)`` chunks.

    Each chunk ends right after a top-level statement that assigns one of ``parameters``, so the run
    can apply the parameter's value before the next statement runs. Statements sharing a line are
    kept together. A cell that does not parse is one chunk (running it reports the syntax error).
    """
    lines = source.splitlines(True)
    total = len(lines)
    if total == 0:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [(1, total, [])]
    wanted = set(parameters)
    chunks: list[tuple[int, int, list[str]]] = []
    start = 1
    pending: list[str] = []
    body = tree.body
    for i, stmt in enumerate(body):
        pending += [n for n in _assigned_names(stmt) if n in wanted and n not in pending]
        end = stmt.end_lineno or stmt.lineno
        next_starts = body[i + 1].lineno if i + 1 < len(body) else None
        if pending and (next_starts is None or next_starts > end):
            chunks.append((start, end, pending))
            start, pending = end + 1, []
    if start <= total:
        chunks.append((start, total, []))
    return chunks


def _assigned_names(stmt: ast.stmt) -> list[str]:
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    names: list[str] = []
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                names.append(node.id)
    return names


def _cells(refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"index": c["index"], "source": c["source"]} for c in refs]


def notebook_file_name(spec: dict[str, Any]) -> str:
    """The notebook's file name as tracebacks show it (``<name.ipynb cell 6>``)."""
    nb = spec.get("notebook", {})
    path = nb.get("path") or f"{nb.get('name', 'notebook')}.ipynb"
    return PurePath(path).name


def task_payload(spec: dict[str, Any], task: Task) -> dict[str, Any]:
    """Everything a task's script needs from the spec, as plain JSON."""
    parameters = spec.get("parameters", [])
    header = []
    for cell in spec.get("header", {}).get("cells", []):
        names = [p["name"] for p in parameters if p.get("cell_index") == cell["index"]]
        header.append(
            {
                "index": cell["index"],
                "source": cell["source"],
                "chunks": [list(c) for c in header_chunks(cell["source"], names)],
            }
        )
    by_id = {s["id"]: s for s in spec["steps"]}
    return {
        "id": task.id,
        "kind": task.kind,
        "notebook": notebook_file_name(spec),
        "section": task.section,
        "parameters": {
            p["name"]: {"default": p["default"], "type": p.get("type")} for p in parameters
        },
        "header": header,
        "steps": [
            {"id": sid, "role": by_id[sid]["role"], "cells": _cells(by_id[sid]["cells"])}
            for sid in task.steps
        ],
        "inputs": [asdict(i) for i in task.inputs],
        "outputs": list(task.outputs),
        "split_variable": task.split_variable,
        "batch_count": task.batch_count,
        "merged": list(task.merged),
        "merged_steps": dict(task.merged_steps),
        "output_steps": dict(task.output_steps),
    }


_SURROGATE = re.compile("[\ud800-\udfff]")


def python_literal(text: str) -> str:
    """A Python string literal for ``text`` with no curly brace in it (they become ``\\u007b/d``)."""
    literal = json.dumps(text, ensure_ascii=False)
    literal = literal.replace("{", "\\u007b").replace("}", "\\u007d")
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", literal)


_FUTURE = "from __future__ import annotations\n"


@lru_cache(maxsize=1)
def runtime_source() -> str:
    """What every script carries before its own task: :mod:`~naavre_batch_ext.steps.step_runtime`, then
    the value transport (:mod:`~naavre_batch_ext.steps.transport`), verbatim (the transport's
    ``from __future__`` line dropped, as it may only open a file), and ``_t`` bound to them."""
    runtime = inspect.getsource(step_runtime)
    _check_braces(runtime, "naavre_batch_ext/steps/step_runtime.py")
    codec = inspect.getsource(transport)
    _check_braces(codec, "naavre_batch_ext/steps/transport.py")
    if _FUTURE not in codec:
        raise AssertionError("naavre_batch_ext/steps/transport.py must use postponed annotations")
    codec = codec.replace(_FUTURE, "", 1)
    return (
        runtime
        + "\n\n# The value transport, verbatim from naavre_batch_ext/steps/transport.py.\n"
        + codec
        + "\n\n_t = sys.modules[__name__]\n"
    )


@lru_cache(maxsize=1)
def rules_source() -> str:
    """The split rule (:mod:`~naavre_batch_ext.core.split`) and the batch-count rule
    (:func:`naavre_batch_ext.core.spec.resolve_batch_count`), verbatim, for pasting into scripts."""
    from ..core import spec as spec_module

    parts = ["from __future__ import annotations\n"]
    for func in (
        split._check_batch_count,
        split.batch_ranges,
        split.split_batches,
        split.merge_batches,
        split.splittable_kind,
        spec_module.resolve_batch_count,
    ):
        parts.append("\n\n" + inspect.getsource(func))
    return "".join(parts)


def _check_braces(text: str, where: str) -> None:
    for pair in ("{{", "}}"):
        if pair in text:
            line = text[: text.index(pair)].count("\n") + 1
            raise AssertionError(
                f"{where} line {line} contains {pair!r}, which Argo would template"
            )


@lru_cache(maxsize=1)
def script_prefix() -> str:
    """The part of every step script that does not depend on the task: the shebang, the step
    runtime and value transport (:func:`runtime_source`) and the split and batch-count rules.

    :func:`task_script` is this text followed by :func:`task_payload_text`; the Argo export keeps
    it once per workflow and each task only its payload. Printable ASCII (and ``\\n``) only, and
    no ``{{`` or ``}}``, so that Argo can substitute it into a template unchanged.
    """
    text = (
        "#!/usr/bin/env python3\n"
        "# naavre-batch step script, generated from the notebook's cells by naavre-batch-ext;\n"
        "# edit the notebook, not this file.\n"
        "# Inputs and outputs: folders NAAVRE_INPUTS_DIR and NAAVRE_OUTPUTS_DIR (docs/running.md).\n"
        + runtime_source()
        + "\n\n# The split rule and batch-count rule, verbatim from naavre_batch_ext (split.py, spec.py).\n"
        + f"RULES_SOURCE = {python_literal(rules_source())}\n"
    )
    _check_braces(text, "the step runtime")
    bad = sorted({c for c in text if not (" " <= c <= "~" or c == "\n")})
    if bad:
        raise AssertionError(f"the step runtime contains characters outside printable ASCII: {bad}")
    return text


def task_payload_text(spec: dict[str, Any], task: Task) -> str:
    """The task's own end of its script: its payload (header, cells, wiring) and the call that runs
    it; what follows :func:`script_prefix` in :func:`task_script`."""
    payload = json.dumps(task_payload(spec, task), ensure_ascii=False, sort_keys=True, indent=1)
    text = (
        f"\n# The task {task.id} ({task.kind}): header, cells (escaped string literals) and wiring.\n"
        + f"TASK = json.loads({python_literal(payload)})\n"
        + '\nif __name__ == "__main__":\n    sys.exit(execute(TASK, RULES_SOURCE))\n'
    )
    _check_braces(text, f"script of task {task.id}")
    return text


def task_script(spec: dict[str, Any], task: Task) -> str:
    """The standalone script of one task (deterministic: same spec, same bytes): Python 3, or
    ``Rscript`` for an R notebook (:mod:`naavre_batch_ext.steps.r_scripts`)."""
    from . import r_scripts

    if r_scripts.is_r(spec):
        return r_scripts.r_task_script(spec, task)
    return script_prefix() + task_payload_text(spec, task)
