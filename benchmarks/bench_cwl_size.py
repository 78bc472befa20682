"""CWL export size; prints figures (``python benchmarks/bench_cwl_size.py``).

Notebooks of 1, 20 and 400 sections (split, process, merge; the test helpers'
``sections_notebook``): the size of the CWL document, its growth per section, and the time to
export it. Every tool shares one entry holding the step runtime (a YAML anchor and its aliases),
so the document grows by each task's own payload, not by a copy of the runtime per tool (before
issue 22: about 200 KB per section, 80 MB for 400 sections). The Argo export's size is printed
beside it for comparison (it keeps the runtime once in an annotation).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers import sections_notebook  # noqa: E402

from naavre_batch_ext.core.spec import build_spec  # noqa: E402
from naavre_batch_ext.exporters import argo, cwl  # noqa: E402


def main() -> None:
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    print("sections  tools  CWL (KiB)  per section (KiB)  export (s)  Argo (KiB)")
    for sections in (1, 20, 400):
        spec = build_spec(sections_notebook(sections), "sections.ipynb")
        start = time.perf_counter()
        text = cwl.export_cwl(spec)
        seconds = time.perf_counter() - start
        size = len(text.encode("utf-8")) / 1024
        argo_size = len(argo.export_argo(spec).encode("utf-8")) / 1024
        print(
            f"{sections:8d}  {3 * sections:5d}  {size:9.0f}  {size / sections:17.1f}  "
            f"{seconds:10.2f}  {argo_size:10.0f}"
        )


if __name__ == "__main__":
    main()
