"""Benchmark: how long a whole ``naavre-batch`` process takes, as a ratio to a bare Python start.

Goal (issue 13, item 8): ``check`` and ``spec`` on the seed notebook under 8x ``python -c "import
json"``, ``--version`` and ``--help`` under 3x. Ratios, not milliseconds, so the figure means the
same on a slow and a fast machine; and paired: each round runs the bare Python start right before
each command, so a burst of load on the machine hits both sides of a ratio. The ratio printed is
the median of the per-round ratios (7 rounds by default).

Both sides run with bytecode caching on (in a temporary ``PYTHONPYCACHEPREFIX``, so the source tree
gets no ``__pycache__``), after one warm-up round: as an installed package runs. The package is
taken from this source tree (``PYTHONPATH``). Run from the repository root:
``python benchmarks/bench_cli.py [--rounds 7]``; exit status 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "splitting-batches-tagged.ipynb"

BASELINE = [sys.executable, "-c", "import json"]
CLI = [sys.executable, "-m", "naavre_batch_ext"]

CASES: list[tuple[str, list[str], float]] = [
    # (name, arguments, goal: at most this many bare Python starts)
    ("--version", ["--version"], 3.0),
    ("--help", ["--help"], 3.0),
    ("check seed", ["check", str(SEED)], 8.0),
    ("spec seed", ["spec", str(SEED)], 8.0),
    ("export seed (argo, stdout)", ["export", str(SEED), "-o", "-"], 8.0),
]


def timed(command: list[str], env: dict[str, str]) -> float:
    """Wall-clock seconds of one whole process (start, imports, work, exit)."""
    start = time.perf_counter()
    subprocess.run(  # cwd: ``-m`` puts the working folder first on sys.path
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="paired rounds per case (default 7)")
    args = parser.parse_args()
    missed = 0
    with tempfile.TemporaryDirectory(prefix="bench-cli-pycache-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        for _, arguments, _ in CASES:  # warm-up: write the bytecode caches
            timed(CLI + arguments, env)
        timed(BASELINE, env)
        print(f"{'command':<28} {'median ms':>9} {'bare ms':>8} {'ratio':>6} {'goal':>5}")
        for name, arguments, goal in CASES:
            ratios, own, bare = [], [], []
            for _ in range(args.rounds):
                b = timed(BASELINE, env)
                c = timed(CLI + arguments, env)
                bare.append(b)
                own.append(c)
                ratios.append(c / b)
            ratio = statistics.median(ratios)
            ok = ratio < goal
            missed += not ok
            print(
                f"{name:<28} {statistics.median(own) * 1000:9.1f} "
                f"{statistics.median(bare) * 1000:8.1f} {ratio:5.1f}x {goal:4.0f}x"
                f"{'' if ok else '  MISSED'}"
            )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
