"""GET/POST /naavre-batch-ext/export-options: the panel's Advanced export options get the CLI's
defaults and are checked, field by field, by the same check as POST export (ArgoOptions.check)."""

from __future__ import annotations

import json
from typing import Any

from helpers import api_post

from naavre_batch_ext.exporters.argo import POD_GC_STRATEGIES, ArgoOptions


async def test_the_defaults_are_the_clis(jp_fetch: Any) -> None:
    answer = json.loads((await jp_fetch("naavre-batch-ext", "export-options")).body)
    defaults = ArgoOptions()
    assert answer["defaults"]["podGC"] == defaults.pod_gc
    assert answer["defaults"]["ttlAfterSuccess"] == defaults.ttl_after_success
    assert answer["defaults"]["ttlAfterFailure"] == defaults.ttl_after_failure
    assert answer["defaults"]["activeDeadlineSeconds"] == defaults.active_deadline_seconds
    assert answer["defaults"]["retryBackoff"] == defaults.retry_backoff
    assert answer["podGCStrategies"] == list(POD_GC_STRATEGIES)


async def test_each_bad_value_is_named_at_its_field(jp_fetch: Any) -> None:
    options = {
        "podGC": "Sometimes",
        "ttlAfterSuccess": -1,
        "activeDeadlineSeconds": 0,
        "retryBackoff": "soon",
        "retries": 2,
    }
    errors = (await api_post(jp_fetch, "export-options", {"options": options}))["errors"]
    assert sorted(errors) == ["activeDeadlineSeconds", "podGC", "retryBackoff", "ttlAfterSuccess"]
    assert "OnPodSuccess" in errors["podGC"]
    assert "soon" in errors["retryBackoff"]


async def test_good_values_and_nulls_pass(jp_fetch: Any) -> None:
    options = {"podGC": None, "ttlAfterSuccess": 60, "activeDeadlineSeconds": None}
    assert (await api_post(jp_fetch, "export-options", {"options": options}))["errors"] == {}


async def test_options_that_only_clash_together_are_named(jp_fetch: Any) -> None:
    options = {"artifactRepositoryRef": "my-repo", "values": "parameters"}
    errors = (await api_post(jp_fetch, "export-options", {"options": options}))["errors"]
    assert list(errors) == ["artifactRepositoryRef"]
