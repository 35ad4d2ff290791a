"""Job alerts (``alerts=``): a PrometheusRule per job that fires when a run fails or runs past its deadline.

The rule is checked against the upstream PrometheusRule schema, and its expressions are parsed and
unit-tested by the real ``promtool`` (Debian package ``prometheus``) on synthetic kube-state-metrics series.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import upstream_errors

from mlkube import BatchJob, Environment, GpuTrainingJob, JobAlertsSpec, MlkubeError, ScheduledJob
from mlkube.testing import synth_app

IMAGE = "ghcr.io/acme/fraud-batch:1.4.2"
RELEASE = {"release": "prometheus"}


def nightly(app):
    ScheduledJob(app, "nightly", image=IMAGE, schedule="0 2 * * *", active_deadline_seconds=3600,
                 alerts=JobAlertsSpec(deadline_seconds=1800, severity="critical", selector_labels=RELEASE))


def finetune(app):
    GpuTrainingJob(app, "llm-finetune", image=IMAGE, active_deadline_seconds=7200, alerts={"selector_labels": RELEASE})


def _rules(objects, name: str) -> dict[str, dict]:
    groups = objects.get("PrometheusRule", name)["spec"]["groups"]
    assert [group["name"] for group in groups] == [f"{name}.job"]
    return {rule["alert"]: rule for rule in groups[0]["rules"]}


def test_scheduled_job_rule_snapshot(yaml_snapshot):
    assert synth_app(nightly).of_kind("PrometheusRule") == yaml_snapshot


def test_training_job_rule_snapshot(yaml_snapshot):
    assert synth_app(finetune).of_kind("PrometheusRule") == yaml_snapshot


def test_training_job_alerts_on_its_job_and_defaults_to_its_active_deadline():
    objects = synth_app(finetune)
    rule = objects.get("PrometheusRule", "llm-finetune")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["metadata"]["labels"]["app.kubernetes.io/component"] == "training"
    rules = _rules(objects, "llm-finetune")
    assert rules["LlmFinetuneFailed"]["expr"] == \
        'max by (namespace, job_name) (kube_job_failed{namespace="ml",job_name="llm-finetune",condition="true"}) > 0'
    assert rules["LlmFinetunePastDeadline"]["expr"] == (
        '(time() - max by (namespace, job_name) (kube_job_status_start_time{namespace="ml",job_name="llm-finetune"})) > 7200'
        ' and max by (namespace, job_name) (kube_job_status_active{namespace="ml",job_name="llm-finetune"}) > 0')
    assert {rule["labels"]["severity"] for rule in rules.values()} == {"warning"}
    assert {rule["for"] for rule in rules.values()} == {"0m"}


def test_scheduled_job_alerts_on_each_run_of_the_cron_job():
    rules = _rules(synth_app(nightly), "nightly")
    assert rules["NightlyFailed"]["expr"] == \
        'max by (namespace, job_name) (kube_job_failed{namespace="ml",job_name=~"nightly-[0-9]+",condition="true"}) > 0'
    assert rules["NightlyPastDeadline"]["expr"].startswith(
        '(time() - max by (namespace, job_name) (kube_job_status_start_time{namespace="ml",job_name=~"nightly-[0-9]+"})) > 1800 and')
    assert rules["NightlyFailed"]["labels"] == {"severity": "critical"}


def test_jobset_backend_alerts_on_the_jobsets_jobs():
    objects = synth_app(lambda app: GpuTrainingJob(app, "pretrain", image=IMAGE, nodes=4, backend="jobset", alerts={}))
    rules = _rules(objects, "pretrain")
    assert list(rules) == ["PretrainFailed"]  # no deadline anywhere: no deadline alert
    assert 'job_name=~"pretrain-node-[0-9]+"' in rules["PretrainFailed"]["expr"]


def test_no_alerts_no_rule():
    assert not synth_app(lambda app: BatchJob(app, "backfill", image=IMAGE)).of_kind("PrometheusRule")


@pytest.mark.parametrize("build", [nightly, finetune, lambda app: BatchJob(app, "backfill", image=IMAGE, alerts={"deadline_seconds": 600})])
def test_rule_passes_the_upstream_schema(build, upstream):
    rule = synth_app(build).of_kind("PrometheusRule")[0]
    assert upstream_errors(upstream, rule) == []


def test_fails_when_the_prometheus_operator_is_missing():
    environment = Environment(name="edge", operators=["kueue"])
    with pytest.raises(MlkubeError) as caught:
        synth_app(nightly, environments=[environment])
    message = str(caught.value)
    assert "edge/app/nightly: alerts: needs the Prometheus Operator, which environment 'edge' does not have (operators: kueue)" in message
    assert "add 'prometheus-operator' to the environment's operators, or leave alerts unset" in message


def test_fails_when_the_alert_deadline_is_after_the_active_deadline():
    with pytest.raises(MlkubeError, match=r"'alerts.deadline_seconds' \(7200\) must be less than or equal to 'active_deadline_seconds' "
                                          r"\(3600\): the Job controller stops the run first"):
        synth_app(lambda app: BatchJob(app, "b", image=IMAGE, active_deadline_seconds=3600, alerts={"deadline_seconds": 7200}))


def test_fails_when_alerts_has_an_unknown_field():
    with pytest.raises(MlkubeError, match=r"alerts\.for_minutes: unknown field .for_minutes.\n.*hint: known fields: deadline_seconds, selector_labels, severity"):
        synth_app(lambda app: BatchJob(app, "b", image=IMAGE, alerts={"for_minutes": 5}))


# -- the real promtool ------------------------------------------------------------------------------

# Runs of the CronJob "nightly" (deadline alert at 1800s): one failed, one still running since t=0,
# one that finished in time; "nightly-eval" is another job of the namespace and must not match.
_SERIES = [
    ('kube_job_failed{namespace="ml",job_name="nightly-29001000",condition="true"}', "0 0 1x40"),
    ('kube_job_failed{namespace="ml",job_name="nightly-eval",condition="true"}', "1x40"),
    ('kube_job_status_start_time{namespace="ml",job_name="nightly-29002440"}', "0x40"),
    ('kube_job_status_active{namespace="ml",job_name="nightly-29002440"}', "1x40"),
    ('kube_job_status_start_time{namespace="ml",job_name="nightly-29003880"}', "0x40"),
    ('kube_job_status_active{namespace="ml",job_name="nightly-29003880"}', "1x10 0x30"),
    ('kube_job_status_start_time{namespace="ml",job_name="nightly-eval"}', "0x40"),
    ('kube_job_status_active{namespace="ml",job_name="nightly-eval"}', "1x40"),
]


def _alert(job: str, summary: str, severity: str = "critical") -> dict:
    return {"exp_labels": {"severity": severity, "namespace": "ml", "job_name": job}, "exp_annotations": {"summary": summary}}


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian package prometheus, in bin/apt-packages.txt)")
    return path


def test_promtool_accepts_the_rules_and_they_fire_on_failed_and_overdue_runs(promtool: str, tmp_path: Path):
    rule = synth_app(nightly).get("PrometheusRule", "nightly")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule["spec"]))
    check = subprocess.run([promtool, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 2 rules found" in check.stdout

    failed = "Job ml/nightly-29001000 failed."
    overdue = "Job ml/nightly-29002440 is still running 1800s after it started."
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": series, "values": values} for series, values in _SERIES],
        "alert_rule_test": [
            {"eval_time": "1m", "alertname": "NightlyFailed", "exp_alerts": []},
            {"eval_time": "5m", "alertname": "NightlyFailed", "exp_alerts": [_alert("nightly-29001000", failed)]},
            {"eval_time": "29m", "alertname": "NightlyPastDeadline", "exp_alerts": []},
            {"eval_time": "31m", "alertname": "NightlyPastDeadline", "exp_alerts": [_alert("nightly-29002440", overdue)]},
        ],
    }]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    result = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
