"""Property-based: any blueprint, valid or broken, ends in valid output or an MlkubeError, never another exception.

Generated files cover wrong types, missing fields, huge numbers, unicode, deep nesting, anchors and
merge keys, duplicate keys, empty documents and random damage to the text. Runtime stays bounded
(a fixed number of examples, no deadline: the machine is shared).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mlkube import Environment, MlkubeError, Platform
from mlkube.testing import synth_platform

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

names = st.one_of(st.sampled_from(["sentiment", "server", "a", "x-1"]), st.text(max_size=12))
anything = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=True), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10,
)
quantities = st.one_of(st.sampled_from(["1", "500m", "2Gi", 2, 0.5, "-1", "1e400", "ten"]), anything)


def maybe(strategy):
    """A field that is either left out (None) or given, often valid, sometimes anything at all."""
    return st.one_of(st.none(), strategy, anything)


workloads = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.one_of(st.just("InferenceService"), names),
        "image": st.one_of(st.sampled_from(["ghcr.io/acme/sentiment:2.3.0", "repo@sha256:" + "a" * 64, "no-tag", ""]), anything),
        "port": maybe(st.integers(min_value=-(10**40), max_value=10**40)),
        "model": maybe(st.sampled_from(["hf://org/model", "pvc://claim/path", "ftp://x", "pvc://Bad"])),
        "config": maybe(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3)),
        "resources": maybe(st.fixed_dictionaries({}, optional={"cpu": quantities, "memory": quantities,
                                                             "gpu": maybe(st.fixed_dictionaries({}, optional={"count": maybe(st.integers(-2, 9))}))})),
        "autoscaling": maybe(st.fixed_dictionaries({}, optional={"minReplicas": maybe(st.integers(-1, 20)),
                                                               "maxReplicas": maybe(st.integers(-1, 20)),
                                                               "min_replicas": maybe(st.integers(1, 3))})),  # Python casing: refused
        "replicas": maybe(st.integers(-1, 10**12)),
        "unknwon_field": anything,
    },
)

blueprints = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": st.one_of(st.just("mlkube.dev/v1alpha1"), anything),
        "kind": st.one_of(st.just("Blueprint"), anything),
        "app": st.one_of(st.just("sentiment"), names),
        "environments": maybe(st.lists(st.sampled_from(["dev", "prod", "Dev"]), max_size=3)),
        "workloads": st.one_of(st.dictionaries(names, st.one_of(workloads, anything), max_size=3), anything),
    },
)

#: Mostly valid blueprints (so that synth runs often), with valid or broken workloads inside.
valid_workloads = st.fixed_dictionaries(
    {"kind": st.just("InferenceService"), "image": st.sampled_from(["ghcr.io/acme/sentiment:2.3.0", "vllm/vllm-openai:v0.11.0"])},
    optional={
        "port": st.integers(1024, 65535),
        "model": st.sampled_from(["hf://org/model", "pvc://claim/path", "s3://bucket/m"]),
        "config": st.dictionaries(st.from_regex(r"[A-Z_]{1,8}", fullmatch=True), st.text(max_size=10), max_size=3),
        "resources": st.fixed_dictionaries({}, optional={"cpu": st.sampled_from(["1", "500m", 2, 0.5]),
                                                         "memory": st.sampled_from(["2Gi", "512Mi"])}),
        "replicas": st.integers(1, 5),
    },
)
mostly_valid_blueprints = st.fixed_dictionaries(
    {"apiVersion": st.just("mlkube.dev/v1alpha1"), "kind": st.just("Blueprint"), "app": st.sampled_from(["sentiment", "nlp-2"]),
     "workloads": st.dictionaries(st.sampled_from(["server", "embedder", "Bad_Id"]), st.one_of(valid_workloads, workloads), max_size=2)},
    optional={"environments": st.lists(st.sampled_from(["dev", "prod", "prd"]), max_size=2, unique=True)},
)


@st.composite
def blueprint_texts(draw) -> str:
    """A blueprint rendered to YAML, then put through the YAML features and damage that users meet."""
    document = draw(st.one_of(mostly_valid_blueprints, blueprints))
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=10**6)
    mutations = draw(st.lists(st.sampled_from(["anchor", "duplicate", "empty", "deep", "laughs", "damage", "tag"]), max_size=3, unique=True))
    if "anchor" in mutations:  # a shared base merged into a workload
        text = "x-base: &base {kind: InferenceService, image: 'ghcr.io/acme/s:1', port: 9000}\n" + text
        text = text.replace("workloads:\n", "workloads:\n  merged: {<<: *base, port: 9100}\n", 1)
    if "duplicate" in mutations:
        text += "app: sentiment\n"
    if "empty" in mutations:
        text = "---\n---\n" + text + "---\n"
    if "deep" in mutations:
        depth = draw(st.integers(1, 120))
        text += "x-deep: " + "[" * depth + "]" * depth + "\n"
    if "laughs" in mutations:
        text += "x-l0: &l0 [a, a, a, a, a, a, a, a]\n" + "".join(
            f"x-l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 8)}]\n" for i in range(1, 8))
    if "tag" in mutations:
        text += "x-tagged: !!binary aGVsbG8=\n"
    if "damage" in mutations and text:
        start = draw(st.integers(0, len(text) - 1))
        text = text[:start] + draw(st.text(max_size=5)) + text[start + draw(st.integers(0, 5)):]
    return text


@SETTINGS
@given(blueprint_texts())
def test_any_blueprint_ends_in_output_or_an_mlkube_error(text):
    with tempfile.TemporaryDirectory(prefix="mlkube-blueprint-") as folder:
        path = Path(folder) / "apps" / "team" / "mlkube.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        platform = Platform(environments=[Environment(name="dev"), Environment(name="prod")])
        try:
            platform.load_blueprints(Path(folder) / "apps")
            result = synth_platform(platform)
        except MlkubeError as error:
            assert error.exit_code == 2 and error.problems
            assert all(problem.message for problem in error.problems)
            event("an MlkubeError")
            return
        assert all(name.endswith(".yaml") for name in result.files)
        event("valid output" + (" with objects" if result.files else ""))


yaml_pieces = st.sampled_from(["a:", " b", "\n", "  ", "- ", "&x ", "*x", "<<: ", "{", "}", "[", "]", ",", "'", '"', "!!", "!t ",
                               "---\n", "? ", "|", ">", "#", "%YAML 1.2\n", "\t", "é", "\u2028", "\x00", "9" * 5000])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(yaml_pieces, st.text(max_size=5)), max_size=40).map("".join))
def test_any_text_is_read_into_blueprints_or_problems(text):
    from mlkube.blueprint.source import parse_yaml_documents

    documents, problems = parse_yaml_documents(text, "mlkube.yaml")
    assert all(problem.message for problem in problems)
    assert all(document.where().startswith("mlkube.yaml:") for document in documents)
