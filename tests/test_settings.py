"""``naavre-batch export`` takes its defaults from the extension's JupyterLab settings, like the panel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import tagged_seed_notebook, write_tmp

from naavre_batch_ext.cli import main
from naavre_batch_ext.exporters.argo import ArgoOptions
from naavre_batch_ext.settings import EXPORT_SETTINGS, settings_path

SCHEMA = Path(__file__).parent.parent / "schema" / "plugin.json"


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    return write_tmp(tagged_seed_notebook(), tmp_path, "splitting-batches.ipynb")


def _user_settings(text: str) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")


def _exported(path: Path) -> dict:
    return yaml.safe_load(path.with_name("splitting-batches.argo.yaml").read_text())


def _images(workflow: dict) -> set[str]:
    return {t["script"]["image"] for t in workflow["spec"]["templates"] if "script" in t}


def test_export_uses_the_image_and_retries_set_in_jupyterlab(seed: Path) -> None:
    _user_settings(
        '{\n  // written by the Settings Editor\n  "exportImage": "ghcr.io/lab/eco:1",\n'
        '  "exportRetries": 3,\n  "exportParallelism": null\n}\n'
    )
    assert main(["export", str(seed)]) == 0
    workflow = _exported(seed)
    assert _images(workflow) == {"ghcr.io/lab/eco:1"}
    assert {t.get("retryStrategy", {}).get("limit") for t in workflow["spec"]["templates"]} >= {"3"}
    assert "parallelism" not in workflow["spec"]


def test_command_line_options_win_over_the_settings(seed: Path) -> None:
    _user_settings('{"exportImage": "ghcr.io/lab/eco:1"}')
    assert main(["export", str(seed), "--image", "python:3.12-slim"]) == 0
    assert _images(_exported(seed)) == {"python:3.12-slim"}


def test_without_settings_the_defaults_are_argo_options(seed: Path) -> None:
    assert main(["export", str(seed)]) == 0
    assert _images(_exported(seed)) == {ArgoOptions().image}


def test_a_setting_of_the_wrong_type_is_a_clear_error(
    seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _user_settings('{"exportRetries": "three"}')
    assert main(["export", str(seed)]) == 2
    err = capsys.readouterr().err
    assert "exportRetries" in err and str(settings_path()) in err
    assert "Traceback" not in err
    assert not seed.with_name("splitting-batches.argo.yaml").exists()


def test_settings_schema_defaults_are_the_cli_defaults() -> None:
    """One set of defaults: the Settings Editor shows what the CLI uses when nothing is set."""
    properties = json.loads(SCHEMA.read_text())["properties"]
    defaults = ArgoOptions()
    for key, field in EXPORT_SETTINGS.items():
        assert properties[key]["default"] == getattr(defaults, field), key


def _with_saved_options(seed: Path, options: dict) -> None:
    """The seed with export options as the panel's Advanced section saves them."""
    nb = json.loads(seed.read_text())
    nb["metadata"]["naavre-batch"] = {"export": options, "kept": "by the panel"}
    seed.write_text(json.dumps(nb))


def test_export_takes_the_advanced_setting_when_the_notebook_has_none(seed: Path) -> None:
    _user_settings(
        '{"exportRetries": 1, "exportAdvanced": {"podGC": null, "ttlAfterSuccess": 60,'
        ' "parallelism": 4, "retries": 2}}'
    )
    assert main(["export", str(seed)]) == 0
    spec = _exported(seed)["spec"]
    assert "podGC" not in spec  # null: keep pods
    assert spec["ttlStrategy"]["secondsAfterSuccess"] == 60
    assert spec["parallelism"] == 4
    assert {t.get("retryStrategy", {}).get("limit") for t in spec["templates"]} >= {"2"}


def test_flags_win_over_the_notebook_s_options_which_win_over_the_setting(seed: Path) -> None:
    _user_settings('{"exportAdvanced": {"ttlAfterSuccess": 60, "activeDeadlineSeconds": 600}}')
    _with_saved_options(seed, {"ttlAfterSuccess": 120, "podGC": "OnWorkflowSuccess"})
    assert main(["export", str(seed), "--pod-gc", "OnPodCompletion"]) == 0
    spec = _exported(seed)["spec"]
    assert spec["podGC"]["strategy"] == "OnPodCompletion"  # the flag
    assert spec["ttlStrategy"]["secondsAfterSuccess"] == 120  # the notebook's
    assert spec["activeDeadlineSeconds"] == 600  # the setting's


def test_a_saved_option_of_the_wrong_type_names_the_notebook_and_the_key(
    seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_saved_options(seed, {"ttlAfterSuccess": "one day"})
    assert main(["export", str(seed)]) == 2
    err = capsys.readouterr().err
    assert f"{seed}: metadata naavre-batch.export.ttlAfterSuccess: expected an integer" in err
    assert "Advanced export options" in err and "Traceback" not in err
    assert not seed.with_name("splitting-batches.argo.yaml").exists()
