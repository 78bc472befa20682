"""Add ``resumed`` to run-snapshot.json: a real ``Run.snapshot()`` of RunManager resuming a run
whose batch 3 failed (the processor raises for item 7 while ``fail-on-7`` exists), after the fix.

Run from the repository root: ``python src/panel/__tests__/make_run_snapshot_resumed.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))
sys.path.insert(0, str(HERE.parents[2] / "tests"))

from helpers import code_notebook, section_tags, write_tmp  # noqa: E402

from naavre_batch_ext.core.spec import build_spec  # noqa: E402
from naavre_batch_ext.runs import RunManager, RunRequest  # noqa: E402

PROCESSOR = (
    "import os\n"
    "doubled = [x * 2 for x in items]\n"
    "if os.path.exists('fail-on-7') and 7 in items:\n"
    "    raise ValueError('item 7 is broken')"
)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        nb = code_notebook(
            "items = [1, 2, 3, 4, 5, 6, 7, 8]", PROCESSOR, "total = sum(doubled)",
            tags=section_tags(0, "4"),
        )
        path = write_tmp(nb, root, "failing.ipynb")
        spec = build_spec(nb, "failing.ipynb")
        manager = RunManager(root=root)

        def run(**extra: object) -> dict:
            request = RunRequest(path, "failing.ipynb", "workflow", {}, spec, nb, **extra)
            started = manager.start(request)
            started.wait(120)
            return started.snapshot()

        (root / "fail-on-7").touch()
        failed = run()
        (root / "fail-on-7").unlink()
        resumed = run(resume=failed["id"])
        manager.shutdown()
    target = HERE / "run-snapshot.json"
    data = json.loads(target.read_text(encoding="utf-8"))
    data["resumed"] = resumed
    target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
