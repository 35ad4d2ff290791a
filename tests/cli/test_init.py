"""`mlkube init`: a config repo whose own tests pass at once and fail on a change; every refusal."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import REPO_ROOT, run_mlkube, run_pytest
from ruamel.yaml import YAML

from mlkube.blueprint import schema_files
from mlkube.cli import main
from mlkube.cli.init import init_repo

WORKFLOWS = [".github/workflows/config-repo-pr.yml", ".github/workflows/config-repo-promote.yml",
             ".github/workflows/config-repo-release.yml"]
STARTER = [".github/workflows/ci.yml", *WORKFLOWS, ".gitignore", "README.md", "apps/main.py", "apps/my-team/mlkube.yaml",
           "cdk8s.yaml", "pyproject.toml", "schemas/blueprint.schema.json", "tests/test_platform.py"]


@pytest.fixture(scope="module")
def starter_repo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("starter") / "ml-config"
    init_repo(folder)
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generated_repo_tests_pass_and_fail_with_a_diff_naming_the_changed_replica_count(tmp_path: Path):
    repo = tmp_path / "config"
    result = run_mlkube("init", str(repo))
    assert result.returncode == 0, result.stderr
    assert "mlkube: wrote 43 files into" in result.stdout  # 42 and dist/.mlkube-output

    passing = run_pytest(repo)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "5 passed" in passing.stdout and "2 snapshots passed." in passing.stdout

    blueprint = repo / "apps" / "main.py"
    assert blueprint.read_text().count("replicas=2,") == 1
    blueprint.write_text(blueprint.read_text().replace("replicas=2,", "replicas=3,"))
    failing = run_pytest(repo)
    assert failing.returncode == 1
    assert "FAILED tests/test_platform.py::test_platform_snapshot" in failing.stdout
    assert "dev/chat/deployment-server.yaml: spec.replicas: 2 -> 3" in failing.stdout
    assert "-   replicas: 2" in failing.stdout and "+   replicas: 3" in failing.stdout

    accepted = run_pytest(repo, "--snapshot-update")
    assert accepted.returncode == 0 and "1 snapshot updated." in accepted.stdout
    assert run_pytest(repo).returncode == 0


def test_generated_dist_is_what_mlkube_synth_writes(starter_repo: Path, tmp_path: Path):
    result = run_mlkube("synth", "--out", str(tmp_path / "dist"), cwd=starter_repo)
    assert result.returncode == 0, result.stderr
    committed = {path: data for path, data in _files(starter_repo).items() if path.startswith("dist/")}
    assert committed == {f"dist/{path}": data for path, data in _files(tmp_path / "dist").items()}
    assert {"dist/dev/chat/job-finetune.yaml", "dist/dev/chat/persistentvolumeclaim-checkpoints.yaml",
            "dist/dev/chat/deployment-server.yaml", "dist/dev/my-app/deployment-server.yaml"} <= set(committed)


def test_generated_dist_passes_strict_validation(starter_repo: Path):
    result = run_mlkube("validate", "--strict", "dist", cwd=starter_repo)
    assert result.returncode == 0, result.stderr


def test_example_trains_into_a_volume_and_serves_from_it(starter_repo: Path):
    def load(name: str) -> dict:
        return YAML(typ="safe").load((starter_repo / "dist/dev/chat" / name).read_text())

    claim = load("persistentvolumeclaim-checkpoints.yaml")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    job = load("job-finetune.yaml")["spec"]
    assert "completionMode" not in job and "parallelism" not in job  # one node
    pod = job["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"name": "pvc-checkpoints", "persistentVolumeClaim": {"claimName": "checkpoints"}} in pod["volumes"]
    assert {"mountPath": "/mnt/checkpoints", "name": "pvc-checkpoints"} in pod["containers"][0]["volumeMounts"]
    server = load("deployment-server.yaml")["spec"]
    assert server["replicas"] == 2
    serving = server["template"]["spec"]
    assert {"name": "model", "persistentVolumeClaim": {"claimName": "checkpoints", "readOnly": True}} in serving["volumes"]
    assert {"mountPath": "/mnt/models", "name": "model", "readOnly": True, "subPath": "finetune/final"} in serving["containers"][0]["volumeMounts"]


def test_yaml_blueprint_points_at_the_schema_written_beside_it(starter_repo: Path):
    blueprint = (starter_repo / "apps/my-team/mlkube.yaml").read_text()
    assert blueprint.startswith("# yaml-language-server: $schema=../../schemas/blueprint.schema.json\n")
    assert (starter_repo / "apps/my-team/../../schemas/blueprint.schema.json").read_bytes() == schema_files()["blueprint.schema.json"]
    check = run_mlkube("blueprint", "check", "apps/my-team/mlkube.yaml", cwd=starter_repo)
    assert check.returncode == 0, check.stderr
    assert "1 file: 1 app, 1 workload, no errors" in check.stdout


def test_config_repo_workflows_are_what_mlkube_workflows_writes(starter_repo: Path):
    check = run_mlkube("workflows", "--check", cwd=starter_repo)
    assert check.returncode == 0, check.stdout + check.stderr
    pull_request = YAML(typ="safe").load((starter_repo / WORKFLOWS[0]).read_text())
    steps = [step.get("run") for step in pull_request["jobs"]["synth"]["steps"]]
    assert "pip install -e '.[dev]'" in steps and "mlkube validate --strict dist" in steps


def test_generated_repo_holds_the_starter_files(starter_repo: Path):
    files = _files(starter_repo)
    assert set(STARTER) <= set(files)
    assert "tests/__snapshots__/test_platform/test_platform_snapshot[dev-chat].yaml" in files
    assert "tests/__snapshots__/test_platform/test_platform_snapshot[dev-my-app].yaml" in files
    pyproject = files["pyproject.toml"].decode()
    assert f'"mlkube @ {REPO_ROOT.as_uri()}",' in pyproject
    assert f'"mlkube[testing] @ {REPO_ROOT.as_uri()}",' in pyproject
    assert 'name = "ml-config"' in pyproject and 'pythonpath = ["apps"]' in pyproject
    assert "app: python apps/main.py" in files["cdk8s.yaml"].decode()
    assert "dist" not in files[".gitignore"].decode().replace("# dist/ is NOT ignored", "")
    readme = files["README.md"].decode()
    assert "mlkube synth" in readme and "pytest --snapshot-update" in readme


def test_generated_ci_synthesizes_checks_dist_and_runs_the_tests(starter_repo: Path):
    workflow = YAML(typ="safe").load((starter_repo / ".github/workflows/ci.yml").read_text())
    assert set(workflow["on"]) == {"push", "pull_request"}
    steps = [step.get("run", step.get("uses")) for step in workflow["jobs"]["synth-and-test"]["steps"]]
    assert steps[:3] == ["actions/checkout@v4", "actions/setup-python@v5", "actions/setup-node@v4"]
    assert steps[3:] == ["python -m pip install -e '.[dev]'", "mlkube synth",
                         "git add --intent-to-add dist\ngit diff --exit-code -- dist\n", "python -m pytest"]


def _init(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["init", *args])
    return result.exit_code, result.output


def test_fails_when_the_folder_is_not_empty(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("mine")
    code, output = _init(str(tmp_path))
    assert code == 2
    assert f"{tmp_path} is not empty (1 entry: notes.txt); nothing was written" in output
    assert "pass --allow-non-empty" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_allow_non_empty_keeps_other_files(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("mine")
    code, output = _init(str(tmp_path), "--allow-non-empty")
    assert code == 0, output
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "apps" / "main.py").is_file()


def test_a_git_folder_alone_does_not_count_as_content(tmp_path: Path):
    (tmp_path / ".git").mkdir()
    code, output = _init(str(tmp_path))
    assert code == 0, output


def test_fails_when_files_would_be_overwritten_and_lists_them(tmp_path: Path):
    (tmp_path / "README.md").write_text("mine")
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "main.py").write_text("mine")
    code, output = _init(str(tmp_path), "--allow-non-empty")
    assert code == 2
    assert "2 files would be overwritten: README.md, apps/main.py; nothing was written" in output
    assert "pass --force" in output
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["README.md", "apps", "apps/main.py"]
    assert (tmp_path / "README.md").read_text() == "mine"


def test_force_overwrites(tmp_path: Path):
    (tmp_path / "README.md").write_text("mine")
    code, output = _init(str(tmp_path), "--allow-non-empty", "--force")
    assert code == 0, output
    assert (tmp_path / "README.md").read_text().startswith("# ")


def test_fails_when_a_folder_stands_where_a_file_goes(tmp_path: Path):
    (tmp_path / "README.md").mkdir()
    (tmp_path / "tests").write_text("a file")
    code, output = _init(str(tmp_path), "--allow-non-empty", "--force")
    assert code == 2
    assert "in the way of the starter files" in output and "README.md, tests; nothing was written" in output


def test_fails_when_the_target_is_a_file(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    code, output = _init(str(tmp_path / "file"))
    assert code == 2 and "exists and is not a folder" in output


def test_writes_nothing_when_a_write_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real_mkstemp, calls = tempfile.mkstemp, []

    def failing_mkstemp(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise OSError(28, "No space left on device", str(kwargs.get("dir")))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", failing_mkstemp)
    code, output = _init(str(tmp_path / "new"))
    assert code == 2 and "No space left on device; no file was changed" in output
    assert not (tmp_path / "new").exists()
