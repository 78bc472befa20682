"""What a merger leaves in the Workflow's status (issue 18): its printed output, bounded, and a
summary of the merged values, as output parameters that outlive its pod. Played with the tests'
Argo player (tests/test_argo_execution.py), so these are what the exported scripts really write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import code_notebook, section_tags
from test_argo_execution import TRANSPORTS, export_and_play

from naavre_batch_ext.steps.step_runtime import STORED_PRINTED_LIMIT

SECTION = section_tags(0, "3")
SECTION[0].append("naavre:split:items")


@pytest.mark.parametrize("transport", [TRANSPORTS[0], TRANSPORTS[2]])
def test_a_long_printed_output_keeps_its_end_and_says_how_much_was_cut(
    transport: str, tmp_path: Path
) -> None:
    nb = code_notebook(
        "items = list(range(6))",
        "out = [i * 2 for i in items]",
        "for i in range(40_000):\n    print(f'line {i:05d} é')\nprint('THE END', out)",
        tags=SECTION,
    )
    _, play = export_and_play(nb, tmp_path, transport)
    merger = play.only("merger-1")
    stored = json.loads(merger.outputs["naavre-printed"])
    whole = merger.stdout.encode("utf-8")
    assert len(whole) > STORED_PRINTED_LIMIT
    kept = stored["text"].encode("utf-8")
    assert len(kept) <= STORED_PRINTED_LIMIT and stored["cutBytes"] == len(whole) - len(kept)
    assert whole.endswith(kept) and stored["text"].endswith("THE END [0, 2, 4, 6, 8, 10]\n")
    (row,) = json.loads(merger.outputs["naavre-summary"])
    assert row == {"name": "out", "type": "list", "length": 6, "preview": "[0, 2, 4, 6, 8, 10]"}


def test_a_merger_that_fails_in_its_cell_still_stores_what_it_printed(tmp_path: Path) -> None:
    nb = code_notebook(
        "items = list(range(4))",
        "out = [i + 1 for i in items]",
        "print('merging', out)\nraise RuntimeError('cannot merge')",
        tags=SECTION,
    )
    _, play = export_and_play(nb, tmp_path, TRANSPORTS[0])
    merger = play.only("merger-1")
    assert merger.returncode != 0 and play.phase == "Failed"
    assert json.loads(merger.outputs["naavre-printed"]) == {
        "text": "merging [1, 2, 3, 4]\n",
        "cutBytes": 0,
    }
    assert merger.outputs["naavre-summary"] == "null"  # valueFrom.default
