"""Progress inside a running task instance, read from the progress bar a processor already draws.

A processor that iterates with ``tqdm`` (the progress bar of scientific Python) writes lines like
``\\r 40%|####      | 4/10 [00:01<00:01, 3.9it/s]`` to its stderr, which the runner keeps in the
instance's ``stderr.txt``. :class:`Watcher` reads the end of that file for every running instance
twice a second and reports the last ``n/total`` as an ``instance-progress`` event; the notebook
and the step script stay as they are, and a processor without tqdm reports nothing. The step
processes get ``TQDM_MININTERVAL`` (tqdm's own environment default, read by tqdm >= 4.66) so that a
fast loop does not fill the log with redraws.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["POLL_SECONDS", "TQDM_ENV", "Watcher", "last_progress"]

POLL_SECONDS = 0.5
TQDM_ENV = {"TQDM_MININTERVAL": "0.5"}
"""tqdm's environment defaults for step processes (an explicit argument in the cell wins)."""

_TAIL_BYTES = 4096
# tqdm's default bar: "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]"
_BAR = re.compile(r"\|\s*(\d+(?:\.\d+)?[kMGTPEZY]?)/(\d+(?:\.\d+)?[kMGTPEZY]?) \[")


def _number(text: str) -> float:
    units = "kMGTPEZY"
    if text and text[-1] in units:
        return float(text[:-1]) * 1000 ** (units.index(text[-1]) + 1)
    return float(text)


def last_progress(path: Path) -> tuple[int, int] | None:
    """The last ``(n, total)`` a tqdm bar wrote at the end of ``path``, or ``None``."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - _TAIL_BYTES))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    found = _BAR.findall(tail)
    if not found:
        return None
    n, total = found[-1]
    return int(_number(n)), int(_number(total))


class Watcher:
    """Polls the stderr logs of running instances until :meth:`stop`; calls ``report(number,
    n, total)`` when an instance's bar moved. ``running()`` gives ``(number, stderr path)`` of the
    instances running now."""

    def __init__(
        self,
        running: Callable[[], Iterable[tuple[int, Path]]],
        report: Callable[[int, int, int], None],
    ) -> None:
        self._running = running
        self._report = report
        self._seen: dict[int, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="naavre-batch-progress", daemon=True
        )

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def poll(self) -> None:
        """One look at every running instance's log."""
        for number, path in list(self._running()):
            found = last_progress(path)
            if found is not None and self._seen.get(number) != found:
                self._seen[number] = found
                self._report(number, *found)

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.poll()
