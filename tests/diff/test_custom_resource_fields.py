"""Field rows of custom resources: a KServe InferenceService (replica range, model storage URI, the
model container's image, resources and GPUs) and a JobSet (per replicated job: replicas, parallelism,
completions, GPUs). The fixtures are checked against the CRD schemas mlkube carries."""

from __future__ import annotations

import pytest
from diff_trees import IMAGE_B, changed, inference_service, jobset, write_app

from mlkube.diff import diff_specs
from mlkube.diff.fields import fields_of
from mlkube.validation.schemas import SchemaCatalog

SERVING, TRAINING = ("prod", "serving"), ("prod", "training")


@pytest.mark.parametrize("obj", [inference_service(gpu=1, product="NVIDIA-L4"), jobset()], ids=["kserve", "jobset"])
def test_fixtures_match_the_carried_crd_schemas(obj):
    assert [issue.message for issue in SchemaCatalog().validate(obj)] == []


def fields(report):
    (change,) = report.changes
    return [(row.field, row.old, row.new) for row in change.fields], change.other_paths, change.risks


def diff(tmp_path, app, before, after):
    write_app(tmp_path / "base", *app, before)
    write_app(tmp_path / "head", *app, after)
    return diff_specs(str(tmp_path / "base"), str(tmp_path / "head"))


def test_inference_service_replica_range_storage_uri_and_gpus(tmp_path):
    before = inference_service(gpu=1, product="NVIDIA-L4")
    after = changed(inference_service(minimum=1, maximum=10, storage_uri="hf://distilbert/sst-2-v2", gpu=2,
                                      product="NVIDIA-H100-80GB-HBM3"), "spec.predictor.model.image", IMAGE_B)
    after = changed(after, "spec.predictor.model.resources.requests.memory", "4Gi")
    rows, other, risks = fields(diff(tmp_path, SERVING, before, after))
    assert rows == [
        ("predictor: min replicas", "2", "1"),
        ("predictor: max replicas", "6", "10"),
        ("predictor: model storage URI", "hf://distilbert/sst-2", "hf://distilbert/sst-2-v2"),
        ("predictor: GPU product", "NVIDIA-L4", "NVIDIA-H100-80GB-HBM3"),
        ("predictor model: image", f"ghcr.io/acme/fraud:1.4.2@sha256:{'a1' * 6}", f"ghcr.io/acme/fraud:1.5.0@sha256:{'b2' * 6}"),
        ("predictor model: memory request", "2Gi", "4Gi"),
        ("predictor model: nvidia.com/gpu", "1", "2"),
    ]
    # The GPU limit is covered by its row (requests and limits are one row); nothing else changed.
    assert other == []
    # A Hugging Face model without a commit in production is a risk of its own (mlkube.pinning.models).
    assert [(risk.level.label, risk.reason.split(": each")[0]) for risk in risks] == [
        ("high", "model hf://distilbert/sst-2-v2 is not pinned to one content in production")]


def test_inference_service_custom_containers_are_rows_of_their_component(tmp_path):
    container = {"name": "server", "image": "ghcr.io/acme/sentiment@sha256:" + "c3" * 32,
                 "resources": {"limits": {"nvidia.com/gpu": 1}}}
    before = changed(inference_service(), "spec.predictor.containers", [container])
    after = changed(before, "spec.predictor.containers.0.resources.limits", {"nvidia.com/gpu": 2})
    rows, other, _ = fields(diff(tmp_path, SERVING, before, after))
    assert rows == [("predictor server: nvidia.com/gpu", "1", "2")]
    assert other == []


def test_inference_service_quantities_compare_by_value(tmp_path):
    before = inference_service()
    after = changed(inference_service(), "spec.predictor.model.resources.requests.cpu", "1000m")
    rows, other, _ = fields(diff(tmp_path, SERVING, before, after))
    assert rows == []
    assert other == []


def test_jobset_replicas_parallelism_and_gpus(tmp_path):
    before = jobset()
    after = jobset(nodes=4, gpus=4, product="NVIDIA-A100-SXM4-80GB", replicas=2)
    rows, other, _ = fields(diff(tmp_path, TRAINING, before, after))
    assert rows == [
        ("node: replicas", "1", "2"),
        ("node: parallelism", "2", "4"),
        ("node: completions", "2", "4"),
        ("node: GPU product", "NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB"),
        ("node trainer: nvidia.com/gpu", "8", "4"),
    ]
    assert other == []


def test_jobset_image_shows_the_short_digest(tmp_path):
    after = changed(jobset(), "spec.replicatedJobs.0.template.spec.template.spec.containers.0.image", IMAGE_B)
    rows, other, risks = fields(diff(tmp_path, TRAINING, jobset(), after))
    assert rows == [("node trainer: image", f"ghcr.io/acme/fraud:1.4.2@sha256:{'a1' * 6}",
                     f"ghcr.io/acme/fraud:1.5.0@sha256:{'b2' * 6}")]
    # replicatedJobs are immutable (jobset webhook): without Force=true,Replace=true the sync fails.
    assert other == [] and [(r.level.label, r.category) for r in risks] == [("high", "recreation")]


@pytest.mark.parametrize(("api_version", "kind"), [("example.com/v1", "InferenceService"), ("example.com/v1", "JobSet")])
def test_same_kind_of_another_group_has_no_rows(api_version, kind):
    obj = {**(inference_service() if kind == "InferenceService" else jobset()), "apiVersion": api_version}
    assert fields_of(obj) == {}
