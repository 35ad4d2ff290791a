"""Autoscaling with KEDA: a ScaledObject on a Prometheus query instead of an HPA."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .spec import Spec

__all__ = ["KedaScaling", "scaled_object_spec"]


class KedaScaling(Spec):
    """Scale on a Prometheus query: requests per second, queue length, or any query you give."""

    metric: Literal["requests-per-second", "queue-length", "query"] = Field(
        default="requests-per-second", description="What to scale on; 'query' uses `query` as given. Default: requests per second.")
    threshold: str = Field(description="Target value per replica, e.g. '50' requests per second or '5' queued requests.")
    query: str | None = Field(default=None, description="PromQL query; '{namespace}' and '{name}' are replaced. Default: from `metric` and the metric names below.")
    requests_metric: str = Field(default="http_requests_total", description="Counter of requests, for requests-per-second. Default: http_requests_total.")
    queue_metric: str = Field(default="queue_length", description="Gauge of queued requests, for queue-length (vLLM: 'vllm:num_requests_waiting'). Default: queue_length.")
    prometheus_address: str = Field(default="http://prometheus-operated.monitoring.svc:9090", description="Prometheus URL KEDA queries. Default: the Prometheus Operator's service in 'monitoring'.")
    cooldown_seconds: int = Field(default=300, ge=0, description="Wait after the last active trigger before scaling to the minimum. Default: 300.")
    polling_interval_seconds: int = Field(default=30, ge=1, description="How often KEDA evaluates the query. Default: 30.")

    @model_validator(mode="after")
    def _query_given(self) -> KedaScaling:
        if self.metric == "query" and not self.query:
            raise ValueError("metric 'query' needs a PromQL 'query'")
        return self

    def promql(self, namespace: str, name: str) -> str:
        if self.query:
            return self.query.replace("{namespace}", namespace).replace("{name}", name)
        selector = f'namespace="{namespace}",pod=~"{name}-.*"'
        if self.metric == "queue-length":
            return f"sum({self.queue_metric}{{{selector}}})"
        return f"sum(rate({self.requests_metric}{{{selector}}}[1m]))"


def scaled_object_spec(scaling: KedaScaling, *, target: str, namespace: str, min_replicas: int, max_replicas: int,
                       behavior: dict[str, Any]) -> dict[str, Any]:
    """``behavior``: the HPA behaviour KEDA gives the HPA it creates (advanced.horizontalPodAutoscalerConfig)."""
    return {
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior}},
        "cooldownPeriod": scaling.cooldown_seconds,
        "maxReplicaCount": max_replicas,
        "minReplicaCount": min_replicas,
        "pollingInterval": scaling.polling_interval_seconds,
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "triggers": [{
            "metadata": {"query": scaling.promql(namespace, target), "serverAddress": scaling.prometheus_address, "threshold": scaling.threshold},
            "metricType": "AverageValue",
            "type": "prometheus",
        }],
    }
