"""Odd input and a hostile environment get a clean error (exit 2, what and where), never a traceback."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from helpers import REPO_ROOT, run_mlkube

PINNED = "ghcr.io/acme/server:1.0@sha256:" + "a" * 64


def _clean_failure(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert expected in result.stderr, result.stderr


def _app_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "main.py"
    path.write_text("from mlkube import *\n" + textwrap.dedent(body))
    return path


def test_relative_external_secret_mount_path_in_python_is_a_clean_error(tmp_path):
    app = _app_file(tmp_path, f"""\
        platform = Platform(environments=[Environment(name="dev", namespace="ml-{{app}}")])
        platform.app("x", lambda app: InferenceService(app, "s", image="{PINNED}", external_secrets=[
            ExternalSecretSpec(name="db", store="vault", data={{"password": "x/db"}}, mount_path="relative/db")]))
        platform.synth()
        """)
    result = run_mlkube("synth", "--app", str(app), "--out", str(tmp_path / "dist"), cwd=tmp_path)
    _clean_failure(result, "main.py:4 ExternalSecretSpec: mount_path: must be an absolute path")


def test_blueprint_check_reports_a_relative_external_secret_mount_path(tmp_path):
    blueprint = tmp_path / "mlkube.yaml"
    blueprint.write_text(textwrap.dedent(f"""\
        apiVersion: mlkube.dev/v1alpha1
        kind: Blueprint
        app: x
        workloads:
          server:
            kind: InferenceService
            image: {PINNED}
            externalSecrets:
              - {{name: db, store: vault, data: {{password: "x/db"}}, mountPath: relative/db}}
        """))
    result = run_mlkube("blueprint", "check", str(blueprint), cwd=tmp_path)
    _clean_failure(result, "mlkube.yaml:9:")
    assert "workloads.server.externalSecrets[0].mountPath: must be an absolute path" in result.stderr


@contextlib.contextmanager
def _read_only_folder(tmp_path: Path):
    """A read-only file system (a tmpfs mounted ro, as root), else a folder of /proc (which refuses writes)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if shutil.which("mount") and subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(folder)],
                                                capture_output=True).returncode == 0:
        try:
            yield folder
        finally:
            subprocess.run(["umount", str(folder)], capture_output=True)
    else:
        yield Path("/proc/mlkube-no-such-folder")


def test_synth_on_a_read_only_file_system_is_a_clean_error(tmp_path):
    app = _app_file(tmp_path, f"""\
        platform = Platform(environments=[Environment(name="dev", namespace="ml-{{app}}")])
        platform.app("x", lambda app: InferenceService(app, "s", image="{PINNED}"))
        platform.synth()
        """)
    with _read_only_folder(tmp_path) as folder:
        result = run_mlkube("synth", "--app", str(app), "--out", str(folder / "dist"), cwd=tmp_path)
    _clean_failure(result, "error: ")
    assert "nothing was changed" in result.stderr or "could not write" in result.stderr


def _deep_lock(dist: Path) -> None:
    (dist / "images.lock.json").write_text('{"version": 1, "environments": ' + "[" * 100_000 + "]" * 100_000 + "}")


@pytest.mark.parametrize("command", [["check", "--pinned"], ["promote", "staging", "prod"], ["pin", "--digests", "digests.json"]])
def test_a_deeply_nested_lock_file_is_a_clean_error(tmp_path, command):
    dist = tmp_path / "dist"
    shutil.copytree(REPO_ROOT / "dist", dist)
    _deep_lock(dist)
    (tmp_path / "digests.json").write_text("{}")
    result = run_mlkube(*command, "--dist", str(dist), cwd=tmp_path)
    _clean_failure(result, "images.lock.json")


def test_promote_with_a_missing_dist_folder_is_a_clean_error(tmp_path):
    _clean_failure(run_mlkube("promote", "staging", "prod", "--dist", str(tmp_path / "nonexistent"), cwd=tmp_path),
                   "is not a folder")


@pytest.mark.parametrize("text", ["app: [\n", "- just\n- a list\n", "\tapp: x\n"])
def test_a_cdk8s_yaml_that_is_not_a_yaml_mapping_is_a_clean_error(tmp_path, text):
    (tmp_path / "cdk8s.yaml").write_text(text)
    _clean_failure(run_mlkube("synth", cwd=tmp_path), "cdk8s.yaml")


def test_a_python_app_named_empty_is_a_clean_error(tmp_path):
    app = _app_file(tmp_path, f"""\
        platform = Platform(environments=[Environment(name="dev")])
        platform.app("", lambda app: InferenceService(app, "s", image="{PINNED}"))
        platform.synth()
        """)
    result = run_mlkube("synth", "--app", str(app), "--out", str(tmp_path / "dist"), cwd=tmp_path)
    _clean_failure(result, "platform.app(''): name: an app name must not be empty")
