"""``mlkube validate --policy``: a naive model server reports every rule; text and SARIF reports; exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from policy_examples import hardened_objects, naive_objects, write_tree

from mlkube.cli import main
from mlkube.policy import waive
from mlkube.validation.schemas import DEFAULT_KUBERNETES_VERSION

# What the naive Deployment + Service (plus the usual shortcuts) must trip: the list of rules.
EXPECTED_RULES = {
    "MLK-PSS-001": "privileged", "MLK-PSS-002": "host network", "MLK-PSS-003": "hostPath", "MLK-PSS-005": "capabilities",
    "MLK-PSS-006": "privilege escalation", "MLK-PSS-007": "runAsNonRoot", "MLK-PSS-009": "seccomp",
    "MLK-SEC-001": "UID >= 10000", "MLK-SEC-002": "read-only root", "MLK-SEC-003": "service account token",
    "MLK-SEC-005": "Secret with data", "MLK-SEC-006": "secret in env", "MLK-SEC-008": "pod securityContext",
    "MLK-RES-001": "requests", "MLK-RES-002": "limits", "MLK-PRB-001": "liveness", "MLK-PRB-002": "readiness",
    "MLK-IMG-001": "digest", "MLK-IMG-002": "registry", "MLK-IMG-004": "pull policy",
    "MLK-NET-001": "NetworkPolicy", "MLK-NET-002": "LoadBalancer", "MLK-NS-001": "default namespace",
}


@pytest.fixture
def naive_tree(tmp_path: Path) -> Path:
    objects = naive_objects()
    pod = objects[0]["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    pod["volumes"] = [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]
    pod["containers"][0]["securityContext"] = {"privileged": True}
    objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api"}, "stringData": {"token": "hunter2"}})
    return write_tree(tmp_path / "naive", objects)


def validate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_naive_server_reports_each_rule(naive_tree: Path) -> None:
    code, out, _ = validate("--policy", "--require-digests", "--allowed-registry", "registry.acme.internal/", str(naive_tree))
    assert code == 1
    reported = re.findall(r"^(MLK-[A-Z]+-\d{3}) \[(error|warning)\]", out, flags=re.MULTILINE)
    assert {rule for rule, _ in reported} == set(EXPECTED_RULES)
    assert ("MLK-IMG-001", "error") in reported  # required digests make it an error
    assert out.splitlines()[-1] == "policy: 3 objects checked: 25 errors, 2 warnings, 0 waived"


def test_findings_name_object_field_and_file_line(naive_tree: Path) -> None:
    _, out, _ = validate("--policy", str(naive_tree))
    deployment = naive_tree / "deployment-model-server.yaml"
    line = next(n for n, text in enumerate(deployment.read_text().splitlines(), 1) if "hostNetwork" in text)
    assert (f"MLK-PSS-002 [error] Pods must not share the node's network, PID or IPC namespace (1 finding)\n"
            f"    why: Host namespaces let a pod see and reach the node's processes, sockets and shared memory.\n"
            f"    fix: remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false)\n"
            f"  - {deployment}:{line} Deployment/model-server: spec.template.spec.hostNetwork: the pod sets hostNetwork: true\n") in out


def test_hardened_tree_passes(tmp_path: Path) -> None:
    folder = write_tree(tmp_path / "app", hardened_objects())
    code, out, err = validate("--policy", "--require-digests", "--allowed-registry", "ghcr.io/acme/", str(folder))
    assert code == 0
    assert out == "policy: 6 objects checked: 0 errors, 0 warnings, 0 waived\n"
    assert "6 objects valid" in err


def test_waived_findings_are_listed_with_reasons_and_pass(tmp_path: Path) -> None:
    objects = hardened_objects()
    objects[2]["spec"]["type"] = "LoadBalancer"
    waive(objects[2], "MLK-NET-002", "public demo behind the cloud WAF")
    folder = write_tree(tmp_path / "app", objects)
    code, out, _ = validate("--policy", str(folder))
    assert code == 0
    service = folder / "service-server.yaml"
    line = next(n for n, text in enumerate(service.read_text().splitlines(), 1) if "type: LoadBalancer" in text)
    assert out == ("waived (reason written in the object):\n"
                   f"  - MLK-NET-002 {service}:{line} Service/server: spec.type: public demo behind the cloud WAF\n"
                   "policy: 6 objects checked: 0 errors, 0 warnings, 1 waived\n")


def test_sarif_report_to_file(naive_tree: Path, tmp_path: Path) -> None:
    report = tmp_path / "reports" / "policy.sarif"
    code, out, _ = validate("--policy", "--format", "sarif", "--output", str(report), str(naive_tree))
    assert code == 1
    assert out == f"policy: 3 objects checked: 23 errors, 3 warnings, 0 waived; report written to {report}\n"
    log = json.loads(report.read_text())
    assert log["version"] == "2.1.0"
    assert {r["ruleId"] for r in log["runs"][0]["results"]} == set(EXPECTED_RULES) - {"MLK-IMG-002"}


def test_sarif_report_to_stdout_is_pure_json(naive_tree: Path) -> None:
    code, out, _ = validate("--policy", "--format", "sarif", str(naive_tree))
    assert code == 1
    assert json.loads(out)["runs"][0]["tool"]["driver"]["name"] == "mlkube"


def test_without_policy_flag_no_rules_run(naive_tree: Path) -> None:
    code, out, _ = validate(str(naive_tree))
    assert (code, out) == (0, f"3 objects valid (Kubernetes {DEFAULT_KUBERNETES_VERSION}, strict)\n")


def test_environments_of_a_config_repo_are_separate_clusters(tmp_path: Path) -> None:
    objects = hardened_objects()
    network_policy = objects.pop(3)
    write_tree(tmp_path / "dist" / "dev" / "fraud-scoring", objects)
    write_tree(tmp_path / "dist" / "prod" / "fraud-scoring", [*hardened_objects()[:3], network_policy])
    code, out, _ = validate("--policy", str(tmp_path / "dist"))
    assert code == 1
    assert re.findall(r"^  - (\S+):\d+ Deployment/server: .*$", out, flags=re.MULTILINE) == [
        str(tmp_path / "dist" / "dev" / "fraud-scoring" / "deployment-server.yaml")]
