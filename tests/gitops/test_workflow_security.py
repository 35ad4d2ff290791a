"""The generated workflows (and the project's own CI) are hardened, judged by zizmor offline and by their structure.

zizmor (PyPI, pinned) is the GitHub Actions auditor: unpinned actions, template injection, credential
persistence, excessive permissions. Its findings must be zero, or waived here with a reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT
from ruamel.yaml import YAML

from mlkube.core.gitops_settings import GitOps
from mlkube.gitops.workflows import PINNED_ACTIONS, render_workflows

ZIZMOR = Path(sys.executable).with_name("zizmor")
#: Pedantic findings accepted, each with its reason.
WAIVED = {
    # `gh pr create` would need a hand-written commit and push with the token in git's config; the action commits
    # only `add-paths` and authenticates with its own input, which is what persist-credentials: false asks for.
    "superfluous-actions": "peter-evans/create-pull-request",
}
SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+@[0-9a-f]{40}$")


def _variants() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for signed in (False, True):
        for name, data in render_workflows(GitOps(sign_images=signed)).items():
            files[("signed-" if signed else "") + name] = data
    # GitOps(source='chart'): the workflows also install helm, push the charts and lock their digests.
    for registry in (None, "ghcr.io/acme/charts"):
        for name, data in render_workflows(GitOps(source="chart", chart_registry=registry)).items():
            files[("chart-" if registry is None else "chart-registry-") + name] = data
    return files


def _load(data: bytes) -> dict:
    return YAML(typ="safe", pure=True).load(data)


def _steps(workflow: dict) -> list[tuple[str, dict]]:
    return [(job_name, step) for job_name, job in workflow["jobs"].items() for step in job["steps"]]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("workflows")
    paths = []
    for name, data in _variants().items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return [*paths, *sorted((REPO_ROOT / ".github/workflows").glob("*.yml"))]


def _zizmor(*args: str) -> subprocess.CompletedProcess[str]:
    if not ZIZMOR.exists():
        pytest.fail(f"zizmor is not installed beside {sys.executable} (pyproject's dev extra pins it)")
    return subprocess.run([str(ZIZMOR), "--offline", "--no-progress", *args], capture_output=True, text=True, timeout=120)


def test_zizmor_finds_nothing_in_the_generated_and_committed_workflows(written):
    result = _zizmor(*map(str, written))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_pedantic_finds_only_the_waived_rules(written):
    result = _zizmor("--persona=pedantic", "--format=plain", *map(str, written))
    rules = set(re.findall(r"^\w+\[([a-z-]+)\]", result.stdout, re.MULTILINE))
    assert rules <= set(WAIVED), result.stdout
    for rule, subject in WAIVED.items():
        for block in re.findall(rf"^\w+\[{rule}\].*?(?=^\w+\[|\Z)", result.stdout, re.MULTILINE | re.DOTALL):
            assert subject in block


def test_zizmor_notices_an_unhardened_workflow(tmp_path):
    old = render_workflows(GitOps())["config-repo-pr.yml"].decode()
    old = re.sub(r"@[0-9a-f]{40}", "@v4", old).replace("persist-credentials: false", "fetch-tags: false")
    (tmp_path / "old.yml").write_text(old)
    result = _zizmor(str(tmp_path / "old.yml"))
    assert result.returncode != 0 and "unpinned-uses" in result.stdout and "artipacked" in result.stdout


@pytest.mark.parametrize("name", sorted(_variants()))
def test_every_action_is_pinned_by_commit_with_its_version_beside_it(name):
    text = _variants()[name].decode()
    versions = {action.uses: action.version for action in PINNED_ACTIONS.values()}
    uses = re.findall(r"uses: (\S+)(?:\s+# (\S+))?", text)
    assert uses
    for value, comment in uses:
        assert SHA_PIN.match(value), value
        assert comment == versions[value]


@pytest.mark.parametrize("name", sorted(_variants()))
def test_no_expression_is_expanded_inside_a_script(name):
    for job, step in _steps(_load(_variants()[name])):
        assert "${{" not in str(step.get("run", "")), (job, step)


@pytest.mark.parametrize("name", sorted(_variants()))
def test_least_privilege_per_job_and_no_persisted_token(name):
    workflow = _load(_variants()[name])
    assert workflow["permissions"] == {}
    for job_name, job in workflow["jobs"].items():
        assert "permissions" in job, job_name
        signing = name.startswith("signed-") and job_name == "build"
        assert ("id-token" in job["permissions"]) == signing, job_name
    for _, step in _steps(workflow):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_release_scans_the_pushed_digest_and_builds_reproducibly():
    release = _load(render_workflows(GitOps())["config-repo-release.yml"])
    build = release["jobs"]["build"]["steps"]
    names = [step.get("id") or step.get("name") for step in build]
    push = next(step for step in build if step.get("id") == "push")
    scan = next(step for step in build if str(step.get("uses", "")).startswith("aquasecurity/trivy-action@"))
    assert names.index("push") < build.index(scan)
    assert scan["with"]["image-ref"] == "${{ matrix.image.repository }}@${{ steps.push.outputs.digest }}"
    assert push["env"]["SOURCE_DATE_EPOCH"] == "0"
    assert push["with"]["provenance"] is False and "rewrite-timestamp=true" in push["with"]["outputs"]
    assert "cache-to" not in push["with"]
    plan = release["jobs"]["plan"]["steps"]
    assert any("mlkube images plan" in str(step.get("run", "")) for step in plan)
    assert not any("cosign" in str(step.get("uses", "")) for step in build)
