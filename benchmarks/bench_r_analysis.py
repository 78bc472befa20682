"""Benchmark: analysis + spec of a generated R notebook with 100 code cells (issue 19).

Goal: well under 1 s for the whole notebook, with one R start (one ``Rscript`` process reads every
cell). Prints the median of several repeats: the whole analysis, the part spent in R (the one
process), the bare start of that ``Rscript`` (R with nothing to do: the floor), their CPU time,
and the ratio to the goal. The machine is shared, so CPU seconds are the steadier figure. Run from
the repository root: ``python benchmarks/bench_r_analysis.py [--repeats N] [--cells N]``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from naavre_batch_ext.core import r_analysis  # noqa: E402
from naavre_batch_ext.core.spec import build_spec, validate_spec  # noqa: E402

GOAL_S = 1.0

SPLITTER = """# split {s}: read plots
obs_{s} <- data.frame(plot = rep(c("a", "b", "c"), each = param_n),
                      density = seq_len(3 * param_n) / {s1},
                      when = as.Date("2024-01-01") + seq_len(3 * param_n))
obs_{s}$year <- format(obs_{s}$when, "%Y")
plots_{s} <- split(obs_{s}, obs_{s}$plot)
names(plots_{s}) <- toupper(names(plots_{s}))"""

PROCESSOR = """# step {s}: densities
scale_{s} <- function(v, k = 2) {{
  out <- v * k + offset
  out[is.na(out)] <- 0
  out
}}
means_{s} <- list()
for (p in plots_{s}) {{
  kept <- subset(p, density > 0.5, select = c(plot, density))
  agg <- aggregate(density ~ plot, data = kept, FUN = mean)
  means_{s}[[length(means_{s}) + 1]] <- scale_{s}(agg$density)
}}"""

MERGER = """# merge {s}: report
total_{s} <- sum(unlist(means_{s}))
report_{s} <- sprintf("section %d: %.3f", {s}L, total_{s})
cat(report_{s}, "\\n")"""


def generate(cells: int = 100) -> nbformat.NotebookNode:
    """A header cell (parameters, a library() call, a helper) and sections of splitter, processor,
    merger: ``cells`` code cells in all (the last section is cut short if needed)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "# parameters\nparam_n <- 10L\nparam_batches <- 3L\noffset <- 0.5\nlibrary(stats)"
        )
    )
    roles = [
        (SPLITTER, ["naavre:splitter", "naavre:batch-count:param_batches"]),
        (PROCESSOR, ["naavre:processor"]),
        (MERGER, ["naavre:merger"]),
    ]
    s = 0
    while len(nb.cells) < cells:
        for template, tags in roles:
            if len(nb.cells) == cells:
                break
            cell = nbformat.v4.new_code_cell(template.format(s=s, s1=s + 1))
            cell.metadata["tags"] = tags
            nb.cells.append(cell)
        s += 1
    return nb


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of ``fn`` (this process and its children)."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeats):
        before = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        start = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - start)
        after = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        cpus.append(
            sum(
                a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime
                for a, b in zip(after, before, strict=True)
            )
        )
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cells", type=int, default=100)
    args = parser.parse_args()
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("R is not installed (no Rscript on PATH): nothing to measure")
        return 1
    nb = generate(args.cells)
    sources = [c.source for c in nb.cells]
    spec = build_spec(nb, "bench.ipynb")
    validate_spec(spec)
    assert spec["summary"]["errors"] == 0, spec["diagnostics"]
    assert len(spec["steps"]) == args.cells - 1

    whole = timed(lambda: build_spec(nb, "bench.ipynb"), args.repeats)
    in_r = timed(lambda: r_analysis.analyse_r_sources(sources), args.repeats)
    bare = timed(
        lambda: subprocess.run(
            [rscript, "--vanilla", "--default-packages=base", "-e", "invisible(0)"],
            check=True,
            env={"R_ENABLE_JIT": "0", "PATH": str(Path(rscript).parent)},
        ),
        args.repeats,
    )
    print(f"R notebook analysis: {args.cells} code cells, {len(spec['steps'])} steps, one Rscript")
    print(f"  median of {args.repeats}            wall s   CPU s")
    print(f"  whole analysis + spec        {whole[0]:6.3f}  {whole[1]:6.3f}")
    print(f"  of which the Rscript process {in_r[0]:6.3f}  {in_r[1]:6.3f}")
    print(f"  bare Rscript start (floor)   {bare[0]:6.3f}  {bare[1]:6.3f}")
    print(f"  per cell beyond the R start  {(whole[0] - bare[0]) / args.cells * 1000:6.2f} ms")
    print(
        f"  goal {GOAL_S:.1f} s: wall/goal = {whole[0] / GOAL_S:.2f}, CPU/goal = {whole[1] / GOAL_S:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
