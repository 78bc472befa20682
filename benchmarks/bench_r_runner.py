"""R benchmarks; prints figures (run when the machine is quiet:
``python benchmarks/bench_r_runner.py``). Needs R (Rscript) and IRkernel (kernel ``ir``).
Each figure is printed with the machine's load average, as the machine may be shared.

0. Analysis + spec of a 100-cell R notebook (bench_r_analysis.py's notebook, one Rscript): median
   wall and CPU seconds. Goal: well under 1 s.
1. A CPU-bound R processor (about 4 s of work in notebook context), batch count 2: wall time of
   the workflow context (one Rscript per instance) over the notebook context (IRkernel). Goal on
   2 cores: at most 0.6, as for Python.
2. Trivial items, batch count N (one R instance per item) against batch count 2: the per-instance
   overhead of an R instance in ms (an Rscript start, the runtime, reading and writing rds).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_r_analysis import generate, timed  # noqa: E402 - the analysis benchmark's notebook
from bench_runner import _chain_wall, best_of_both  # noqa: E402 - the same figures as for Python

from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.engines import runner


def _load() -> str:
    """The 1-minute load average, printed beside each figure (the machine may be shared)."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def bench_analysis(repeats: int, cells: int = 100) -> None:
    nb = generate(cells)
    spec = build_spec(nb, "bench.ipynb")
    assert spec["summary"]["errors"] == 0, spec["diagnostics"]
    wall, cpu = timed(lambda: build_spec(nb, "bench.ipynb"), repeats)
    print(f"0. R analysis + spec of a {cells}-cell notebook (one Rscript, median of {repeats})")
    print(f"   wall {wall:.2f} s, CPU {cpu:.2f} s (goal well under 1 s; {_load()})")


def _notebook(cells: list[tuple[list[str], str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.metadata["language_info"] = {"name": "R"}
    for tags, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


BURN = (
    "burn <- function(seed, work) {\n"
    "  acc <- seed\n"
    "  for (i in seq_len(work)) acc <- (acc * 31 + i) %% 1000003\n"
    "  acc\n"
    "}\n"
)


def cpu_notebook(work: int) -> nbformat.NotebookNode:
    """Eight items of ``work`` loop iterations each, processed in an R loop."""
    return _notebook(
        [
            ([], f"# parameters\nparam_work <- {work}L\n"),
            (["naavre:splitter", "naavre:batch-count:2"], "# items\nitems <- 0:7\n"),
            (
                ["naavre:processor"],
                "# burn\n" + BURN + "burned <- vapply(items, burn, 0, param_work)\n",
            ),
            (["naavre:merger"], "# total\nprint(sum(burned))\n"),
        ]
    )


def trivial_notebook(n: int) -> nbformat.NotebookNode:
    return _notebook(
        [
            ([], f"# parameters\nparam_batches <- {n}L\n"),
            (
                ["naavre:splitter", "naavre:batch-count:param_batches"],
                f"# items\nitems <- seq_len({n})\n",
            ),
            (["naavre:processor"], "# double\ndoubled <- items * 2L\n"),
            (["naavre:merger"], "# total\nprint(sum(doubled))\n"),
        ]
    )


def _calibrate() -> int:
    """Loop iterations per item so that eight items take about 4 s in R on this machine, timed
    as the processor runs them (``vapply`` over items, after a first call that the byte-code JIT
    compiles; best of three, as a busy machine only makes a run slower)."""
    code = (
        BURN
        + "invisible(burn(0, 1000L))\n"
        + "best <- Inf\n"
        + "for (k in 1:3) {\n"
        + "  t <- proc.time()[[3]]\n"
        + "  invisible(vapply(0:1, burn, 0, 200000L))\n"
        + "  best <- min(best, proc.time()[[3]] - t)\n"
        + "}\n"
        + "cat(best)\n"
    )
    done = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=True)
    return max(1000, int(4.0 / 8 / (float(done.stdout) / 400_000)))


def bench_cpu(folder: Path, parallelism: int, repeat: int) -> None:
    nb = cpu_notebook(_calibrate())
    path = folder / "cpu.ipynb"
    nbformat.write(nb, str(path))
    nb_wall, wf_wall, cells = best_of_both(path, nb, folder, parallelism, repeat)
    print(f"1. CPU-bound R processor, batch count 2 (best of {repeat} runs)")
    print(
        f"   notebook context (IRkernel) {nb_wall:.2f} s, workflow context (Rscript) {wf_wall:.2f} s "
        f"(parallelism {parallelism}, {os.cpu_count()} CPUs)"
    )
    print(f"   workflow/notebook wall-time ratio: {wf_wall / nb_wall:.2f} (goal <= 0.6; {_load()})")
    print(f"   against the notebook's cell time alone ({cells:.2f} s): {wf_wall / cells:.2f}")


def bench_overhead(folder: Path, parallelism: int, n: int) -> None:
    nb = trivial_notebook(n)
    path = folder / "trivial.ipynb"
    nbformat.write(nb, str(path))
    spec = build_spec(nb, str(path))
    walls = {}
    cpus = {}
    for batches in (n, 2):
        started = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = runner.run(
            path,
            "workflow",
            {"param_batches": batches},
            nb=nb,
            spec=spec,
            parallelism=parallelism,
            runs_dir=folder / "runs",
        )
        assert result["status"] == "ok", result["workflow_run"]["errors"]
        walls[batches] = (time.perf_counter() - started, *_chain_wall(result))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus[batches] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    (classic, classic_chain, k1), (batched, batched_chain, k2) = walls[n], walls[2]
    per_instance = (classic_chain - batched_chain) / (k1 - k2) * 1000
    print(f"2. {n} trivial items: batch count {n} ({k1} R instances) vs 2 ({k2} instances)")
    print(f"   whole run {classic:.2f} s vs {batched:.2f} s")
    print(
        f"   per-instance overhead of an R instance (wall, parallelism {parallelism}): "
        f"{per_instance:.0f} ms ({_load()})"
    )
    print(f"   per-instance cost on one worker: {per_instance * parallelism:.0f} ms")
    # CPU seconds of the step processes (waited-for children): what the load does not inflate much
    cpu_per_instance = (cpus[n] - cpus[2]) / (k1 - k2) * 1000
    print(f"   CPU per R instance (its Rscript process): {cpu_per_instance:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallelism", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--only", choices=["analysis", "cpu", "overhead"])
    parser.add_argument("--repeat", type=int, default=2, help="runs of benchmark 1 (best is kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="naavre-bench-r-") as tmp:
        folder = Path(tmp)
        if args.only in (None, "analysis"):
            bench_analysis(args.repeat * 3)
        if args.only in (None, "overhead"):
            bench_overhead(folder, args.parallelism, args.items)
        if args.only in (None, "cpu"):
            bench_cpu(folder, args.parallelism, args.repeat)


if __name__ == "__main__":
    main()
