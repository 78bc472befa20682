"""Compare what crossed each step boundary in notebook context with the workflow context.

The only normalisation is JSON's (tuples become lists): both traces are JSON values already, so a
difference here is a difference the next step would see. Numbers compare exactly and by type
(``1`` is not ``1.0``, ``true`` is not ``1``), because the same code on the same inputs gives the same
floats; anything else means the workflow computed something else.
"""

from __future__ import annotations

import json
from typing import Any

from .step_runtime import with_article

__all__ = ["compare_traces", "first_difference", "format_path", "json_kind"]

_MISSING = object()


def _normalise(value: Any) -> Any:
    return json.loads(json.dumps(value))


def format_path(root: str, keys: list[int | str]) -> str:
    """``processed_batches[2][1]`` / ``config["name"]``."""
    return root + "".join(f"[{k}]" if isinstance(k, int) else f"[{json.dumps(k)}]" for k in keys)


def json_kind(value: Any) -> str | None:
    """The JSON type of a Python value (``null``, ``bool``, ``int``, ``float``, ``str``, ``list``,
    ``dict``), or None for anything JSON cannot hold.

    One vocabulary for the spec's parameter ``type`` and for what the comparison calls a type
    change: ``bool`` is checked before ``int`` because ``True`` is an ``int`` to Python, not to JSON.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return None


def _kind(value: Any) -> str:
    return json_kind(value) or type(value).__name__


def first_difference(a: Any, b: Any) -> tuple[list[int | str], Any, Any] | None:
    """The first path (depth first, in order) where two JSON values differ, with both values there.

    A missing list element or dict key shows as the string ``"<missing>"`` on that side.
    """
    stack: list[tuple[list[int | str], Any, Any]] = [([], a, b)]
    while stack:
        path, x, y = stack.pop()
        if _kind(x) != _kind(y):
            return path, x, y
        if isinstance(x, list):
            if len(x) != len(y):
                common = min(len(x), len(y))
                for i in range(common):
                    diff = first_difference(x[i], y[i])
                    if diff is not None:
                        return path + [i] + diff[0], diff[1], diff[2]
                return (
                    path + [common],
                    x[common] if common < len(x) else "<missing>",
                    y[common] if common < len(y) else "<missing>",
                )
            stack.extend((path + [i], x[i], y[i]) for i in reversed(range(len(x))))
        elif isinstance(x, dict):
            keys = list(x) + [k for k in y if k not in x]
            items = []
            for key in keys:
                if key not in x or key not in y:
                    return path + [key], x.get(key, "<missing>"), y.get(key, "<missing>")
                items.append((path + [key], x[key], y[key]))
            stack.extend(reversed(items))
        elif x != y:
            return path, x, y
    return None


def compare_traces(
    spec: dict[str, Any], notebook_run: dict[str, Any], workflow_run: dict[str, Any]
) -> dict[str, Any]:
    """For every variable that crosses a step boundary, the workflow value against the notebook's.

    Returns ``{"same", "compared", "differences", "not_compared"}``; ``same`` is true only when
    every variable the workflow handed on was compared and equal (and neither run failed).
    Values a processor chain keeps to itself (one processor step to the next, per batch) are
    listed in ``not_compared``: they never cross a process boundary and are per batch, not whole.
    """
    nb_trace = notebook_run.get("trace", {})
    wf_trace = workflow_run.get("trace", {})
    not_json = {(x["step"], x["variable"]): x for x in notebook_run.get("not_json", [])}
    differences: list[dict[str, Any]] = []
    not_compared: list[dict[str, Any]] = []
    compared = 0
    for step in spec["steps"]:
        sid = step["id"]
        wf_values = wf_trace.get(sid, {})
        nb_values = nb_trace.get(sid, {})
        for name in step.get("outputs", []):
            if name not in wf_values:
                reason = (
                    "kept inside the processor chain (per batch)"
                    if step["role"] == "processor" and workflow_run.get("status") == "ok"
                    else "the workflow run did not reach this step"
                )
                not_compared.append({"step": sid, "variable": name, "reason": reason})
                continue
            if name not in nb_values:
                bad = not_json.get((sid, name))
                reason = (
                    f"the notebook value is {with_article(bad['type'])}, not JSON"
                    if bad
                    else "the notebook run did not reach this step"
                )
                not_compared.append({"step": sid, "variable": name, "reason": reason})
                continue
            compared += 1
            nb_value = _normalise(nb_values[name])
            wf_value = _normalise(wf_values[name])
            diff = first_difference(nb_value, wf_value)
            if diff is not None:
                path, a, b = diff
                differences.append(
                    {
                        "step": sid,
                        "variable": name,
                        "path": format_path(name, path),
                        "notebook": a,
                        "workflow": b,
                    }
                )
    ran_fully = notebook_run.get("status") == "ok" and workflow_run.get("status") == "ok"
    unexplained = [n for n in not_compared if not n["reason"].startswith("kept inside")]
    return {
        "same": ran_fully and not differences and not unexplained,
        "compared": compared,
        "differences": differences,
        "not_compared": not_compared,
    }
