"""InferenceService: online model serving as Deployment, Service, HPA, PDB, ServiceAccount and NetworkPolicy.

With ``nodes`` > 1 the server spans several GPU nodes: a LeaderWorkerSet replaces the Deployment
(leader_worker_set.py), its Service selects the group leaders, and its HPA scales whole groups.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Unpack

from pydantic import Field, PositiveInt, ValidationInfo, field_validator, model_validator

from constructs import Construct

from ..kube.apiserver_rules import ConfigKey, EnvName
from ..kube.labels import selector_labels, standard_labels
from ..kube.quantity import Quantity, parse_quantity
from .construct import MlConstruct, MountsVolumes
from .exposure import ExposeSpec, GatewayRef, http_route, ingress, validate_hostnames
from .external_secret import ExternalSecretSpec, external_secret_object
from .image import ImageSpec, RegistryImage
from .keda import KedaScaling, scaled_object_spec
from .kserve import KSERVE_POD_LABEL, KServeOptions, kserve_ignored_settings, kserve_predictor, kserve_version_problems
from .leader_worker_set import LWS_API_VERSION, WORKER_INDEX_LABEL, leader_command, leader_worker_set_spec, parallel_args, worker_command
from .model import (
    CREDENTIALS_DIR,
    MODEL_IMAGE_CONTAINER,
    SHARED_CACHE_DIR,
    ModelSpec,
    PvcModel,
    UriModel,
    download_form,
    downloader_command,
    downloader_credentials_env,
)
from .model_fetch import CACHE_ENV
from .monitoring import MonitoringSpec, monitor_object, prometheus_rule, serving_alert_rules
from .network.model import ALL_TCP, Connection, EgressRule, Endpoint, PortRange, egress_connections
from .network.workload import NETWORK_POLICY_API, common_egress, emit_network_policies
from .operators import kserve_version, kubernetes_has, require_operator, storage_initializer_image
from .placement import PlacementOptions, service_account_body
from .pod import PodBuilder, SecretEnv, SecretMount, SidecarSpec, env_list
from .resources import ResourcesSpec
from .runtimes import Runtime, RuntimeSpec, apply_runtime_defaults
from .spec import DnsLabel, Spec
from .waivers import Waiver, apply_waivers

if TYPE_CHECKING:
    from .keywords import InferenceServiceFields

__all__ = ["InferenceService", "InferenceServiceSpec", "AutoscalingSpec", "CustomMetric", "ProbesSpec", "Peer",
           "KServeOptions", "KedaScaling", "ExposeSpec", "GatewayRef", "MonitoringSpec", "ExternalSecretSpec", "Runtime"]

Port = int


class CustomMetric(Spec):
    """A per-pod metric from the custom metrics API (for example requests in flight), instead of CPU."""

    name: str = Field(description="Metric name, e.g. 'inference_requests_in_flight'.")
    target_average_value: Quantity = Field(description="Target average per pod, e.g. 8.")


class ScalingPolicy(Spec):
    """How much the HPA may change the replica count within a period (autoscaling/v2 HPAScalingPolicy)."""

    type: Literal["Pods", "Percent"] = Field(description="'Pods': an absolute number of pods; 'Percent': a share of the current replicas.")
    value: PositiveInt = Field(description="Pods or percent allowed per period.")
    period_seconds: int = Field(default=60, ge=1, le=1800, description="Length of the period (1 to 1800 s). Default: 60.")


class ScalingRules(Spec):
    """Scale-up or scale-down behaviour of the HPA (autoscaling/v2 HPAScalingRules)."""

    stabilization_window_seconds: int | None = Field(default=None, ge=0, le=3600, description="Past recommendations considered before "
                                                     "changing the count (0 to 3600 s). Default: Kubernetes' (scale up 0, scale down 300).")
    select_policy: Literal["Max", "Min", "Disabled"] | None = Field(default=None, description="Which policy wins when several allow a "
                                                                     "change; 'Disabled' never scales in this direction. Default: Max.")
    policies: list[ScalingPolicy] = Field(default_factory=list, description="Rate limits; at least one when given. Default: "
                                          "Kubernetes' (up: 100% or 4 pods per 15 s; down: 100% per 15 s).")

    def to_kube(self) -> dict[str, Any]:
        rules: dict[str, Any] = {}
        if self.policies:
            rules["policies"] = [{"periodSeconds": p.period_seconds, "type": p.type, "value": p.value} for p in self.policies]
        if self.select_policy is not None:
            rules["selectPolicy"] = self.select_policy
        if self.stabilization_window_seconds is not None:
            rules["stabilizationWindowSeconds"] = self.stabilization_window_seconds
        return rules


class AutoscalingSpec(Spec):
    """Horizontal autoscaling (autoscaling/v2 HorizontalPodAutoscaler)."""

    min_replicas: PositiveInt = Field(default=2, description="Fewest pods. Default: 2, so one pod can be disrupted.")
    max_replicas: PositiveInt = Field(default=4, description="Most pods. Default: 4.")
    target_cpu_utilization: int | None = Field(default=70, ge=1, le=100, description="Average CPU utilization target in percent. Default: 70; null with a custom metric.")
    custom_metric: CustomMetric | None = Field(default=None, description="Scale on a per-pod custom metric as well. Default: CPU only.")
    scale_down_stabilization_seconds: int = Field(default=300, ge=0, le=3600, description="How long load must stay low before scaling down. Default: 300.")
    scale_up: ScalingRules | None = Field(default=None, description="HPA scale-up behaviour (e.g. at most 2 pods per minute: a GPU "
                                          "server that loads a model for minutes should not overshoot). Default: Kubernetes'.")
    scale_down: ScalingRules | None = Field(default=None, description="HPA scale-down behaviour; its stabilization window replaces "
                                            "scale_down_stabilization_seconds. Default: a 300 s window, Kubernetes' rate.")

    @model_validator(mode="after")
    def _range(self) -> AutoscalingSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"'min_replicas' ({self.min_replicas}) must be less than or equal to 'max_replicas' ({self.max_replicas})")
        if self.target_cpu_utilization is None and self.custom_metric is None:
            raise ValueError("autoscaling needs a target: set target_cpu_utilization or custom_metric")
        if (self.scale_down is not None and self.scale_down.stabilization_window_seconds is not None
                and "scale_down_stabilization_seconds" in self.model_fields_set):
            raise ValueError("set the scale-down window once: 'scale_down.stabilization_window_seconds' or "
                             "'scale_down_stabilization_seconds', not both")
        return self

    def behavior(self) -> dict[str, Any]:
        """The HPA's spec.behavior."""
        down = self.scale_down.to_kube() if self.scale_down is not None else {}
        down.setdefault("stabilizationWindowSeconds", self.scale_down_stabilization_seconds)
        behavior: dict[str, Any] = {"scaleDown": dict(sorted(down.items()))}
        if self.scale_up is not None and self.scale_up.to_kube():
            behavior["scaleUp"] = self.scale_up.to_kube()
        return behavior


class ProbesSpec(Spec):
    """Health checks, tuned for servers that take minutes to load a model."""

    model_load_timeout_seconds: PositiveInt = Field(default=600, description="Longest expected model load; the startup probe waits this long before liveness starts. Default: 600.")
    readiness_path: str = Field(default="/v2/health/ready", description="HTTP path that answers 200 when the model is loaded. Default: the runtime preset's, else the Open Inference Protocol's.")
    liveness_path: str = Field(default="/v2/health/live", description="HTTP path that answers 200 while the process is healthy. Default: the runtime preset's, else the Open Inference Protocol's.")
    period_seconds: PositiveInt = Field(default=10, description="Seconds between probes. Default: 10.")


class Peer(Spec):
    """Who may call the serving port: pods in a namespace, pods with labels, or both."""

    namespace: str | None = Field(default=None, description="Namespace name. Default: the service's own namespace.")
    pod_labels: dict[str, str] | None = Field(default=None, description="Pod labels. Default: any pod of the namespace.")


class InferenceServiceSpec(PlacementOptions):
    """An online model server."""

    name: DnsLabel | None = Field(default=None, description="Name of every object. Default: the construct id.")
    backend: Literal["kubernetes", "kserve"] = Field(default="kubernetes", description="'kubernetes' (Deployment, Service, HPA) or 'kserve' (a serving.kserve.io InferenceService). Default: kubernetes.")
    image: ImageSpec | None = Field(default=None, description="Server image: a registry reference (or Image.build(...)). Required, except with the KServe backend, whose runtime brings one.")
    runtime: RuntimeSpec | None = Field(default=None, description="A server preset ('vllm', 'tgi', 'triton', 'kserve-huggingface', or Runtime.vllm(...)): its port, health endpoints, the command line serving the model at MODEL_PATH and its env; explicit port, probes, command, args and env win. Default: none (the image's own command).")
    kserve: KServeOptions = Field(default_factory=KServeOptions, description="Options of the KServe backend.")
    keda: KedaScaling | None = Field(default=None, description="Autoscale with a KEDA ScaledObject on a Prometheus query instead of an HPA. Default: HPA.")
    monitoring: MonitoringSpec | None = Field(default=None, description="ServiceMonitor/PodMonitor and alerts (Prometheus Operator). Default: none.")
    external_secrets: list[ExternalSecretSpec] = Field(default_factory=list, description="Secrets synced from an external store and mounted as files. Default: none.")
    command: list[str] | None = Field(default=None, description="Entrypoint override. Default: the image's.")
    args: list[str] | None = Field(default=None, description="Arguments. Default: the image's.")
    port: int = Field(default=8080, ge=1024, le=65535, description="Serving port (unprivileged). Default: 8080, or the runtime preset's.")
    metrics_port: int | None = Field(default=None, ge=1024, le=65535, description="Prometheus metrics port, if different from port. Default: metrics on the serving port (Triton's preset: 8002).")
    env: dict[EnvName, str] = Field(default_factory=dict, description="Environment variables. Default: none.")
    config: dict[ConfigKey, str] = Field(default_factory=dict, description="Configuration, written to a ConfigMap and given to the server as environment. Default: none.")
    secrets: list[SecretMount] = Field(default_factory=list, description="Existing Secrets mounted as files. Default: none.")
    secret_env: list[SecretEnv] = Field(default_factory=list, description="Existing Secret keys as environment variables. Default: none.")
    model: ModelSpec | None = Field(default=None, description="Model source: URI (downloaded by an init container) or pvc://claim/path. Default: baked into the image.")
    model_path: str = Field(default="/mnt/models", description="Where the server finds the model (env MODEL_PATH). Default: /mnt/models.")
    nodes: PositiveInt = Field(default=1, description="GPU nodes one replica of the server spans. Above 1: a LeaderWorkerSet (the 'lws' "
                               "operator) of groups of this many pods, a Ray cluster per group, vLLM sharding the model with tensor "
                               "parallelism over each node's GPUs and pipeline parallelism over the nodes (runtime 'vllm' only); "
                               "replicas and autoscaling then count groups. Default: 1 (a Deployment).")
    replicas: PositiveInt | None = Field(default=None, description="A fixed replica count, which turns autoscaling off. Default: autoscaling.")
    autoscaling: AutoscalingSpec = Field(default_factory=AutoscalingSpec, description="Autoscaling range and targets. Default: 2 to 4 pods at 70% CPU.")
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec, description="CPU, memory, GPUs and /dev/shm. Default: 1 CPU, 2Gi.")
    probes: ProbesSpec = Field(default_factory=ProbesSpec, description="Startup, readiness and liveness probes.")
    termination_grace_period_seconds: PositiveInt = Field(default=60, description="Time a pod has to finish in-flight requests on shutdown. Default: 60.")
    drain_seconds: int = Field(default=10, ge=0, description="preStop sleep, so endpoints are removed before the server stops. Default: 10.")
    rollout: Literal["keep-capacity", "save-gpus"] | None = Field(default=None, description="'keep-capacity' (maxUnavailable 0) or 'save-gpus' (maxSurge 0). Default: save-gpus with GPUs, else keep-capacity.")
    spread: Literal["zones-and-hosts", "hosts", "none"] = Field(default="zones-and-hosts", description="Topology spread of pods. Default: across zones and hosts, best effort.")
    sidecars: list[SidecarSpec] = Field(default_factory=list, description="Extra containers, run as native sidecars. Default: none.")
    allow_from: list[Peer] = Field(default_factory=list, description="Who may call the serving port (their egress in this namespace is opened too). Default: every pod of the same namespace.")
    egress: list[EgressRule] = Field(default_factory=list, description="What the server itself calls besides DNS (other services, APIs), each a NetworkPolicy egress rule. Default: DNS and the environment's network.egress_https_cidrs only.")
    max_unavailable: PositiveInt = Field(default=1, description="PodDisruptionBudget: pods that may be down at once during voluntary disruptions. Default: 1.")
    unhealthy_pod_eviction_policy: Literal["AlwaysAllow", "IfHealthyBudget"] = Field(default="AlwaysAllow", description="PodDisruptionBudget "
        "unhealthyPodEvictionPolicy: 'AlwaysAllow' lets a drain evict pods that are not ready (a server stuck loading its model) "
        "instead of blocking on them; 'IfHealthyBudget' counts them against the budget. Default: AlwaysAllow (Kubernetes 1.27+).")
    waivers: list[Waiver] = Field(default_factory=list, description="Policy exceptions for this construct's objects, each with its reason (written as annotations). Default: none.")
    expose: ExposeSpec | None = Field(default=None, description="Reach the server from outside the cluster: an HTTPRoute on a Gateway "
                                      "(expose={'gateway': {'name': 'public', 'namespace': 'gateway-system'}}; preferred) or an "
                                      "Ingress (expose={'ingress_class': 'nginx', 'proxy_namespace': 'ingress-nginx'}). Default: "
                                      "in-cluster only.")
    hostnames: list[str] = Field(default_factory=list, description="Public hostnames of the exposed server (HTTPRoute hostnames, "
                                 "Ingress rule hosts and TLS hosts); an environment overrides them with WorkloadOverride.hostnames. "
                                 "Default: none (every hostname the Gateway or Ingress controller serves).")

    _hostnames = field_validator("hostnames")(lambda cls, value: validate_hostnames(value))

    @model_validator(mode="before")
    @classmethod
    def _runtime_defaults(cls, data: Any) -> Any:
        return apply_runtime_defaults(data, cls, ProbesSpec)

    @field_validator("image")
    @classmethod
    def _image_for_kubernetes(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.data.get("backend", "kubernetes") == "kubernetes":
            raise ValueError("Field required with the kubernetes backend (the kserve backend can use its runtime's image)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> InferenceServiceSpec:
        if self.backend == "kserve" and self.keda is not None:
            raise ValueError("'keda' scales a Deployment of the kubernetes backend; with kserve use kserve.scale_metric")
        if self.backend == "kserve" and self.runtime is not None:
            raise ValueError(f"'runtime' ({self.runtime.server}) configures the server container of the kubernetes backend; with kserve, "
                             "KServe's ServingRuntime runs the server: choose it with kserve.model_format or kserve.runtime")
        if self.backend == "kserve" and self.model is None:
            raise ValueError("the kserve backend needs a 'model' (its storage URI)")
        if self.backend == "kserve" and isinstance(self.model, UriModel) and self.model.shared_cache:
            # KServe's own node cache is LocalModelCache (serving.kserve.io/v1alpha1, KServe 0.15+; kserve/kserve
            # pkg/apis/serving/v1alpha1/local_model_cache_types.go), a cluster-scoped object of the platform team.
            raise ValueError("shared_cache fills a claim with mlkube's downloader, which the kserve backend does not run (KServe's "
                             "storage initializer downloads); with KServe, cache models on the nodes with KServe's LocalModelCache")
        if self.backend == "kserve" and isinstance(self.model, UriModel) and self.model.scheme == "oci":
            # KServe's webhook injects the modelcar containers with no allowPrivilegeEscalation and no capabilities.drop
            # (kserve/kserve v0.15.2 pkg/webhook/admission/pod/storage_initializer_injector.go createModelContainer and
            # createModelInitContainer; v0.17.1 pkg/utils/storage.go CreateModelcarContainer): the restricted Pod Security
            # Standard that mlkube namespaces enforce rejects the pod; modelcars are also off by default (enableModelcar: false
            # in inferenceservice-config, v0.15.2 config/configmap/inferenceservice.yaml).
            raise ValueError("an oci:// model on the kserve backend is a KServe modelcar, whose injected containers set neither "
                             "allowPrivilegeEscalation: false nor capabilities.drop [ALL]: the restricted Pod Security Standard of "
                             "mlkube's namespaces rejects the pod; serve it with backend='kubernetes' (the model image's /models is "
                             "copied by an init container that meets the standard)")
        if self.replicas is not None and "autoscaling" in self.model_fields_set:
            raise ValueError(f"set either a fixed 'replicas' ({self.replicas}) or 'autoscaling', not both")
        if self.drain_seconds >= self.termination_grace_period_seconds:
            raise ValueError(f"'drain_seconds' ({self.drain_seconds}) must be less than 'termination_grace_period_seconds' "
                             f"({self.termination_grace_period_seconds}), or requests are cut off")
        if self.hostnames and self.expose is None:
            raise ValueError(f"'hostnames' {self.hostnames} need 'expose' (a Gateway or an Ingress) to be served")
        if self.expose is not None and self.backend == "kserve":
            raise ValueError("'expose' routes to the Service of the kubernetes backend; KServe exposes its InferenceService "
                             "through its own ingress configuration (inferenceservice-config)")
        if self.expose is not None and self.expose.tls_secret_name("x") and not self.hostnames:
            raise ValueError("TLS on the Ingress needs 'hostnames': the certificate is issued for them")
        if self.metrics_port == self.port:
            raise ValueError(f"'metrics_port' ({self.metrics_port}) equals 'port'; leave it unset to scrape the serving port")
        if self.nodes > 1:
            self._check_multi_node()
        return self

    def _check_multi_node(self) -> None:
        problems = []
        if self.backend == "kserve":
            problems.append("the kserve backend serves on one node; use backend 'kubernetes' (a LeaderWorkerSet)")
        if self.resources.gpu is None or self.resources.gpu.mig_profile is not None:
            problems.append("it shards the model over whole GPUs on every node: set resources.gpu (e.g. GpuSpec(count=8)), without mig_profile")
        if self.runtime is None or self.runtime.server != "vllm":
            problems.append("its Ray and parallelism wiring is vLLM's: set runtime='vllm'")
        if self.keda is not None:
            problems.append("keda scales Deployments here; scale the groups with autoscaling (an HPA on the LeaderWorkerSet) or fix replicas")
        if problems:
            raise ValueError(f"'nodes' ({self.nodes}) > 1: " + "; ".join(problems))

    @property
    def autoscaled(self) -> bool:
        return self.replicas is None

    @property
    def mounted_secrets(self) -> list[SecretMount]:
        """Existing Secrets and the Secrets that external_secrets create, all mounted as files."""
        return [*self.secrets, *(SecretMount(secret=item.name, mount_path=item.mount_path) for item in self.external_secrets)]


class InferenceService(MountsVolumes, MlConstruct):
    """Online model serving.

    ``InferenceService(app, "server", image="ghcr.io/acme/fraud:1.4.2", model="s3://models/fraud/v3")``
    emits, in the app's namespace: ServiceAccount, ConfigMap (with config), Deployment, Service,
    HorizontalPodAutoscaler (unless replicas is fixed), PodDisruptionBudget and NetworkPolicy.
    Accepts an ``InferenceServiceSpec``, a mapping, or the spec's fields as keyword arguments.
    """

    def __init__(self, scope: Construct, id: str, spec: InferenceServiceSpec | Mapping[str, Any] | None = None,
                 **fields: Unpack[InferenceServiceFields]) -> None:
        super().__init__(scope, id)
        self.spec = self._parse(InferenceServiceSpec, spec, fields)
        self.objects: dict[str, dict[str, Any]] = {}
        if self.spec is not None:
            self.name = self.spec.name or id
            self._build(self.spec)

    # -- escape hatches: the live dicts, editable until synth -------------------------------------

    @property
    def deployment(self) -> dict[str, Any]:
        return self.objects["Deployment"]

    @property
    def leader_worker_set(self) -> dict[str, Any]:
        """The LeaderWorkerSet of a multi-node server (``nodes`` > 1)."""
        return self.objects["LeaderWorkerSet"]

    @property
    def service(self) -> dict[str, Any]:
        return self.objects["Service"]

    @property
    def pod_spec(self) -> dict[str, Any]:
        """The server's pod spec (a multi-node server's: the leader's)."""
        if "LeaderWorkerSet" in self.objects:
            template = self.leader_worker_set["spec"]["leaderWorkerTemplate"]["leaderTemplate"]
        else:
            template = self.deployment["spec"]["template"]
        spec: dict[str, Any] = template["spec"]
        return spec

    @property
    def main_container(self) -> dict[str, Any]:
        container: dict[str, Any] = self.pod_spec["containers"][0]
        return container

    def _pod_specs(self) -> list[dict[str, Any]]:
        if self.spec is not None and self.spec.backend == "kserve":
            self._report("mount", "the kserve backend mounts no volumes of its own; KServe mounts the model volume",
                         "serve from the volume with model='pvc://<claim>/<path>'")
            return []
        if "LeaderWorkerSet" in self.objects:
            templates = self.leader_worker_set["spec"]["leaderWorkerTemplate"]
            return [templates["leaderTemplate"]["spec"], templates["workerTemplate"]["spec"]]
        return [self.pod_spec] if self.objects else []

    # -- building -----------------------------------------------------------------------------------

    def _metadata(self, name: str | None = None) -> dict[str, Any]:
        return {"labels": dict(self._labels), "name": name or self.name, "namespace": self.namespace}

    def _add(self, kind: str, api_version: str, body: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        metadata = self._metadata(name)
        metadata.update(body.pop("metadata", {}))
        obj = {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}
        self.objects[kind] = self._emit(obj)
        return obj

    def _build(self, spec: InferenceServiceSpec) -> None:
        self._labels = standard_labels(self.name, "inference", self.ml_app.app_name)
        self._add("ServiceAccount", "v1", service_account_body(spec))
        if spec.config:
            self._add("ConfigMap", "v1", {"data": dict(spec.config)}, name=f"{self.name}-config")
        if spec.external_secrets and require_operator(self, "external-secrets", "external_secrets", "reference existing Secrets with 'secrets'"):
            for item in spec.external_secrets:
                self.objects[f"ExternalSecret/{item.name}"] = self._emit(external_secret_object(item, self._metadata(item.name)))
        if spec.backend == "kserve":
            self._build_kserve(spec)
        else:
            self._build_kubernetes(spec)
        self._add("PodDisruptionBudget", "policy/v1", {"spec": self._pdb_spec(spec)})
        self._network_policies(spec)
        if spec.monitoring is not None and require_operator(self, "prometheus-operator", "monitoring", "leave monitoring unset"):
            self._build_monitoring(spec, spec.monitoring)

    def _build_kubernetes(self, spec: InferenceServiceSpec) -> None:
        self._pod_selector = selector_labels(self.name)
        if spec.nodes > 1:
            if not require_operator(self, "lws", "nodes", "serve on one node (nodes=1)"):
                return
            lws = self._add("LeaderWorkerSet", LWS_API_VERSION, {"spec": leader_worker_set_spec(
                nodes=spec.nodes, replicas=None if spec.autoscaled else spec.replicas,
                leader=self._pod_template(spec), worker=self._pod_template(spec, worker=True))})
            # The workers run a Ray worker and serve nothing: no port to probe. The leader is probed (vLLM /health);
            # a worker whose container exits makes LWS recreate the whole group (RecreateGroupOnPodRestart).
            reason = ("Ray workers of a LeaderWorkerSet serve no port; the leader is probed, and a failed worker recreates "
                      "the group (restartPolicy RecreateGroupOnPodRestart)")
            self.ml_app.report(apply_waivers(lws, [Waiver(rule="MLK-PRB-001", reason=reason),
                                                   Waiver(rule="MLK-PRB-002", reason=reason)], self.construct_path))
        else:
            self._add("Deployment", "apps/v1", {"spec": self._deployment_spec(spec)})
        self._add("Service", "v1", {"spec": self._service_spec(spec)})
        if spec.expose is not None:
            self._expose(spec, spec.expose)
        if not spec.autoscaled:
            return
        scaling = spec.autoscaling
        if scaling.custom_metric is not None and spec.keda is not None:
            # KEDA scales on its own triggers; an HPA Pods metric next to it would be dropped silently.
            self._report("autoscaling.custom_metric", "is not used with keda: KEDA scales on its trigger query",
                         "scale on the metric with keda=KedaScaling(metric='query', query=...), or drop keda")
            return
        if scaling.custom_metric is not None and spec.keda is None:
            require_operator(self, "prometheus-adapter", "autoscaling.custom_metric",
                             "scale on CPU, or on a Prometheus query with keda=KedaScaling(...)")
        if spec.keda is not None:
            if require_operator(self, "keda", "keda", "scale with the default HPA"):
                self._add("ScaledObject", "keda.sh/v1alpha1", {"spec": scaled_object_spec(
                    spec.keda, target=self.name, namespace=self.namespace, min_replicas=scaling.min_replicas,
                    max_replicas=scaling.max_replicas, behavior=scaling.behavior())})
            return
        self._add("HorizontalPodAutoscaler", "autoscaling/v2", {"spec": self._hpa_spec(scaling)})

    def _expose(self, spec: InferenceServiceSpec, expose: ExposeSpec) -> None:
        """An HTTPRoute on the named Gateway, or an Ingress, to the Service's serving port."""
        if expose.gateway is not None:
            # HTTPRoute is GA (v1) from Gateway API v1.0.0 (gateway-api CHANGELOG, v1.0.0).
            if require_operator(self, "gateway-api", "expose.gateway", "expose through ingress_class"):
                self.objects["HTTPRoute"] = self._emit(http_route(self._metadata(), expose, spec.hostnames, self.name, spec.port))
            return
        if expose.cert_manager_issuer and not require_operator(self, "cert-manager", "expose.cert_manager_issuer",
                                                               "name an existing TLS Secret with tls_secret"):
            return
        self.objects["Ingress"] = self._emit(ingress(self._metadata(), expose, spec.hostnames, self.name))

    def _build_kserve(self, spec: InferenceServiceSpec) -> None:
        self._pod_selector = {KSERVE_POD_LABEL: self.name}
        if not require_operator(self, "kserve", "backend", "use backend 'kubernetes'"):
            return
        for note in kserve_ignored_settings(spec):
            self.ml_app.warn(self.construct_path, f"kserve backend: {note}")
        for field, message, hint in kserve_version_problems(spec.kserve, kserve_version(self.ml_app.environment)):
            self._report(field, message, hint)
        pod = self._pod_builder(spec)
        pod.extra_spec.update(self._pod_extras(spec, {KSERVE_POD_LABEL: self.name}))
        metadata = self._metadata()
        metadata["annotations"] = {"serving.kserve.io/deploymentMode": spec.kserve.mode_annotation(self.ml_app.environment)}
        obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": metadata,
               "spec": {"predictor": kserve_predictor(self, spec, pod)}}
        self.objects["InferenceService"] = self._emit(obj)

    def _build_monitoring(self, spec: InferenceServiceSpec, monitoring: MonitoringSpec) -> None:
        if spec.backend == "kserve":
            # KServe owns the Service; scrape the predictor pods directly.
            monitoring = monitoring.model_copy(update={"kind": "PodMonitor"})
            port: str | int = spec.metrics_port or spec.port
        else:
            port = "metrics" if spec.metrics_port else "http"
        if monitoring.kind == "ServiceMonitor":
            selector = selector_labels(self.name)  # selects the Service by its labels
        else:
            selector = self._pod_selector if spec.backend == "kserve" else self._serving_selector(spec)
        monitor = monitor_object(monitoring, self._metadata(), selector=selector, port=port)
        self.objects[monitoring.kind] = self._emit(monitor)
        rules = serving_alert_rules(monitoring, name=self.name, namespace=self.namespace)
        self._add_object(prometheus_rule(self._metadata(), f"{self.name}.slo", rules, monitoring.selector_labels))

    def _add_object(self, obj: dict[str, Any]) -> None:
        self.objects[obj["kind"]] = self._emit(obj)

    def _rollout(self, spec: InferenceServiceSpec) -> tuple[int, int]:
        """(maxSurge, maxUnavailable): keep capacity on CPU, never ask for extra GPUs on GPU."""
        rollout = spec.rollout or ("save-gpus" if spec.resources.gpu is not None else "keep-capacity")
        return (0, 1) if rollout == "save-gpus" else (1, 0)

    def _ports(self, spec: InferenceServiceSpec) -> dict[str, int]:
        ports = {"http": spec.port}
        if spec.metrics_port is not None:
            ports["metrics"] = spec.metrics_port
        return ports

    def _deployment_spec(self, spec: InferenceServiceSpec) -> dict[str, Any]:
        surge, unavailable = self._rollout(spec)
        body: dict[str, Any] = {
            # A rollout may wait for a slow model load before it counts as stuck.
            "progressDeadlineSeconds": max(600, spec.probes.model_load_timeout_seconds + 300),
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector_labels(self.name)},
            "strategy": {"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}, "type": "RollingUpdate"},
            "template": self._pod_template(spec),
        }
        if not spec.autoscaled:
            body["replicas"] = spec.replicas  # with an HPA, the HPA owns the count (and Argo CD ignores it)
        return body

    def _pod_builder(self, spec: InferenceServiceSpec) -> PodBuilder:
        return PodBuilder(app=self.ml_app, used_by=self.construct_path, labels=self._labels,
                          service_account=self.name, resources=spec.resources, placement=spec, selector=self._pod_selector)

    def _pod_extras(self, spec: InferenceServiceSpec, selector: dict[str, str]) -> dict[str, Any]:
        extras: dict[str, Any] = {"terminationGracePeriodSeconds": spec.termination_grace_period_seconds}
        if spec.spread != "none":
            extras["topologySpreadConstraints"] = self._spread(spec.spread, selector)
        return extras

    def _pod_template(self, spec: InferenceServiceSpec, *, worker: bool = False) -> dict[str, Any]:
        """The server's pod template; ``worker``: a multi-node group's worker, which only joins the leader's Ray cluster."""
        pod = self._pod_builder(spec)
        mounts = [pod.mount_secret(secret) for secret in spec.mounted_secrets]
        command, args, runtime_env = self._server_command(spec, warn=not worker)
        env = env_list({"MODEL_PATH": spec.model_path, "PORT": str(spec.port), **runtime_env, **spec.env}, spec.secret_env)
        mounts += self._model_volume(pod, spec)  # every node loads its own shard from the same path
        if worker:
            # No probes: a worker serves nothing; a dead Ray worker fails the leader's vLLM, whose probes then restart the group.
            pod.add_container(pod.container("worker", spec.image, command=worker_command(), env=env, mounts=mounts, main=True))
            pod.extra_spec.update(self._pod_extras(spec, selector_labels(self.name)))
            return pod.build()
        extra = self._probes(spec)
        if spec.drain_seconds:
            extra["lifecycle"] = {"preStop": self._drain_hook(spec.drain_seconds)}
        server = pod.container("server", spec.image, command=command, args=args, env=env,
                               ports=self._ports(spec), mounts=mounts, main=True, **extra)
        if spec.config:
            server["envFrom"] = [{"configMapRef": {"name": f"{self.name}-config"}}]
            # Pods roll when the configuration changes, not only when the image does.
            digest = hashlib.sha256(json.dumps(spec.config, sort_keys=True).encode()).hexdigest()[:16]
            pod.annotations["mlkube.dev/config-hash"] = digest
        pod.add_container(server)
        if spec.sidecars and not kubernetes_has(self.ml_app.environment, "SidecarContainers"):
            environment = self.ml_app.environment
            self._report("sidecars", f"native sidecars (init containers with restartPolicy Always) are off by default in Kubernetes "
                                     f"{environment.kubernetes_version} (environment '{environment.name}'); SidecarContainers is on from 1.29",
                         "raise the environment's kubernetes_version to the cluster's (1.29 or later), or drop sidecars")
        for sidecar in spec.sidecars:
            pod.add_sidecar(sidecar)
        pod.extra_spec.update(self._pod_extras(spec, selector_labels(self.name)))
        return pod.build()

    def _server_command(self, spec: InferenceServiceSpec, *, warn: bool = True) -> tuple[list[str] | None, list[str] | None, dict[str, str]]:
        """(command, args, env) of the server: the runtime preset's, each replaced by the spec's when given."""
        runtime = spec.runtime
        if runtime is None:
            return spec.command, spec.args, {}
        preset = runtime.preset
        command = spec.command if spec.command is not None else (list(preset.command) or None)
        gpu = spec.resources.gpu
        gpus = gpu.devices if gpu is not None and gpu.mig_profile is None else 0
        args = spec.args if spec.args is not None else preset.args(runtime, served_name=runtime.served_model_name or self.name,
                                                                    port=spec.port, metrics_port=spec.metrics_port, gpus=gpus)
        if warn and gpus > 1 and spec.resources.shm_size is None and runtime.server in ("vllm", "tgi"):
            # NCCL between the GPU workers exchanges through /dev/shm; the runtime's 64Mi default fails (vLLM and TGI docs).
            self.ml_app.warn(self.construct_path, f"{runtime.server} on {gpus} GPUs needs a larger /dev/shm: set resources.shm_size (e.g. '8Gi')")
        env = dict(preset.env)
        if preset.hub_offline and spec.model is not None:
            # The model is on local disk (downloaded or from a volume): never call the Hub (huggingface_hub HF_HUB_OFFLINE).
            env["HF_HUB_OFFLINE"] = "1"
        if spec.nodes > 1:
            if spec.args is None:
                args = [*(args or []), *parallel_args(spec.nodes)]
            # The leader runs the Ray head, waits for its workers, then serves: one shell command line.
            return leader_command([*(command or []), *(args or [])]), None, env
        return command, args, env

    def _drain_hook(self, seconds: int) -> dict[str, Any]:
        """preStop: wait so endpoints are removed before the server stops."""
        environment = self.ml_app.environment
        if kubernetes_has(environment, "PodLifecycleSleepAction"):
            return {"sleep": {"seconds": seconds}}  # native: no sleep binary needed in the image
        # Before 1.30 the sleep action is off (alpha in 1.29) and the API server drops it: run the image's sleep instead.
        self.ml_app.warn(self.construct_path, f"Kubernetes {environment.kubernetes_version} has no preStop sleep action (on from 1.30): "
                                              f"the drain runs 'sleep {seconds}' from the image, which must have a sleep binary")
        return {"exec": {"command": ["sleep", str(seconds)]}}

    def _model_volume(self, pod: PodBuilder, spec: InferenceServiceSpec) -> list[dict[str, Any]]:
        model = spec.model
        if isinstance(model, PvcModel):
            pod.add_volume({"name": "model", "persistentVolumeClaim": {"claimName": model.claim, "readOnly": True}})
            mount = {"mountPath": spec.model_path, "name": "model", "readOnly": True}
            if model.path:
                mount["subPath"] = model.path
            return [mount]
        if isinstance(model, UriModel) and model.model_image is not None:
            # The model is an OCI image (mlkube model package, KServe's modelcar layout): the kubelet pulls it like any image,
            # and its busybox copies /models into the model volume. Its image value is pinned, locked and promoted like images.
            self._check_node_storage(model)
            pod.add_volume({"name": "model", "emptyDir": {"sizeLimit": model.cache_size}})
            resources = {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}
            pod.add_init_container(pod.container(MODEL_IMAGE_CONTAINER, RegistryImage(reference=model.model_image),
                                                 command=["cp", "-R", "/models/.", spec.model_path], resources=resources,
                                                 mounts=[{"mountPath": spec.model_path, "name": "model"}]))
            return [{"mountPath": spec.model_path, "name": "model", "readOnly": True}]
        if isinstance(model, UriModel):
            self._check_node_storage(model)
            server_mounts = [{"mountPath": spec.model_path, "name": "model", "readOnly": True}]
            downloader_mounts = [{"mountPath": spec.model_path, "name": "model"}]
            cache_env: list[dict[str, str]] = []
            if model.shared_cache:
                # The model folder holds only links into the shared claim (model_fetch.cached).
                pod.add_volume({"name": "model", "emptyDir": {"sizeLimit": "16Mi"}})
                pod.add_volume({"name": "model-cache", "persistentVolumeClaim": {"claimName": model.shared_cache}})
                downloader_mounts.append({"mountPath": SHARED_CACHE_DIR, "name": "model-cache"})
                server_mounts.append({"mountPath": SHARED_CACHE_DIR, "name": "model-cache", "readOnly": True})
                cache_env = [{"name": CACHE_ENV, "value": SHARED_CACHE_DIR}]
            else:
                pod.add_volume({"name": "model", "emptyDir": {"sizeLimit": model.cache_size}})
            if model.credentials_secret:
                downloader_mounts.append(pod.mount_secret(SecretMount(secret=model.credentials_secret, mount_path=CREDENTIALS_DIR)))
            resources = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
            # Unless the user chose one, the downloader is the storage initializer of the environment's KServe version.
            image = (model.downloader_image if "downloader_image" in model.model_fields_set
                     else RegistryImage(reference=storage_initializer_image(self.ml_app.environment)))
            pod.add_init_container(pod.container("model-downloader", image, command=downloader_command(model),
                                                 args=[download_form(model.uri), spec.model_path],
                                                 env=downloader_credentials_env(model) + cache_env or None, resources=resources,
                                                 mounts=downloader_mounts))
            return server_mounts
        return []

    def _check_node_storage(self, model: UriModel) -> None:
        """An emptyDir download lives on the node's disk: it must fit what the environment says a node has for models."""
        available = getattr(self.ml_app.environment, "node_model_storage", None)
        if model.shared_cache or available is None or parse_quantity(model.cache_size) <= parse_quantity(available):
            return
        self._report("model.cache_size", f"the model's cache_size ({model.cache_size}) does not fit the disk a node of "
                     f"{self.ml_app.environment.name} has for models ({available}, its node_model_storage): the kubelet would "
                     "evict the pod once the download passes the node's free ephemeral storage",
                     "lower cache_size to the model's size, use shared_cache=<a ReadWriteMany claim>, or declare the nodes' "
                     "real node_model_storage")

    def _probes(self, spec: InferenceServiceSpec) -> dict[str, Any]:
        probes = spec.probes
        def http(path: str) -> dict[str, Any]:
            return {"path": path, "port": "http"}
        return {
            "startupProbe": {"failureThreshold": math.ceil(probes.model_load_timeout_seconds / probes.period_seconds),
                             "httpGet": http(probes.readiness_path), "periodSeconds": probes.period_seconds, "timeoutSeconds": 5},
            "readinessProbe": {"failureThreshold": 3, "httpGet": http(probes.readiness_path), "periodSeconds": 5, "timeoutSeconds": 5},
            "livenessProbe": {"failureThreshold": 3, "httpGet": http(probes.liveness_path), "periodSeconds": probes.period_seconds, "timeoutSeconds": 5},
        }

    def _spread(self, spread: str, selector: dict[str, str]) -> list[dict[str, Any]]:
        keys = ["topology.kubernetes.io/zone", "kubernetes.io/hostname"] if spread == "zones-and-hosts" else ["kubernetes.io/hostname"]
        return [{"labelSelector": {"matchLabels": dict(selector)}, "maxSkew": 1, "topologyKey": key,
                 "whenUnsatisfiable": "ScheduleAnyway"} for key in keys]

    def _service_spec(self, spec: InferenceServiceSpec) -> dict[str, Any]:
        ports = [{"name": name, "port": port, "protocol": "TCP", "targetPort": name} for name, port in self._ports(spec).items()]
        return {"ports": ports, "selector": self._serving_selector(spec), "type": "ClusterIP"}

    def _serving_selector(self, spec: InferenceServiceSpec) -> dict[str, str]:
        """The pods that serve: all of them, or the group leaders of a multi-node server (worker index 0, LWS's label)."""
        if spec.nodes > 1:
            return {**selector_labels(self.name), WORKER_INDEX_LABEL: "0"}
        return selector_labels(self.name)

    def _pdb_spec(self, spec: InferenceServiceSpec) -> dict[str, Any]:
        body: dict[str, Any] = {"maxUnavailable": spec.max_unavailable, "selector": {"matchLabels": self._pod_selector}}
        # A PDB counts unready pods as disrupted: with IfHealthyBudget (the API's default) a server that never got
        # ready blocks every node drain (kubernetes.io/docs/tasks/run-application/configure-pdb/).
        if kubernetes_has(self.ml_app.environment, "PDBUnhealthyPodEvictionPolicy"):
            body["unhealthyPodEvictionPolicy"] = spec.unhealthy_pod_eviction_policy
        elif "unhealthy_pod_eviction_policy" in spec.model_fields_set:
            self._report("unhealthy_pod_eviction_policy", f"Kubernetes {self.ml_app.environment.kubernetes_version} has no "
                         "PodDisruptionBudget unhealthyPodEvictionPolicy (on by default from 1.27)", "leave it unset, or upgrade")
        return body

    def _scale_target(self) -> dict[str, str]:
        if "LeaderWorkerSet" in self.objects:
            # LWS has a scale subresource; the HPA scales whole groups and reads the leaders' metrics
            # (kubernetes-sigs/lws config/samples/hpaexample.yaml, site docs/examples/hpa.md).
            return {"apiVersion": LWS_API_VERSION, "kind": "LeaderWorkerSet", "name": self.name}
        return {"apiVersion": "apps/v1", "kind": "Deployment", "name": self.name}

    def _hpa_spec(self, scaling: AutoscalingSpec) -> dict[str, Any]:
        metrics: list[dict[str, Any]] = []
        if scaling.target_cpu_utilization is not None:
            metrics.append({"resource": {"name": "cpu", "target": {"averageUtilization": scaling.target_cpu_utilization, "type": "Utilization"}}, "type": "Resource"})
        if scaling.custom_metric is not None:
            metrics.append({"pods": {"metric": {"name": scaling.custom_metric.name},
                                     "target": {"averageValue": scaling.custom_metric.target_average_value, "type": "AverageValue"}}, "type": "Pods"})
        return {
            "behavior": scaling.behavior(),
            "maxReplicas": scaling.max_replicas,
            "metrics": metrics,
            "minReplicas": scaling.min_replicas,
            "scaleTargetRef": self._scale_target(),
        }

    # -- traffic ------------------------------------------------------------------------------------

    def _network_policies(self, spec: InferenceServiceSpec) -> None:
        """Declare the server's connections; its policy and its callers' egress policy admit exactly those."""
        me = Endpoint.pods(self.namespace, self._pod_selector, name=f"{self.namespace}/{self.name}")
        server = me
        if spec.backend == "kubernetes" and spec.nodes > 1:
            server = Endpoint.pods(self.namespace, self._serving_selector(spec), name=f"{self.namespace}/{self.name} (leaders)")
        connections = self._connections(spec, me, server)

        def add(name: str, body: dict[str, Any]) -> None:
            key = "NetworkPolicy" if name == self.name else f"NetworkPolicy/{name}"
            self.objects[key] = self._emit({"apiVersion": NETWORK_POLICY_API, "kind": "NetworkPolicy", "metadata": self._metadata(name), "spec": body})

        if server == me:
            emit_network_policies(self.ml_app, me, self.name, connections, add)
            return
        # Multi-node: the set's policy admits the group's traffic and egress; a second policy, on the leaders only,
        # admits the callers (NetworkPolicies add up).
        emit_network_policies(self.ml_app, me, self.name, [c for c in connections if c.destination != server], add)
        emit_network_policies(self.ml_app, server, f"{self.name}-leader", [c for c in connections if c.destination == server], add)

    def _connections(self, spec: InferenceServiceSpec, me: Endpoint, server: Endpoint) -> list[Connection]:
        """``me``: every pod of the server; ``server``: the pods that serve (a multi-node server's leaders)."""
        path, environment = self.construct_path, self.ml_app.environment
        callers = [Endpoint.pods(peer.namespace or self.namespace, peer.pod_labels) for peer in spec.allow_from] \
            or [Endpoint.pods(self.namespace)]
        serving = (PortRange(spec.port),)
        connections = [Connection(caller, server, serving, "calls the serving port", path) for caller in callers]
        if spec.expose is not None:
            forwarder = spec.expose.forwarder_namespace
            how = "the Gateway's data plane" if spec.expose.gateway else "the ingress controller"
            connections.append(Connection(Endpoint.pods(forwarder, name=f"{forwarder} ({how})"), server, serving,
                                          f"{how} forwards outside requests", path))
        monitoring = Endpoint.pods(environment.monitoring_namespace, name=f"{environment.monitoring_namespace} (Prometheus)")
        connections.append(Connection(monitoring, server, (PortRange(spec.metrics_port or spec.port),), "Prometheus scrapes metrics", path))
        # A sidecar listens only to be scraped (dcgm-exporter, a metrics exporter): Prometheus reaches its ports too
        # (a multi-node server's sidecars run on the leaders).
        sidecar_ports = tuple(PortRange(port) for sidecar in spec.sidecars for port in sorted(sidecar.ports.values()))
        if sidecar_ports:
            connections.append(Connection(monitoring, server, sidecar_ports, "Prometheus scrapes the sidecars' ports", path))
        if server != me:
            # Ray (GCS 6379, node manager, object store, worker ports) and NCCL pick ports at run time: leader and
            # workers of a group reach each other on every TCP port.
            connections.append(Connection(me, me, ALL_TCP, "leader and workers of a group (Ray, NCCL)", path))
        connections += common_egress(self.ml_app, me, path, spec.egress)
        connections += self._download_connections(spec, me)
        if spec.backend == "kserve" and spec.kserve.deployment_mode == "Knative":
            # knative/serving pkg/apis/networking/ports.go: requests reach queue-proxy on 8012 (8013 for HTTP/2),
            # from the activator (knative-serving) or the networking layer's gateway, not from the callers themselves.
            self.ml_app.warn(path, "kserve Knative mode: requests reach the pods' queue-proxy (port 8012/8013) from the Knative activator "
                             "and the ingress gateway, which the NetworkPolicy written (callers on the serving port) does not admit; "
                             "add a NetworkPolicy for your networking layer's namespaces, or use deployment_mode 'Standard'")
        return connections

    def _download_connections(self, spec: InferenceServiceSpec, me: Endpoint) -> list[Connection]:
        """The model downloader (an init container of the same pod, or KServe's storage initializer) reaches its storage."""
        model = spec.model
        if not isinstance(model, UriModel) or model.model_image is not None:
            return []  # no model, or an image the kubelet pulls (outside the pod's NetworkPolicy)
        reason = f"model download from {model.uri}"
        if model.egress:
            return egress_connections(me, model.egress, self.namespace, self.construct_path, reason=reason)
        cidrs = self.ml_app.environment.network.egress_https_cidrs
        if not cidrs:
            self._report("model.egress", f"the model downloader fetches {model.uri!r} over the network, but no egress to its storage is declared: "
                         "the pod's NetworkPolicy allows DNS only, so the download would hang and the server never start",
                         "declare where the storage is: model=Model.from_uri(uri, egress=[EgressRule(cidrs=['<endpoint CIDR>'])]) "
                         "('0.0.0.0/0' for anywhere, or namespace/pod_labels for an in-cluster store), or set the environment's "
                         "network=NetworkSpec(egress_https_cidrs=[...])")
            return []
        return [Connection(me, Endpoint.block(cidr), (PortRange(443),), reason, self.construct_path) for cidr in cidrs]
