"""Per-environment overrides merged into a construct's spec before validation."""

from __future__ import annotations

import pytest
from gitops_support import synth

from mlkube import Environment, GpuSpec, MlkubeError, ResourcesSpec
from mlkube.core.gitops_settings import WorkloadOverride


def test_replica_range_override_changes_the_hpa_in_that_environment_only():
    objects = synth(Environment(name="dev", namespace="ml"),
                    Environment(name="prod", namespace="ml", overrides={"scoring/server": WorkloadOverride(min_replicas=5, max_replicas=9)}))
    assert objects.get("HorizontalPodAutoscaler", "server", "prod")["spec"]["minReplicas"] == 5
    assert objects.get("HorizontalPodAutoscaler", "server", "prod")["spec"]["maxReplicas"] == 9
    assert objects.get("HorizontalPodAutoscaler", "server", "dev")["spec"]["minReplicas"] == 2


def test_fixed_replicas_override_replaces_the_blueprints_autoscaling():
    objects = synth(Environment(name="dev", namespace="ml", overrides={"scoring/server": WorkloadOverride(replicas=1)}),
                    autoscaling={"min_replicas": 3, "max_replicas": 6})
    assert objects.get("Deployment", "server")["spec"]["replicas"] == 1
    assert not objects.of_kind("HorizontalPodAutoscaler")


def test_resource_scale_and_gpu_product_override():
    override = WorkloadOverride(resource_scale=1.5, gpu_product="NVIDIA-H100-80GB-HBM3")
    objects = synth(Environment(name="prod", namespace="ml", overrides={"scoring/server": override}),
                    resources=ResourcesSpec(cpu="2", memory="4Gi", gpu=GpuSpec(count=1, product="NVIDIA-L4")))
    pod = objects.get("Deployment", "server")["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["requests"] == {"cpu": "3", "memory": "6Gi", "nvidia.com/gpu": 1}
    assert pod["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"


def test_free_spec_override_is_deep_merged():
    override = WorkloadOverride(spec={"config": {"LOG_LEVEL": "debug"}, "probes": {"model_load_timeout_seconds": 60}})
    objects = synth(Environment(name="dev", namespace="ml", overrides={"scoring/server": override}), config={"A": "1"})
    assert objects.get("ConfigMap", "server-config")["data"] == {"A": "1", "LOG_LEVEL": "debug"}
    startup = objects.get("Deployment", "server")["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert startup["failureThreshold"] == 6


def test_fails_when_an_override_names_a_field_the_spec_does_not_have():
    from mlkube import BatchJob, Platform
    from mlkube.testing import synth_platform

    env = Environment(name="prod", namespace="ml", overrides={"etl/job": WorkloadOverride(hostnames=["x.example.com"])})
    platform = Platform(environments=[env])
    platform.app("etl", lambda app: BatchJob(app, "job", image="ghcr.io/acme/etl:1.0"))
    with pytest.raises(MlkubeError) as error:
        synth_platform(platform)
    text = str(error.value)
    assert "prod/etl/job: environments[prod].overrides[etl/job].hostnames: BatchJobSpec has no field 'hostnames'" in text
    assert "override fields this construct accepts: gpu_product, resource_scale, spec" in text


def test_hostnames_override_reaches_an_inference_service_but_needs_its_exposure():
    # Before issue 19 no construct had 'hostnames', so this documented override could never apply.
    env = Environment(name="prod", namespace="ml", overrides={"scoring/server": WorkloadOverride(hostnames=["x.example.com"])})
    with pytest.raises(MlkubeError, match=r"'hostnames' \['x.example.com'\] need 'expose'"):
        synth(env)


def test_fails_when_a_free_override_names_an_unknown_field():
    env = Environment(name="prod", namespace="ml", overrides={"scoring/server": WorkloadOverride(spec={"replica": 3})})
    with pytest.raises(MlkubeError, match=r"overrides\[scoring/server\]\.spec\.replica: InferenceServiceSpec has no field 'replica'"):
        synth(env)


def test_fails_when_gpu_product_is_overridden_for_a_workload_without_gpus():
    env = Environment(name="prod", namespace="ml", overrides={"scoring/server": WorkloadOverride(gpu_product="NVIDIA-L4")})
    with pytest.raises(MlkubeError, match="the workload requests no GPU"):
        synth(env)


def test_fails_when_an_override_key_names_no_construct():
    env = Environment(name="prod", namespace="ml", overrides={"scoring/sever": WorkloadOverride(replicas=2)})
    with pytest.raises(MlkubeError) as error:
        synth(env)
    assert "environment prod: overrides[scoring/sever]: no construct 'scoring/sever' in environment 'prod'" in str(error.value)
    assert "scoring/server" in str(error.value)


def test_every_typed_override_reaches_a_field_of_some_workload_kind():
    """A documented override no construct has can only fail (WorkloadOverride.hostnames before issue 19): each typed
    override field must name a spec path that at least one blueprint kind has."""
    from mlkube.blueprint import workload_kinds
    from mlkube.core.overrides import OVERRIDE_PATHS, _spec_model_at

    specs = [kind.spec for kind in workload_kinds().values()]
    unreachable = sorted(name for name, path in OVERRIDE_PATHS.items() if not any(_spec_model_at(spec, path) for spec in specs))
    assert unreachable == []
    typed = set(WorkloadOverride.model_fields) - {"resource_scale", "spec"}  # those two act on several fields
    assert typed == set(OVERRIDE_PATHS), "every typed override field maps onto a spec path"
