"""BatchJob: a one-off batch/v1 Job (batch scoring, feature generation, evaluation) with secured pods."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Unpack

from pydantic import Field, PositiveInt, model_validator

from constructs import Construct

from .job_options import JobConstruct, JobOptions, job_spec, queue_labels

if TYPE_CHECKING:
    from .keywords import BatchJobFields

__all__ = ["BatchJob", "BatchJobSpec"]


class BatchJobSpec(JobOptions):
    """A job that runs to completion once."""

    completions: PositiveInt = Field(default=1, description="Successful pods needed to finish. Default: 1.")
    parallelism: PositiveInt = Field(default=1, description="Pods running at once. Default: 1.")
    indexed: bool = Field(default=False, description="Indexed completion mode: each pod gets JOB_COMPLETION_INDEX (a shard number). Default: false.")

    @model_validator(mode="after")
    def _parallelism(self) -> BatchJobSpec:
        if self.parallelism > self.completions:
            raise ValueError(f"'parallelism' ({self.parallelism}) must be less than or equal to 'completions' ({self.completions})")
        return self


class BatchJob(JobConstruct):
    """``BatchJob(app, "backfill", image=..., completions=8, parallelism=4, indexed=True)``: ServiceAccount + Job (+ PrometheusRule with ``alerts``)."""

    component = "batch"

    def __init__(self, scope: Construct, id: str, spec: BatchJobSpec | Mapping[str, Any] | None = None,
                 **fields: Unpack[BatchJobFields]) -> None:
        super().__init__(scope, id)
        self.spec = self._parse(BatchJobSpec, spec, fields)
        if self.spec is not None:
            self._start(self.spec)
            self._build(self.spec)

    def _build(self, spec: BatchJobSpec) -> None:
        template = self._pod_builder(spec).build()
        body = job_spec(spec, template, completions=spec.completions, parallelism=spec.parallelism, indexed=spec.indexed)
        job = self._add("Job", "batch/v1", {"spec": body}, labels=queue_labels(spec))
        self._pod_spec_paths.append((job, ("spec", "template", "spec")))
        self._pod_group(spec, spec.parallelism)
        self._network_policy(spec, peers=False)
        self._alert_rule(spec)
