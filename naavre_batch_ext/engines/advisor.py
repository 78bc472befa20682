"""The batch-count advisor: the expected wall time of a section's processor stage for each batch
count m, from a measured time per item, so the user sees the trade-off instead of guessing.

The model (docs/panel.md#choosing-the-batch-count), for n items, m batches, a parallelism P (at
most P instances run at once) and a start cost s per instance (container start and value
transfer): the split rule gives k = min(n, m) batches of at most ceil(n / k) items; they run in
waves = ceil(k / P) waves, each as long as its largest batch, so

    T(m) = ceil(k / P) * (s + ceil(n / k) * t)

with t the measured time per item. It assumes every item takes the same time, an instance costs s
whatever it holds, and the cluster really runs P instances at once. Without a parallelism limit
(P = ``None``) every batch runs in the first wave.

One function holds the model (:func:`expected_seconds`), one the table (:func:`advise`); the CLI's
``advise``, the REST ``POST advise`` and the panel's plot all show what :func:`advise_sections`
returns: nothing re-implements it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from typing import Any

from ..core import split
from ..core.spec import resolve_batch_count

__all__ = [
    "DEFAULT_START_COST",
    "MAX_BATCHES",
    "MODEL",
    "advise",
    "advise_sections",
    "choose_measurement",
    "choose_start_cost",
    "cluster_record",
    "expected_seconds",
    "item_seconds_by_step",
    "start_cost_from_cluster",
    "start_cost_from_pods",
]

DEFAULT_START_COST = 10.0
"""Seconds one processor instance costs beyond its items when there is no cluster run to measure
it: a pod's scheduling, container start (image already pulled), Argo's init and wait containers
and the transfer of its values take a few seconds to tens of seconds on common clusters. Change it
with ``--start-cost`` or the panel's field (settings: ``advisorStartCost``)."""

MODEL = (
    "expected time of the processor stage T(m) = ceil(k / P) waves x (s + ceil(n / k) x t) with "
    "k = min(n, m) batches, assuming every item takes the measured time t, every instance costs s "
    "whatever it holds, and the cluster runs P instances at once"
)
"""The model in one sentence, as ``advise`` prints it and docs/panel.md states it."""

MAX_BATCHES = 200
"""The table stops at min(n, this) batches (and always includes the notebook's current m): past a
few times the parallelism, more batches only add start costs."""


def expected_seconds(
    batches: int, items: int, item_seconds: float, parallelism: int | None, start_cost: float
) -> float:
    """T(m): the processor stage's expected wall time with ``batches`` = m (see the module)."""
    k = split.batch_instances(items, batches)
    waves = math.ceil(k / parallelism) if parallelism else 1
    largest = math.ceil(items / k) if items else 0
    return waves * (start_cost + largest * item_seconds)


def advise(
    items: int,
    item_seconds: float,
    parallelism: int | None,
    start_cost: float,
    current: int | None = None,
    max_batches: int = MAX_BATCHES,
) -> dict[str, Any]:
    """The table of T(m) for m = 1..min(n, ``max_batches``) (plus the ``current`` m when it lies
    beyond), the m that minimises it (the smallest such m: fewer containers for the same time)
    and the current m's time. ``rows``: ``{"batches", "instances", "waves", "batch_items",
    "seconds"}``."""
    if items < 0 or item_seconds < 0 or start_cost < 0:
        raise ValueError("items, time per item and start cost cannot be negative")
    if parallelism is not None and parallelism < 1:
        raise ValueError("the parallelism must be at least 1")
    top = max(1, min(items, max_batches))
    wanted = list(range(1, top + 1))
    if current is not None and current > top and items > top:
        wanted.append(min(current, items))
    rows = []
    for m in wanted:
        k = split.batch_instances(items, m)
        rows.append(
            {
                "batches": m,
                "instances": k,
                "waves": math.ceil(k / parallelism) if parallelism else 1,
                "batch_items": math.ceil(items / k) if items else 0,
                "seconds": round(
                    expected_seconds(m, items, item_seconds, parallelism, start_cost), 4
                ),
            }
        )
    best = min(rows, key=lambda r: (r["seconds"], r["batches"]))
    current_seconds = (
        round(expected_seconds(current, items, item_seconds, parallelism, start_cost), 4)
        if current is not None and current >= 1
        else None
    )
    return {
        "items": items,
        "item_seconds": item_seconds,
        "parallelism": parallelism,
        "start_cost": start_cost,
        "current": current,
        "current_seconds": current_seconds,
        "best": best["batches"],
        "best_seconds": best["seconds"],
        "rows": rows,
    }


def choose_measurement(
    measurements: Iterable[Mapping[str, Any]], parameters: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The newest measurement taken with these parameter values (n and m depend on them), or
    ``None``: the caller then runs the notebook context once."""
    for measurement in measurements:
        if dict(measurement.get("parameters") or {}) == dict(parameters):
            return measurement
    return None


def _timed_sections(measurement: Mapping[str, Any]) -> dict[int, tuple[str, Mapping[str, Any]]]:
    """Each section's timing record, by section index, with the context it comes from: the
    notebook context's when it timed the section (no process start in it), else the workflow's."""
    timed: dict[int, tuple[str, Mapping[str, Any]]] = {}
    for context in ("workflow", "notebook"):  # the notebook's figures win
        for record in measurement.get(context) or []:
            if record.get("item_seconds") is not None and record.get("items") is not None:
                timed[record["section"]] = (context, record)
    return timed


def advise_sections(
    spec: dict[str, Any],
    measurement: Mapping[str, Any],
    parameters: Mapping[str, Any],
    parallelism: int | None,
    start_cost: float,
    start_cost_source: str = "default",
    max_batches: int = MAX_BATCHES,
) -> list[dict[str, Any]]:
    """:func:`advise` for each section of ``spec`` that the ``measurement`` (``{"notebook",
    "workflow"}`` lists of :func:`~naavre_batch_ext.engines.timings.section_timings` records)
    timed. The time per item is the notebook context's (no process start in it) when there is one,
    else the workflow context's (which then includes the local start cost). Each entry adds
    ``section``, ``splitter``, ``batch_count`` (where m comes from: the spec's ``{"parameter"}``
    or ``{"value"}``, what *Use m = k* edits), ``measured_in`` and ``start_cost_source``."""
    timed = _timed_sections(measurement)
    values = {p["name"]: p["default"] for p in spec.get("parameters", [])}
    values.update(parameters)
    out = []
    for section in spec.get("sections", []):
        if section["index"] not in timed:
            continue
        context, record = timed[section["index"]]
        try:
            current: int | None = resolve_batch_count(section.get("batch_count"), values)
        except ValueError:
            current = None
        table = advise(
            int(record["items"]),
            float(record["item_seconds"]),
            parallelism,
            start_cost,
            current,
            max_batches,
        )
        out.append(
            {
                "section": section["index"],
                "splitter": section.get("splitter"),
                "batch_count": section.get("batch_count"),
                "measured_in": context,
                "start_cost_source": start_cost_source,
                **table,
            }
        )
    return out


def cluster_pods(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The processor pods of a cluster run that succeeded, as the advisor needs them: ``{"steps"
    (the task's processor steps), "seconds" (the pod's wall time, start to finish as Argo records
    it: scheduling, init and wait containers, value transfer and the items), "items"}``.
    ``status`` is a ``GET cluster-runs/<name>`` answer
    (:func:`naavre_batch_ext.engines.cluster.run_status`)."""
    pods = []
    for step in status.get("steps") or []:
        if step.get("kind") != "processors":
            continue
        for batch in (step.get("instances") or {}).get("items") or []:
            seconds, start, stop = batch.get("seconds"), batch.get("start"), batch.get("stop")
            if batch.get("state") != "succeeded" or seconds is None:
                continue
            size = (stop - start) if start is not None and stop is not None else 0
            pods.append({"steps": list(step.get("steps") or []), "seconds": seconds, "items": size})
    return pods


def cluster_record(status: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the runs folder keeps of a *finished* cluster run for the advisor's start cost: its
    name, end and succeeded processor pods (:func:`cluster_pods`); ``None`` while it runs or when
    no processor pod succeeded. The pods are kept, not a start cost: the time per item to take
    off each pod's time is the one of the measurement advised on later."""
    if not status.get("finished"):
        return None
    pods = cluster_pods(status)
    if not pods:
        return None
    return {
        "name": status.get("name"),
        "finishedAt": status.get("finishedAt"),
        "phase": status.get("phase"),
        "pods": pods,
    }


def item_seconds_by_step(measurement: Mapping[str, Any]) -> dict[str, float]:
    """The measured time per item of each processor step (its section's figure, from the context
    :func:`advise_sections` takes it from)."""
    out: dict[str, float] = {}
    for _, record in _timed_sections(measurement).values():
        for step in record.get("processors") or []:
            out[step] = float(record["item_seconds"])
    return out


def start_cost_from_pods(
    pods: Iterable[Mapping[str, Any]], item_seconds: float | Mapping[str, float]
) -> float | None:
    """The start cost s the pods of a cluster run show: each pod's wall time less its items
    times the time per item (one figure, or per processor step: a pod of a step without one is
    left out); the median (a slow image pull should not set it), never below 0; ``None`` when no
    pod is left."""
    overheads = []
    for pod in pods:
        if isinstance(item_seconds, Mapping):
            t = next((item_seconds[s] for s in pod.get("steps") or [] if s in item_seconds), None)
        else:
            t = item_seconds
        if t is None:
            continue
        overheads.append(max(0.0, float(pod["seconds"]) - int(pod["items"]) * t))
    return round(statistics.median(overheads), 3) if overheads else None


def start_cost_from_cluster(status: Mapping[str, Any], item_seconds: float) -> float | None:
    """:func:`start_cost_from_pods` of a ``GET cluster-runs/<name>`` answer's processor pods."""
    return start_cost_from_pods(cluster_pods(status), item_seconds)


def choose_start_cost(
    given: float | None,
    given_source: str,
    cluster_run: Mapping[str, Any] | None,
    measurement: Mapping[str, Any] | None,
    settings_value: float | None,
) -> tuple[float, str]:
    """The start cost s to advise with and where it comes from, first found: the value the user
    gave (``given_source`` names it: ``--start-cost``, ``given``); the overhead measured by the
    last finished cluster run of the notebook (:func:`cluster_record`, with the measurement's
    time per item), ``last cluster run <name>``; the user's setting ``advisorStartCost``, ``your
    settings``; :data:`DEFAULT_START_COST`, ``default``."""
    if given is not None:
        return float(given), given_source
    if cluster_run and measurement:
        cost = start_cost_from_pods(
            cluster_run.get("pods") or [], item_seconds_by_step(measurement)
        )
        if cost is not None:
            return cost, f"last cluster run {cluster_run.get('name')}"
    if settings_value is not None:
        return float(settings_value), "your settings"
    return DEFAULT_START_COST, "default"
