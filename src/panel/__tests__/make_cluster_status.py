"""Regenerate cluster-status.json: real ``naavre_batch_ext.engines.cluster.run_status`` answers for the
tagged seed on the fake Argo server (tests/argo_fake.py), whose nodes come from really running the
exported workflow's pods: ``running`` (stage 3: 3 of 5 batches done), ``failed`` (the seed whose
processor raises for item 13, helpers.seed_with_a_broken_item: batch 2 fails, the merger too) and
``succeeded`` (its merger's printed output stored in the status; its pod deleted by pod GC) and
``retried`` (the failed run retried once item 13 works: the batches kept by the retry are ``reused``).

Run from the repository root: ``PYTHONPATH=.:tests python src/panel/__tests__/make_cluster_status.py``,
then ``jlpm prettier --write src/panel/__tests__/cluster-status.json``.
"""

import json
import tempfile
from pathlib import Path

from argo_fake import FakeArgo
from helpers import BROKEN_ITEM_VARIABLE, seed_with_a_broken_item

from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.engines.cluster import run_status, workflow_for
from naavre_batch_ext.exporters.argo import ArgoOptions

spec = build_spec(seed_with_a_broken_item(), "seed.ipynb")
out = {}
with tempfile.TemporaryDirectory() as folder:
    for label, stage, env in (
        ("running", 3, {}),
        ("failed", None, {BROKEN_ITEM_VARIABLE: "13"}),
        ("succeeded", None, {}),
        ("retried", None, {BROKEN_ITEM_VARIABLE: "13"}),
    ):
        fake = FakeArgo(pod_env=env, root=Path(folder) / label)
        wf = workflow_for(spec, "seed.ipynb", ArgoOptions(), {}, "naavre")
        name = fake.create("naavre", wf)["metadata"]["name"]
        run = fake.runs[name]
        fake.execute(run)
        run.stage = run.last if stage is None else stage
        fake.fill(run)
        if label == "retried":
            fake.pod_env.clear()
            fake.retry(run)
            run.stage = run.last
            fake.fill(run)
        assert fake.problems == [], fake.problems
        status = run_status(run.workflow)
        status["seconds"] = None  # depends on the clock
        status["startedAt"] = status["finishedAt"] = None
        for step in status["steps"]:
            step["seconds"] = None
            for item in (step["instances"] or {}).get("items", []):
                item["seconds"] = None
        out[label] = status
path = Path(__file__).with_name("cluster-status.json")
path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
