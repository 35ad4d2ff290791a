"""ScheduledJob: a CronJob (nightly scoring, retraining) whose Jobs have the same options as BatchJob."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Unpack

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator, model_validator

from constructs import Construct

from ..kube.cron import check_schedule, check_time_zone
from .batch_job import BatchJobSpec
from .job_options import JobConstruct, job_spec, queue_labels

if TYPE_CHECKING:
    from .keywords import ScheduledJobFields

__all__ = ["ScheduledJob", "ScheduledJobSpec"]


class ScheduledJobSpec(BatchJobSpec):
    """A job run on a cron schedule."""

    schedule: str = Field(description="Cron schedule: 5 fields ('30 2 * * *', ranges, steps, names like MON-FRI) or a macro such as '@daily'.")
    time_zone: str | None = Field(default=None, description="IANA time zone of the schedule, e.g. 'Europe/Paris'. Default: the controller's (usually UTC).")
    concurrency_policy: Literal["Forbid", "Replace", "Allow"] = Field(default="Forbid", description="What happens when a run is due while the last one still runs. Default: Forbid (skip the new run).")
    starting_deadline_seconds: PositiveInt | None = Field(default=None, description="A run that could not start within this many seconds of its time is skipped. Default: no deadline.")
    successful_jobs_history_limit: NonNegativeInt = Field(default=3, description="Finished successful Jobs kept. Default: 3.")
    failed_jobs_history_limit: NonNegativeInt = Field(default=3, description="Failed Jobs kept (for their logs). Default: 3.")
    suspend: bool = Field(default=False, description="Pause the schedule. Default: false.")

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return check_schedule(value)

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        return value if value is None else check_time_zone(value)

    @model_validator(mode="after")
    def _no_static_gang(self) -> ScheduledJobSpec:
        if self.gang_scheduler is not None:
            # One PodGroup would be shared by every run; Volcano groups a CronJob's pods per run by itself.
            raise ValueError("gang_scheduler is not available for a ScheduledJob: every run would share one PodGroup")
        return self


class ScheduledJob(JobConstruct):
    """``ScheduledJob(app, "nightly", image=..., schedule="0 2 * * *", time_zone="Europe/Paris")``: ServiceAccount + CronJob (+ PrometheusRule with ``alerts``)."""

    component = "batch"

    def __init__(self, scope: Construct, id: str, spec: ScheduledJobSpec | Mapping[str, Any] | None = None,
                 **fields: Unpack[ScheduledJobFields]) -> None:
        super().__init__(scope, id)
        self.spec = self._parse(ScheduledJobSpec, spec, fields)
        if self.spec is not None:
            self._start(self.spec)
            self._build(self.spec)

    def _build(self, spec: ScheduledJobSpec) -> None:
        template = self._pod_builder(spec).build()
        job = job_spec(spec, template, completions=spec.completions, parallelism=spec.parallelism, indexed=spec.indexed)
        body: dict[str, Any] = {
            "concurrencyPolicy": spec.concurrency_policy,
            "failedJobsHistoryLimit": spec.failed_jobs_history_limit,
            # Kueue manages the Jobs, so its labels go on the job template.
            "jobTemplate": {"metadata": {"labels": {**self.labels, **queue_labels(spec)}}, "spec": job},
            "schedule": spec.schedule,
            "successfulJobsHistoryLimit": spec.successful_jobs_history_limit,
            "suspend": spec.suspend,
        }
        if spec.time_zone is not None:
            body["timeZone"] = spec.time_zone
        if spec.starting_deadline_seconds is not None:
            body["startingDeadlineSeconds"] = spec.starting_deadline_seconds
        cron = self._add("CronJob", "batch/v1", {"spec": body})
        self._pod_spec_paths.append((cron, ("spec", "jobTemplate", "spec", "template", "spec")))
        self._network_policy(spec, peers=False)
        # The CronJob names each run <cronjob>-<scheduled time in minutes since the epoch>.
        self._alert_rule(spec, job_names=f"{self.name}-[0-9]+")
