"""CWL benchmark; prints figures (``python benchmarks/bench_cwl.py [--repeat R]``).

The seed notebook (28 items) with batch count 5 and 50: wall time of ``cwltool --no-container
--parallel`` running the CWL export (:func:`naavre_batch_ext.engines.cwl_runner.run_cwl`, which also
exports and reads the outputs back) against the local workflow context
(:func:`naavre_batch_ext.engines.runner.run_workflow`, parallelism = CPU count) running the same step
scripts. The seed's cells do almost nothing, so the difference is what the engine costs per job:
what a user pays for running the same file through cwltool (or Toil) instead of locally.

The seed's batch count cannot exceed its item count (at most one batch per item), so batch count 50
runs with ``param_item_count=50``; both contexts run the same parameters.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers import tagged_seed_notebook  # noqa: E402

from naavre_batch_ext.core.spec import build_spec  # noqa: E402
from naavre_batch_ext.engines import cwl_runner, runner  # noqa: E402


def _time(function: object, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
        assert result["status"] == "ok", result.get("errors")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs per figure (median shown)")
    args = parser.parse_args()
    nb = tagged_seed_notebook()
    with tempfile.TemporaryDirectory(prefix="bench-cwl-") as tmp:
        path = Path(tmp) / "splitting-batches.ipynb"
        nbformat.write(nb, str(path))
        spec = build_spec(nb, path.name)
        print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
        print("batches  local workflow (s)  cwltool (s)  ratio  extra per job (ms)")
        for batches, items in ((5, 28), (50, 50)):
            parameters = {"param_max_batch_count": batches, "param_item_count": items}
            local = _time(
                lambda p=parameters: runner.run_workflow(
                    spec, path, p, runs_dir=Path(tmp) / "runs"
                ),
                args.repeat,
            )
            engine = _time(lambda p=parameters: cwl_runner.run_cwl(spec, path, p), args.repeat)
            a, b = statistics.median(local), statistics.median(engine)
            jobs = batches + 2  # splitter, one processor job per batch, merger
            print(
                f"{batches:7d}  {a:18.2f}  {b:11.2f}  {b / a:5.1f}  {1000 * (b - a) / jobs:18.0f}"
            )


if __name__ == "__main__":
    main()
