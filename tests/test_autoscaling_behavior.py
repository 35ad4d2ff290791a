"""HPA scale-up/scale-down behaviour, the PDB's unhealthy-pod eviction policy, and custom metrics that need an adapter."""

from __future__ import annotations

import pytest

from mlkube import Environment, InferenceService
from mlkube.core.inference_service import AutoscalingSpec, CustomMetric, ScalingPolicy, ScalingRules
from mlkube.errors import MlkubeError
from mlkube.testing import synth_app


def _objects(build, **platform):
    result = synth_app(build, **platform)
    return {m.obj["kind"]: m.obj for m in result.manifests}


def _error(build, **platform) -> str:
    with pytest.raises(MlkubeError) as caught:
        synth_app(build, **platform)
    return str(caught.value)


def test_hpa_behavior_limits_scale_up_and_keeps_the_scale_down_window():
    scaling = AutoscalingSpec(min_replicas=1, max_replicas=8, scale_up=ScalingRules(
        stabilization_window_seconds=60, select_policy="Min",
        policies=[ScalingPolicy(type="Pods", value=2, period_seconds=120), ScalingPolicy(type="Percent", value=50)]))
    hpa = _objects(lambda app: InferenceService(app, "server", image="ghcr.io/acme/s:1", autoscaling=scaling))["HorizontalPodAutoscaler"]
    assert hpa["spec"]["behavior"] == {
        "scaleDown": {"stabilizationWindowSeconds": 300},
        "scaleUp": {"policies": [{"periodSeconds": 120, "type": "Pods", "value": 2}, {"periodSeconds": 60, "type": "Percent", "value": 50}],
                    "selectPolicy": "Min", "stabilizationWindowSeconds": 60}}


def test_keda_gets_the_same_behavior():
    from mlkube import KedaScaling

    scaling = AutoscalingSpec(scale_down=ScalingRules(stabilization_window_seconds=600, policies=[ScalingPolicy(type="Pods", value=1)]))
    obj = _objects(lambda app: InferenceService(app, "server", image="ghcr.io/acme/s:1", autoscaling=scaling,
                                                keda=KedaScaling(threshold="5")))["ScaledObject"]
    assert obj["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"] == {
        "scaleDown": {"policies": [{"periodSeconds": 60, "type": "Pods", "value": 1}], "stabilizationWindowSeconds": 600}}


def test_fails_when_the_scale_down_window_is_given_twice():
    with pytest.raises(ValueError, match="set the scale-down window once"):
        AutoscalingSpec(scale_down_stabilization_seconds=100, scale_down=ScalingRules(stabilization_window_seconds=200))


def test_pdb_lets_drains_evict_servers_that_never_got_ready():
    pdb = _objects(lambda app: InferenceService(app, "server", image="ghcr.io/acme/s:1"))["PodDisruptionBudget"]
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    strict = _objects(lambda app: InferenceService(app, "server", image="ghcr.io/acme/s:1",
                                                   unhealthy_pod_eviction_policy="IfHealthyBudget"))["PodDisruptionBudget"]
    assert strict["spec"]["unhealthyPodEvictionPolicy"] == "IfHealthyBudget"


def test_pdb_policy_is_left_out_where_kubernetes_lacks_it_and_refused_when_asked():
    old = [Environment(name="dev", kubernetes_version="1.26")]
    pdb = _objects(lambda app: InferenceService(app, "server", image="ghcr.io/acme/s:1"), environments=old)["PodDisruptionBudget"]
    assert "unhealthyPodEvictionPolicy" not in pdb["spec"]
    message = _error(lambda app: InferenceService(app, "server", image="ghcr.io/acme/s:1", unhealthy_pod_eviction_policy="AlwaysAllow"),
                     environments=old)
    assert "Kubernetes 1.26 has no PodDisruptionBudget unhealthyPodEvictionPolicy" in message


def test_fails_when_keda_would_silently_drop_a_custom_metric():
    from mlkube import KedaScaling

    message = _error(lambda app: InferenceService(
        app, "server", image="ghcr.io/acme/s:1", keda=KedaScaling(threshold="5"),
        autoscaling=AutoscalingSpec(target_cpu_utilization=None, custom_metric=CustomMetric(name="q", target_average_value="5"))))
    assert "autoscaling.custom_metric" in message and "is not used with keda" in message


def test_fails_when_a_custom_metric_hpa_has_no_metrics_adapter():
    scaling = AutoscalingSpec(target_cpu_utilization=None, custom_metric=CustomMetric(name="q", target_average_value="5"))
    message = _error(lambda app: InferenceService(app, "server", image="ghcr.io/acme/s:1", autoscaling=scaling),
                     environments=[Environment(name="dev", operators=["keda"])])
    assert "needs a custom metrics adapter" in message and "add 'prometheus-adapter'" in message
    ok = _objects(lambda app: InferenceService(app, "server", image="ghcr.io/acme/s:1", autoscaling=scaling),
                  environments=[Environment(name="dev", operators=["prometheus-adapter"])])
    assert ok["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["type"] == "Pods"
