"""POST /naavre-batch-ext/export: Argo YAML or spec JSON, saved beside the notebook through the
contents manager without ever clobbering a file by surprise; options checked field by field."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import (
    api_error,
    api_post,
    code_notebook,
    section_tags,
    tagged_seed_notebook,
    unknown_name_notebook,
    write_tmp,
)

from naavre_batch_ext.core.spec import build_spec, dumps_spec
from naavre_batch_ext.exporters.argo import ArgoOptions, export_argo


async def export(jp_fetch: Any, body: dict[str, Any]) -> dict[str, Any]:
    return await api_post(jp_fetch, "export", body)


async def export_error(jp_fetch: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return await api_error(jp_fetch, "export", body)


async def test_argo_export_is_the_core_yaml_and_is_not_saved(
    jp_fetch: Any, jp_root_dir: Path, seed: str
) -> None:
    reply = await export(jp_fetch, {"path": seed, "format": "argo"})
    assert reply["text"] == export_argo(build_spec(tagged_seed_notebook(), seed))
    assert yaml.safe_load(reply["text"])["kind"] == "Workflow"
    assert reply["saved"] is False and reply["path"] is None
    assert not (jp_root_dir / "seed.argo.yaml").exists()


async def test_json_export_is_the_spec_text(jp_fetch: Any, seed: str) -> None:
    reply = await export(jp_fetch, {"path": seed, "format": "json"})
    assert reply["text"] == dumps_spec(build_spec(tagged_seed_notebook(), seed))
    assert reply["warnings"] == []


async def test_options_reach_the_workflow(jp_fetch: Any, seed: str) -> None:
    options = {
        "image": "my/image:1",
        "images": {"processor": "my/gpu:2"},
        "parallelism": 3,
        "retries": 2,
        "namespace": "lab",
        "serviceAccount": "runner",
        "cpu": "500m",
        "memory": "1Gi",
    }
    reply = await export(jp_fetch, {"path": seed, "options": options})
    expected = ArgoOptions(
        image="my/image:1",
        images={"processor": "my/gpu:2"},
        parallelism=3,
        retries=2,
        namespace="lab",
        service_account="runner",
        cpu="500m",
        memory="1Gi",
    )
    assert reply["text"] == export_argo(build_spec(tagged_seed_notebook(), seed), expected)


async def test_unsaved_content_is_exported(jp_fetch: Any, seed: str) -> None:
    nb = tagged_seed_notebook()
    nb.cells[8].source = "# merge: totals\nprocessed_batches = sum(processed_batches, [])"
    reply = await export(jp_fetch, {"path": seed, "format": "json", "notebook": nb})
    assert json.loads(reply["text"])["steps"][-1]["id"] == "totals"


async def test_third_party_imports_come_back_as_warnings(jp_fetch: Any) -> None:
    nb = code_notebook(
        "import numpy\nitems = [1, 2]",
        "out = items",
        "total = out",
        tags=section_tags(),
    )
    reply = await export(jp_fetch, {"path": "np.ipynb", "notebook": nb})
    assert [w["code"] for w in reply["warnings"]] == ["third-party-imports"]
    assert "numpy" in reply["warnings"][0]["message"]


@pytest.mark.parametrize(("fmt", "suffix"), [("argo", ".argo.yaml"), ("json", ".workflow.json")])
async def test_save_writes_beside_the_notebook(
    jp_fetch: Any, jp_root_dir: Path, fmt: str, suffix: str
) -> None:
    (jp_root_dir / "work").mkdir()
    write_tmp(tagged_seed_notebook(), jp_root_dir / "work", "seed.ipynb")
    reply = await export(jp_fetch, {"path": "work/seed.ipynb", "format": fmt, "save": True})
    assert reply["saved"] is True
    assert reply["path"] == f"work/seed{suffix}"
    assert (jp_root_dir / "work" / f"seed{suffix}").read_text(encoding="utf-8") == reply["text"]


async def test_save_refuses_an_existing_file_with_409(
    jp_fetch: Any, jp_root_dir: Path, seed: str
) -> None:
    existing = jp_root_dir / "seed.argo.yaml"
    existing.write_text("# my hand-edited workflow\n", encoding="utf-8")
    code, reply = await export_error(jp_fetch, {"path": seed, "save": True})
    assert code == 409
    assert reply["path"] == "seed.argo.yaml" and reply["field"] == "overwrite"
    assert existing.read_text(encoding="utf-8") == "# my hand-edited workflow\n"


async def test_save_with_overwrite_replaces_the_file(
    jp_fetch: Any, jp_root_dir: Path, seed: str
) -> None:
    existing = jp_root_dir / "seed.argo.yaml"
    existing.write_text("# old\n", encoding="utf-8")
    reply = await export(jp_fetch, {"path": seed, "save": True, "overwrite": True})
    assert reply["saved"] is True
    assert existing.read_text(encoding="utf-8") == reply["text"]


async def test_analysis_errors_are_400_with_diagnostics_and_nothing_written(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    write_tmp(unknown_name_notebook(), jp_root_dir, "bad.ipynb")
    code, reply = await export_error(jp_fetch, {"path": "bad.ipynb", "save": True})
    assert code == 400
    errors = [d for d in reply["diagnostics"] if d["severity"] == "error"]
    assert errors and errors[0]["cell_index"] == 1
    assert "cell 1" in reply["message"]
    assert not (jp_root_dir / "bad.argo.yaml").exists()


async def test_a_notebook_without_steps_is_400(jp_fetch: Any) -> None:
    code, reply = await export_error(
        jp_fetch, {"path": "plain.ipynb", "notebook": code_notebook("x = 1")}
    )
    assert code == 400
    assert "tag cells" in reply["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "pdf"}, "format"),
        ({"format": 1}, "format"),
        ({"save": "yes"}, "save"),
        ({"overwrite": 1}, "overwrite"),
        ({"options": []}, "options"),
        ({"options": {"parallelism": "4"}}, "options.parallelism"),
        ({"options": {"retries": True}}, "options.retries"),
        ({"options": {"colour": "red"}}, "options.colour"),
        ({"options": {"images": {"processor": 3}}}, "options.images.processor"),
        ({"options": {"images": {"sidecar": "x"}}}, "options.images"),
        ({"options": {"parallelism": 0}}, "options.parallelism"),
        ({"options": {"image": "has space"}}, "options.image"),
    ],
)
async def test_bad_export_fields_are_400_naming_the_field(
    jp_fetch: Any, seed: str, body: dict[str, Any], field: str
) -> None:
    code, reply = await export_error(jp_fetch, {"path": seed, **body})
    assert code == 400
    assert reply["field"] == field


async def test_save_through_a_symlink_leading_outside_is_refused(
    jp_fetch: Any, jp_root_dir: Path, seed: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "victim.yaml"
    outside.write_text("keep me\n", encoding="utf-8")
    os.symlink(outside, jp_root_dir / "seed.argo.yaml")
    code, reply = await export_error(jp_fetch, {"path": seed, "save": True, "overwrite": True})
    assert code == 400
    assert "outside the server root" in reply["message"]
    assert outside.read_text(encoding="utf-8") == "keep me\n"


async def test_save_of_unsaved_content_into_a_missing_folder_is_404(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    code, reply = await export_error(
        jp_fetch, {"path": "nowhere/seed.ipynb", "notebook": tagged_seed_notebook(), "save": True}
    )
    assert code == 404
    assert reply["field"] == "path"
    assert not (jp_root_dir / "nowhere").exists()


@pytest.mark.parametrize("path", ["../seed.ipynb", "/etc/passwd"])
async def test_export_refuses_paths_leaving_the_root(jp_fetch: Any, path: str) -> None:
    code, reply = await export_error(jp_fetch, {"path": path, "save": True})
    assert code == 400 and reply["field"] == "path"
