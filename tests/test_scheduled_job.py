"""ScheduledJob: a CronJob with schedule, time zone and history, and the job options of BatchJob."""

from __future__ import annotations

import pytest

from mlkube import Environment, MlkubeError, ScheduledJob
from mlkube.testing import YamlSnapshotExtension, synth_app

IMAGE = "ghcr.io/acme/fraud-batch:1.4.2"
#: An environment whose namespaces get a LocalQueue for every queue a job names (Kueue admits through it).
QUEUED = [Environment(name="test", namespace="ml", kueue_cluster_queue="team-queue")]


@pytest.fixture
def yaml_snapshot(snapshot):
    return snapshot.use_extension(YamlSnapshotExtension)


def minimal(app):
    ScheduledJob(app, "nightly", image=IMAGE, schedule="@daily")


def all_options(app):
    ScheduledJob(app, "scoring", name="nightly-scoring", image=IMAGE, args=["score"], schedule="30 1-5/2 * JAN-DEC MON-FRI",
                 time_zone="Europe/Paris", concurrency_policy="Replace", starting_deadline_seconds=600,
                 successful_jobs_history_limit=1, failed_jobs_history_limit=5, suspend=True,
                 completions=4, parallelism=2, indexed=True, resources={"cpu": 2, "memory": "8Gi", "gpu": {"count": 1}},
                 backoff_limit=0, fail_on_exit_codes=[2], active_deadline_seconds=3600, ttl_seconds_after_finished=86400,
                 queue="batch", workload_priority_class="low", priority_class_name="batch-low")


def test_minimal_snapshot(yaml_snapshot):
    assert synth_app(minimal).objects == yaml_snapshot


def test_all_options_snapshot(yaml_snapshot):
    assert synth_app(all_options, environments=QUEUED).objects == yaml_snapshot


def test_defaults_forbid_overlapping_runs():
    spec = synth_app(minimal).get("CronJob", "nightly")["spec"]
    assert spec["schedule"] == "@daily"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"], spec["suspend"]) == (3, 3, False)
    assert "timeZone" not in spec and "startingDeadlineSeconds" not in spec
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True


def test_all_options_fields():
    cron = synth_app(all_options, environments=QUEUED).get("CronJob", "nightly-scoring")
    spec = cron["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"], spec["startingDeadlineSeconds"]) == \
        ("30 1-5/2 * JAN-DEC MON-FRI", "Europe/Paris", "Replace", 600)
    job = spec["jobTemplate"]
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "batch"
    assert job["metadata"]["labels"]["kueue.x-k8s.io/priority-class"] == "low"
    assert "kueue.x-k8s.io/queue-name" not in cron["metadata"]["labels"]
    assert job["spec"]["suspend"] is True and job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1


def _error(build) -> str:
    with pytest.raises(MlkubeError) as caught:
        synth_app(build)
    return str(caught.value)


@pytest.mark.parametrize(("schedule", "expected"), [
    ("61 * * * *", "schedule '61 * * * *': minute value 61 is outside 0-59"),
    ("0 2 * *", "schedule '0 2 * *' has 4 fields; a cron schedule has 5"),
    ("0 2 * * FUNDAY", "schedule '0 2 * * FUNDAY': day of week value 'FUNDAY' is not a number (allowed: 0-6 or SUN, MON, TUE, WED, THU, FRI, SAT)"),
    ("@fortnightly", "schedule '@fortnightly' is not a known macro"),
    ("*/0 * * * *", "schedule '*/0 * * * *': minute step in '*/0' must be at least 1"),
    ("0 5-1 * * *", "schedule '0 5-1 * * *': hour range '5-1' runs backwards"),
])
def test_fails_when_schedule_is_invalid(schedule, expected):
    message = _error(lambda app: ScheduledJob(app, "s", image=IMAGE, schedule=schedule))
    assert f"test/app/s: schedule: {expected}" in message


def test_fails_when_time_zone_is_unknown():
    message = _error(lambda app: ScheduledJob(app, "s", image=IMAGE, schedule="@hourly", time_zone="Mars/Olympus_Mons"))
    assert "test/app/s: time_zone: time zone 'Mars/Olympus_Mons' is unknown; use an IANA name such as 'Etc/UTC' or 'Europe/Paris'" in message


def test_fails_when_starting_deadline_is_negative():
    message = _error(lambda app: ScheduledJob(app, "s", image=IMAGE, schedule="@hourly", starting_deadline_seconds=-5))
    assert "test/app/s: starting_deadline_seconds: Input should be greater than 0 (got -5)" in message


def test_fails_when_gang_scheduling_a_cron_job():
    message = _error(lambda app: ScheduledJob(app, "s", image=IMAGE, schedule="@hourly", gang_scheduler="volcano"))
    assert "gang_scheduler is not available for a ScheduledJob: every run would share one PodGroup" in message
