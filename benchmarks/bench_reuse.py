"""Reuse benchmark; prints figures (``python benchmarks/bench_reuse.py [--repeat R]``).

The seed notebook (tests/notebooks/splitting-batches.ipynb, tagged as its text says) with 500
items in 50 batches, workflow context, parallelism 2: the wall time of a fully reused run
(``--reuse``, every instance's key in the store) against the uncached run (no reuse), best of R
each, measured in turns; the ratio (goal: at most 0.2), and the store's size (outputs, and on
disk with the manifests). The uncached run includes writing each instance's manifest (its key and
output hashes), which every run does so that it can be resumed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers import tagged_seed_notebook, write_tmp  # noqa: E402

from naavre_batch_ext.core.spec import build_spec  # noqa: E402
from naavre_batch_ext.engines import reuse, runner  # noqa: E402

PARAMETERS = {"param_item_count": 500, "param_max_batch_count": 50}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parallelism", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reuse-") as tmp:
        nb = tagged_seed_notebook()
        path = write_tmp(nb, Path(tmp), "seed.ipynb")
        spec = build_spec(nb, str(path))

        def once(store: bool) -> tuple[float, dict]:
            start = time.perf_counter()
            result = runner.run(
                path,
                "workflow",
                PARAMETERS,
                spec=spec,
                nb=nb,
                parallelism=args.parallelism,
                reuse_store=store,
            )
            assert result["status"] == "ok", result["status"]
            return time.perf_counter() - start, result["workflow_run"]

        once(True)  # fill the store
        uncached: list[float] = []
        reused: list[float] = []
        last: dict = {}
        for _ in range(args.repeat):
            uncached.append(once(False)[0])
            seconds, last = once(True)
            assert last["reuse"]["ran"] == 0, last["reuse"]
            reused.append(seconds)
        store = reuse.Store.open(path.parent / ".naavre-batch" / "runs")
        on_disk = sum(f.stat().st_size for f in store.path.rglob("*") if f.is_file())
        instances = last["reuse"]["reused"]
        print(f"seed, {PARAMETERS['param_item_count']} items in 50 batches, workflow context, ")
        print(f"parallelism {args.parallelism}, best of {args.repeat}:")
        print(f"  uncached run           {min(uncached):7.3f} s")
        print(f"  fully reused run       {min(reused):7.3f} s  ({instances} instances reused)")
        print(f"  ratio reused/uncached  {min(reused) / min(uncached):7.3f}  (goal <= 0.2)")
        print(
            f"  store: {len(store.entries())} entries, {store.size()} bytes of outputs, "
            f"{on_disk} bytes on disk with manifests (limit {store.limit_bytes} bytes)"
        )


if __name__ == "__main__":
    main()
