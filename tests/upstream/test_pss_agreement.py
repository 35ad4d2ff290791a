"""The policy's Pod Security Standard rules against the admission plugin's checks, per version.

Source: kubernetes/pod-security-admission (commit 8f84a87c) policy/check_sysctls.go and
check_sysctls_test.go (the safe set per version), check_allowPrivilegeEscalation.go,
check_capabilities_restricted.go, check_seccompProfile_restricted.go (``spec.os.name: windows``
exempt from 1.25), check_runAsNonRoot.go and check_runAsUser.go (``hostUsers: false`` exempt from 1.35).
"""

from __future__ import annotations

import copy

import pytest

from mlkube.kube.manifest import Manifest
from mlkube.policy.engine import check_policy
from mlkube.policy.model import PolicySettings

RESTRICTED_POD = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team"},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "image": "busybox", "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
    },
}
PSS = {f"MLK-PSS-{n:03d}" for n in range(1, 16)}


def pss_errors(pod: dict, version: str) -> set[str]:
    report = check_policy([Manifest(pod, "pod")], PolicySettings(kubernetes_version=version))
    return {finding.rule.id for finding in report.errors} & PSS


def with_sysctl(name: str) -> dict:
    pod = copy.deepcopy(RESTRICTED_POD)
    pod["spec"]["securityContext"]["sysctls"] = [{"name": name, "value": "1"}]
    return pod


# (sysctl, first version that allows it): check_sysctls.go sysctlsAllowedV1Dot0 ... V1Dot37.
SYSCTLS = [("kernel.shm_rmid_forced", "1.0"), ("net.ipv4.ip_local_port_range", "1.0"), ("net.ipv4.tcp_syncookies", "1.0"),
           ("net.ipv4.ping_group_range", "1.0"), ("net.ipv4.ip_unprivileged_port_start", "1.0"),
           ("net.ipv4.ip_local_reserved_ports", "1.27"), ("net.ipv4.tcp_keepalive_time", "1.29"),
           ("net.ipv4.tcp_fin_timeout", "1.29"), ("net.ipv4.tcp_keepalive_intvl", "1.29"),
           ("net.ipv4.tcp_keepalive_probes", "1.29"), ("net.ipv4.tcp_rmem", "1.32"), ("net.ipv4.tcp_wmem", "1.32"),
           ("net.ipv4.tcp_slow_start_after_idle", "1.37"), ("net.ipv4.tcp_notsent_lowat", "1.37"),
           ("a", None), ("kernel.msgmax", None)]
VERSIONS = ["1.25", "1.27", "1.29", "1.31", "1.32", "1.34", "1.37"]


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("sysctl", "since"), SYSCTLS)
def test_safe_sysctls_per_version(sysctl, since, version):
    allowed = since is not None and _minor(version) >= _minor(since)
    assert ("MLK-PSS-010" not in pss_errors(with_sysctl(sysctl), version)) is allowed


def windows_pod() -> dict:
    pod = copy.deepcopy(RESTRICTED_POD)
    pod["spec"]["os"] = {"name": "windows"}
    del pod["spec"]["securityContext"]["seccompProfile"]
    pod["spec"]["containers"][0]["securityContext"] = {}
    return pod


def test_windows_pods_are_exempt_from_linux_only_controls_from_1_25():
    assert pss_errors(windows_pod(), "1.25") == set()
    assert pss_errors(windows_pod(), "1.34") == set()
    assert {"MLK-PSS-005", "MLK-PSS-006", "MLK-PSS-009"} <= pss_errors(windows_pod(), "1.24")


def test_windows_pods_still_must_not_be_privileged_or_run_as_root():
    pod = windows_pod()
    pod["spec"]["containers"][0]["securityContext"] = {"privileged": True, "runAsNonRoot": False}
    assert {"MLK-PSS-001", "MLK-PSS-007"} <= pss_errors(pod, "1.34")


def test_user_namespace_pods_are_exempt_from_run_as_non_root_from_1_35():
    pod = copy.deepcopy(RESTRICTED_POD)
    pod["spec"]["hostUsers"] = False
    pod["spec"]["securityContext"] = {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pss_errors(pod, "1.35") == set()
    assert {"MLK-PSS-007", "MLK-PSS-008"} <= pss_errors(pod, "1.34")


# --- the admission plugin's own fixtures ---------------------------------------------------------
# psa_fixtures.json holds the pods and verdicts of kubernetes/pod-security-admission test/testdata
# (commit and path pattern in its "source"), for every version from 1.25 (the oldest schema set
# mlkube ships): restricted pass and fail fixtures, and baseline fail fixtures (mlkube enforces
# restricted, so baseline "pass" pods are rightly refused). A fail fixture must be refused by the
# rule of its own control, not just by any rule.

import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

FIXTURES = json.loads((Path(__file__).parent / "psa_fixtures.json").read_text())
CONTROL_RULES = {
    "allowprivilegeescalation": "MLK-PSS-006", "apparmorprofile": "MLK-PSS-012", "capabilities_baseline": "MLK-PSS-005",
    "capabilities_restricted": "MLK-PSS-005", "hostnamespaces": "MLK-PSS-002", "hostpathvolumes": "MLK-PSS-003",
    "hostports": "MLK-PSS-004", "hostprobesandhostlifecycle": "MLK-PSS-015", "privileged": "MLK-PSS-001",
    "procmount": "MLK-PSS-011", "procmount_baseline": "MLK-PSS-011", "procmount_restricted": "MLK-PSS-011", "restrictedvolumes": "MLK-PSS-003",
    "runasnonroot": "MLK-PSS-007", "runasuser": "MLK-PSS-008", "seccompprofile_baseline": "MLK-PSS-009",
    "seccompprofile_restricted": "MLK-PSS-009", "selinuxoptions": "MLK-PSS-013", "sysctls": "MLK-PSS-010",
    "windowshostprocess": "MLK-PSS-014",
}


def _fixture_cases() -> list[tuple[str, str, str, str, str]]:
    return [(case["level"], version, case["verdict"], case["fixture"], case["pod"])
            for case in FIXTURES["cases"] for version in case["versions"]]


def test_every_upstream_fixture_agrees_per_control_and_version():
    disagreements = []
    cases = _fixture_cases()
    for level, version, verdict, fixture, pod in cases:
        errors = pss_errors(copy.deepcopy(FIXTURES["pods"][pod]), version)
        if verdict == "pass":
            agrees = not errors
        else:
            agrees = CONTROL_RULES[re.sub(r"[0-9]+$", "", fixture)] in errors
        if not agrees:
            disagreements.append(f"{level}/v{version}/{verdict}/{fixture}: {sorted(errors)}")
    assert len(cases) > 1500  # 1,574 at the pinned commit: 13 versions x ~120 fixtures
    assert disagreements == []  # 100% agreement, no accepted disagreement


# --- counted in the agreement table (tests/upstream/README.md) -------------------------------------

def _fixture_verdict(case: tuple[str, str, str]) -> str:
    version, fixture, pod = case
    errors = pss_errors(copy.deepcopy(FIXTURES["pods"][pod]), version)
    if not errors:
        return "pass"
    return "fail" if CONTROL_RULES[re.sub(r"[0-9]+$", "", fixture)] in errors else f"fail by another rule: {sorted(errors)}"


def results() -> list:
    from agreement import Case, run_suite

    source = FIXTURES["source"]["repository"] + "@" + FIXTURES["source"]["commit"][:12] + ":test/testdata"
    fixtures = [Case(f"{level}/v{version}/{verdict}/{fixture}", (version, fixture, pod), verdict, source)
                for level, version, verdict, fixture, pod in _fixture_cases()]
    sysctls = [Case(f"{sysctl} at {version}", (sysctl, version), since is not None and _minor(version) >= _minor(since),
                    "kubernetes/pod-security-admission@8f84a87c:policy/check_sysctls.go")
               for sysctl, since in SYSCTLS for version in VERSIONS]
    return [run_suite("pss-fixtures", fixtures, _fixture_verdict),
            run_suite("pss-sysctls", sysctls, lambda case: "MLK-PSS-010" not in pss_errors(with_sysctl(case[0]), case[1]))]


def test_agreement() -> None:
    for result in results():
        result.check(minimum=1.0)
        result.check_readme_row()
