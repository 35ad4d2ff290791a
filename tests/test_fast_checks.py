"""Synth's per-object checks, made cheaper for issue 22, find exactly what they found before: the same findings and
problems, in the same order, with the same messages. The reference is the code before the change, kept verbatim in
tests/legacy_checks.py. Inputs: every object of the example platform (dist/), of the snapshots, of the bench
platform, the upstream Pod Security admission fixtures and CRD samples, the policy examples, and generated objects
built to reach each branch (credentials under secret-like names, YAML alias cycles, deep nesting, large integers,
model URIs, NetworkPolicies with rules removed)."""

from __future__ import annotations

import copy
import datetime
import json
import random
import runpy
from collections import defaultdict
from typing import Any

import legacy_checks as legacy
import pytest
from helpers import REPO_ROOT, yaml_documents
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy.policy_examples import hardened_objects, naive_objects

from mlkube.kube.manifest import Manifest
from mlkube.policy.engine import PolicyReport, check_policy
from mlkube.policy.model import PolicySettings


@pytest.fixture(scope="module")
def bench_objects(tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    """The bench platform (3 apps x 3 environments), synthesized."""
    from mlkube.core.synth import synthesize

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLKUBE_BENCH_APPS", "3")
        platform = runpy.run_path(str(REPO_ROOT / "bench" / "platform_app.py"))["platform"]
        return synthesize(platform, tmp_path_factory.mktemp("bench") / "dist").manifests


def _files_corpus() -> list[dict[str, Any]]:
    paths = sorted((REPO_ROOT / "dist").rglob("*.yaml")) + sorted((REPO_ROOT / "tests").rglob("__snapshots__/**/*.yaml"))
    paths += sorted((REPO_ROOT / "tests" / "crd_examples").rglob("*.yaml"))
    objects = yaml_documents(paths)
    objects += list(json.loads((REPO_ROOT / "tests" / "upstream" / "psa_fixtures.json").read_text())["pods"].values())
    objects += [case["object"] for case in json.loads((REPO_ROOT / "tests" / "upstream" / "crd_samples.json").read_text())["cases"]
                if isinstance(case.get("object"), dict)]
    return objects + hardened_objects() + naive_objects()


FILES = _files_corpus()


def _manifests(objects: list[dict[str, Any]]) -> list[Manifest]:
    return [Manifest(obj, f"objects[{index}]") for index, obj in enumerate(objects)]


# -- policy: the engine (rules that look only at pods are skipped on objects without any) and MLK-SEC-009 ---------

def _report(report: PolicyReport) -> list[tuple[str, str, str, str, str, str]]:
    return [(f.rule.id, f.location, f.field, f.message, f.severity, f.waiver) for f in report.findings]


def _same_policy(manifests: list[Manifest], policy_settings: PolicySettings | None = None) -> list[Any]:
    new = check_policy(manifests, policy_settings)
    old = legacy.check_policy(manifests, policy_settings)
    assert _report(new) == _report(old)
    assert [str(p) for p in new.problems()] == [str(p) for p in old.problems()]
    return _report(new)


SETTINGS = [None, PolicySettings(("ghcr.io/acme/",), True, True, "1.25"), PolicySettings(kubernetes_version="1.37"),
            PolicySettings(kubernetes_version="1.35", automated_sync=True)]


@pytest.mark.parametrize("policy_settings", SETTINGS)
def test_policy_on_every_file_object(policy_settings: PolicySettings | None) -> None:
    found = _same_policy(_manifests(copy.deepcopy(FILES)), policy_settings)
    assert len(FILES) > 500 and len(found) > 500  # the PSA fixtures and naive objects fail many rules


def test_policy_on_the_bench_platform(bench_objects: list[Manifest]) -> None:
    by_environment: dict[str, list[Manifest]] = defaultdict(list)
    for manifest in bench_objects:
        by_environment[manifest.environment].append(manifest)
    for manifests in by_environment.values():
        _same_policy(manifests)


# Objects built to reach every branch of the credential walk.
_SECRET_NAMES = ["API_TOKEN", "password", "db-secret", "token_file", "auth", "AUTH_URL", "private_key", "name", "value",
                 "access-key", "ſecret", "toKen", "x"]
_CREDENTIALS = ["ghp_" + "a1B2" * 9, "AKIA" + "ABCDEFGHIJKLMNOP", "hf_" + "x" * 34, "xoxb-1234567890-abc",
                "https://user:hunter2@db.example.com/x", "-----BEGIN RSA PRIVATE KEY-----", "eyJhbGciOiJIUzI1NiIsInR5cCI6.eyJzdWIiOiIxMjM0NTY3ODkw.abcdefghijkl",
                "q8Zr2LkP0vXw7NmT4sYb", "s3cr3t-but-short", "/var/run/secrets/token-file-path", "aaaaaaaaaaaaaaaaaaaaaaaa",
                "one two three four five six", "é" * 20, "ghp_short", "s3://bucket/key@x"]
_strings = st.one_of(st.sampled_from(_CREDENTIALS), st.sampled_from(_SECRET_NAMES), st.text(max_size=24))
_keys = st.one_of(st.sampled_from(_SECRET_NAMES), st.text(max_size=8))
_scalars = st.one_of(_strings, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
_pairs = st.fixed_dictionaries({"name": st.one_of(st.sampled_from(_SECRET_NAMES), st.text(max_size=6)), "value": _scalars})
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4), _pairs),
                       max_leaves=30)


def _credential_hits(obj: Any) -> tuple[list[Any], list[Any]]:
    from mlkube.policy.credentials import credential_values
    from mlkube.policy.model import Target

    manifest = Manifest(obj, "generated")
    return ([(h.field, h.message) for h in credential_values(Target(manifest, PolicySettings()))],
            [(h.field, h.message) for h in legacy.credential_values(legacy.LegacyTarget(manifest, PolicySettings()))])


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=5))
def test_credential_rule_on_generated_objects(obj: dict[str, Any]) -> None:
    new, old = _credential_hits({"kind": "ConfigMap", "metadata": {"name": "x"}, **obj})
    assert new == old


def _nested(depth: int, leaf: Any) -> Any:
    node: Any = leaf
    for level in range(depth):
        node = {"API_TOKEN": [node, "q8Zr2LkP0vXw7NmT4sYb"]} if level % 2 else [node, {"password": "q8Zr2LkP0vXw7NmT4sYb"}]
    return node


def _with_cycle() -> dict[str, Any]:
    data: dict[str, Any] = {"API_TOKEN": "q8Zr2LkP0vXw7NmT4sYb"}
    data["self"] = data
    return {"kind": "ConfigMap", "data": data}


@pytest.mark.parametrize("obj", [
    {"kind": "ConfigMap", "data": _nested(150, "q8Zr2LkP0vXw7NmT4sYb")},  # walked to the depth limit of 200 containers
    {"kind": "ConfigMap", "data": _nested(250, "ghp_" + "a1B2" * 9)},
    {"kind": "ConfigMap", "data": _nested(700, "q8Zr2LkP0vXw7NmT4sYb")},  # json.dumps gives up (RecursionError)
    _with_cycle(),  # a YAML alias cycle: not JSON
    {"kind": "ConfigMap", "data": {"when": datetime.date(2024, 1, 1), "API_TOKEN": "q8Zr2LkP0vXw7NmT4sYb"}},
    {"kind": "ConfigMap", "data": {1: "q8Zr2LkP0vXw7NmT4sYb", (1, 2): "x", "token": ("q8Zr2LkP0vXw7NmT4sYb",)}},
    {"kind": "ConfigMap", "data": {"API_TOKEN": ["q8Zr2LkP0vXw7NmT4sYb", ["q8Zr2LkP0vXw7NmT4sYc"], {"x": "q8Zr2LkP0vXw7NmT4sYd"}]}},
    {"kind": "ConfigMap", "data": [{"name": "", "value": "q8Zr2LkP0vXw7NmT4sYb"}, {"name": "DB_PASSWORD", "value": ["q8Zr2LkP0vXw7NmT4sYb"]}]},
])
def test_credential_rule_on_edge_cases(obj: dict[str, Any]) -> None:
    new, old = _credential_hits(obj)
    assert new == old


def test_credential_rule_finds_random_values_under_secret_names() -> None:
    """Values under an env var's name and in a list under a secret-like key, each at its field path."""
    obj = {"kind": "Deployment", "spec": {"env": [{"name": "API_TOKEN", "value": "q8Zr2LkP0vXw7NmT4sYb"}], "auth": ["q8Zr2LkP0vXw7NmT4sYb"]}}
    new, old = _credential_hits(obj)
    assert new == old == [("spec.env[0].value", "holds a random value under the secret-like name 'API_TOKEN' (q8Zr…(20 characters))"),
                          ("spec.auth[0]", "holds a random value under the secret-like name 'auth' (q8Zr…(20 characters))")]


# Pods built from fields every policy rule reads, to reach each rule's branches.
_POD_FIELDS: dict[str, list[Any]] = {
    "hostNetwork": [True, False], "hostPID": [True], "hostIPC": [True], "hostUsers": [False, True],
    "automountServiceAccountToken": [False, True], "os": [{"name": "windows"}, {"name": "linux"}],
    "securityContext": [{}, {"runAsUser": 0}, {"runAsUser": 10001, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                        {"seccompProfile": {"type": "Unconfined"}, "sysctls": [{"name": "kernel.msgmax"}, {"name": "net.ipv4.tcp_rmem"}]},
                        {"seLinuxOptions": {"type": "spc_t", "user": "u"}, "appArmorProfile": {"type": "Unconfined"},
                         "windowsOptions": {"hostProcess": True}}, "not a mapping"],
    "volumes": [[{"name": "h", "hostPath": {"path": "/"}}, {"name": "e", "emptyDir": {}}], "x"],
}
_CONTAINER_FIELDS: dict[str, list[Any]] = {
    "image": ["busybox", "ghcr.io/acme/app:1.0", "ghcr.io/acme/app@sha256:" + "a" * 64, "docker.io/x:latest", "", 5],
    "imagePullPolicy": ["Always", "IfNotPresent", None],
    "securityContext": [{}, {"privileged": True, "runAsUser": 0, "runAsNonRoot": False, "procMount": "Unmasked"},
                        {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]},
                         "seccompProfile": {"type": "Localhost"}, "runAsUser": 20000}],
    "resources": [{}, {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "", "memory": "1Gi"}}],
    "ports": [[{"containerPort": 80, "hostPort": 80}], [{"containerPort": 8080}]],
    "env": [[{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}], ["bad"]],
    "envFrom": [[{"secretRef": {"name": "s"}}]],
    "livenessProbe": [{"httpGet": {"path": "/", "port": 80, "host": "10.0.0.1"}}],
    "readinessProbe": [{"tcpSocket": {"port": 80}}],
    "lifecycle": [{"preStop": {"httpGet": {"host": "evil", "port": 1}}}],
    "restartPolicy": ["Always"],
}
_KINDS = [("v1", "Pod", ""), ("apps/v1", "Deployment", "spec.template"), ("batch/v1", "Job", "spec.template"),
          ("batch/v1", "CronJob", "spec.jobTemplate.spec.template"), ("serving.kserve.io/v1beta1", "InferenceService", "spec.predictor"),
          ("v1", "Service", None), ("v1", "Secret", None), ("v1", "ServiceAccount", None), ("networking.k8s.io/v1", "NetworkPolicy", None)]


def _choose(draw: st.DrawFn, fields: dict[str, list[Any]]) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=len(fields)))
    return {name: copy.deepcopy(draw(st.sampled_from(fields[name]))) for name in chosen}


@st.composite
def _objects(draw: st.DrawFn) -> dict[str, Any]:
    api_version, kind, path = draw(st.sampled_from(_KINDS))
    metadata: dict[str, Any] = {"name": draw(st.sampled_from(["default", "app"])), "labels": {"app": "a"}}
    if draw(st.booleans()):
        metadata["namespace"] = draw(st.sampled_from(["default", "team"]))
    if draw(st.booleans()):
        metadata["annotations"] = {"mlkube.dev/waive.MLK-SEC-001": draw(st.sampled_from(["", "a reason"])),
                                   "mlkube.dev/waive.MLK-NOPE-1": "x", "checkov.io/skip1": draw(st.sampled_from(["CKV_K8S_1=", "CKV_K8S_1=why"]))}
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    if kind == "Secret":
        obj["data"] = draw(st.sampled_from([{}, {"k": "dg=="}]))
    elif kind == "Service":
        obj["spec"] = {"type": draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"])), "selector": {"app": "a"}}
    elif kind == "ServiceAccount" and draw(st.booleans()):
        obj["automountServiceAccountToken"] = False
    elif kind == "NetworkPolicy":
        obj["spec"] = {"podSelector": draw(st.sampled_from([{}, {"matchLabels": {"app": "a"}}, {"matchLabels": {"app": "b"}}]))}
    if path is None:
        return obj
    pod = _choose(draw, _POD_FIELDS)
    for group in ("containers", "initContainers", "ephemeralContainers"):
        if group == "containers" or draw(st.booleans()):
            pod[group] = [{"name": f"c{n}", **_choose(draw, _CONTAINER_FIELDS)} for n in range(draw(st.integers(0 if group != "containers" else 1, 2)))]
    if kind == "Job" and draw(st.booleans()):
        obj["spec"] = {"ttlSecondsAfterFinished": 10}
    if kind == "InferenceService":
        obj["spec"] = {"predictor": {**pod, "labels": {"app": "a"}}}
    elif not path:
        obj["spec"] = pod
    else:
        node = obj
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.update({"metadata": {"labels": {"app": "a"}}, "spec": pod})
    return obj


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_objects(), min_size=1, max_size=6), st.sampled_from(SETTINGS))
def test_policy_on_generated_objects(objects: list[dict[str, Any]], policy_settings: PolicySettings | None) -> None:
    _same_policy(_manifests(objects), policy_settings)


def test_policy_on_mutated_example_objects() -> None:
    """Objects of the example platform with fields removed or replaced at random (seeded)."""
    chooser = random.Random(22)
    objects = copy.deepcopy([obj for obj in FILES[:400] if obj.get("kind") in ("Deployment", "Job", "StatefulSet", "InferenceService")])
    assert len(objects) > 20
    for obj in objects:
        for _ in range(3):
            _mutate(obj, chooser)
    _same_policy(_manifests(objects))


def _mutate(node: Any, chooser: random.Random) -> None:
    """Delete or replace one value somewhere in ``node``."""
    path: list[Any] = []
    while isinstance(node, (dict, list)) and node and chooser.random() < 0.8:
        key = chooser.choice(list(node)) if isinstance(node, dict) else chooser.randrange(len(node))
        if not isinstance(node[key], (dict, list)) or not node[key]:
            break
        path.append(key)
        node = node[key]
    if isinstance(node, dict) and node:
        key = chooser.choice(list(node))
        if chooser.random() < 0.5:
            del node[key]
        else:
            node[key] = chooser.choice([True, False, 0, 99999999999, "x", None, [], {}, "Unconfined", "ALL"])


# -- the API server's rules: the ten-digit screen and the memoized env-name and image rules -----------------------

def _same_apiserver(manifests: list[Manifest]) -> int:
    from mlkube.validation.apiserver import apiserver_problems

    count = 0
    for manifest in manifests:
        new, old = apiserver_problems(manifest), legacy.apiserver_problems(manifest)
        assert [str(p) for p in new] == [str(p) for p in old]
        count += len(new)
    return count


def test_apiserver_rules_on_every_file_and_bench_object(bench_objects: list[Manifest]) -> None:
    _same_apiserver(_manifests(copy.deepcopy(FILES)) + bench_objects)


_digits = st.one_of(st.integers(), st.integers(min_value=2**31 - 10, max_value=2**31 + 10), st.integers(min_value=-2**63 - 5, max_value=-2**63 + 5),
                    st.integers(min_value=2**63 - 5, max_value=2**64), st.sampled_from([2147483648, 9999999999, 10**9, -2147483649, 10**30]))
_api_scalars = st.one_of(_digits, st.text(alphabet="0123456789é\ud800x-", max_size=14), st.booleans(), st.floats(allow_nan=False), st.none())
_api_keys = st.sampled_from(["replicas", "port", "containerPort", "activeDeadlineSeconds", "x", "seconds", "name", "0"])
_api_values = st.recursive(_api_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_api_keys, inner, max_size=3)),
                           max_leaves=12)
_env_names = st.one_of(st.sampled_from(["LOG_LEVEL", "1BAD", "..", ".x", "a=b", "", "é"]), st.none(), st.integers(), st.just({"a": 1}))
_images = st.one_of(st.sampled_from(["busybox", "UPPER/x:1", "ghcr.io/acme/app:1.0", " busybox", "a@sha256:" + "0" * 64, "x:y:z"]),
                    st.text(max_size=10), st.integers())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_api_keys, _api_values, max_size=4), st.lists(st.tuples(_env_names, _images), max_size=3),
       st.sampled_from(["Deployment", "ConfigMap", "CronJob"]))
def test_apiserver_rules_on_generated_objects(fields: dict[str, Any], containers: list[tuple[Any, Any]], kind: str) -> None:
    pod = {"containers": [{"name": "c", "image": image, "env": [{"name": name}], "volumeMounts": [{"subPath": "../x"}]}
                          for name, image in containers]}
    obj = {"apiVersion": "apps/v1" if kind == "Deployment" else "v1" if kind == "ConfigMap" else "batch/v1", "kind": kind,
           "metadata": {"name": "n" * 60}, "spec": {**fields, "template": {"spec": pod}}, "data": {"..": "x", **dict.fromkeys(fields, "v")}}
    _same_apiserver([Manifest(obj, "generated")])


def test_apiserver_integer_screen_on_edge_cases() -> None:
    cycle: dict[str, Any] = {"replicas": 2**40}
    cycle["self"] = cycle
    objects = [{"kind": "Deployment", "spec": {"replicas": 2147483648}}, {"kind": "Deployment", "spec": {"replicas": 214748364}},
               {"kind": "Deployment", "spec": {"x": "1234567890", "replicas": 5}}, {"kind": "Deployment", "spec": {"replicas": -2**63 - 1}},
               {"kind": "Deployment", "spec": {"replicas": 2**40, "s": "\ud800"}}, {"kind": "Deployment", "spec": cycle},
               {"kind": "Deployment", "spec": {"when": datetime.date(2024, 1, 1), "port": 99999999999}},
               {"kind": "Deployment", "spec": {"x": "é1234é56789", "port": 2**33}}]
    assert _same_apiserver([Manifest(obj, "edge") for obj in objects]) >= 5


# -- model pins: the walk that finds model URIs in every object ------------------------------------------------------

def _model_places(obj: Any) -> tuple[list[Any], list[Any]]:
    from mlkube.pinning.models import model_fields

    return ([(f.path, f.value, f.honours_pins) for f in model_fields(obj)], [(f.path, f.value, f.honours_pins) for f in legacy.model_fields(obj)])


def _pinned_models_step(manifests: list[Manifest], module: Any) -> tuple[list[str], list[str]]:
    from types import SimpleNamespace

    environments = [SimpleNamespace(name="dev", require_pinned_images=False, production=False),
                    SimpleNamespace(name="prod", require_pinned_images=False, production=True)]
    ctx = SimpleNamespace(platform=SimpleNamespace(environments=environments), manifests=manifests, problems=[], warnings=[])
    module.require_pinned_models(ctx)
    return [str(p) for p in ctx.problems], ctx.warnings


def _same_places_in_every_file_and_bench_object(places: Any, bench_objects: list[Manifest]) -> int:
    """``places(obj)`` gives the new walk's and the old walk's findings: equal on every object; how many were found."""
    found = 0
    for obj in [*copy.deepcopy(FILES), *(m.obj for m in bench_objects)]:
        new, old = places(obj)
        assert new == old
        found += len(new)
    return found


def test_model_fields_on_every_file_and_bench_object(bench_objects: list[Manifest]) -> None:
    from mlkube.pinning import models

    assert _same_places_in_every_file_and_bench_object(_model_places, bench_objects) > 20
    manifests = [Manifest(m.obj, m.where, environment) for m in bench_objects for environment in ("dev", "prod")]
    assert _pinned_models_step(manifests, models) == _pinned_models_step(manifests, legacy)


_uris = st.sampled_from(["s3://b/m/v1", "s3://b/m?versionManifest=sha256:1&a=1", "gs://b/m", "pvc://claim/m", "hf://org/m@" + "a" * 40,
                         "hf://org/m", "oci://r/m@sha256:" + "0" * 64, "https://x/m.tgz", ""])
_model_keys = st.sampled_from(["storageUri", "args", "name", "predictor", "spec", "", ".x", "a.b", "initContainers"])
_model_scalars = st.one_of(_uris, st.sampled_from(["model-downloader", "other"]), st.integers(), st.none())
_model_values = st.recursive(_model_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_model_keys, inner, max_size=4),
    st.fixed_dictionaries({"name": st.just("model-downloader"), "args": st.lists(st.one_of(_uris, st.integers()), max_size=2)})), max_leaves=20)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.dictionaries(_model_keys, _model_values, max_size=4), st.lists(_model_values, max_size=3)))
def test_model_fields_on_generated_objects(obj: Any) -> None:
    from mlkube.pinning import models

    new, old = _model_places(obj)
    assert new == old
    if isinstance(obj, dict):
        manifests = [Manifest(obj, "generated", "dev"), Manifest(obj, "generated", "prod")]
        assert _pinned_models_step(manifests, models) == _pinned_models_step(manifests, legacy)


# -- image pins: the walk that finds image values in every object (kbld's rule) -------------------------------------

def _image_places(obj: Any) -> tuple[list[Any], list[Any]]:
    from mlkube.pinning.fields import image_fields

    return ([(f.path, f.container, f.value, id(f.parent)) for f in image_fields(obj)],
            [(f.path, f.container, f.value, id(f.parent)) for f in legacy.image_fields(obj)])


def test_image_fields_on_every_file_and_bench_object(bench_objects: list[Manifest]) -> None:
    assert _same_places_in_every_file_and_bench_object(_image_places, bench_objects) > 300


_image_keys = st.sampled_from(["image", "name", "containers", "spec", "kind", "", ".x", "a.b", "template"])
_image_values = st.recursive(st.one_of(st.sampled_from(["ghcr.io/a/b:1", "Secret", "ConfigMap", "main", ""]), st.integers(), st.none()),
                             lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_image_keys, inner, max_size=4)),
                             max_leaves=20)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_image_keys, _image_values, max_size=4))
def test_image_fields_on_generated_objects(obj: dict[str, Any]) -> None:
    from mlkube.pinning.fields import image_fields

    if not isinstance(obj.get("kind"), str | int | None):
        assert isinstance(image_fields(obj), list)  # the old walk raised TypeError on an unhashable kind
        return
    new, old = _image_places(obj)
    assert new == old


# -- schema validation: the API server's quantity rules, memoized per value ---------------------------------------

@pytest.fixture(scope="module")
def catalog() -> Any:
    from mlkube.validation.schemas import SchemaCatalog, ValidationSettings

    return SchemaCatalog(ValidationSettings(strict_unknown_kinds=True))


def _quantity_issues(obj: dict[str, Any], catalog: Any) -> tuple[list[Any], list[Any]]:
    from mlkube.validation.quantities import quantity_issues

    validator = catalog.validator(str(obj.get("apiVersion")), str(obj.get("kind")))
    if validator is None:
        return [], []
    return list(quantity_issues(obj, validator.quantities)), list(legacy.quantity_issues(obj, validator.quantities))


def test_quantity_rules_on_every_file_and_bench_object(catalog: Any, bench_objects: list[Manifest]) -> None:
    for obj in [*copy.deepcopy(FILES), *(m.obj for m in bench_objects)]:
        if isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str):
            new, old = _quantity_issues(obj, catalog)
            assert new == old


_quantities = st.one_of(st.sampled_from(["1", "1.5Gi", "-1", "500m", "1e3", "1E3", "0x10", " 1", "1Gi ", "", "1.5.5", "12345678901234567890Ei",
                                          "Infinity", "nan"]),
                        st.integers(), st.floats(), st.text(alphabet="0123456789.-+eEGiKMmnu ", max_size=8), st.booleans(), st.none())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["cpu", "memory", "nvidia.com/gpu", "ephemeral-storage"]), _quantities), max_size=4),
       st.lists(st.tuples(st.sampled_from(["cpu", "memory"]), _quantities), max_size=2))
def test_quantity_rules_on_generated_values(catalog: Any, requests: list[tuple[str, Any]], limits: list[tuple[str, Any]]) -> None:
    container = {"name": "c", "image": "busybox", "resources": {"requests": dict(requests), "limits": dict(limits)}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container], "overhead": dict(requests)}}
    new, old = _quantity_issues(pod, catalog)
    assert new == old


# -- connectivity: the evaluator's caches (pod hashes, peer matches, parsed addresses) and the endpoints' members -------

def _verdict(verdict: Any) -> tuple[Any, ...]:
    return verdict.allowed, tuple((b.direction, b.endpoint, tuple(p.name for p in b.policies), b.describe()) for b in verdict.blocks)


def _same_connectivity(platform: Any, manifests: list[Manifest]) -> int:
    from mlkube.traffic.check import connection_problems, environment_connections, managed_namespaces, undeclared_flows
    from mlkube.traffic.cluster import TrafficView, traffic_view

    problems = 0
    by_environment: dict[str, list[Manifest]] = defaultdict(list)
    for manifest in manifests:
        by_environment[manifest.environment].append(manifest)
    for environment in platform.environments:
        view = traffic_view(by_environment[environment.name])
        connections = environment_connections(platform, environment)
        managed = managed_namespaces(platform, environment)
        new = [str(p) for p in connection_problems(connections, view, managed)]
        assert new == [str(p) for p in legacy.legacy_connection_problems(connections, view, managed)]
        problems += len(new)
        old_view = TrafficView(legacy.LegacyCluster(view.cluster.policies, view.cluster._namespace_labels), view.pods, view.listening)
        flows = [f.describe() for f in undeclared_flows(connections[:40], view, managed)]
        assert flows == [f.describe() for f in undeclared_flows(connections[:40], old_view, managed)]
        _same_verdicts_on_two_namespaces(by_environment[environment.name], connections, view, managed)
    return problems


def _same_verdicts_on_two_namespaces(manifests: list[Manifest], connections: list[Any], view: Any, managed: set[str]) -> None:
    """What synth's cache relies on (incremental/connectivity.py): a connection's verdict on a view of only its two
    namespaces' objects and the Namespace objects is its verdict on the whole environment's view."""
    from mlkube.incremental.connectivity import _namespace_names, _side
    from mlkube.traffic.check import connection_verdicts
    from mlkube.traffic.cluster import traffic_view

    whole = [str(p) for p in connection_verdicts(connections, view, managed)]
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, connection in enumerate(connections):
        groups[(_side(connection.source), _side(connection.destination))].append(index)
    for sides, indexes in groups.items():
        narrow = traffic_view([m for m in manifests if m.kind == "Namespace" or set(_namespace_names(m)) & set(sides)])
        assert len(narrow.pods) <= len(view.pods)
        assert [str(p) for p in connection_verdicts([connections[i] for i in indexes], narrow, managed)] == [whole[i] for i in indexes]


def _broken(manifests: list[Manifest], seed: int) -> list[Manifest]:
    """The objects with some NetworkPolicies' rules, peers, ports or selectors removed or changed (seeded)."""
    chooser = random.Random(seed)
    objects = copy.deepcopy([m.obj for m in manifests])
    for obj in objects:
        if obj.get("kind") != "NetworkPolicy" or chooser.random() < 0.6:
            continue
        spec = obj["spec"]
        section = chooser.choice(["ingress", "egress", "podSelector", "policyTypes"])
        if section in ("ingress", "egress") and spec.get(section):
            rule = chooser.choice(spec[section])
            change = chooser.choice(["drop-rule", "drop-peers", "drop-ports", "port", "namespace", "block"])
            if change == "drop-rule":
                spec[section].remove(rule)
            elif change == "drop-peers":
                rule.pop("from" if section == "ingress" else "to", None)
            elif change == "drop-ports":
                rule.pop("ports", None)
            elif change == "port":
                rule["ports"] = [{"port": chooser.choice([53, 8080, "http", "metrics", 1]), "protocol": chooser.choice(["TCP", "UDP"]),
                                  **({"endPort": 9000} if chooser.random() < 0.3 else {})}]
            elif change == "namespace":
                rule["from" if section == "ingress" else "to"] = [{"namespaceSelector": {"matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": chooser.choice(["In", "NotIn"]), "values": ["kube-system"]}]}}]
            else:
                rule["from" if section == "ingress" else "to"] = [{"ipBlock": {"cidr": chooser.choice(["0.0.0.0/0", "10.0.0.0/8", "bad"]),
                                                                               "except": ["10.1.0.0/16", "nope"]}}]
        elif section == "podSelector":
            spec["podSelector"] = chooser.choice([{}, {"matchLabels": {"app.kubernetes.io/name": "nobody"}}])
        else:
            spec["policyTypes"] = chooser.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"]])
    return [Manifest(obj, m.where, m.environment, m.app) for obj, m in zip(objects, manifests, strict=True)]



# -- the lock's one walk: images and model URIs together (pinning.models.lock_fields) --------------------------------

def _lock_places(obj: Any) -> tuple[Any, Any]:
    """``lock_fields(obj)`` against ``image_fields(obj)`` and ``model_fields(obj)``: paths, values, and the very parents."""
    from mlkube.pinning.fields import image_fields
    from mlkube.pinning.models import lock_fields, model_fields

    images, models = lock_fields(obj)
    return (([(f.path, f.container, f.value, id(f.parent)) for f in images], [(f.path, f.value, f.key, id(f.parent)) for f in models]),
            ([(f.path, f.container, f.value, id(f.parent)) for f in image_fields(obj)],
             [(f.path, f.value, f.key, id(f.parent)) for f in model_fields(obj)]))


def test_lock_fields_on_every_file_and_bench_object(bench_objects: list[Manifest]) -> None:
    _same_places_in_every_file_and_bench_object(_lock_places, bench_objects)
    found = [_lock_places(obj)[0] for obj in [*FILES, *(m.obj for m in bench_objects)]]
    assert sum(len(images) for images, _ in found) > 300 and sum(len(models) for _, models in found) > 20


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.one_of(_image_keys, _model_keys), st.one_of(_image_values, _model_values), max_size=5),
       st.sampled_from([None, "Deployment", "ConfigMap", "Secret", 3]))
def test_lock_fields_on_generated_objects(obj: dict[str, Any], kind: Any) -> None:
    if kind is not None:
        obj["kind"] = kind
    new, old = _lock_places(obj)
    assert new == old


@pytest.fixture(scope="module")
def example() -> tuple[Any, list[Manifest]]:
    """apps/main.py's platform (built, as `cdk8s synth` would) and its committed objects (dist/)."""
    from mlkube.kube.loader import load_manifests

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO_ROOT)
        platform = runpy.run_path(str(REPO_ROOT / "apps" / "main.py"), run_name="example")["platform"]
        manifests = [Manifest(m.obj, m.where, m.file.split("dist/", 1)[1].split("/", 1)[0]) for m in load_manifests([REPO_ROOT / "dist"])]
    return platform, manifests


def test_connectivity_on_the_example_and_bench_platforms(example: tuple[Any, list[Manifest]], bench_objects: list[Manifest]) -> None:
    platform, manifests = example
    _same_connectivity(platform, manifests)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLKUBE_BENCH_APPS", "3")
        bench_platform = runpy.run_path(str(REPO_ROOT / "bench" / "platform_app.py"))["platform"]
    _same_connectivity(bench_platform, bench_objects)


@pytest.mark.parametrize("seed", range(6))
def test_connectivity_with_broken_policies(example: tuple[Any, list[Manifest]], seed: int) -> None:
    platform, manifests = example
    assert _same_connectivity(platform, _broken(manifests, seed)) > 0


_labels = st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["a", "b"]), max_size=2)
_selectors = st.one_of(st.just({}), st.builds(lambda labels: {"matchLabels": labels}, _labels),
                       st.builds(lambda key, op: {"matchExpressions": [{"key": key, "operator": op, "values": ["a"]}]},
                                 st.sampled_from(["app", "tier", "kubernetes.io/metadata.name"]), st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"])))
_peers = st.one_of(st.builds(lambda s: {"podSelector": s}, _selectors), st.builds(lambda s: {"namespaceSelector": s}, _selectors),
                   st.builds(lambda a, b: {"podSelector": a, "namespaceSelector": b}, _selectors, _selectors), st.just({}),
                   st.builds(lambda cidr, exc: {"ipBlock": {"cidr": cidr, "except": exc}}, st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "::/0", "x"]),
                             st.lists(st.sampled_from(["10.1.0.0/16", "203.0.113.0/24", "y"]), max_size=2)))
_ports = st.lists(st.builds(lambda port, protocol, end: {k: v for k, v in (("port", port), ("protocol", protocol), ("endPort", end)) if v is not None},
                            st.one_of(st.none(), st.sampled_from([53, 80, 8080, "http", "dns", "1"])), st.sampled_from([None, "TCP", "UDP"]),
                            st.sampled_from([None, 9000])), max_size=2)
_rules = st.lists(st.builds(lambda peers, ports: {"from": peers, "to": peers, "ports": ports}, st.lists(_peers, max_size=2), _ports), max_size=2)
_policies = st.lists(st.builds(lambda ns, selector, ingress, egress, types: {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                                                             "metadata": {"name": f"p-{ns}", "namespace": ns}, "spec": {
                                                                                 "podSelector": selector, "ingress": ingress, "egress": egress, **types}},
                               st.sampled_from(["a", "b"]), _selectors, _rules, _rules,
                               st.sampled_from([{}, {"policyTypes": ["Ingress"]}, {"policyTypes": ["Egress"]}])), max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_policies, st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), _labels), min_size=1, max_size=4))
def test_evaluator_on_generated_policies(policies: list[dict[str, Any]], pods: list[tuple[str, dict[str, str]]]) -> None:
    from mlkube.kube.network_policy import Cluster, External, Pod, Policy

    parsed = [Policy.from_object(obj) for obj in policies]
    labels = {"a": {"team": "x"}, "b": {}}
    new, old = Cluster(parsed, labels), legacy.LegacyCluster(parsed, labels)
    endpoints: list[Any] = [Pod(ns, dict(pod_labels), f"{ns}/{index}", (("http", 8080, "TCP"), ("dns", 53, "UDP")))
                            for index, (ns, pod_labels) in enumerate(pods)]
    endpoints += [External("10.1.2.3"), External("203.0.113.7"), External("2001:db8::1")]
    for source in endpoints:
        for destination in endpoints:
            for port, protocol in ((53, "UDP"), (8080, "TCP"), (8500, "TCP"), (1, "TCP")):
                assert _verdict(new.check(source, destination, port, protocol)) == _verdict(old.check(source, destination, port, protocol))



# -- apply_locks: the default pipeline's lock transform, one walk for images and models ----------------------------

def _before_the_lock(platform: Any, out_dir: Any) -> Any:
    """A synth of ``platform`` stopped before its lock transform (``apply_locks``)."""
    from mlkube.core.synth import SynthContext, collect
    from mlkube.pinning.synth_steps import apply_locks

    ctx = SynthContext(platform, out_dir)
    collect(ctx)
    transforms = platform.pipeline.transforms
    for step in transforms[:transforms.index(apply_locks)]:
        step(ctx)
    return ctx


def _locked(ctx: Any, steps: list[Any]) -> tuple[list[Any], list[str], list[str]]:
    """What ``steps`` make of a copy of the objects of ``ctx``: the objects, the problems and the warnings."""
    from mlkube.core.synth import SynthContext

    copy_ctx = SynthContext(ctx.platform, ctx.out_dir, manifests=[Manifest(copy.deepcopy(m.obj), m.where, m.environment, m.app)
                                                                 for m in ctx.manifests])
    for step in steps:
        step(copy_ctx)
    return [m.obj for m in copy_ctx.manifests], [str(p) for p in copy_ctx.problems], copy_ctx.warnings


@pytest.mark.parametrize("lock_case", ["committed", "prod never promoted", "prod never promoted, allowed", "no models", "no lock", "unreadable"])
def test_apply_locks_is_apply_lock_then_apply_model_lock(example: tuple[Any, list[Manifest]], tmp_path: Any,
                                                        monkeypatch: pytest.MonkeyPatch, lock_case: str) -> None:
    """The example platform against variations of its committed lock (images and models pinned in every environment,
    prod gated): the same objects, problems and warnings, in the same order."""
    from mlkube.pinning.models import apply_model_lock
    from mlkube.pinning.synth_steps import apply_lock, apply_locks

    platform, _ = example
    lock = json.loads((REPO_ROOT / "dist" / "images.lock.json").read_text())
    if lock_case.startswith("prod never promoted"):
        lock["environments"]["prod"]["images"] = {}
    if lock_case == "prod never promoted, allowed":
        monkeypatch.setenv("MLKUBE_ALLOW_UNPINNED", "1")
    if lock_case == "no models":
        for environment in lock["environments"].values():
            environment.pop("models", None)
    monkeypatch.delenv("MLKUBE_OUT", raising=False)
    monkeypatch.delenv("MLKUBE_LOCK_DIR", raising=False)
    if lock_case != "no lock":
        (tmp_path / "images.lock.json").write_text("{not json" if lock_case == "unreadable" else json.dumps(lock))
    ctx = _before_the_lock(platform, tmp_path)
    one_walk = _locked(ctx, [apply_locks])
    assert one_walk == _locked(ctx, [apply_lock, apply_model_lock])
    objects, problems, warnings = one_walk
    text = json.dumps(objects)
    if lock_case == "committed":
        assert "@sha256:" in text and "versionManifest=sha256:" in text and not problems  # images and models were pinned
    if lock_case == "prod never promoted":
        assert any("was never promoted" in problem for problem in problems)
    if lock_case == "prod never promoted, allowed":
        assert not problems and any("was never promoted" in warning for warning in warnings)
    if lock_case == "unreadable":
        assert problems and "@sha256:" not in text


# -- checks a namespace at a time (incremental/namespaces.py skips the namespaces whose objects are clean) ------------

def _cross_object_broken(manifests: list[Manifest], seed: int) -> list[Manifest]:
    """The objects with some names doubled or made invalid, selectors and scale targets pointed nowhere, GPU counts
    made fractional, objects moved to another namespace, claims made single-node, reserved PriorityClasses (seeded)."""
    chooser = random.Random(seed)
    objects = copy.deepcopy([m.obj for m in manifests])
    namespaces = sorted({str((obj.get("metadata") or {}).get("namespace")) for obj in objects})
    claims = 0
    for index, obj in enumerate(objects):
        spec, kind = obj.get("spec") or {}, obj.get("kind")
        if kind == "PersistentVolumeClaim":  # claims are few: the first single-node, then half of them
            claims += 1
            if claims == 1 or chooser.random() < 0.5:
                spec["accessModes"] = ["ReadWriteOnce"]
        if chooser.random() < 0.9:
            continue
        change = chooser.choice(["duplicate", "name", "selector", "target", "gpu", "namespace", "namespace", "priority"])
        if change == "duplicate" and index:
            obj["metadata"]["name"] = objects[index - 1].get("metadata", {}).get("name")
            obj["kind"], obj["apiVersion"] = objects[index - 1].get("kind"), objects[index - 1].get("apiVersion")
            obj["metadata"]["namespace"] = objects[index - 1].get("metadata", {}).get("namespace")
        elif change == "name":
            obj["metadata"]["name"] = "Not_A_Name"
        elif change == "selector" and kind in ("Service", "PodDisruptionBudget"):
            spec["selector"] = {"app": "nobody"} if kind == "Service" else {"matchLabels": {"app": "nobody"}}
        elif change == "target" and kind == "HorizontalPodAutoscaler":
            spec["scaleTargetRef"]["name"] = "missing"
        elif change == "gpu":
            for pod in (spec.get("template") or {}).get("spec", {}).get("containers", []):
                pod.setdefault("resources", {}).setdefault("limits", {})["nvidia.com/gpu"] = "0.5"
        elif change == "namespace":  # moved into another app's namespace, or one no app has
            obj.setdefault("metadata", {})["namespace"] = chooser.choice([*namespaces, "elsewhere"])
        elif change == "priority" and isinstance((spec.get("template") or {}).get("spec"), dict):
            spec["template"]["spec"]["priorityClassName"] = "system-cluster-critical"
    return [Manifest(obj, m.where, m.environment, m.app) for obj, m in zip(objects, manifests, strict=True)]


def _namespace_checks(platform: Any) -> list[tuple[str, Any, Any]]:
    """(name, check of a list of objects, the namespace it groups an object in) for each check the cache runs a
    namespace at a time (incremental/steps.py ``_by_namespace``)."""
    from mlkube.gitops import tenancy_checks
    from mlkube.incremental import steps
    from mlkube.validation import cross_object, volume_sharing

    return [("cross-object", cross_object.check_cross_object, cross_object.checked_namespace),
            ("volume sharing", volume_sharing.check_volume_sharing, steps._namespace),
            ("tenancy", lambda manifests: tenancy_checks.object_problems(platform, manifests), steps._environment_and_namespace)]


@pytest.mark.parametrize("seed", range(6))
def test_problems_of_a_namespace_come_from_its_own_objects(example: tuple[Any, list[Manifest]], bench_objects: list[Manifest],
                                                          seed: int) -> None:
    """What incremental/namespaces.py relies on, for each check it serves: checking only some namespaces of an
    environment (in its order) gives exactly the whole environment's problems whenever the namespaces left out have
    none of their own."""
    chooser = random.Random(seed)
    example_platform, example_objects = example
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLKUBE_BENCH_APPS", "3")
        bench_platform = runpy.run_path(str(REPO_ROOT / "bench" / "platform_app.py"))["platform"]
    found: dict[str, int] = {}
    for platform, objects in ((example_platform, example_objects), (bench_platform, bench_objects)):
        for name, check, namespace_of in _namespace_checks(platform):
            for environment in sorted({m.environment for m in objects}):
                manifests = _cross_object_broken([m for m in objects if m.environment == environment], seed)
                namespaces = sorted({namespace_of(m) for m in manifests})
                whole = [str(p) for p in check(manifests)]
                dirty = {ns for ns in namespaces if check([m for m in manifests if namespace_of(m) == ns])}
                kept = dirty | {ns for ns in namespaces if chooser.random() < 0.3}
                assert [str(p) for p in check([m for m in manifests if namespace_of(m) in kept])] == whole, name
                found[name] = found.get(name, 0) + len(whole)
    assert all(found[name] > 0 for name in ("cross-object", "volume sharing", "tenancy")), found


def test_a_workload_moved_into_another_namespace_is_checked_with_its_claims(bench_objects: list[Manifest]) -> None:
    """app-0000's multi-node job moved into app-0001's namespace writes app-0001's single-node claim: a problem of that
    namespace, found when only its objects are checked, and only there (not in app-0000's, which is clean now)."""
    from mlkube.incremental import steps
    from mlkube.validation.volume_sharing import check_volume_sharing

    manifests = [Manifest(copy.deepcopy(m.obj), m.where, m.environment, m.app) for m in bench_objects if m.environment == "dev"]
    for manifest in manifests:
        if manifest.app == "app-0000" and manifest.kind == "Job":
            manifest.obj["metadata"]["namespace"] = "dev-app-0001"
        if manifest.app == "app-0001" and manifest.kind == "PersistentVolumeClaim":
            manifest.obj["spec"]["accessModes"] = ["ReadWriteOnce"]
    whole = [str(p) for p in check_volume_sharing(manifests)]
    assert any("written by 2 workloads" in problem for problem in whole)
    groups = sorted({steps._namespace(m) for m in manifests})
    dirty = [group for group in groups if check_volume_sharing([m for m in manifests if steps._namespace(m) == group])]
    assert dirty == ["dev-app-0001"]
    assert [str(p) for p in check_volume_sharing([m for m in manifests if steps._namespace(m) in dirty])] == whole
