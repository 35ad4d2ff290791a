"""mlkube.testing matchers: partial patterns, explicit Match helpers, and the nearest-object failure."""

from __future__ import annotations

import re

import pytest

from mlkube import InferenceService
from mlkube.testing import Match, mismatches, synth_app

IMAGE = "ghcr.io/acme/fraud:1.4.2"
GPU_LIMIT = {"spec": {"template": {"spec": {"containers": [{"resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}}


@pytest.fixture(scope="module")
def objects():
    def build(app):
        InferenceService(app, "cpu", image=IMAGE, replicas=2)
        InferenceService(app, "gpu", image=IMAGE, replicas=3, resources={"gpu": {"count": 1}})
    return synth_app(build)


def test_has_object_matches_partial_dicts_and_list_items(objects):
    found = objects.has_object("Deployment", GPU_LIMIT)
    assert found["metadata"]["name"] == "gpu"
    assert [d["metadata"]["name"] for d in objects.find_objects("Deployment", {"spec": {"replicas": 2}})] == ["cpu"]


def test_has_object_fails_with_the_nearest_object_and_each_mismatching_field(objects):
    with pytest.raises(AssertionError) as caught:
        objects.has_object("Deployment", {"spec": {"replicas": 3, "template": {"spec": {
            "containers": [{"resources": {"limits": {"nvidia.com/gpu": 2}}}], "hostNetwork": Match.any_value()}}}})
    message = str(caught.value)
    assert message.splitlines()[:2] == ["no Deployment matches the pattern (2 Deployment objects checked)",
                                        "nearest: Deployment gpu (in test/app) with 2 mismatches:"]
    assert '  spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"]: expected 2, got 1' in message
    assert "  spec.template.spec.hostNetwork: expected any value, got absent" in message


def test_has_object_fails_when_no_object_has_that_kind(objects):
    with pytest.raises(AssertionError, match=re.escape("no Job in the synth; kinds present: Deployment, NetworkPolicy")):
        objects.has_object("Job")


def test_object_count_is_reports_what_it_found(objects):
    objects.object_count_is("Deployment", 2)
    objects.object_count_is("Deployment", 1, GPU_LIMIT)
    with pytest.raises(AssertionError, match=re.escape("expected 0 Deployment objects matching the pattern, found 1: "
                                                       "Deployment gpu (in test/app)")):
        objects.object_count_is("Deployment", 0, GPU_LIMIT)


def test_plain_lists_match_items_in_any_order_and_ignore_extra_items():
    assert mismatches({"args": ["a", "b", "c"]}, {"args": ["c", "a"]}) == []
    assert [str(m) for m in mismatches({"args": ["a"]}, {"args": ["z"]})] == ["args[0]: expected 'z', got 'a'"]
    assert [str(m) for m in mismatches({"args": []}, {"args": ["z"]})] == ["args: expected an item like 'z', got []"]


def test_exact_refuses_extra_keys_and_other_order():
    assert mismatches({"a": {"x": 1, "y": 2}}, {"a": Match.exact({"x": 1})})[0].path == "a"
    assert mismatches({"a": [1, 2]}, {"a": Match.exact([2, 1])})
    assert not mismatches({"a": [1, 2]}, {"a": Match.exact([1, 2])})


def test_absent_any_value_and_regexp():
    assert not mismatches({"a": 1}, {"b": Match.absent(), "a": Match.any_value()})
    assert [str(m) for m in mismatches({"b": 0}, {"b": Match.absent()})] == ["b: expected absent, got 0"]
    assert [str(m) for m in mismatches({"a": None}, {"a": Match.any_value()})] == ["a: expected any value, got None"]
    assert not mismatches({"image": "ghcr.io/acme/x@sha256:" + "a" * 64}, {"image": Match.string_like_regexp(r"@sha256:[0-9a-f]{64}$")})
    assert mismatches({"image": "x:1"}, {"image": Match.string_like_regexp(r"@sha256:")})


def test_type_mismatch_names_the_path():
    assert [str(m) for m in mismatches({"spec": []}, {"spec": {"replicas": 1}})] == ["spec: expected an object with 'replicas', got []"]
