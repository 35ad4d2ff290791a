"""What training, batch and scheduled jobs share: the container, failure policy, queues, alerts, and the Job spec builder.

Every job pod is built by ``pod.PodBuilder`` (security, GPUs, /dev/shm), with ``restartPolicy: Never``
so that the Job controller, not the kubelet, decides about retries (required by podFailurePolicy).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator, model_validator

from ..kube.apiserver_rules import EnvName
from ..kube.labels import standard_labels
from .construct import MlConstruct, MountsVolumes
from .image import ImageSpec
from .monitoring import JobAlertsSpec, job_alert_rules, prometheus_rule
from .network.model import ALL_TCP, Connection, EgressRule, Endpoint
from .network.workload import NETWORK_POLICY_API, common_egress, emit_network_policies
from .operators import kubernetes_has, require_operator, require_version
from .placement import PlacementOptions, service_account_body
from .pod import PodBuilder, SecretEnv, SecretMount, env_list
from .resources import ResourcesSpec
from .spec import DnsLabel
from .waivers import Waiver

__all__ = ["JobOptions", "JobConstruct", "MAIN_CONTAINER", "QUEUE_LABEL", "PRIORITY_LABEL", "GROUP_ANNOTATION",
           "VOLCANO_API_VERSION", "pod_failure_policy", "job_spec", "queue_labels"]

MAIN_CONTAINER = "main"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
GROUP_ANNOTATION = "scheduling.k8s.io/group-name"
VOLCANO_API_VERSION = "scheduling.volcano.sh/v1beta1"


class JobOptions(PlacementOptions):
    """Fields of every job: the container, resources, failure handling, queue and priority."""

    name: DnsLabel | None = Field(default=None, description="Name of every object. Default: the construct id.")
    image: ImageSpec = Field(description="Image of the job's container: a registry reference (or Image.build(...)).")
    command: list[str] | None = Field(default=None, description="Entrypoint override. Default: the image's.")
    args: list[str] | None = Field(default=None, description="Arguments. Default: the image's.")
    env: dict[EnvName, str] = Field(default_factory=dict, description="Environment variables. Default: none.")
    secrets: list[SecretMount] = Field(default_factory=list, description="Existing Secrets mounted as files. Default: none.")
    secret_env: list[SecretEnv] = Field(default_factory=list, description="Existing Secret keys as environment variables. Default: none.")
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec, description="CPU, memory, GPUs (count or one MIG profile) and /dev/shm per pod. Default: 1 CPU, 2Gi.")
    backoff_limit: NonNegativeInt = Field(default=3, description="Failed pods retried before the job fails (disruptions do not count). Default: 3.")
    fail_on_exit_codes: list[int] = Field(default_factory=list, description="Exit codes of the main container that fail the job at once, without retries (bad config, bad data). Default: none.")
    ignore_disruptions: bool = Field(default=True, description="Pods killed by preemption, node drains or evictions (DisruptionTarget) are replaced without using up retries. Default: true.")
    active_deadline_seconds: PositiveInt | None = Field(default=None, description="The job fails after running this long. Default: no deadline.")
    ttl_seconds_after_finished: NonNegativeInt | None = Field(default=None, description="Delete the finished job after this long. Default: kept. Under Argo CD automated sync it is an error (MLK-GIT-001: the deleted Job is re-created and runs again) unless waived with a reason.")
    termination_grace_period_seconds: NonNegativeInt = Field(default=30, description="Time between SIGTERM and SIGKILL, e.g. to save a checkpoint. Default: 30.")
    queue: DnsLabel | None = Field(default=None, description="Kueue LocalQueue (label kueue.x-k8s.io/queue-name); the job is created suspended and Kueue admits it. Default: not queued.")
    workload_priority_class: DnsLabel | None = Field(default=None, description="Kueue WorkloadPriorityClass (label kueue.x-k8s.io/priority-class). Default: the queue's.")
    priority_class_name: str | None = Field(default=None, description="Pod priorityClassName (preemption by the scheduler). Default: the cluster's default priority.")
    gang_scheduler: Literal["volcano"] | None = Field(default=None, description="'volcano': all pods start together or none (schedulerName volcano and a PodGroup). Default: the default scheduler.")
    volcano_queue: str | None = Field(default=None, description="Volcano queue of the PodGroup (with gang_scheduler 'volcano'). Default: Volcano's default queue.")
    waivers: list[Waiver] = Field(default_factory=list, description="Policy exceptions for this construct's objects, each with its reason (written as annotations). Default: none.")
    egress: list[EgressRule] = Field(default_factory=list, description="Where the job's pods connect besides DNS and their peer ranks (datasets, trackers, other services), each a NetworkPolicy egress rule. Default: DNS and the environment's network.egress_https_cidrs only.")
    alerts: JobAlertsSpec | None = Field(default=None, description="A PrometheusRule alerting when a run fails or runs past its deadline (Prometheus Operator, kube-state-metrics). Default: no alerts.")

    @field_validator("fail_on_exit_codes")
    @classmethod
    def _exit_codes(cls, value: list[int]) -> list[int]:
        bad = [code for code in value if not 1 <= code <= 255]
        if bad:
            raise ValueError(f"exit codes must be between 1 and 255 (got {bad}); 0 means success")
        return sorted(set(value))

    @model_validator(mode="after")
    def _alert_before_the_deadline(self) -> JobOptions:
        deadline = self.alerts.deadline_seconds if self.alerts else None
        if deadline is not None and self.active_deadline_seconds is not None and deadline > self.active_deadline_seconds:
            raise ValueError(f"'alerts.deadline_seconds' ({deadline}) must be less than or equal to 'active_deadline_seconds' "
                             f"({self.active_deadline_seconds}): the Job controller stops the run first, so the alert could never fire")
        return self


def pod_failure_policy(options: JobOptions) -> dict[str, Any] | None:
    """Ignore disruptions (they do not use up backoffLimit); fail the job at once on the listed exit codes."""
    rules: list[dict[str, Any]] = []
    if options.ignore_disruptions:
        rules.append({"action": "Ignore", "onPodConditions": [{"status": "True", "type": "DisruptionTarget"}]})
    if options.fail_on_exit_codes:
        rules.append({"action": "FailJob", "onExitCodes": {"containerName": MAIN_CONTAINER, "operator": "In",
                                                             "values": list(options.fail_on_exit_codes)}})
    return {"rules": rules} if rules else None


def queue_labels(options: JobOptions) -> dict[str, str]:
    """Kueue labels, which go on the object Kueue manages (Job, JobSet, or a CronJob's job template)."""
    labels = {}
    if options.queue:
        labels[QUEUE_LABEL] = options.queue
    if options.workload_priority_class:
        labels[PRIORITY_LABEL] = options.workload_priority_class
    return labels


def job_spec(options: JobOptions, template: dict[str, Any], *, completions: int | None = None,
             parallelism: int | None = None, indexed: bool = False, backoff_limit: int | None = None) -> dict[str, Any]:
    """A batch/v1 JobSpec with the shared failure handling and queueing."""
    spec: dict[str, Any] = {"backoffLimit": options.backoff_limit if backoff_limit is None else backoff_limit, "template": template}
    policy = pod_failure_policy(options)
    if policy:
        spec["podFailurePolicy"] = policy
    if completions is not None:
        spec["completions"] = completions
    if parallelism is not None:
        spec["parallelism"] = parallelism
    if indexed:
        spec["completionMode"] = "Indexed"
    if options.active_deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = options.active_deadline_seconds
    if options.ttl_seconds_after_finished is not None:
        spec["ttlSecondsAfterFinished"] = options.ttl_seconds_after_finished
    if options.queue:
        spec["suspend"] = True  # Kueue admits the job by un-suspending it
    return spec


class JobConstruct(MountsVolumes, MlConstruct):
    """Base of the job constructs: metadata, the ServiceAccount, the secured pod template, PodGroup."""

    name: str
    component = "batch"
    #: Paths from each emitted workload object to its pod spec (for mounting volumes after the build).
    _pod_spec_paths: list[tuple[dict[str, Any], tuple[str | int, ...]]]

    def _start(self, options: JobOptions) -> None:
        self.name = options.name or self.construct_id
        self.labels = standard_labels(self.name, self.component, self.ml_app.app_name)
        self.objects: dict[str, dict[str, Any]] = {}
        self._pod_spec_paths = []

    def _metadata(self, name: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
        return {"labels": {**self.labels, **(labels or {})}, "name": name or self.name, "namespace": self.namespace}

    def _add(self, kind: str, api_version: str, body: dict[str, Any], *, name: str | None = None,
             labels: dict[str, str] | None = None) -> dict[str, Any]:
        metadata = self._metadata(name, labels)
        metadata.update(body.pop("metadata", {}))
        obj = {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}
        self.objects[kind] = self._emit(obj)
        return obj

    def _pod_specs(self) -> list[dict[str, Any]]:
        specs = []
        for obj, path in getattr(self, "_pod_spec_paths", []):  # none when the spec was invalid
            node: Any = obj
            for part in path:
                node = node[part]
            specs.append(node)
        return specs

    def _require_schedulers(self, options: JobOptions) -> None:
        """A queue needs Kueue (else the job stays suspended forever); gang scheduling needs Volcano (else pods stay Pending)."""
        if options.queue:
            require_operator(self, "kueue", "queue", "leave queue unset")
        if options.workload_priority_class:
            # The WorkloadPriorityClass CRD first ships in Kueue v0.5.0 (config/components/crd/bases at each tag).
            require_version(self, "kueue", (0, 5), "workload_priority_class", "a WorkloadPriorityClass")
        if options.gang_scheduler == "volcano":
            require_operator(self, "volcano", "gang_scheduler", "leave gang_scheduler unset")
        environment = self.ml_app.environment
        if pod_failure_policy(options) is not None and not kubernetes_has(environment, "JobPodFailurePolicy"):
            # Off by default before 1.26: the API server drops podFailurePolicy, so disruptions use up retries unnoticed.
            field = "fail_on_exit_codes" if options.fail_on_exit_codes else "ignore_disruptions"
            self._report(field, f"needs a Job podFailurePolicy, which is off by default in Kubernetes {environment.kubernetes_version} "
                                f"(environment '{environment.name}'); JobPodFailurePolicy is on from 1.26",
                         "raise the environment's kubernetes_version to the cluster's (1.26 or later), or set ignore_disruptions=False "
                         "and no fail_on_exit_codes")

    def _pod_builder(self, options: JobOptions, env: list[dict[str, Any]] | None = None) -> PodBuilder:
        """The secured pod of the job, its ServiceAccount emitted; callers may add to ``extra_spec`` before ``build()``."""
        self._require_schedulers(options)
        self._add("ServiceAccount", "v1", service_account_body(options))
        selector = {key: self.labels[key] for key in ("app.kubernetes.io/instance", "app.kubernetes.io/name")}
        pod = PodBuilder(app=self.ml_app, used_by=self.construct_path, labels=self.labels, service_account=self.name,
                         resources=options.resources, restart_policy="Never", placement=options, selector=selector)
        mounts = [pod.mount_secret(secret) for secret in options.secrets]
        container_env = [*(env or []), *env_list(dict(options.env), options.secret_env)]
        pod.add_container(pod.container(MAIN_CONTAINER, options.image, command=options.command, args=options.args,
                                        env=container_env, mounts=mounts, main=True))
        pod.extra_spec["terminationGracePeriodSeconds"] = options.termination_grace_period_seconds
        if options.priority_class_name:
            pod.extra_spec["priorityClassName"] = options.priority_class_name
        if options.gang_scheduler == "volcano":
            pod.extra_spec["schedulerName"] = "volcano"
            pod.annotations[GROUP_ANNOTATION] = self.name
        return pod

    def _network_policy(self, options: JobOptions, *, peers: bool, selector: dict[str, str] | None = None) -> None:
        """Job pods serve nothing: no ingress, except (``peers``) every rank from every other rank, both ways.

        All TCP ports between ranks: torchrun's rendezvous is one port, but NCCL and Gloo open their own
        listening sockets on ports picked at run time (NCCL_SOCKET_* / GLOO_SOCKET_IFNAME choose interfaces,
        not ports: https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html).
        """
        selector = selector or {key: self.labels[key] for key in ("app.kubernetes.io/instance", "app.kubernetes.io/name")}
        me = Endpoint.pods(self.namespace, selector, name=f"{self.namespace}/{self.name}")
        connections = common_egress(self.ml_app, me, self.construct_path, options.egress)
        if peers:
            connections.insert(0, Connection(me, me, ALL_TCP, "ranks reach each other (rendezvous, NCCL, Gloo)", self.construct_path))

        def add(name: str, body: dict[str, Any]) -> None:
            self._add("NetworkPolicy", NETWORK_POLICY_API, {"spec": body}, name=name)

        emit_network_policies(self.ml_app, me, self.name, connections, add)

    def _pod_group(self, options: JobOptions, min_member: int) -> None:
        """Volcano gang scheduling: none of the pods starts until ``min_member`` of them can."""
        if options.gang_scheduler != "volcano":
            return
        spec: dict[str, Any] = {"minMember": min_member}
        if options.priority_class_name:
            spec["priorityClassName"] = options.priority_class_name
        if options.volcano_queue:
            spec["queue"] = options.volcano_queue
        self._add("PodGroup", VOLCANO_API_VERSION, {"spec": spec})

    def _alert_rule(self, options: JobOptions, *, job_names: str | None = None) -> None:
        """With ``alerts``: a PrometheusRule for the Jobs named ``job_names`` (a regex; default: this job's name)."""
        alerts = options.alerts
        if alerts is None or not require_operator(self, "prometheus-operator", "alerts", "leave alerts unset"):
            return
        deadline = alerts.deadline_seconds if alerts.deadline_seconds is not None else options.active_deadline_seconds
        rules = job_alert_rules(name=self.name, namespace=self.namespace, deadline_seconds=deadline, severity=alerts.severity,
                                job_names=job_names)
        self.objects["PrometheusRule"] = self._emit(prometheus_rule(self._metadata(), f"{self.name}.job", rules, alerts.selector_labels))
