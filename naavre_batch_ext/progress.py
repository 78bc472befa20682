"""Terminal display of a run: a progress bar per task on a TTY, plain lines otherwise, and the
end-of-run summary and comparison. Pure formatting over the runner's events and result dict."""

from __future__ import annotations

import json
import shutil
import threading
from typing import Any, TextIO

__all__ = [
    "ProgressPrinter",
    "format_comparison",
    "format_errors",
    "format_reuse",
    "format_summary",
]


class ProgressPrinter:
    """A runner ``progress`` callback that writes to ``stream`` (thread-safe).

    On a terminal one line per task is redrawn in place (``task [####....] 3/8  1 failed``); in a
    log or pipe each event is its own line, so CI logs stay readable.
    """

    def __init__(self, stream: TextIO, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._lock = threading.Lock()
        self._failed = 0
        self._total = 0
        self._quarter: dict[int, int] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._handle(event)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _bar(self, task: str, done: int, total: int) -> str:
        width = max(10, min(30, shutil.get_terminal_size((80, 20)).columns - len(task) - 30))
        filled = int(width * done / total) if total else width
        failed = f"  {self._failed} failed" if self._failed else ""
        return f"\r  {task} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{failed}"

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        context = event.get("context", "")
        if kind == "run-started":
            where = f" in {event['folder']}" if event.get("folder") else ""
            kernel = f" (kernel {event['kernel']})" if event.get("kernel") else ""
            self._write(f"{context} context{kernel}{where}\n")
        elif kind == "task-started":
            self._failed = 0
            self._total = event["instances"]
            if self.tty:
                self._write(self._bar(event["task"], 0, self._total))
            else:
                n = event["instances"]
                self._write(f"  {event['task']}: started, {n} instance{'s' * (n != 1)}\n")
        elif kind == "instance-finished":
            if event["status"] == "failed":
                self._failed += 1
            if self.tty:
                self._write(self._bar(event["task"], event["done"], event["instances"]))
            elif event["instances"] > 1:
                self._write(
                    f"  {event['task']}: instance {event['instance'] + 1}/{event['instances']} "
                    f"{event['status']} ({event['seconds']:.2f} s), "
                    f"{event['done']}/{event['instances']} done\n"
                )
        elif kind == "instance-progress":  # a tqdm bar inside a running instance
            n, total = event["n"], event["total"]
            which = f"instance {event['instance'] + 1}/{event['instances']}"
            if self.tty:
                self._write(f"\r\x1b[K  {event['task']}: {which}: {n}/{total}")
            else:
                step = max(1, total // 4)
                if n == total or n // step != self._quarter.get(event["instance"]):
                    self._quarter[event["instance"]] = n // step
                    self._write(f"  {event['task']}: {which}: {n}/{total}\n")
        elif kind == "task-finished":
            text = f"  {event['task']}: {event['status']} in {event['seconds']:.2f} s"
            if event.get("failed"):
                text += f", {event['failed']} failed"
            self._write(("\r\x1b[K" + text if self.tty else text) + "\n")
        elif kind == "run-finished":
            self._write(f"{context} context: {event['status']} in {event['seconds']:.2f} s\n")


def format_summary(run: dict[str, Any]) -> str:
    """The table printed at the end of a run: step, instances, (reused,) failed, wall time; with
    reuse or resume, a last line with how many instances were reused, ran and failed."""
    reuse = run.get("reuse") or {}
    shown = bool(reuse.get("enabled"))
    rows = [("step", "instances", *(("reused",) if shown else ()), "failed", "wall time")]
    for s in run.get("steps", []):
        rows.append(
            (
                s["task"],
                str(s["instances"]),
                *((str(len(s.get("reused", []))),) if shown else ()),
                str(len(s["failed"])),
                f"{s['wall_seconds']:.2f} s",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"{run['context']} context ({run['status']}, {run['wall_seconds']:.2f} s)"]
    for r in rows:
        lines.append(
            "  "
            + r[0].ljust(widths[0])
            + "  "
            + "  ".join(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))
        )
    if shown:
        lines.append("  " + format_reuse(reuse))
    return "\n".join(lines)


def format_reuse(reuse: dict[str, Any]) -> str:
    """``reuse: 4 instances reused, 2 ran (0 failed), resumed from RUN; store 3.7 kB of 2048 MB``."""
    failed = reuse.get("failed", 0)
    again = "failed again" if reuse.get("resumed_from") else "failed"
    text = (
        f"reuse: {reuse.get('reused', 0)} instance{'s' * (reuse.get('reused', 0) != 1)} reused, "
        f"{reuse.get('ran', 0)} ran ({failed} {again})"
    )
    if reuse.get("resumed_from"):
        text += f", resumed from {reuse['resumed_from']}"
    if "store_bytes" in reuse:
        text += (
            f"; store {reuse['store_bytes'] / 1e3:.1f} kB of "
            f"{reuse['store_limit_bytes'] / 2**20:.0f} MB"
        )
        if reuse.get("evicted"):
            text += f", {reuse['evicted']} evicted"
    return text


def format_errors(run: dict[str, Any]) -> str:
    """Each failure: where (step, instance, batch range), the message, the user's traceback."""
    out = []
    for e in run.get("errors", []):
        head = f"error: {e.get('where', '')}: {e.get('message', '')}".replace(": : ", ": ")
        out.append(head)
        if e.get("traceback"):
            out.append("    " + e["traceback"].rstrip().replace("\n", "\n    "))
        if e.get("hint"):
            out.append(f"    hint: {e['hint']}")
        if e.get("folder"):
            out.append(f"    files: {e['folder']}")
    for w in run.get("warnings", []):
        out.append(f"warning: {w}")
    return "\n".join(out)


def _short(value: Any, limit: int = 200) -> str:
    """A compared value on one line: JSON, or the summary of a value JSON cannot show."""
    preview = value.get("naavre-preview") if isinstance(value, dict) and len(value) == 1 else None
    if isinstance(preview, dict):
        text = f"{preview.get('summary', '')}: {preview.get('preview', '')}"
    else:
        text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _indented(label: str, text: str, limit: int = 2000) -> str:
    """A printed output under its label, indented, cut at ``limit`` characters."""
    shown = text if len(text) <= limit else text[:limit] + "…"
    body = "\n".join("      " + line for line in shown.splitlines()) or "      (nothing)"
    return f"    {label}:\n{body}"


def format_comparison(comparison: dict[str, Any]) -> str:
    """``same result`` or, per difference, the variable, the step, the first differing path."""
    lines = []
    if comparison.get("verdict"):
        lines.append(comparison["verdict"])
    elif comparison["same"]:
        lines.append(f"same result ({comparison['compared']} values compared)")
    elif not comparison["differences"]:
        lines.append("not the same result: some values could not be compared")
    else:
        lines.append("different results")
    if not comparison["same"]:
        for d in comparison["differences"]:
            if d.get("kind") == "printed":
                lines.append(f"  printed output of cell {d['cell_index']} (step {d['step']}):")
                lines.append(_indented("notebook", d["notebook"]))
                lines.append(_indented("workflow", d["workflow"]))
                continue
            lines.append(
                f"  {d['variable']} after step {d['step']}: first difference at {d['path']}: "
                f"notebook {_short(d['notebook'])}, workflow {_short(d['workflow'])}"
            )
    for n in comparison["not_compared"]:
        lines.append(f"  not compared: {n['variable']} after step {n['step']} ({n['reason']})")
    return "\n".join(lines)
