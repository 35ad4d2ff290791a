"""Constructs created in Node only when Node is asked something (core/lazy_node.py, issue 22 item 5).

Two things are proved: building and synthesizing a platform that never asks Node anything makes a fixed
number of Python-to-Node requests, whatever the number of apps; and anything a cdk8s user can observe
(tree, child order, paths, Chart.of, validations, dependencies, plain objects, escape hatches, duplicate
ids) is the same as creating every construct at once, which ``eager_constructs()`` still does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import cdk8s
import jsii
import pytest
from odd_replicas import OddReplicas

from constructs import Construct
from mlkube import CheckpointVolume, Environment, InferenceService, MlApp, MlkubeError, Platform, api_object_of
from mlkube.core import lazy_node
from mlkube.core.lazy_node import eager_constructs, pending_count
from mlkube.core.platform import EnvironmentScope
from mlkube.testing import synth_platform

IMAGE = "ghcr.io/acme/fraud:1.4.2"


@pytest.fixture
def node_requests(monkeypatch) -> Iterator[Counter[str]]:
    """Every request sent to Node (jsii's process provider's send), by kind: ``create constructs.Construct``, ``get``..."""
    from jsii._kernel.providers import process

    counts: Counter[str] = Counter()
    send = process._NodeProcess.send
    lazy_node._STATE.queue.clear()  # constructs that earlier tests left waiting (any request would create them first)

    def counting(self: Any, request: Any, response_type: Any) -> Any:
        kind = type(request).__name__.removesuffix("Request").lower()
        counts[f"{kind} {request.fqn}" if kind == "create" else kind] += 1
        return send(self, request, response_type)
    monkeypatch.setattr(process._NodeProcess, "send", counting)
    yield counts


@pytest.fixture(autouse=True)
def _exact_state_restored(monkeypatch):
    """A test that locks a node turns lazy creation off for the process: give it back to the next test."""
    monkeypatch.setattr(lazy_node._STATE, "exact_only", False)


def _platform(apps: int, tmp_path, touch: Callable[[MlApp], None] | None = None) -> Platform:
    platform = Platform(environments=[Environment(name="dev"), Environment(name="prod")], out_dir=tmp_path / "dist")
    for number in range(apps):
        def build(app: MlApp, number: int = number) -> None:
            volume = CheckpointVolume(app, "checkpoints", size="10Gi", access_mode="ReadWriteMany")
            server = InferenceService(app, "server", image=IMAGE)
            server.mount(volume, read_only=True)
            if touch is not None and number == apps - 1:
                touch(app)
        platform.app(f"app-{number}", build)
    return platform


# -- requests to Node -------------------------------------------------------------------------------------

def _requests_for(apps: int, tmp_path, node_requests: Counter[str], touch: Callable[[MlApp], None] | None = None) -> Counter[str]:
    node_requests.clear()
    platform = _platform(apps, tmp_path / str(apps), touch)
    platform.synthesize()
    return Counter(node_requests)


def test_building_and_synthesizing_makes_the_same_requests_for_ten_apps_as_for_one(tmp_path, node_requests):
    one, ten = _requests_for(1, tmp_path, node_requests), _requests_for(10, tmp_path, node_requests)
    assert ten == one, (one, ten)
    assert sum(ten.values()) <= 8, ten  # the App, and synth's own read of the tree
    assert not any(kind.startswith("create") and kind != "create cdk8s.App" for kind in ten), ten


def test_eager_creation_makes_one_request_per_construct(tmp_path, node_requests):
    # The comparison point: 10 apps x 2 environments, each an app chart, a volume and a server, and 2 environment scopes.
    with eager_constructs():
        ten = _requests_for(10, tmp_path, node_requests)
    assert ten["create cdk8s.Chart"] == 20 and ten["create constructs.Construct"] == 2 + 20 * 2, ten


def test_asking_node_anything_creates_every_waiting_construct_in_one_go(tmp_path, node_requests):
    children: list[list[str]] = []
    platform = _platform(10, tmp_path, touch=lambda app: children.append([child.node.id for child in app.node.children]))
    # The last app asked Node for its children: everything built before was created first, in order, then nothing more.
    assert children == [["checkpoints", "server"], ["checkpoints", "server"]]  # once per environment
    assert pending_count() == 0
    assert node_requests["create cdk8s.Chart"] == 20 and node_requests["create constructs.Construct"] == 2 + 20 * 2
    assert [child.node.id for child in platform.node.children] == ["dev", "prod"]


def test_synth_creates_nothing_that_waits(tmp_path, node_requests):
    platform = _platform(3, tmp_path)
    waiting = pending_count()
    assert waiting == 1 + 2 + 3 * 2 * 3  # the App, environment scopes, then per app and environment: app, volume, server
    synth_platform(platform)
    assert pending_count() == waiting
    assert not any(kind.startswith("create") and kind != "create cdk8s.App" for kind in node_requests), node_requests


def test_an_escape_hatch_patch_is_applied_without_creating_what_waits(tmp_path, node_requests):
    servers: list[InferenceService] = []
    # The last app asks Node for its server: everything built so far is created.
    platform = _platform(2, tmp_path, touch=lambda app: servers.append(app.node.find_child("server")))  # type: ignore[arg-type]
    servers[0].api_object("Deployment").add_json_patch(cdk8s.JsonPatch.add("/spec/revisionHistoryLimit", 2))
    InferenceService(platform.apps[0], "late", image=IMAGE)  # waits again
    node_requests.clear()
    result = synth_platform(platform)
    limits = {(m.environment, m.app): m.obj["spec"]["revisionHistoryLimit"] for m in result.manifests
              if m.kind == "Deployment" and m.name == "server"}
    assert limits == {("dev", "app-0"): 5, ("dev", "app-1"): 2, ("prod", "app-0"): 5, ("prod", "app-1"): 5}
    assert not any(kind.startswith("create") for kind in node_requests), node_requests
    assert pending_count() == 1


# -- citizenship: lazy creation answers as eager creation does ------------------------------------------

def _one_app(build: Callable[[MlApp], Any]) -> tuple[Platform, list[Any]]:
    platform = Platform(environments=[Environment(name="dev", namespace="ml-{app}")])
    built: list[Any] = []
    platform.app("fraud", lambda app: built.append(build(app)))
    return platform, built


def _synth_outcome(platform: Platform) -> Any:
    try:
        return sorted((m.kind, m.name, repr(m.obj)) for m in synth_platform(platform).manifests)
    except MlkubeError as error:
        return f"MlkubeError: {error}"


def _error_of(action: Callable[[], Any]) -> str:
    try:
        action()
    except Exception as error:  # the exact type and text are the observation
        return f"{type(error).__name__}: {error}"
    return "no error"


def mixed_children() -> Any:
    def build(app: MlApp) -> Any:
        InferenceService(app, "a", image=IMAGE)
        cdk8s.ApiObject(app, "b", api_version="v1", kind="ConfigMap", metadata={"name": "b"})
        CheckpointVolume(app, "c", size="1Gi")
        Construct(app, "d")
        InferenceService(app, "e", image=IMAGE)
        return app
    platform, (app,) = _one_app(build)
    waiting = pending_count()
    observed = [[child.node.id for child in app.node.children], [child.node.id for child in platform.node.children],
                [node.node.path for node in platform.node.find_all()], _synth_outcome(platform)]
    return observed, waiting


def paths_and_chart_of() -> Any:
    def build(app: MlApp) -> Any:
        server = InferenceService(app, "server", image=IMAGE)
        extra = cdk8s.ApiObject(server, "extra", api_version="v1", kind="ConfigMap", metadata={"name": "extra"})
        volume = CheckpointVolume(app, "data/set", size="1Gi")  # cdk8s turns the '/' of an id into '--'
        return server, extra, volume
    platform, ((server, extra, volume),) = _one_app(build)
    waiting = pending_count()
    observed = [cdk8s.Chart.of(server).node.path, cdk8s.Chart.of(extra).node.path, cdk8s.Chart.of(volume).node.id,
                [server.construct_path, server.node.path, volume.node.path, volume.node.id], cdk8s.App.of(server) is platform,
                _synth_outcome(platform)]
    return observed, waiting


def validations() -> Any:
    def build(app: MlApp) -> Any:
        InferenceService(app, "server", image=IMAGE).node.add_validation(OddReplicas(2))
        InferenceService(app, "after", image=IMAGE)
    platform, _ = _one_app(build)
    waiting = pending_count()
    return [_synth_outcome(platform)], waiting


def dependencies() -> Any:
    def build(app: MlApp) -> Any:
        first = cdk8s.ApiObject(app, "first", api_version="v1", kind="ConfigMap", metadata={"name": "first"})
        server = InferenceService(app, "server", image=IMAGE)
        second = cdk8s.ApiObject(app, "second", api_version="v1", kind="ConfigMap", metadata={"name": "second"})
        first.add_dependency(second)
        server.node.add_dependency(second)
        InferenceService(app, "after", image=IMAGE)
        return server, first
    platform, ((server, first),) = _one_app(build)
    waiting = pending_count()
    observed = [[dep.node.path for dep in server.node.dependencies], [dep.node.path for dep in first.node.dependencies],
                [obj["metadata"]["name"] for obj in cdk8s.Testing.synth(platform.apps[0]) if obj["kind"] == "ConfigMap"],
                _synth_outcome(platform)]
    return observed, waiting


def escape_hatches() -> Any:
    def build(app: MlApp) -> Any:
        server = InferenceService(app, "server", image=IMAGE)
        api_object_of(server, "Deployment").add_json_patch(cdk8s.JsonPatch.add("/spec/revisionHistoryLimit", 3))
        plain = cdk8s.ApiObject(server, "extra", api_version="v1", kind="ConfigMap", metadata={"name": "extra"})
        api_object_of(plain).add_json_patch(cdk8s.JsonPatch.add("/data", {"mode": "fast"}))
        InferenceService(app, "after", image=IMAGE)
    platform, _ = _one_app(build)
    waiting = pending_count()
    return [_synth_outcome(platform)], waiting


def duplicate_ids() -> Any:
    errors: list[str] = []

    def build(app: MlApp) -> Any:
        InferenceService(app, "server", image=IMAGE)
        errors.append(_error_of(lambda: InferenceService(app, "server", image=IMAGE)))  # two mlkube constructs
        cdk8s.ApiObject(app, "config", api_version="v1", kind="ConfigMap", metadata={"name": "config"})
        errors.append(_error_of(lambda: CheckpointVolume(app, "config", size="1Gi")))  # plain first, then mlkube
        CheckpointVolume(app, "volume", size="1Gi")
        errors.append(_error_of(lambda: cdk8s.ApiObject(app, "volume", api_version="v1", kind="ConfigMap")))  # mlkube first
        # Include's constructor fails after Construct's added the child (it cannot read the URL): the id stays taken.
        errors.append(_error_of(lambda: cdk8s.Include(app, "included", url="missing-file.yaml")).split(":")[0])
        errors.append(_error_of(lambda: CheckpointVolume(app, "included", size="1Gi")))
        volume = CheckpointVolume(app, "data/set", size="1Gi")
        errors.append(_error_of(lambda: CheckpointVolume(app, "data--set", size="1Gi")))  # the same id once sanitized
        errors.append(_error_of(lambda: InferenceService(volume, "", image=IMAGE)))
        errors.append(_error_of(lambda: InferenceService(volume, 7, image=IMAGE)))  # type: ignore[arg-type]
    platform, _ = _one_app(build)
    errors.append(_error_of(lambda: MlApp(platform._environment_scopes["dev"], platform, platform.environments[0], "fraud")))
    errors.append(_error_of(lambda: EnvironmentScope(platform, "dev")))
    waiting = pending_count()
    errors.append(_error_of(lambda: Construct(platform, "dev")))
    return [errors, [child.node.id for child in platform.apps[0].node.children]], waiting


def locked_scope() -> Any:
    def build(app: MlApp) -> Any:
        server = InferenceService(app, "server", image=IMAGE)
        server.node.lock()
        return _error_of(lambda: CheckpointVolume(server, "late", size="1Gi"))
    _, (error,) = _one_app(build)
    return [error], pending_count()


def children_node_code_adds() -> Any:
    # A static factory of cdk8s-plus creates a construct in the app inside Node: no create Python saw names 'cache'.
    kplus = pytest.importorskip("cdk8s_plus_35", reason="cdk8s-plus-35 (the bench extra, installed by bin/setup) is absent")
    errors: list[str] = []

    def build(app: MlApp) -> Any:
        kplus.ConfigMap.from_config_map_name(app, "cache", "cache-settings")
        errors.append(_error_of(lambda: CheckpointVolume(app, "cache", size="1Gi")))
        CheckpointVolume(app, "volume", size="1Gi")
        errors.append(_error_of(lambda: kplus.Secret.from_secret_name(app, "volume", "volume-credentials")))
        CheckpointVolume(app, "after", size="1Gi")
    platform, _ = _one_app(build)
    waiting = pending_count()
    return [errors, [child.node.id for child in platform.apps[0].node.children]], waiting


SCENARIOS = [mixed_children, paths_and_chart_of, validations, dependencies, escape_hatches, duplicate_ids, locked_scope,
             children_node_code_adds]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_lazy_creation_answers_as_eager_creation(scenario):
    lazy_node._STATE.queue.clear()  # constructs other tests left waiting: each scenario counts its own
    with eager_constructs():
        eager, eager_waiting = scenario()
    lazy_node._STATE.exact_only = False
    lazy, lazy_waiting = scenario()
    assert lazy == eager
    assert eager_waiting == 0
    if scenario is not locked_scope:  # after a lock, every construct of the process is created at once (Node decides)
        assert lazy_waiting > 0  # the lazy run did keep constructs waiting until Node was asked


def test_the_scenarios_observe_what_cdk8s_says():
    # What the equivalence compares is cdk8s's own answers (so an empty or wrong observation cannot pass unnoticed).
    (children, roots, paths, outcome), _ = mixed_children()
    assert children == ["a", "b", "c", "d", "e"] and roots == ["dev"]
    assert paths[:3] == ["", "dev", "dev/fraud"] and "dev/fraud/a" in paths and isinstance(outcome, list)
    (errors, app_children), _ = duplicate_ids()
    assert errors[:3] == ["RuntimeError: There is already a Construct with name 'server' in Chart [fraud]",
                          "RuntimeError: There is already a Construct with name 'config' in Chart [fraud]",
                          "RuntimeError: There is already a Construct with name 'volume' in Chart [fraud]"]
    assert errors[3:5] == ["RuntimeError", "RuntimeError: There is already a Construct with name 'included' in Chart [fraud]"]
    assert errors[5] == "RuntimeError: There is already a Construct with name 'data--set' in Chart [fraud]"
    assert errors[6] == "RuntimeError: Only root constructs may have an empty ID"
    assert errors[7].startswith("TypeError: ")
    assert errors[8:] == ["RuntimeError: There is already a Construct with name 'fraud' in Construct [dev]",
                          "RuntimeError: There is already a Construct with name 'dev' in App",
                          "RuntimeError: There is already a Construct with name 'dev' in App"]
    assert app_children == ["server", "config", "volume", "included", "data--set"]
    (validation,), _ = validations()
    assert "dev/fraud/server: replicas must be odd for a quorum, got 2" in validation
    (server_deps, first_deps, order, _outcome), _ = dependencies()
    assert server_deps == ["dev/fraud/second"] and first_deps == ["dev/fraud/second"] and order == ["second", "first"]
    (locked,), _ = locked_scope()
    assert locked == 'RuntimeError: Cannot add children to "dev/fraud/server" during synthesis'
    (added_in_node, app_children), _ = children_node_code_adds()
    assert added_in_node == ["RuntimeError: There is already a Construct with name 'cache' in Chart [fraud]",
                             "RuntimeError: Error: There is already a Construct with name 'volume' in Chart [fraud]"]  # jsii's static call
    assert app_children == ["cache", "volume", "after"]


# -- set-up ----------------------------------------------------------------------------------------------

def test_the_wrapper_composes_with_a_provider_replaced_at_start_up(tmp_path, monkeypatch):
    # core/node_start.py replaces jsii's provider when mlkube is imported; whatever provider is there, requests
    # (and the creates of what waited) still go through it.
    provider = jsii.kernel.provider
    replaced = provider.inner if isinstance(provider, lazy_node._MaterializingProvider) else provider
    seen: Counter[str] = Counter()

    class StartUpProvider:
        def __getattr__(self, name: str) -> Any:
            method = getattr(replaced, name)
            if not callable(method):
                return method
            return lambda *args, **kwargs: (seen.update([name]), method(*args, **kwargs))[1]
    monkeypatch.setattr(jsii.kernel, "provider", StartUpProvider())
    lazy_node._STATE.queue.clear()
    platform = _platform(2, tmp_path)
    assert isinstance(jsii.kernel.provider, lazy_node._MaterializingProvider) and pending_count() == 1 + 2 + 2 * 2 * 3
    assert [child.node.id for child in platform.node.children] == ["dev", "prod"]
    assert seen["create"] == 1 + 2 + 2 * 2 * 3 and pending_count() == 0  # the App, then everything that waited


def test_the_environment_variable_creates_every_construct_at_once(tmp_path):
    script = tmp_path / "count.py"
    script.write_text(textwrap.dedent("""\
        from mlkube import Environment, InferenceService, Platform
        from mlkube.core.lazy_node import pending_count

        platform = Platform(environments=[Environment(name="dev")])
        for name in ("a", "b"):
            platform.app(name, lambda app: InferenceService(app, "server", image="ghcr.io/acme/fraud:1.4.2"))
        print(pending_count())
        """))
    counts = []
    for eager in ("1", ""):
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                                env={**os.environ, lazy_node.EAGER_ENV: eager})
        counts.append(int(result.stdout))
    assert counts == [0, 1 + 1 + 2 * 2]  # eager: nothing waits; lazy: the App, the environment scope, then per app the chart and the server
