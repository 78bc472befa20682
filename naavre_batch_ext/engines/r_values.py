"""Values of R notebooks on the Python side: traced, compared and described by R itself.

R steps hand on values as ``rds`` value files (:class:`naavre_batch_ext.steps.transport.RValue`,
opaque bytes to Python). Whether two of them are the same is R's question: ``identical()`` with
bitwise doubles (``num.eq = FALSE``: ``-0`` is not ``0``; ``NA`` is not ``NaN``; ``1L`` is not
``1``; a factor is not a character vector), and where they first differ, in R syntax
(``processed$temp[3]``). Python never decodes R's serialization: one ``Rscript`` process per
question batch (a run's whole comparison, or every summary a result shows) runs the runtime's
``tool`` (``steps/r_runtime.R``), which reads the values, joins per-batch parts with the one R
merge rule, compares and describes them.

Workflow-context traces keep what crossed a boundary as the next step saw it: the split variable
as its batches' items joined again, a merged variable as the processors' parts joined
(:func:`join_parts` gives an :class:`RMerged`, joined by R when first asked about).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..steps import r_scripts
from ..steps.transport import RValue

__all__ = [
    "RMerged",
    "RShown",
    "RToolError",
    "compare_pairs",
    "describe_all",
    "has_r_values",
    "is_r_value",
    "r_differences",
    "join_parts",
    "summary_of",
]

TOOL_TIMEOUT = 600.0
"""Seconds one comparison or description call may take (big data frames take a while)."""


class RToolError(RuntimeError):
    """R could not be run or failed answering (no Rscript, a value it cannot read)."""


@dataclass(eq=False)
class RMerged:
    """Per-batch parts (value files' contents) joined by R's merge rule: ``keys`` pick the part
    inside each file (``("items",)`` of a batch, ``("outputs", name)`` of a result)."""

    parts: list[RValue]
    keys: tuple[str, ...]
    summary: dict[str, str] | None = field(default=None)


@dataclass(eq=False)
class RShown:
    """One side of a difference R found, as R shows it (``1L``, ``NA_real_``, ``factor(...)``)."""

    text: str
    summary: dict[str, str] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.summary is None:
            self.summary = {"type": "R value", "summary": self.text, "preview": self.text}


def r_differences(
    nb_trace: dict[str, dict[str, Any]], wf_trace: dict[str, dict[str, Any]]
) -> dict[tuple[str, str], tuple[str, RShown, RShown] | None | str]:
    """Every variable both traces hold as R values, compared by R in one call:
    ``(step, variable)`` -> None (identical), ``(path, notebook side, workflow side)``, or the
    text of why R could not compare them (no R installed)."""
    keys: list[tuple[str, str]] = []
    pairs: list[tuple[RValue | RMerged, RValue | RMerged]] = []
    for step, values in wf_trace.items():
        for name, value in values.items():
            other = nb_trace.get(step, {}).get(name)
            if isinstance(value, (RValue, RMerged)) and isinstance(other, (RValue, RMerged)):
                keys.append((step, name))
                pairs.append((other, value))
    try:
        answers = compare_pairs(pairs)
    except RToolError as exc:
        return {key: str(exc) for key in keys}
    out: dict[tuple[str, str], tuple[str, RShown, RShown] | None | str] = {}
    for key, answer in zip(keys, answers, strict=True):
        out[key] = None if answer is None else (answer[0], RShown(answer[1]), RShown(answer[2]))
    return out


def is_r_value(value: Any) -> bool:
    """An R value (a file's :class:`RValue` or an :class:`RMerged` of them)."""
    return isinstance(value, (RValue, RMerged))


def has_r_values(*traces: dict[str, dict[str, Any]]) -> bool:
    """Whether any traced value is an R value."""
    return any(is_r_value(v) for trace in traces for step in trace.values() for v in step.values())


def summary_of(value: RValue | RMerged | RShown) -> dict[str, str]:
    """``{"type", "summary", "preview"}`` as R gave it (:func:`describe_all`), or a stand-in."""
    if value.summary:
        return value.summary
    assert not isinstance(value, RShown)
    size = len(value.data) if isinstance(value, RValue) else sum(len(p.data) for p in value.parts)
    return {"type": "R value", "summary": f"R value, {size} bytes", "preview": ""}


class _Batch:
    """One tool call being written: value files in a temporary folder and request lines."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lines: list[str] = []
        self.ids: dict[int, str] = {}

    def add(self, value: RValue | RMerged) -> str:
        key = id(value)
        if key in self.ids:
            return self.ids[key]
        if isinstance(value, RMerged):
            parts = [self.add(p) for p in value.parts]
            name = f"v{len(self.ids)}"
            self.lines.append(f"merge\t{name}\t{','.join(value.keys)}\t{','.join(parts)}")
        else:
            name = f"v{len(self.ids)}"
            path = self.folder / name
            path.write_bytes(b"naavre-value/1 rds\n" + value.data)
            self.lines.append(f"value\t{name}\t{path}")
        self.ids[key] = name
        return name


def _run_tool(batch: _Batch) -> list[list[str]]:
    requests = batch.folder / "requests.tsv"
    answers = batch.folder / "answers.tsv"
    requests.write_text("\n".join(batch.lines) + "\n", encoding="utf-8")
    script = batch.folder / "tool.R"
    call = (
        f".naavre$tool({r_scripts.r_literal(str(requests))}, {r_scripts.r_literal(str(answers))})"
    )
    script.write_text(r_scripts.tool_script(call), encoding="utf-8")
    try:
        done = subprocess.run(
            [r_scripts.rscript(), str(script)],
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise RToolError(
            "R is not installed (no Rscript on PATH): R values cannot be compared or shown; "
            "install R (Debian: apt-get install r-base-core)"
        ) from None
    except subprocess.TimeoutExpired:
        raise RToolError(f"R took more than {TOOL_TIMEOUT:.0f} s to compare the values") from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise RToolError("R failed comparing the values: " + " ".join(tail))
    text = answers.read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line]


def _apply_descriptions(values: dict[str, RValue | RMerged], answers: list[list[str]]) -> None:
    for answer in answers:
        if answer[0] == "describe" and answer[1] in values and len(answer) >= 5:
            values[answer[1]].summary = {
                "type": answer[2],
                "summary": answer[3],
                "preview": answer[4],
            }


def compare_pairs(
    pairs: list[tuple[RValue | RMerged, RValue | RMerged]],
) -> list[tuple[str, str, str] | None]:
    """For each pair (notebook, workflow): None when R finds them ``identical()`` (bitwise
    doubles), else ``(path, notebook side, workflow side)`` where they first differ, the path in
    R syntax from the variable (``""`` is the variable itself, ``"$a[[2]]"`` inside it) and the
    sides as short R text. Every value also gets its summary. One ``Rscript`` call."""
    if not pairs:
        return []
    with tempfile.TemporaryDirectory(prefix="naavre-r-") as tmp:
        batch = _Batch(Path(tmp))
        names = [(batch.add(a), batch.add(b)) for a, b in pairs]
        values: dict[str, RValue | RMerged] = {}
        for a, b in pairs:
            values[batch.ids[id(a)]] = a
            values[batch.ids[id(b)]] = b
        batch.lines += [f"compare\t{x}\t{y}" for x, y in names]
        batch.lines += [f"describe\t{n}" for n in values]
        answers = _run_tool(batch)
    _apply_descriptions(values, answers)
    found = {(a[1], a[2]): a for a in answers if a[0] == "compare"}
    results: list[tuple[str, str, str] | None] = []
    for x, y in names:
        answer = found.get((x, y))
        if answer is None:
            raise RToolError("R gave no answer for a comparison")
        results.append(None if answer[3] == "same" else (answer[4], answer[5], answer[6]))
    return results


def describe_all(values: Iterable[Any]) -> None:
    """Give every R value among ``values`` that has none its summary (one ``Rscript`` call, none
    when there is nothing to describe). Never raises: without R, summaries stay stand-ins."""
    wanted = [v for v in values if is_r_value(v) and not v.summary]
    if not wanted:
        return
    try:
        with tempfile.TemporaryDirectory(prefix="naavre-r-") as tmp:
            batch = _Batch(Path(tmp))
            named = {batch.add(v): v for v in wanted}
            batch.lines += [f"describe\t{n}" for n in named]
            answers = _run_tool(batch)
    except RToolError:
        return
    _apply_descriptions(named, answers)


def join_parts(parts: list[Any], keys: tuple[str, ...]) -> RMerged:
    """Per-batch R values (batch or result files, in batch order) joined by R's merge rule when
    first asked about, after picking ``keys`` inside each: the R twin of
    :func:`naavre_batch_ext.engines.runner.join_parts`."""
    return RMerged(list(parts), keys)
