"""Export options: one validator (naavre_batch_ext.exporters.k8s_options, used by ArgoOptions.check) for the
CLI (exit 2), the REST API (HTTP 400) and the panel, and the cluster-hygiene options it guards.

The rules are Kubernetes' own (k8s.io/apimachinery: pkg/util/validation/validation.go
IsDNS1123Label / IsDNS1123Subdomain, pkg/api/resource/quantity.go ParseQuantity) and the int32
fields of Argo's Workflow type (pkg/apis/workflow/v1alpha1/workflow_types.go).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import api_error, api_post, tagged_seed_notebook, write_tmp

from naavre_batch_ext.cli import main
from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.exporters import argo
from naavre_batch_ext.exporters.argo import ArgoOptions, export_argo
from naavre_batch_ext.exporters.k8s_options import INT32_MAX, OptionError, parse_quantity

# -- the validator -------------------------------------------------------------------------------

BAD = [
    (ArgoOptions(namespace="Bad_NS"), "namespace", "RFC 1123 label"),
    (ArgoOptions(namespace="x" * 64), "namespace", "at most 63"),
    (ArgoOptions(namespace="-lab"), "namespace", "RFC 1123"),
    (ArgoOptions(service_account="a b"), "service_account", "RFC 1123 subdomain"),
    (ArgoOptions(service_account="Runner"), "service_account", "lower-case"),
    (ArgoOptions(cpu="lots"), "cpu", "not a Kubernetes quantity"),
    (ArgoOptions(cpu="500 m"), "cpu", "not a Kubernetes quantity"),
    (ArgoOptions(cpu="1.5.2"), "cpu", "not a Kubernetes quantity"),
    (ArgoOptions(memory="-1Gi"), "memory", "negative"),
    (ArgoOptions(memory="1GB"), "memory", "not a Kubernetes quantity"),
    (ArgoOptions(cpu="{{workflow.name}}"), "cpu", "template expression"),
    (ArgoOptions(namespace="{{workflow.namespace}}"), "namespace", "template expression"),
    (ArgoOptions(image="py:{{inputs.parameters.tag}}"), "image", "template expression"),
    (ArgoOptions(images={"merger": "a}}b"}), "image_merger", "template expression"),
    (ArgoOptions(parallelism=10**30), "parallelism", str(INT32_MAX)),
    (ArgoOptions(parallelism=0), "parallelism", "from 1"),
    (ArgoOptions(retries=-1), "retries", "from 0"),
    (ArgoOptions(retries=2**31), "retries", str(INT32_MAX)),
    (ArgoOptions(retries=True), "retries", "whole number"),
    (ArgoOptions(active_deadline_seconds=0), "active_deadline_seconds", "from 1"),
    (ArgoOptions(ttl_after_success=-5), "ttl_after_success", "from 0"),
    (ArgoOptions(ttl_after_failure=2**40), "ttl_after_failure", str(INT32_MAX)),
    (ArgoOptions(pod_gc="Sometimes"), "pod_gc", "OnPodSuccess"),
    (ArgoOptions(retry_backoff="soon"), "retry_backoff", "not a duration"),
    (ArgoOptions(image="bad image"), "image", "without spaces"),
    (ArgoOptions(images={"worker": "x:1"}), "images", "worker"),
]


@pytest.mark.parametrize(
    "options,option,words", BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)]
)
def test_a_bad_option_is_refused_naming_the_option(
    options: ArgoOptions, option: str, words: str
) -> None:
    with pytest.raises(OptionError) as caught:
        options.check()
    assert caught.value.option == option
    assert words in caught.value.problem


def test_a_bad_option_stops_the_export_before_anything_is_rendered() -> None:
    with pytest.raises(OptionError, match="namespace"):
        export_argo(build_spec(tagged_seed_notebook(), "seed.ipynb"), ArgoOptions(namespace="A"))


@pytest.mark.parametrize(
    "options",
    [
        ArgoOptions(namespace="naavre-lab", service_account="workflow-runner.v2"),
        ArgoOptions(cpu="500m", memory="1Gi"),
        ArgoOptions(cpu="0.5", memory="1e9"),
        ArgoOptions(cpu="+2", memory="128974848"),
        ArgoOptions(cpu=".5", memory="129M"),
        ArgoOptions(parallelism=INT32_MAX, retries=0, active_deadline_seconds=1),
        ArgoOptions(pod_gc=None, ttl_after_success=None, ttl_after_failure=0),
        ArgoOptions(pod_gc="OnWorkflowCompletion", retry_backoff="1m30s"),
        ArgoOptions(retry_backoff="30"),
    ],
)
def test_values_kubernetes_accepts_pass(options: ArgoOptions) -> None:
    options.check()


@pytest.mark.parametrize(
    "text,value",
    [
        ("500m", Decimal("0.5")),
        ("1Gi", Decimal(2**30)),
        ("1.5Ki", Decimal(1536)),
        ("2k", Decimal(2000)),
        ("1e3", Decimal(1000)),
        ("12E-1", Decimal("1.2")),
        ("-1", Decimal(-1)),
        ("5.", Decimal(5)),
    ],
)
def test_quantities_are_read_as_kubernetes_reads_them(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "m", "1 Gi", "1gi", "1KiB", "0x10", "1e", "1.2.3", "Gi1"])
def test_non_quantities_are_not_read(text: str) -> None:
    assert parse_quantity(text) is None


# -- hygiene options in the workflow ------------------------------------------------------------


def _doc(options: ArgoOptions | None = None) -> dict[str, Any]:
    text = export_argo(build_spec(tagged_seed_notebook(), "splitting-batches.ipynb"), options)
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def test_defaults_clean_up_pods_and_workflows_and_bound_the_run_time() -> None:
    spec = _doc()["spec"]
    assert spec["podGC"] == {"strategy": "OnPodSuccess"}
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 86400, "secondsAfterFailure": 604800}
    assert spec["activeDeadlineSeconds"] == 86400


def test_hygiene_options_can_be_changed_or_left_to_the_cluster() -> None:
    changed = _doc(
        ArgoOptions(pod_gc="OnWorkflowSuccess", ttl_after_success=60, active_deadline_seconds=600)
    )["spec"]
    assert changed["podGC"] == {"strategy": "OnWorkflowSuccess"}
    assert changed["ttlStrategy"]["secondsAfterSuccess"] == 60
    assert changed["activeDeadlineSeconds"] == 600
    none = _doc(
        ArgoOptions(
            pod_gc=None,
            ttl_after_success=None,
            ttl_after_failure=None,
            active_deadline_seconds=None,
        )
    )["spec"]
    assert not {"podGC", "ttlStrategy", "activeDeadlineSeconds"} & set(none)


def test_every_pod_is_labelled_with_its_notebook_and_step() -> None:
    doc = _doc()
    assert doc["metadata"]["labels"] == {argo.LABEL_NOTEBOOK: "splitting-batches"}
    labels = {t["name"]: t["metadata"]["labels"] for t in doc["spec"]["templates"] if "script" in t}
    assert labels == {
        step: {"naavre-batch/notebook": "splitting-batches", "naavre-batch/step": step}
        for step in ("gen-batches", "process-batches", "retrieve-batches")
    }


def test_retries_wait_with_a_doubling_backoff() -> None:
    doc = _doc(ArgoOptions(retries=2, retry_backoff="30s"))
    (processors,) = [t for t in doc["spec"]["templates"] if "retryStrategy" in t]
    assert processors["retryStrategy"] == {
        "limit": "2",
        "backoff": {"duration": "30s", "factor": "2", "maxDuration": argo.RETRY_MAX_BACKOFF},
    }


# -- the CLI: exit 2 naming the flag --------------------------------------------------------------


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    return write_tmp(tagged_seed_notebook(), tmp_path, "seed.ipynb")


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--namespace", "Bad_NS"], "--namespace: 'Bad_NS' is not a valid Kubernetes name"),
        (["--service-account", "a b"], "--service-account: 'a b' is not a valid Kubernetes name"),
        (["--cpu", "lots"], "--cpu: 'lots' is not a Kubernetes quantity"),
        (["--memory=-1Gi"], "--memory: '-1Gi' is negative"),
        (["--cpu", "{{workflow.name}}"], "--cpu: '{{workflow.name}}' contains"),
        (
            ["--parallelism", str(10**30)],
            f"--parallelism: must be a whole number from 1 to {INT32_MAX}",
        ),
        (["--active-deadline", "0"], "--active-deadline: must be a whole number from 1"),
        (["--pod-gc", "Never"], "--pod-gc: 'Never' is not one of"),
        (["--retry-backoff", "later"], "--retry-backoff: 'later' is not a duration"),
        (["--image-merger", "my image"], "--image-merger: must be a container image name"),
    ],
)
def test_cli_refuses_a_bad_option_with_exit_2_naming_the_flag(
    flags: list[str], message: str, seed_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(seed_file), *flags]) == 2
    err = capsys.readouterr().err
    assert f"naavre-batch: error: {message}" in err
    assert "Traceback" not in err
    assert not seed_file.with_name("seed.argo.yaml").exists()


def test_cli_parallelism_that_is_not_a_number_is_an_argparse_error(
    seed_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["export", str(seed_file), "--parallelism", "10**30"])
    assert caught.value.code == 2
    assert "--parallelism: invalid int value: '10**30'" in capsys.readouterr().err


def test_cli_hygiene_flags_reach_the_workflow_and_none_removes_a_setting(
    seed_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--pod-gc", "none", "--ttl-after-success", "120", "--active-deadline", "none"]
    assert main(["export", str(seed_file), "-o", "-", *flags, "--retries", "1"]) == 0
    spec = yaml.safe_load(capsys.readouterr().out)["spec"]
    assert "podGC" not in spec and "activeDeadlineSeconds" not in spec
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 120, "secondsAfterFailure": 604800}


# -- the REST API: 400 naming options.<name> ------------------------------------------------------


@pytest.mark.parametrize(
    "options,field,words",
    [
        ({"namespace": "Bad_NS"}, "options.namespace", "RFC 1123 label"),
        ({"serviceAccount": "a b"}, "options.serviceAccount", "RFC 1123 subdomain"),
        ({"cpu": "{{workflow.name}}"}, "options.cpu", "template expression"),
        ({"memory": "-1Gi"}, "options.memory", "negative"),
        ({"parallelism": 10**30}, "options.parallelism", str(INT32_MAX)),
        ({"images": {"merger": "a b"}}, "options.images.merger", "without spaces"),
        ({"podGC": "Never"}, "options.podGC", "OnPodSuccess"),
        ({"activeDeadlineSeconds": 0}, "options.activeDeadlineSeconds", "from 1"),
    ],
)
async def test_rest_refuses_a_bad_option_with_400_naming_the_field(
    jp_fetch: Any, seed: str, options: dict[str, Any], field: str, words: str
) -> None:
    status, error = await api_error(jp_fetch, "export", {"path": seed, "options": options})
    assert status == 400
    assert error["field"] == field
    assert words in error["message"]


async def test_rest_hygiene_options_reach_the_workflow_and_null_removes_them(
    jp_fetch: Any, seed: str
) -> None:
    options = {"podGC": None, "ttlAfterFailure": 30, "activeDeadlineSeconds": 3600}
    reply = await api_post(jp_fetch, "export", {"path": seed, "options": options})
    spec = yaml.safe_load(reply["text"])["spec"]
    assert "podGC" not in spec
    assert spec["ttlStrategy"]["secondsAfterFailure"] == 30
    assert spec["activeDeadlineSeconds"] == 3600


def test_cli_values_as_artifacts_with_a_named_repository(
    seed_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--values", "artifacts", "--artifact-repository-ref", "my-minio"]
    assert main(["export", str(seed_file), "-o", "-", *flags]) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["spec"]["artifactRepositoryRef"] == {"key": "my-minio"}
    envs = [
        {e["name"]: e["value"] for e in t["script"]["env"]}
        for t in doc["spec"]["templates"]
        if "script" in t
    ]
    assert all(env["NAAVRE_VALUES"] == "binary" for env in envs)


def test_cli_repository_without_artifacts_is_refused(
    seed_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(seed_file), "--artifact-repository-ref", "my-minio"]) == 2
    assert "--artifact-repository-ref: names where artifacts are stored, so it needs --values" in (
        capsys.readouterr().err
    )


async def test_rest_values_option_reaches_the_workflow(jp_fetch: Any, seed: str) -> None:
    options = {"values": "artifacts", "artifactRepositoryRef": "my-minio"}
    reply = await api_post(jp_fetch, "export", {"path": seed, "options": options})
    assert yaml.safe_load(reply["text"])["spec"]["artifactRepositoryRef"] == {"key": "my-minio"}
    status, error = await api_error(jp_fetch, "export", {"path": seed, "options": {"values": "s3"}})
    assert status == 400 and error["field"] == "options.values"


def test_cli_values_choices_are_the_exporters() -> None:
    from naavre_batch_ext.cli import build_parser

    export = build_parser()._subparsers._group_actions[0].choices["export"]  # type: ignore[union-attr]
    (action,) = [a for a in export._actions if a.dest == "values"]
    assert tuple(action.choices or ()) == argo.VALUES_MODES


# -- issue 22: values no cluster can use -------------------------------------------------------


@pytest.mark.parametrize("option", ["cpu", "memory"])
@pytest.mark.parametrize("value", ["1e999", "8Ei", "9223372036854775808"])
def test_a_quantity_beyond_kubernetes_int64_range_is_refused(option: str, value: str) -> None:
    """Item 13: the kubelet reads a request as an int64 (Quantity.Value / MilliValue in
    k8s.io/apimachinery pkg/api/resource/quantity.go): ``--memory 1e999`` is not written."""
    with pytest.raises(OptionError) as caught:
        ArgoOptions(**{option: value}).check()
    assert caught.value.option == option
    assert "too large" in caught.value.problem


def test_the_largest_memory_kubernetes_holds_is_accepted() -> None:
    ArgoOptions(memory="9223372036854775807", cpu="9223372036854775m").check()


@pytest.mark.parametrize(
    "image,words",
    [
        ("UPPER/Case:tag", "must be lower case"),
        ("x@sha256:zz", "not a container image reference"),
        ("x@sha256:" + "a" * 63, "64 lower-case hex digits"),
        ("x:" + "t" * 129, "not a container image reference"),
        ("a//b", "not a container image reference"),
        ("-a", "not a container image reference"),
        ("a" * 256, "longer than 255"),
    ],
)
def test_an_image_reference_outside_the_oci_grammar_is_refused(image: str, words: str) -> None:
    """Item 13: the grammar of github.com/distribution/reference (reference.go)."""
    with pytest.raises(OptionError) as caught:
        ArgoOptions(image=image).check()
    assert caught.value.option == "image"
    assert words in caught.value.problem


@pytest.mark.parametrize(
    "image",
    [
        "python:3.12-slim",
        "ghcr.io/org/team/image:v1.0",
        "localhost:5000/a__b/c-d.e:T_1",
        "Registry.Example.com/lab/image",
        "[::1]:5000/image",
        "python@sha256:" + "0123456789abcdef" * 4,
        "python:3.12@sha512:" + "ab" * 64,
    ],
)
def test_an_image_reference_in_the_oci_grammar_is_accepted(image: str) -> None:
    ArgoOptions(image=image).check()
