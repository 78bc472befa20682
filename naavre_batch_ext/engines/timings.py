"""Measured times of each split/merge section of a run: what the batch-count advisor needs.

A run already records every step's wall time (``steps`` of a context's result); this module reads
them per *section* (splitter, processor chain, merger) and adds what only the run knows: how many
items the splitter produced (``n``, the length of the split variable it handed on) and so how many
items each batch held (the one split rule, :func:`naavre_batch_ext.core.split.batch_ranges`). From
those, the time per batch and per item.

- Notebook context: the processor chain runs once over all ``n`` items, in one kernel, so it is one
  "batch" of ``n`` items, and its time per item is the purest figure there is: no process start,
  no value transfer. Only the cells' own execution time counts (not the tracing between steps).
- Workflow context: one process per batch; a batch's time includes the process start and the
  reading and writing of its values (a local stand-in for a pod's start cost).

The runner calls :func:`section_timings` (pure) when a context ends; a run of both contexts also
leaves ``timings.json`` (both contexts' records, :func:`save_measurement`) in its run folder,
beside ``result.json``, which the advisor reads back (:func:`load_measurements`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..core import split
from ..core.spec import resolve_batch_count
from .advisor import cluster_record
from .safe_folder import SafeFolder

__all__ = [
    "TIMINGS_FILE",
    "cluster_run_file",
    "item_count",
    "last_cluster_run",
    "load_measurements",
    "record_cluster_run",
    "save_cluster_run",
    "save_measurement",
    "save_run_measurement",
    "section_timings",
]

TIMINGS_FILE = "timings.json"
"""Both contexts' section timings of a run, in its run folder: ``{"parameters", "notebook",
"workflow"}``."""


CLUSTER_RUN_FILE = "cluster-run-{key}.json"
"""The last finished cluster run of a notebook (its processor pods' times, for the advisor's start
cost), in the runs folder beside the run folders; ``key`` names the notebook (runs folders are
shared by the notebooks of a folder)."""


def cluster_run_file(notebook_path: str | Path) -> str:
    """The file name of ``notebook_path``'s last cluster run in its runs folder."""
    wanted = str(Path(notebook_path).resolve())
    return CLUSTER_RUN_FILE.format(key=hashlib.sha256(wanted.encode()).hexdigest()[:16])


def item_count(value: Any) -> int | None:
    """How many items a split variable holds (its first axis, as the split rule counts them), or
    ``None`` when the run could not hand it on (it was not passable, or the step failed)."""
    if value is None or isinstance(value, (str, bytes, dict)):
        return None
    try:
        return len(value)
    except TypeError:
        return None


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 4)


def section_timings(
    spec: dict[str, Any],
    context: str,
    steps: list[dict[str, Any]],
    trace: Mapping[str, Mapping[str, Any]],
    parameters: Mapping[str, Any],
    cells: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One record per section of ``spec``, from a finished context's ``steps`` summary, its raw
    ``trace`` (values, not previews) and, for the notebook context, its ``cells`` records.

    Each record: ``section``, ``splitter``, ``processors``, ``merger``, ``items`` (n, or ``None``),
    ``batch_count`` (the m the run used), ``batch_items`` and ``batch_seconds`` (per batch, in batch
    order), ``processor_seconds`` (the processor stage's wall time), ``item_seconds`` (the
    processor chain's time per item: the batches' total over n; ``None`` without items),
    ``splitter_seconds`` and ``merger_seconds`` (``None`` when that step did not finish).
    Sections whose processors did not all finish have ``batch_seconds`` ``[]``.
    """
    records: list[dict[str, Any]] = []
    for section in spec.get("sections", []):
        splitter = section.get("splitter")
        processors = list(section.get("processors") or [])
        merger = section.get("merger")
        n = item_count((trace.get(splitter) or {}).get(section.get("split_variable") or ""))
        try:
            m: int | None = resolve_batch_count(section.get("batch_count"), parameters)
        except ValueError:
            m = None
        if context == "notebook":
            seconds = _notebook_step_seconds(steps, cells or [])
            chain = [seconds.get(p) for p in processors]
            done = bool(chain) and all(s is not None for s in chain)
            total = sum(s for s in chain if s is not None)
            batch_seconds = [total] if done else []
            batch_items = [n] if done and n is not None else []
            stage = total if done else None
            splitter_seconds, merger_seconds = seconds.get(splitter), seconds.get(merger)
        else:
            rows = [s for s in steps if s.get("status") == "ok"]
            chain_row = next(
                (
                    r
                    for r in rows
                    if r.get("kind") == "processors" and set(r["steps"]) & set(processors)
                ),
                None,
            )
            batch_seconds = list(chain_row["instance_seconds"]) if chain_row else []
            batch_items = (
                [stop - start for start, stop in split.batch_ranges(n, m)]
                if chain_row and n is not None and m is not None
                else []
            )
            stage = chain_row["wall_seconds"] if chain_row else None
            splitter_seconds = _task_seconds(rows, splitter)
            merger_seconds = _task_seconds(rows, merger)
        item_seconds = sum(batch_seconds) / n if batch_seconds and n and len(batch_items) else None
        records.append(
            {
                "section": section.get("index"),
                "splitter": splitter,
                "processors": processors,
                "merger": merger,
                "items": n,
                "batch_count": m,
                "batch_items": batch_items,
                "batch_seconds": [_round(s) for s in batch_seconds],
                "processor_seconds": _round(stage),
                "item_seconds": None if item_seconds is None else round(item_seconds, 6),
                "splitter_seconds": _round(splitter_seconds),
                "merger_seconds": _round(merger_seconds),
            }
        )
    return records


def _notebook_step_seconds(
    steps: list[dict[str, Any]], cells: list[dict[str, Any]]
) -> dict[str, float | None]:
    """Each finished step's execution time in the kernel: its cells' seconds added up (the tracing
    of its outputs, which a step's wall time also holds, is left out)."""
    finished = {s["task"] for s in steps if s.get("status") == "ok"}
    seconds: dict[str, float | None] = {}
    for cell in cells:
        step = str(cell.get("step"))
        if step in finished:
            seconds[step] = (seconds.get(step) or 0.0) + float(cell.get("seconds") or 0.0)
    return seconds


def _task_seconds(rows: list[dict[str, Any]], step: str | None) -> float | None:
    """The wall time of the workflow task that ran ``step`` (a task may fuse several steps)."""
    if step is None:
        return None
    row = next((r for r in rows if step in r.get("steps", [])), None)
    return None if row is None else float(row["wall_seconds"])


def save_measurement(
    folder: str | Path,
    notebook_path: str,
    parameters: Mapping[str, Any],
    notebook: list[dict[str, Any]] | None,
    workflow: list[dict[str, Any]] | None,
) -> None:
    """Keep a run's timings in its run folder (``timings.json``), so a later ``advise`` finds the
    notebook context's per-item time without running anything again."""
    record = {
        "notebook_path": notebook_path,
        "parameters": dict(parameters),
        "notebook": notebook,
        "workflow": workflow,
    }
    (Path(folder) / TIMINGS_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")


def save_run_measurement(
    workflow_run: Mapping[str, Any], notebook_run: Mapping[str, Any], runs: SafeFolder
) -> None:
    """:func:`save_measurement` for a run of both contexts, in the workflow run's folder, opened
    below the runs folder the run still holds open (:class:`~.safe_folder.SafeFolder`: a folder
    swapped for a symbolic link meanwhile is refused, never written through); the timings of a
    context that did not succeed are left out."""
    folder = workflow_run.get("folder")
    if not folder:
        return
    # a full disk or a replaced folder loses the measurement, never the run
    with contextlib.suppress(OSError), runs.mkdir(Path(folder).name, exist_ok=True) as opened:
        save_measurement(
            opened.path,
            str(workflow_run.get("notebook", "")),
            workflow_run.get("parameters", {}),
            notebook_run.get("timings") if notebook_run.get("status") == "ok" else None,
            workflow_run.get("timings") if workflow_run.get("status") == "ok" else None,
        )


def load_measurements(
    runs_folder: str | Path, notebook_path: str | Path
) -> Iterator[dict[str, Any]]:
    """The timings of ``notebook_path`` kept in the run folders under ``runs_folder`` (notebooks
    of one folder share it), newest run first (run ids sort by start time): ``{"run_id",
    "notebook_path", "parameters", "notebook", "workflow"}``, from ``timings.json``, or from
    ``result.json`` for a run of the workflow context alone. Unreadable files are skipped."""
    wanted = str(Path(notebook_path).resolve())
    base = Path(runs_folder)
    if not base.is_dir():
        return
    for folder in sorted((p for p in base.iterdir() if p.is_dir()), reverse=True):
        try:
            if (folder / TIMINGS_FILE).is_file():
                record = json.loads((folder / TIMINGS_FILE).read_text(encoding="utf-8"))
            elif (folder / "result.json").is_file():
                result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
                if result.get("status") != "ok" or "timings" not in result:
                    continue
                record = {
                    "notebook_path": result.get("notebook"),
                    "parameters": result.get("parameters", {}),
                    "notebook": None,
                    "workflow": result["timings"],
                }
            else:
                continue
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("notebook_path") == wanted:
            yield {"run_id": folder.name, **record}


def save_cluster_run(
    runs: SafeFolder, notebook_path: str | Path, record: Mapping[str, Any] | None
) -> bool:
    """Keep ``record`` (:func:`~.advisor.cluster_record` of a finished cluster run) as the
    notebook's last cluster run in the open runs folder ``runs``, unless the one kept already
    finished later (an older run looked at again does not replace it) or is this one. Written to
    a new file then renamed, so a reader never sees half of it. True when written."""
    if not record:
        return False
    name = cluster_run_file(notebook_path)
    kept = _read_cluster_run(runs.path / name)
    if kept is not None and (
        kept.get("name") == record.get("name")
        or str(kept.get("finishedAt") or "") > str(record.get("finishedAt") or "")
    ):
        return False
    runs.guard()
    text = json.dumps({"notebook_path": str(Path(notebook_path).resolve()), **record}, indent=1)
    temporary = runs.path / f".{name}.{os.getpid()}.tmp"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, runs.path / name)
    return True


def last_cluster_run(runs_folder: str | Path, notebook_path: str | Path) -> dict[str, Any] | None:
    """The notebook's last finished cluster run kept by :func:`save_cluster_run`, or ``None``."""
    record = _read_cluster_run(Path(runs_folder) / cluster_run_file(notebook_path))
    if record is None or record.get("notebook_path") != str(Path(notebook_path).resolve()):
        return None
    return record


def _read_cluster_run(path: Path) -> dict[str, Any] | None:
    """The record in ``path``; ``None`` when missing or unreadable (it is only a default)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("pods"), list) else None


def record_cluster_run(
    notebook_path: str | Path,
    status: Mapping[str, Any],
    runs_dir: str | Path | None = None,
    root: str | Path | None = None,
) -> bool:
    """Keep a cluster run's status (``GET cluster-runs/<name>``) as the notebook's last cluster run
    once it has finished, in the runs folder (``runs_dir``, default ``.naavre-batch/runs`` beside
    the notebook), opened without following a symbolic link and, with ``root``, only inside it
    (:class:`~.safe_folder.SafeFolder`). What ``naavre-batch submit --watch`` and the REST
    status handler call on every status they read; True when written. ``OSError`` (a folder that
    cannot be made, or leads outside ``root``) passes through: the callers drop it, the run's
    status matters more than this default."""
    record = cluster_record(status)
    if record is None:
        return False
    base = Path(runs_dir) if runs_dir else Path(notebook_path).parent / ".naavre-batch" / "runs"
    with SafeFolder.open(base, root=root) as runs:
        return save_cluster_run(runs, notebook_path, record)
