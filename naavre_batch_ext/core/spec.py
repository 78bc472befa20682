"""The workflow spec: the one JSON document every consumer (runner, Argo export, REST, UI) reads.

``build_spec`` serialises an :class:`~naavre_batch_ext.core.analysis.Analysis` in a fixed key order and
``dumps_spec`` prints it the same way every time, so the same notebook gives the same spec text byte
for byte (specs can be diffed and committed). The shape is checked by the JSON Schema shipped in
``naavre_batch_ext/core/schemas/spec.schema.json`` (draft 2020-12), documented in docs/spec.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePath
from typing import Any

from .. import SPEC_API_VERSION
from .analysis import Analysis, analyse

__all__ = [
    "SpecError",
    "build_spec",
    "dumps_spec",
    "load_schema",
    "resolve_batch_count",
    "spec_from_analysis",
    "validate_spec",
]


class SpecError(ValueError):
    """A spec that does not match the schema; ``path`` is the JSON path of the first problem."""

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(f"{path}: {message}")
        self.message = message
        self.path = path


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The spec's JSON Schema, read once from package data."""
    text = (
        resources.files("naavre_batch_ext.core")
        .joinpath("schemas/spec.schema.json")
        .read_text("utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def spec_from_analysis(analysis: Analysis, path: str) -> dict[str, Any]:
    """Serialise an analysis; keys in a fixed order for a deterministic text."""
    diagnostics = [d.to_json() for d in analysis.diagnostics]
    return {
        "apiVersion": SPEC_API_VERSION,
        "notebook": {
            "name": analysis.name,
            "path": path,
            "kernel": analysis.kernel,
            "language": analysis.language,
        },
        "parameters": [
            {
                "name": p.name,
                "default": p.default,
                "type": p.type,
                "cell_index": p.cell_index,
                "cell_id": p.cell_id,
                "line": p.line,
            }
            for p in analysis.parameters
        ],
        "header": {
            "cells": [c.ref() for c in analysis.header_cells],
            "names": list(analysis.header_names),
            "imports": list(analysis.header_imports),
        },
        "steps": [
            {
                "id": s.id,
                "role": s.role,
                "title": s.title,
                "cells": [c.ref() for c in s.cells],
                "section": s.section,
                "inputs": list(s.inputs),
                "outputs": list(s.outputs),
                "batch_count": dict(s.batch_count) if s.batch_count else None,
                "split_variable": s.split_variable,
                "imports": list(s.imports),
                **({"no_reuse": True} if s.no_reuse else {}),
            }
            for s in analysis.steps
        ],
        "sections": [
            {
                "index": sec.index,
                "splitter": sec.splitter,
                "processors": list(sec.processors),
                "merger": sec.merger,
                "split_variable": sec.split_variable,
                "batch_count": dict(sec.batch_count) if sec.batch_count else None,
                "broadcast": list(sec.broadcast),
                "merged": list(sec.merged),
            }
            for sec in analysis.sections
        ],
        "edges": [
            {"from": e.source, "to": e.target, "variables": list(e.variables), "kind": e.kind}
            for e in analysis.edges
        ],
        "diagnostics": diagnostics,
        "summary": {
            "errors": sum(1 for d in diagnostics if d["severity"] == "error"),
            "warnings": sum(1 for d in diagnostics if d["severity"] == "warning"),
        },
    }


def build_spec(nb: Mapping[str, Any], path: str | PurePath) -> dict[str, Any]:
    """Analyse a loaded notebook and return its spec. ``path`` is recorded as given (use a
    path relative to the project so specs do not depend on the machine)."""
    p = str(path)
    name = PurePath(p).stem if p else "notebook"
    return spec_from_analysis(analyse(nb, name), p)


def validate_spec(spec: Mapping[str, Any]) -> None:
    """Raise :class:`SpecError` (with the JSON path) when ``spec`` does not match the schema.

    jsonschema is imported here, not at the top: its import takes about a second (format checkers
    compile grammars), and the CLI's ``check``/``spec``/``export`` never validate what
    :func:`build_spec` built. The tests validate the specs of the example notebooks and of
    generated malformed ones (tests/test_malformed_notebooks.py) against the schema.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(spec))
    if error is not None:
        path = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
        )
        raise SpecError(error.message, path)


def dumps_spec(spec: Mapping[str, Any]) -> str:
    """The spec as text: 2-space indent, UTF-8 kept, key order as built, newline at the end."""
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def resolve_batch_count(
    batch_count: Mapping[str, Any] | None, parameters: Mapping[str, Any] | None = None
) -> int:
    """The batch count a run uses: a literal ``{"value": N}``, or ``{"parameter": p, "default": d}``
    with ``parameters[p]`` overriding the default. Overrides given as text (``-p name=5``) are
    accepted when they are integers. Raises ``ValueError`` with a readable message otherwise."""
    if not batch_count:
        raise ValueError("no batch count: the splitter needs a naavre:batch-count: tag")
    if "value" in batch_count:
        value: Any = batch_count["value"]
        source = "the naavre:batch-count tag"
    elif "parameter" in batch_count:
        name = batch_count["parameter"]
        overrides = parameters or {}
        if name in overrides:
            value, source = overrides[name], f"parameter {name}"
        elif "default" in batch_count:
            value, source = batch_count["default"], f"the default of {name}"
        else:
            raise ValueError(f"no value for batch-count parameter {name}")
    else:
        raise ValueError(f"batch count {dict(batch_count)!r} has neither 'value' nor 'parameter'")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            raise ValueError(
                f"batch count from {source} must be an integer >= 1, got {text!r}"
            ) from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"batch count from {source} must be an integer >= 1, got {value!r}")
    return value


def spec_for_path(path: str | Path, display_path: str | None = None) -> dict[str, Any]:
    """Load a notebook file and build its spec (raises ``NotebookError`` for unusable files)."""
    from .notebook import load_notebook_data

    data = load_notebook_data(path)
    return build_spec(data, display_path if display_path is not None else str(path))
