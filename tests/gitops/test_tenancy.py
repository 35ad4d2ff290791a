"""Tenancy the platform declares: reserved namespaces, declared kinds and namespaces, app names,
external-secret key scope, priority classes, and promotion to environments that exist."""

from __future__ import annotations

import shutil
import textwrap

import cdk8s
import pytest
from gitops_support import PINNED, REPO
from helpers import REPO_ROOT, run_mlkube

from mlkube import Environment, ExternalSecretSpec, InferenceService, MlkubeError, Platform
from mlkube.core.batch_job import BatchJob
from mlkube.core.gitops_settings import GitOps
from mlkube.core.tenancy import CLUSTER_KINDS, PLATFORM_KINDS, Tenancy
from mlkube.testing import synth_platform

DEV = Environment(name="dev", namespace="ml-{app}")


def _platform(build, *, name="scoring", environment=DEV, **gitops):
    platform = Platform(environments=[environment], gitops=GitOps(repo_url=REPO, **gitops))
    platform.app(name, build)
    return platform


def _server(app, **fields):
    InferenceService(app, "server", image=PINNED, **fields)


def _failure(platform) -> str:
    with pytest.raises(MlkubeError) as error:
        synth_platform(platform)
    return str(error.value)


# -- reserved namespaces -----------------------------------------------------------------------------

@pytest.mark.parametrize(("app", "reason"), [
    ("kube-system", "the prefix 'kube-' is reserved"),
    ("kube-public", "the prefix 'kube-' is reserved"),
    ("default", "'default' is shared"),
    ("argocd", "the namespace Argo CD runs in"),
    ("kueue-system", "operators run there"),
    ("monitoring", "monitoring namespace"),
])
def test_fails_when_an_app_takes_a_reserved_namespace(app, reason):
    message = _failure(_platform(_server, name=app, environment=Environment(name="dev")))
    assert f"app {app!r} would take over namespace {app!r}" in message and reason in message
    assert "rename the app, or set Environment.namespace" in message


def test_fails_when_the_namespace_template_maps_an_app_onto_argo_cds_namespace():
    message = _failure(_platform(_server, name="cd", environment=Environment(name="dev", namespace="argo{app}")))
    assert "would take over namespace 'argocd'" in message


def test_fails_when_the_platform_reserves_the_namespace():
    platform = _platform(_server, name="payments", environment=Environment(name="dev"),
                         tenancy=Tenancy(reserved_namespaces=["payments"]))
    assert "the platform reserves it" in _failure(platform)


@pytest.mark.parametrize(("app", "extra", "expected"), [
    ("kube-system", "", "app 'kube-system' would take over namespace 'kube-system': the prefix 'kube-' is reserved"),
    ("argocd", "", "app 'argocd' would take over namespace 'argocd': it is the namespace Argo CD runs in"),
    ("scoring", """
            externalSecrets:
              - {name: db, store: vault, data: {password: "payments/db#password"}, mountPath: /var/run/secrets/db}""",
     "ExternalSecret/db of app 'scoring' reads 'payments/db' through ClusterSecretStore 'vault', outside the app's keys"),
])
def test_a_yaml_blueprint_naming_a_reserved_namespace_or_another_apps_secret_is_refused(tmp_path, app, extra, expected):
    (tmp_path / "apps/x").mkdir(parents=True)
    (tmp_path / "apps/x/mlkube.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: mlkube.dev/v1alpha1
        kind: Blueprint
        app: {app}
        workloads:
          server:
            kind: InferenceService
            image: "{PINNED}"{extra}
        """))
    platform = Platform(environments=[Environment(name="dev")], gitops=GitOps(repo_url=REPO))
    platform.load_blueprints(tmp_path / "apps")
    assert expected in _failure(platform)


def test_reserved_namespaces_are_refused_without_gitops_too():
    platform = Platform(environments=[Environment(name="dev")])
    platform.app("kube-system", _server)
    assert "would take over namespace 'kube-system'" in _failure(platform)


# -- declared kinds and namespaces ---------------------------------------------------------------------

def _intruder(app):
    _server(app)
    cdk8s.ApiObject(app, "dns", api_version="v1", kind="ConfigMap", metadata={"name": "coredns", "namespace": "kube-system"})
    binding = cdk8s.ApiObject(app, "admin", api_version="rbac.authorization.k8s.io/v1", kind="ClusterRoleBinding",
                              metadata={"name": "take-over"})
    binding.add_json_patch(cdk8s.JsonPatch.add("/roleRef", {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                            "name": "cluster-admin"}))
    binding.add_json_patch(cdk8s.JsonPatch.add("/subjects", [{"kind": "ServiceAccount", "name": "server", "namespace": "ml-scoring"}]))


def test_fails_when_a_python_app_adds_objects_outside_its_namespace_and_kinds():
    message = _failure(_platform(_intruder))
    assert "ConfigMap/coredns of app 'scoring' is in namespace 'kube-system', not the app's namespace 'ml-scoring'" in message
    assert ("ClusterRoleBinding/take-over of app 'scoring': kind rbac.authorization.k8s.io/ClusterRoleBinding is not among "
            "the kinds the platform allows") in message


def test_fails_when_an_app_adds_another_namespace():
    def build(app):
        _server(app)
        cdk8s.ApiObject(app, "ns", api_version="v1", kind="Namespace", metadata={"name": "payments"})
    assert "Namespace/payments of app 'scoring' is not the app's namespace 'ml-scoring'" in _failure(_platform(build))


def test_app_project_lists_the_declared_kinds_and_namespaces_not_the_output():
    objects = synth_platform(_platform(_server))
    spec = objects.get("AppProject", "dev")["spec"]
    assert [(item["group"], item["kind"]) for item in spec["namespaceResourceWhitelist"]] == sorted(PLATFORM_KINDS)
    assert [(item["group"], item["kind"]) for item in spec["clusterResourceWhitelist"]] == list(CLUSTER_KINDS)
    assert spec["destinations"] == [{"namespace": "ml-scoring", "server": "https://kubernetes.default.svc"}]


def test_an_environment_with_declared_operators_allows_only_their_kinds():
    environment = Environment(name="dev", namespace="ml-{app}", operators=["kueue"])
    spec = synth_platform(_platform(_server, environment=environment)).get("AppProject", "dev")["spec"]
    groups = {item["group"] for item in spec["namespaceResourceWhitelist"]}
    assert "kueue.x-k8s.io" in groups and not groups & {"keda.sh", "serving.kserve.io", "jobset.x-k8s.io", "scheduling.volcano.sh"}


def test_declared_extra_kinds_are_allowed_and_listed():
    def build(app):
        _server(app)
        role = cdk8s.ApiObject(app, "reader", api_version="rbac.authorization.k8s.io/v1", kind="Role", metadata={"name": "reader"})
        role.add_json_patch(cdk8s.JsonPatch.add("/rules", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]))
    objects = synth_platform(_platform(build, tenancy=Tenancy(extra_kinds=["rbac.authorization.k8s.io/Role"])))
    kinds = objects.get("AppProject", "dev")["spec"]["namespaceResourceWhitelist"]
    assert {"group": "rbac.authorization.k8s.io", "kind": "Role"} in kinds
    assert objects.get("Role", "reader")["metadata"]["namespace"] == "ml-scoring"


def test_fails_when_an_extra_kind_is_not_group_slash_kind():
    with pytest.raises(ValueError, match="is not '<API group>/<Kind>'"):
        Tenancy(extra_kinds=["rbac/role"])


def test_every_kind_of_the_example_output_is_declared():
    import yaml

    declared = {*PLATFORM_KINDS, *CLUSTER_KINDS}
    for path in (REPO_ROOT / "dist").glob("*/[!_]*/*.yaml"):
        obj = yaml.safe_load(path.read_text())
        assert (obj["apiVersion"].rpartition("/")[0], obj["kind"]) in declared, path


# -- app names -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../escaped", "", "Fraud", "a" * 64, "x/y"])
def test_fails_when_a_python_app_name_is_not_a_dns_label(tmp_path, name):
    platform = Platform(environments=[Environment(name="dev")], out_dir=tmp_path / "dist")
    platform.app(name, _server)
    with pytest.raises(MlkubeError) as error:
        platform.synthesize()
    assert f"platform.app({name!r}): name:" in str(error.value)
    assert not any(tmp_path.iterdir()), "nothing is written, inside or outside dist/"


def test_an_escaping_app_name_writes_nothing_outside_the_output(tmp_path):
    script = tmp_path / "main.py"
    script.write_text(textwrap.dedent(f"""\
        from mlkube import Environment, InferenceService, Platform
        platform = Platform(environments=[Environment(name="dev")])
        platform.app("../../escaped", lambda app: InferenceService(app, "s", image="{PINNED}"))
        platform.synth()
        """))
    result = run_mlkube("synth", "--app", str(script), "--out", str(tmp_path / "out" / "dist"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "platform.app('../../escaped'): name: app name '../../escaped' is not a DNS-1123 label" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.rglob("*escaped*"))
    assert not (tmp_path / "out" / "dist").exists()


# -- external secrets ----------------------------------------------------------------------------------

def _secret_reader(key, store_kind="ClusterSecretStore"):
    def build(app):
        _server(app, external_secrets=[ExternalSecretSpec(name="db", store="vault", store_kind=store_kind, data={"password": key},
                                                          mount_path="/var/run/secrets/db")])
    return build


def test_fails_when_an_external_secret_reads_another_apps_keys():
    message = _failure(_platform(_secret_reader("payments/db#password")))
    assert ("ExternalSecret/db of app 'scoring' reads 'payments/db' through ClusterSecretStore 'vault', outside the app's keys "
            "('scoring/'...)") in message


def test_an_external_secret_under_the_apps_prefix_or_from_its_own_store_is_fine():
    synth_platform(_platform(_secret_reader("scoring/db#password")))
    synth_platform(_platform(_secret_reader("anything/db#password", store_kind="SecretStore")))


def test_the_key_prefix_is_declared_by_the_platform():
    platform = _platform(_secret_reader("ml/dev/scoring/db"), tenancy=Tenancy(secret_key_prefix="ml/{environment}/{app}/"))
    synth_platform(platform)
    assert "outside the app's keys ('ml/dev/scoring/'" in _failure(
        _platform(_secret_reader("ml/dev/other/db"), tenancy=Tenancy(secret_key_prefix="ml/{environment}/{app}/")))


def test_a_raw_external_secret_searching_the_whole_cluster_store_is_refused():
    def build(app):
        _server(app)
        cdk8s.ApiObject(app, "all", api_version="external-secrets.io/v1", kind="ExternalSecret", metadata={"name": "all"}).add_json_patch(
            cdk8s.JsonPatch.add("/spec", {"secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
                                          "dataFrom": [{"find": {"name": {"regexp": ".*"}}}], "target": {"name": "all"}}))
    assert "spec.dataFrom[0].find.path: ExternalSecret/all of app 'scoring' reads '' through ClusterSecretStore" in _failure(_platform(build))


# -- priority classes ------------------------------------------------------------------------------------

def _batch(priority):
    return lambda app: BatchJob(app, "score", image=PINNED, priority_class_name=priority)


def test_fails_when_a_job_uses_a_system_priority_class():
    message = _failure(_platform(_batch("system-node-critical")))
    assert "Job/score uses PriorityClass 'system-node-critical', reserved for Kubernetes' own" in message


def test_priority_classes_come_from_the_declared_list():
    tenancy = Tenancy(allowed_priority_classes=["batch-low"])
    synth_platform(_platform(_batch("batch-low"), tenancy=tenancy))
    assert "PriorityClass 'batch-high', which the platform does not allow" in _failure(_platform(_batch("batch-high"), tenancy=tenancy))


# -- promotion -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["../x", "qa", "Prod"])
def test_fails_when_promoting_to_an_environment_that_does_not_exist(tmp_path, target):
    dist = tmp_path / "dist"
    shutil.copytree(REPO_ROOT / "dist", dist)
    before = (dist / "images.lock.json").read_bytes()
    result = run_mlkube("promote", "staging", target, "--dist", str(dist))
    assert result.returncode == 2, result.stderr
    assert f"no environment {target!r}" in result.stderr and "environments there: dev, prod, staging" in result.stderr
    assert (dist / "images.lock.json").read_bytes() == before


def test_a_platform_without_gitops_declares_its_tenancy_on_the_platform():
    def build(app):
        _server(app)
        cdk8s.ApiObject(app, "reader", api_version="rbac.authorization.k8s.io/v1", kind="Role", metadata={"name": "reader"})
    refused = Platform(environments=[DEV])
    refused.app("scoring", build)
    assert "kind rbac.authorization.k8s.io/Role is not among the kinds the platform allows" in _failure(refused)
    allowed = Platform(environments=[DEV], tenancy=Tenancy(extra_kinds=["rbac.authorization.k8s.io/Role"]))
    allowed.app("scoring", build)
    assert synth_platform(allowed).get("Role", "reader")["metadata"]["namespace"] == "ml-scoring"
