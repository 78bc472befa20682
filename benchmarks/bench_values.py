"""Value transport benchmarks; prints figures (``python benchmarks/bench_values.py``).

What a step boundary costs with :mod:`naavre_batch_ext.steps.transport`, against the plain library calls a
user would write by hand, on the same disk, best of ``--repeat`` runs, the two measured in turns:

1. A 200 MB float64 array passed from splitter to processor: the splitter writes the batch value
   ``{"index", "start", "stop", "items": array}`` and the processor reads it back, against
   ``np.save`` + ``np.load`` of the array alone. Goal: at most 1.5x.
2. A list of 100,000 small dicts (the JSON codec, with its exact-type check), against
   ``json.dump`` + ``json.load``. Goal: at most 1.5x.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from naavre_batch_ext.steps import transport  # noqa: E402


def _best(function: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def _paired(
    ours: Callable[[], None], theirs: Callable[[], None], repeat: int
) -> tuple[float, float]:
    """Best times of both, measured in turns so that load from other processes hits both alike."""
    best_ours, best_theirs = float("inf"), float("inf")
    for _ in range(repeat):
        best_ours = min(best_ours, _best(ours, 1))
        best_theirs = min(best_theirs, _best(theirs, 1))
    return best_ours, best_theirs


def bench_array(folder: Path, megabytes: int, repeat: int) -> float:
    array = np.random.default_rng(0).random(megabytes * 1024 * 1024 // 8)
    batch = {"index": 0, "start": 0, "stop": len(array), "items": array}
    ours_path, theirs_path = folder / "batch", folder / "array.npy"

    def ours() -> None:
        transport.dump(batch, str(ours_path))
        back = transport.load(str(ours_path))
        assert back["items"].shape == array.shape

    def theirs() -> None:
        np.save(theirs_path, array)
        back = np.load(theirs_path)
        assert back.shape == array.shape

    t_ours, t_theirs = _paired(ours, theirs, repeat)
    codec = transport.codec_of(batch)
    ratio = t_ours / t_theirs
    print(f"1. {megabytes} MB float64 array, splitter -> processor (batch value, codec {codec})")
    print(f"   transport dump + load {t_ours:.3f} s, np.save + np.load {t_theirs:.3f} s")
    print(f"   ratio {ratio:.2f} (goal <= 1.5)")
    return ratio


def bench_dicts(folder: Path, count: int, repeat: int) -> float:
    rows = [
        {"id": i, "name": f"site-{i}", "depth": i * 0.25, "ok": i % 2 == 0} for i in range(count)
    ]
    ours_path, theirs_path = folder / "rows", folder / "rows.json"

    def ours() -> None:
        transport.dump(rows, str(ours_path))
        assert len(transport.load(str(ours_path))) == count

    def theirs() -> None:
        with open(theirs_path, "w", encoding="utf-8") as handle:
            json.dump(rows, handle)
        with open(theirs_path, encoding="utf-8") as handle:
            assert len(json.load(handle)) == count

    t_ours, t_theirs = _paired(ours, theirs, repeat)
    ratio = t_ours / t_theirs
    print(f"2. {count:,} small dicts (codec {transport.codec_of(rows)})")
    print(f"   transport dump + load {t_ours:.3f} s, json.dump + json.load {t_theirs:.3f} s")
    print(f"   ratio {ratio:.2f} (goal <= 1.5)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--dicts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="naavre-bench-values-") as tmp:
        bench_array(Path(tmp), args.megabytes, args.repeat)
        bench_dicts(Path(tmp), args.dicts, args.repeat)


if __name__ == "__main__":
    main()
