"""Monitoring with the Prometheus Operator: a ServiceMonitor or PodMonitor, and alerts on objectives.

Job alerts read kube-state-metrics (``kube_job_*``), which a Prometheus Operator stack usually runs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveInt

from .spec import Spec

__all__ = ["MonitoringSpec", "JobAlertsSpec", "monitor_object", "serving_alert_rules", "job_alert_rules", "prometheus_rule"]


class MonitoringSpec(Spec):
    """Scrape the metrics port and alert when the service misses its objectives."""

    kind: Literal["ServiceMonitor", "PodMonitor"] = Field(default="ServiceMonitor", description="How Prometheus finds the pods. Default: ServiceMonitor (PodMonitor with KServe).")
    path: str = Field(default="/metrics", description="Metrics path. Default: /metrics.")
    interval: str = Field(default="30s", description="Scrape interval. Default: 30s.")
    selector_labels: dict[str, str] = Field(default_factory=dict, description="Labels your Prometheus selects monitors and rules by, e.g. {'release': 'prometheus'}. Default: none.")
    latency_objective_seconds: float | None = Field(default=None, gt=0, description="Alert when this quantile of request latency is above it. Default: no latency alert.")
    latency_quantile: float = Field(default=0.99, gt=0, lt=1, description="Quantile for the latency objective. Default: 0.99.")
    latency_metric: str = Field(default="http_request_duration_seconds_bucket", description="Latency histogram buckets. Default: http_request_duration_seconds_bucket.")
    error_rate_objective: float | None = Field(default=None, gt=0, lt=1, description="Alert when the share of 5xx responses is above it, e.g. 0.01. Default: no error-rate alert.")
    requests_metric: str = Field(default="http_requests_total", description="Request counter with a 'code' label. Default: http_requests_total.")
    alert_for: str = Field(default="10m", description="How long a condition must hold before an alert fires. Default: 10m.")
    severity: str = Field(default="warning", description="Value of the alerts' severity label. Default: warning.")


class JobAlertsSpec(Spec):
    """Alert when the job fails or is still running past a deadline (a PrometheusRule on kube-state-metrics)."""

    deadline_seconds: PositiveInt | None = Field(default=None, description="Alert when a run is still active this long after it started. Default: the job's active_deadline_seconds (the Job controller stops the run then, so the alert catches runs that do not stop); no deadline alert when neither is set. A smaller value warns before the run is stopped.")
    severity: str = Field(default="warning", min_length=1, description="Value of the alerts' severity label. Default: warning.")
    selector_labels: dict[str, str] = Field(default_factory=dict, description="Labels your Prometheus selects rules by, e.g. {'release': 'prometheus'}. Default: none.")


def monitor_object(spec: MonitoringSpec, metadata: dict[str, Any], *, selector: dict[str, str], port: str | int) -> dict[str, Any]:
    """A port name, or for a PodMonitor a port number (pods whose port names an operator chooses)."""
    endpoint: dict[str, Any] = {"interval": spec.interval, "path": spec.path}
    endpoint["portNumber" if isinstance(port, int) else "port"] = port
    namespace = {"matchNames": [metadata["namespace"]]}
    if spec.kind == "PodMonitor":
        body = {"namespaceSelector": namespace, "podMetricsEndpoints": [endpoint], "selector": {"matchLabels": selector}}
    else:
        body = {"endpoints": [endpoint], "namespaceSelector": namespace, "selector": {"matchLabels": selector}}
    labels = {**metadata["labels"], **spec.selector_labels}
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": spec.kind, "metadata": {**metadata, "labels": labels}, "spec": body}


def _alert(name: str, expr: str, spec_for: str, severity: str, summary: str) -> dict[str, Any]:
    return {"alert": name, "annotations": {"summary": summary}, "expr": expr, "for": spec_for, "labels": {"severity": severity}}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def serving_alert_rules(spec: MonitoringSpec, *, name: str, namespace: str) -> list[dict[str, Any]]:
    selector = f'namespace="{namespace}",pod=~"{name}-.*"'
    prefix = _camel(name)
    rules = [_alert(f"{prefix}Down", f'sum(up{{{selector}}}) == 0', "5m", "critical",
                    f"No pod of {namespace}/{name} is being scraped successfully.")]
    if spec.latency_objective_seconds is not None:
        expr = (f"histogram_quantile({spec.latency_quantile}, sum by (le) (rate({spec.latency_metric}{{{selector}}}[5m])))"
                f" > {spec.latency_objective_seconds}")
        rules.append(_alert(f"{prefix}HighLatency", expr, spec.alert_for, spec.severity,
                            f"p{int(spec.latency_quantile * 100)} latency of {namespace}/{name} is above {spec.latency_objective_seconds}s."))
    if spec.error_rate_objective is not None:
        expr = (f'sum(rate({spec.requests_metric}{{{selector},code=~"5.."}}[5m])) / sum(rate({spec.requests_metric}{{{selector}}}[5m]))'
                f" > {spec.error_rate_objective}")
        rules.append(_alert(f"{prefix}HighErrorRate", expr, spec.alert_for, spec.severity,
                            f"More than {spec.error_rate_objective:.1%} of requests to {namespace}/{name} fail."))
    return rules


def job_alert_rules(*, name: str, namespace: str, deadline_seconds: int | None, severity: str = "warning",
                    job_names: str | None = None) -> list[dict[str, Any]]:
    """Alerts for the Jobs of ``name`` that fail, or are still active ``deadline_seconds`` after they started.

    ``job_names`` is a regular expression of the Jobs' names when they are not just ``name``: a
    CronJob's runs are ``<cronjob>-<minutes since epoch>``, a JobSet's Jobs ``<jobset>-<replicated job>-<index>``.
    One alert per Job (label ``job_name``), so each failed run of a CronJob is reported.
    """
    job = f'namespace="{namespace}",' + (f'job_name=~"{job_names}"' if job_names else f'job_name="{name}"')
    prefix = _camel(name)
    by_job = "max by (namespace, job_name)"  # one series per Job even with several kube-state-metrics replicas
    rules = [_alert(f"{prefix}Failed", f'{by_job} (kube_job_failed{{{job},condition="true"}}) > 0', "0m", severity,
                    "Job {{ $labels.namespace }}/{{ $labels.job_name }} failed.")]
    if deadline_seconds is not None:
        expr = (f"(time() - {by_job} (kube_job_status_start_time{{{job}}})) > {deadline_seconds}"
                f" and {by_job} (kube_job_status_active{{{job}}}) > 0")
        rules.append(_alert(f"{prefix}PastDeadline", expr, "0m", severity,
                            "Job {{ $labels.namespace }}/{{ $labels.job_name }} is still running " + f"{deadline_seconds}s after it started."))
    return rules


def prometheus_rule(metadata: dict[str, Any], group: str, rules: list[dict[str, Any]], selector_labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {**metadata, "labels": {**metadata["labels"], **selector_labels}},
            "spec": {"groups": [{"name": group, "rules": rules}]}}
