"""The typed public API (issue 18): what a type checker sees of the constructs' keywords, the exports and Platform.app.

The snippet below is checked by the real mypy with the repository's configuration (pyproject [tool.mypy]: strict,
pydantic plugin). Each line that must fail ends with ``# E: <error code>``; every other line must pass.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys

import pytest
from helpers import PACKAGE_ROOT, REPO_ROOT

import mlkube

SNIPPET = '''\
from mlkube import (BatchJob, CheckpointVolume, Environment, GitOps, GpuTrainingJob, Image, InferenceService, MlApp, Model,
                    Platform, ResourcesSpec, ScheduledJob, Waiver, WorkloadOverride)
from mlkube.core.keywords import InferenceServiceFields

platform = Platform(environments=[Environment(name="dev")])
override = WorkloadOverride(replicas=2)
waiver = Waiver(rule="MLK-NET-002", reason="public demo endpoint")
settings: GitOps | None = None
shared: InferenceServiceFields = {"image": "ghcr.io/acme/fraud:1.4.2", "replicas": 2}


@platform.app("fraud-scoring")
def fraud_scoring(app: MlApp) -> None:
    InferenceService(app, "server", image="vllm/vllm-openai:v0.11.0", runtime="vllm", model=Model.from_uri("hf://org/model"),
                     resources={"cpu": 8, "memory": "48Gi", "shm_size": "8Gi", "gpu": {"count": 1, "product": "NVIDIA-L4"}},
                     autoscaling={"min_replicas": 1, "max_replicas": 4}, waivers=[waiver, {"rule": "MLK-SEC-006", "reason": "r"}])
    InferenceService(app, "shared", **shared)
    InferenceService(app, "typo", imgae="ghcr.io/acme/fraud:1.4.2")  # E: call-arg
    InferenceService(app, "wrong-type", image="ghcr.io/acme/fraud:1.4.2", replicas="3")  # E: arg-type
    InferenceService(app, "nested-typo", image="ghcr.io/acme/fraud:1.4.2", resources={"gpu": {"cuont": 1}})  # E: arg-type
    InferenceService(app, "runtime-typo", image="ghcr.io/acme/fraud:1.4.2", runtime="vlm")  # E: arg-type
    GpuTrainingJob(app, "train", image=Image.build("models/fraud", purpose="training"), nodes=2, resources=ResourcesSpec(cpu="4"))
    GpuTrainingJob(app, "train-typo", image="ghcr.io/acme/train:1", nodse=2)  # E: call-arg
    BatchJob(app, "batch", image="ghcr.io/acme/batch:1", completions=4, parallelism=2, indexed=True)
    BatchJob(app, "batch-type", image="ghcr.io/acme/batch:1", indexed="yes")  # E: arg-type
    ScheduledJob(app, "nightly", image="ghcr.io/acme/batch:1", schedule="0 3 * * *", concurrency_policy="Forbid")
    ScheduledJob(app, "nightly-enum", image="ghcr.io/acme/batch:1", schedule="0 3 * * *", concurrency_policy="forbid")  # E: arg-type
    CheckpointVolume(app, "ckpt", size="100Gi", access_mode="ReadWriteMany")
    CheckpointVolume(app, "ckpt-typo", sise="100Gi")  # E: call-arg
    Image.build("models/fraud", purpse="serving")  # E: call-arg


platform.app("direct", fraud_scoring, environments=["dev"])
'''


def _mypy_errors(tmp_path) -> dict[int, set[str]]:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(SNIPPET)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO_ROOT / "pyproject.toml"), "--no-pretty", "--show-error-codes",
         "--cache-dir", str(REPO_ROOT / ".mypy_cache"), str(snippet)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    errors: dict[int, set[str]] = {}
    # Only the snippet's lines (lint checks the package). By file name: mypy's cache replays the errors of an unchanged
    # file under the path it had when they were found (an earlier tmp_path).
    for line in result.stdout.splitlines():
        match = re.match(r"(?:.*/)?snippet\.py:(\d+): error: .*\[([a-z-]+)\]$", line)
        if match:
            errors.setdefault(int(match[1]), set()).add(match[2])
    assert "snippet.py" in result.stdout or result.returncode == 0, result.stdout + result.stderr
    return errors


def test_mypy_reports_misspelled_keywords_and_wrong_types_and_accepts_correct_calls(tmp_path):
    expected = {number: {code} for number, line in enumerate(SNIPPET.splitlines(), 1)
                for code in re.findall(r"# E: ([a-z-]+)$", line)}
    assert len(expected) == 9
    assert _mypy_errors(tmp_path) == expected


def test_the_keyword_types_are_generated_from_the_current_specs():
    result = subprocess.run([sys.executable, str(REPO_ROOT / "bin" / "gen-keywords"), "--check"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_field_gives_its_default_by_keyword():
    result = subprocess.run([sys.executable, str(REPO_ROOT / "bin" / "field-defaults"), "--check"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _type_checking_imports() -> dict[str, str]:
    """name -> module of the ``if TYPE_CHECKING:`` imports of mlkube/__init__.py (what type checkers see)."""
    tree = ast.parse((PACKAGE_ROOT / "mlkube" / "__init__.py").read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING")
    return {alias.name: node.module for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}


def test_exports_are_explicit_and_the_same_for_type_checkers_and_at_run_time():
    assert mlkube.__all__ == sorted(mlkube._EXPORTS)
    assert _type_checking_imports() == mlkube._EXPORTS
    for name, module in mlkube._EXPORTS.items():
        assert getattr(mlkube, name) is getattr(importlib.import_module(f"mlkube.{module}"), name)


@pytest.mark.parametrize("name", ["GitOps", "WorkloadOverride", "Waiver"])
def test_the_settings_users_write_are_exported_at_the_top(name):
    assert name in mlkube.__all__
