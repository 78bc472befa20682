"""Benchmark: analysis + spec of a generated notebook with 1,000 code cells in 200 sections.

Goal (issue 3): the whole notebook in under 0.5 s on the 2-core project machine. Prints the median
of several repeats, total and per cell, and the ratio to the goal. Run from the repository root:
``python benchmarks/bench_analysis.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from naavre_batch_ext.core.spec import build_spec, dumps_spec, validate_spec  # noqa: E402

GOAL_S = 0.5


def generate(sections: int = 200) -> nbformat.NotebookNode:
    """A header cell (the parameters) and ``sections`` sections of splitter, 3 processors and a
    merger; the first section has 2 processors so the notebook has exactly 5 * sections code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells.append(nbformat.v4.new_code_cell("# parameters\nparam_n = 10\nparam_batches = 4"))
    for s in range(sections):
        src = [
            (
                f"# split {s}: make items\nitems_{s} = list(range(param_n + {s}))\n"
                f"extra_{s} = {{'k': {s}}}",
                ["naavre:splitter", "naavre:batch-count:param_batches"],
            ),
            (
                f"# step {s}: square\ndef sq_{s}(v):\n    return v * v\nsquared_{s} = [sq_{s}(i) for i in items_{s}]",
                ["naavre:processor"],
            ),
            (
                f"# step {s}: shift\nshifted_{s} = []\nfor v in squared_{s}:\n    shifted_{s}.append(v + extra_{s}['k'])",
                ["naavre:processor"],
            ),
            (
                f"# step {s}: scale\nscaled_{s} = [v * 2 for v in shifted_{s}]\ntotal_{s} = sum(scaled_{s})",
                ["naavre:processor"],
            ),
            (
                f"# merge {s}: collect\nresult_{s} = sorted(scaled_{s})\nprint(len(result_{s}))",
                ["naavre:merger"],
            ),
        ]
        if s == 0:
            src.pop(2)
            src[2] = (
                "# step 0: scale\nscaled_0 = [v * 2 for v in squared_0]\ntotal_0 = sum(scaled_0)",
                ["naavre:processor"],
            )
        for code, tags in src:
            cell = nbformat.v4.new_code_cell(code)
            cell.metadata["tags"] = tags
            nb.cells.append(cell)
    return nb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sections", type=int, default=200)
    args = parser.parse_args()
    nb = generate(args.sections)
    n_cells = sum(1 for c in nb.cells if c.cell_type == "code")
    spec = build_spec(nb, "bench.ipynb")  # warm-up (imports, schema load)
    validate_spec(spec)
    if spec["summary"]["errors"] or len(spec["sections"]) != args.sections:
        print(
            "generated notebook does not analyse cleanly:", spec["diagnostics"][:3], file=sys.stderr
        )
        return 1
    times, cpu = [], []
    for _ in range(args.repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        dumps_spec(build_spec(nb, "bench.ipynb"))
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    med = statistics.median(times)
    med_cpu = statistics.median(cpu)
    print(
        f"code cells: {n_cells}, sections: {len(spec['sections'])}, steps: {len(spec['steps'])}, "
        f"errors: {spec['summary']['errors']}, warnings: {spec['summary']['warnings']}"
    )
    print(
        f"analysis + spec (median of {args.repeats}): {med * 1000:.0f} ms total, "
        f"{med * 1000 / n_cells:.3f} ms per cell (min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms)"
    )
    print(
        f"CPU time of this process (median): {med_cpu * 1000:.0f} ms total, "
        f"{med_cpu * 1000 / n_cells:.3f} ms per cell (less sensitive to other jobs on the machine)"
    )
    print(
        f"ratio to the {GOAL_S * 1000:.0f} ms goal: {med / GOAL_S:.2f} ({'met' if med < GOAL_S else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
