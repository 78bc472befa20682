"""POST /naavre-batch-ext/spec: the spec of the saved notebook or of unsaved editor content, and
every way a request can be wrong (body, fields, paths), answered with a 4xx naming the field."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from helpers import SEED, api_error, api_post, code_notebook, tagged_seed_notebook, write_tmp

from naavre_batch_ext import SPEC_API_VERSION
from naavre_batch_ext.core.spec import build_spec


async def post_spec(jp_fetch: Any, body: Any, raw: bool = False) -> dict[str, Any]:
    return await api_post(jp_fetch, "spec", body, raw)


async def spec_error(jp_fetch: Any, body: Any, raw: bool = False) -> tuple[int, dict[str, Any]]:
    return await api_error(jp_fetch, "spec", body, raw)


async def test_spec_of_the_saved_seed_is_the_core_spec(jp_fetch: Any, seed: str) -> None:
    spec = await post_spec(jp_fetch, {"path": seed})
    assert spec == build_spec(tagged_seed_notebook(), seed)
    assert spec["apiVersion"] == SPEC_API_VERSION
    assert [s["role"] for s in spec["steps"]] == ["splitter", "processor", "merger"]


async def test_spec_of_a_notebook_in_a_subfolder_keeps_its_path(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    (jp_root_dir / "work").mkdir()
    write_tmp(tagged_seed_notebook(), jp_root_dir / "work", "seed.ipynb")
    spec = await post_spec(jp_fetch, {"path": "work/seed.ipynb"})
    assert spec["notebook"]["path"] == "work/seed.ipynb"
    assert spec["notebook"]["name"] == "seed"


async def test_unsaved_content_is_analysed_instead_of_the_file(jp_fetch: Any, seed: str) -> None:
    # The file on disk is tagged; the editor's unsaved content has no tags at all.
    untagged = nbformat.read(str(SEED), as_version=4)
    spec = await post_spec(jp_fetch, {"path": seed, "notebook": untagged})
    assert spec["steps"] == []
    assert spec["notebook"]["path"] == seed


async def test_unsaved_content_needs_no_file_on_disk(jp_fetch: Any, jp_root_dir: Path) -> None:
    spec = await post_spec(
        jp_fetch, {"path": "new/Untitled.ipynb", "notebook": tagged_seed_notebook()}
    )
    assert len(spec["steps"]) == 3
    assert spec["notebook"]["name"] == "Untitled"
    assert not (jp_root_dir / "new").exists()


async def test_analysis_errors_are_diagnostics_in_a_200(jp_fetch: Any) -> None:
    nb = code_notebook("x = 1", "y = undefined_name + 1", tags={1: ["naavre:processor"]})
    spec = await post_spec(jp_fetch, {"path": "broken.ipynb", "notebook": nb})
    assert spec["summary"]["errors"] >= 1
    assert all(d["cell_index"] is not None for d in spec["diagnostics"] if d["severity"] == "error")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "path"),
        ({"path": 3}, "path"),
        ({"path": ""}, "path"),
        ({"path": ["a.ipynb"]}, "path"),
        ({"path": "notes.txt"}, "path"),
        ({"path": "seed.ipynb", "notebook": "not an object"}, "notebook"),
        ({"path": "seed.ipynb", "notebook": {"cells": []}}, "notebook"),
    ],
    ids=[
        "missing-path",
        "number-path",
        "empty-path",
        "list-path",
        "not-ipynb",
        "notebook-string",
        "notebook-without-nbformat",
    ],
)
async def test_bad_fields_are_400_naming_the_field(
    jp_fetch: Any, seed: str, body: dict[str, Any], field: str
) -> None:
    code, reply = await spec_error(jp_fetch, body)
    assert code == 400
    assert reply["field"] == field
    assert reply["message"].startswith(field + ":")


async def test_old_notebook_format_in_the_body_gets_the_core_hint(jp_fetch: Any) -> None:
    code, reply = await spec_error(
        jp_fetch, {"path": "a.ipynb", "notebook": {"nbformat": 3, "cells": []}}
    )
    assert code == 400
    assert reply["field"] == "notebook"
    assert "format 3" in reply["message"] and "nbconvert" in reply["hint"]


async def test_a_cell_whose_source_is_not_text_is_400_not_500(jp_fetch: Any) -> None:
    cell = {"cell_type": "code", "source": 5, "metadata": {}, "outputs": []}
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}
    code, reply = await spec_error(jp_fetch, {"path": "a.ipynb", "notebook": notebook})
    assert code == 400
    assert reply["field"] == "notebook"
    assert "cell 0: 'source' is not text" in reply["message"]


@pytest.mark.parametrize(
    "body",
    ["{not json", "[1, 2]", "", '"seed.ipynb"'],
    ids=["malformed", "array", "empty", "string"],
)
async def test_a_body_that_is_not_a_json_object_is_400(jp_fetch: Any, body: str) -> None:
    code, reply = await spec_error(jp_fetch, body, raw=True)
    assert code == 400
    assert reply["field"] == "body"


async def test_a_missing_notebook_is_404(jp_fetch: Any) -> None:
    code, reply = await spec_error(jp_fetch, {"path": "nowhere/missing.ipynb"})
    assert code == 404
    assert reply["field"] == "path" and "missing.ipynb" in reply["message"]


async def test_a_folder_named_like_a_notebook_is_400(jp_fetch: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "folder.ipynb").mkdir()
    code, reply = await spec_error(jp_fetch, {"path": "folder.ipynb"})
    assert code == 400
    assert "folder" in reply["message"]


async def test_a_file_that_is_not_json_is_400_with_the_core_message(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    (jp_root_dir / "broken.ipynb").write_text("{ this is not json", encoding="utf-8")
    code, reply = await spec_error(jp_fetch, {"path": "broken.ipynb"})
    assert code == 400
    assert reply["field"] == "path"
    assert "not valid JSON" in reply["message"] and reply["hint"]


@pytest.mark.parametrize(
    "path",
    [
        "../outside.ipynb",
        "sub/../../outside.ipynb",
        "/etc/passwd",
        "/tmp/x.ipynb",
        "\\\\server\\x.ipynb",
    ],
)
async def test_paths_leaving_the_root_are_refused(
    jp_fetch: Any, jp_root_dir: Path, path: str
) -> None:
    # A real notebook just outside the root, so a traversal would have something to read.
    write_tmp(tagged_seed_notebook(), jp_root_dir.parent, "outside.ipynb")
    code, reply = await spec_error(jp_fetch, {"path": path})
    assert code == 400
    assert reply["field"] == "path"


async def test_a_symlink_leading_outside_the_root_is_refused(
    jp_fetch: Any, jp_root_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = write_tmp(tagged_seed_notebook(), tmp_path_factory.mktemp("outside"), "secret.ipynb")
    os.symlink(outside, jp_root_dir / "link.ipynb")
    code, reply = await spec_error(jp_fetch, {"path": "link.ipynb"})
    assert code == 400
    assert "outside the server root" in reply["message"]


async def test_a_symlinked_folder_leading_outside_is_refused(
    jp_fetch: Any, jp_root_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside-dir")
    write_tmp(tagged_seed_notebook(), outside, "secret.ipynb")
    os.symlink(outside, jp_root_dir / "linked-dir")
    code, reply = await spec_error(jp_fetch, {"path": "linked-dir/secret.ipynb"})
    assert code == 400
    assert reply["field"] == "path"


async def test_a_symlink_inside_the_root_is_followed(
    jp_fetch: Any, jp_root_dir: Path, seed: str
) -> None:
    os.symlink(jp_root_dir / seed, jp_root_dir / "alias.ipynb")
    spec = await post_spec(jp_fetch, {"path": "alias.ipynb"})
    assert len(spec["steps"]) == 3
