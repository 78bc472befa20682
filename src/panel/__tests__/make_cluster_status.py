"""Regenerate cluster-status.json: real ``naavre_batch_ext.engines.cluster.run_status`` answers for the
tagged seed on the fake Argo server's scripted run (tests/argo_fake.py), at three stages, and
``retried``: the failed run retried to success (the batches kept by the retry are ``reused``).

Run from the repository root: ``PYTHONPATH=.:tests python src/panel/__tests__/make_cluster_status.py``
"""

import json
from pathlib import Path

from argo_fake import FakeArgo

from naavre_batch_ext.exporters.argo import ArgoOptions
from naavre_batch_ext.engines.cluster import run_status, workflow_for
from naavre_batch_ext.core.spec import spec_for_path

spec = spec_for_path("tests/notebooks/splitting-batches-tagged.ipynb")
out = {}
for label, stage in (("running", 3), ("failed", 4), ("succeeded", 6), ("retried", 6)):
    fake = FakeArgo()
    wf = workflow_for(spec, "seed.ipynb", ArgoOptions(), {}, "naavre")
    name = fake.create("naavre", wf)["metadata"]["name"]
    run = fake.runs[name]
    run.stage = stage
    run.retried = label == "retried"
    fake.fill(run)
    status = run_status(run.workflow)
    status["seconds"] = None  # depends on the clock
    for step in status["steps"]:
        step["seconds"] = None
        for item in (step["instances"] or {}).get("items", []):
            item["seconds"] = None
    out[label] = status
path = Path(__file__).with_name("cluster-status.json")
path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
