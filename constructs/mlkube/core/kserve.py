"""The KServe backend of InferenceService: one serving.kserve.io/v1beta1 InferenceService instead of
Deployment, Service and HPA. Settings KServe has no equivalent for are named at synth time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from .model import PvcModel, UriModel, download_form
from .operators import Version, kserve_mode_name, kserve_version
from .pod import PodBuilder, env_list
from .spec import Spec

if TYPE_CHECKING:
    from .inference_service import InferenceService, InferenceServiceSpec

__all__ = ["KServeOptions", "KSERVE_POD_LABEL", "kserve_predictor", "kserve_ignored_settings", "kserve_version_problems"]

#: The label KServe puts on every pod of an InferenceService.
KSERVE_POD_LABEL = "serving.kserve.io/inferenceservice"
_MODE_METRICS: dict[str, tuple[str, ...]] = {"Standard": ("cpu", "memory"), "Knative": ("concurrency", "rps")}


class KServeOptions(Spec):
    """How the KServe backend serves the model."""

    model_format: str = Field(default="custom", description="Model format KServe picks a runtime for: sklearn, xgboost, pytorch, huggingface, onnx, triton... Default: custom.")
    runtime: str | None = Field(default=None, description="A ServingRuntime to use. Default: KServe picks one from the model format.")
    protocol_version: Literal["v1", "v2", "grpc-v2"] | None = Field(default=None, description="Inference protocol. Default: the runtime's.")
    deployment_mode: Literal["Standard", "Knative"] = Field(default="Standard", description="Standard (plain Deployments) or Knative (scale to zero). Written as the environment's KServe version names it: 'RawDeployment'/'Serverless' before 0.16, 'Standard'/'Knative' from 0.16. Default: Standard.")
    legacy_mode_names: bool = Field(default=False, description="Write 'RawDeployment'/'Serverless' whatever the KServe version (0.16 and later still read them). Default: false: the names of the environment's KServe version.")
    scale_metric: Literal["cpu", "memory", "concurrency", "rps"] | None = Field(default=None, description="What KServe scales on: cpu or memory in Standard mode (HPA), concurrency or rps in Knative mode (KPA). Default: cpu in Standard mode, concurrency in Knative mode.")
    scale_target: int | None = Field(default=None, ge=1, description="Target of the scale metric. Default: the CPU utilization target for cpu; Knative's own default for concurrency and rps.")

    @model_validator(mode="after")
    def _metric_of_the_mode(self) -> KServeOptions:
        # KServe's webhook: HPA (Standard/raw) accepts cpu and memory, KPA (Knative) concurrency and rps
        # (AutoscalerAllowedHPAMetricsList / AutoscalerAllowedKPAMetricsList, pkg/constants/constants.go, v0.15-v0.17).
        allowed = _MODE_METRICS[self.deployment_mode]
        if self.scale_metric is not None and self.scale_metric not in allowed:
            raise ValueError(f"scale_metric {self.scale_metric!r} is refused by KServe's webhook in {self.deployment_mode} mode, "
                             f"which scales on {' or '.join(allowed)}")
        return self

    @property
    def metric(self) -> str:
        return self.scale_metric or _MODE_METRICS[self.deployment_mode][0]
    canary_traffic_percent: int | None = Field(default=None, ge=0, le=100, description="Share of traffic for the latest revision (Knative mode only). Default: all.")

    def mode_annotation(self, environment: object) -> str:
        """The serving.kserve.io/deploymentMode value for the environment's KServe version."""
        return kserve_mode_name(self.deployment_mode, kserve_version(environment), legacy=self.legacy_mode_names)


def kserve_ignored_settings(spec: InferenceServiceSpec) -> list[str]:
    """What the KServe backend cannot express, or expresses differently, for this spec."""
    options, notes = spec.kserve, []
    if options.canary_traffic_percent is not None and options.deployment_mode == "Standard":
        notes.append(f"canary_traffic_percent ({options.canary_traffic_percent}) needs Knative mode; Standard mode rolls out all traffic at once, so it is not written")
    if "probes" in spec.model_fields_set:
        notes.append("probes are set by the KServe serving runtime; the probes given are not written")
    if spec.sidecars:
        notes.append(f"sidecars ({', '.join(s.name for s in spec.sidecars)}) have no place beside a KServe model container; they are not written")
    if spec.autoscaling.custom_metric is not None:
        notes.append("autoscaling.custom_metric has no KServe equivalent; KServe scales on kserve.scale_metric (use keda with the kubernetes backend)")
    if isinstance(spec.model, UriModel) and spec.model.credentials_secret:
        notes.append(f"model.credentials_secret ({spec.model.credentials_secret}) is not written: KServe's storage initializer takes "
                     "credentials from the secrets of the predictor's ServiceAccount (annotated serving.kserve.io/s3-endpoint...)")
    if spec.spread != "none" and options.deployment_mode == "Knative":
        notes.append("topology spread is applied by Knative per revision and may differ from plain Deployments")
    return notes


def kserve_version_problems(options: KServeOptions, version: Version) -> list[tuple[str, str, str]]:
    """(field, message, hint) for options the environment's KServe version cannot honour."""
    problems = []
    if options.legacy_mode_names and options.deployment_mode == "Standard" and version >= (0, 16):
        # 0.16+ validates only 'Standard' as raw mode: 'RawDeployment' falls to the Knative branch of
        # validateAutoScalingCompExtension, which refuses deploymentStrategy and the cpu metric
        # (pkg/apis/serving/v1beta1/inference_service_validation.go, v0.16.0 and v0.17.0).
        problems.append(("kserve.legacy_mode_names", f"KServe {version[0]}.{version[1]} validates 'RawDeployment' as a Knative-mode "
                         "service and refuses its deploymentStrategy and cpu scaling", "drop legacy_mode_names: mlkube writes 'Standard' for KServe 0.16 and later"))
    return problems


def _storage_uri(spec: InferenceServiceSpec) -> str | None:
    model = spec.model
    if isinstance(model, PvcModel):
        return f"pvc://{model.claim}/{model.path}".rstrip("/")
    if isinstance(model, UriModel):
        return download_form(model.uri)
    return None


def _model_container(service: InferenceService, spec: InferenceServiceSpec, pod: PodBuilder) -> dict[str, Any]:
    """The predictor's model container, secured by the shared pod builder; the runtime supplies the image unless one is given."""
    options = spec.kserve
    mounts = [pod.mount_secret(secret) for secret in spec.mounted_secrets]
    model = pod.container("kserve-container", spec.image, command=spec.command, args=spec.args,
                          env=env_list(dict(spec.env), spec.secret_env) or None, mounts=mounts, main=True)
    model["modelFormat"] = {"name": options.model_format}
    if spec.config:
        model["envFrom"] = [{"configMapRef": {"name": f"{service.name}-config"}}]
    storage_uri = _storage_uri(spec)
    if storage_uri:
        model["storageUri"] = storage_uri
    if options.runtime:
        model["runtime"] = options.runtime
    if options.protocol_version:
        model["protocolVersion"] = options.protocol_version
    return model


#: Pod-level fields of the shared pod builder that a KServe predictor takes as they are.
_PREDICTOR_POD_FIELDS = ("affinity", "automountServiceAccountToken", "enableServiceLinks", "nodeSelector", "runtimeClassName", "securityContext",
                         "serviceAccountName", "terminationGracePeriodSeconds", "tolerations", "topologySpreadConstraints", "volumes")


def kserve_predictor(service: InferenceService, spec: InferenceServiceSpec, pod: PodBuilder) -> dict[str, Any]:
    """The predictor spec: pod settings from the shared pod builder, the model container, scaling, rollout."""
    options, scaling = spec.kserve, spec.autoscaling
    model = _model_container(service, spec, pod)
    built = pod.build()["spec"]
    predictor: dict[str, Any] = {key: built[key] for key in _PREDICTOR_POD_FIELDS if key in built}
    predictor.update({
        "maxReplicas": scaling.max_replicas if spec.autoscaled else spec.replicas,
        "minReplicas": scaling.min_replicas if spec.autoscaled else spec.replicas,
        "model": model,
        "scaleMetric": options.metric,
    })
    target = options.scale_target or (scaling.target_cpu_utilization or 70 if options.metric == "cpu" else None)
    if target is not None:
        predictor["scaleTarget"] = target
    if options.canary_traffic_percent is not None and options.deployment_mode == "Knative":
        predictor["canaryTrafficPercent"] = options.canary_traffic_percent
    if options.deployment_mode == "Standard":
        # Every KServe version's webhook refuses deploymentStrategy outside raw/Standard mode
        # (validateScalingKPACompExtension, pkg/apis/serving/v1beta1/inference_service_validation.go, v0.14-v0.17).
        surge, unavailable = service._rollout(spec)
        predictor["deploymentStrategy"] = {"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}, "type": "RollingUpdate"}
    return predictor
