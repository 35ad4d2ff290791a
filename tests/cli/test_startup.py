"""Start-up (issue 22): `mlkube --help` imports no command module, and commands that build no constructs
import neither cdk8s nor jsii. Import sets are checked, not times (benchmarks measure time: bench/run.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from helpers import PACKAGE_ROOT, REPO_ROOT

from mlkube.cli import SUMMARIES, main

_PROBE = """
import json, sys
from mlkube.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('cdk8s', 'jsii', 'constructs', 'cdk8s_plus_35')
                        or m.startswith(('mlkube.', 'kubernetes_validate')) or m in ('jsonschema', 'urllib.request', 'ruamel.yaml'))))
"""


def _imported(*args: str, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None) -> list[str]:
    result = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                            env={"PYTHONPATH": str(PACKAGE_ROOT), "PATH": "/usr/bin:/bin", **(env or {})})
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_help_imports_no_command_module() -> None:
    modules = _imported("--help")
    assert not [m for m in modules if m.startswith("mlkube.cli.") or not m.startswith("mlkube.")]
    assert not [m for m in modules if m.startswith(("mlkube.validation", "mlkube.policy", "mlkube.blueprint"))]


@pytest.mark.parametrize("args", [["validate", "dist"], ["diff", "dist", "dist"], ["check", "dist"], ["validate", "--help"],
                                  ["pin", "--dist", "dist", "--digests", "missing.json"]])
def test_commands_that_build_no_constructs_do_not_load_cdk8s(args: list[str]) -> None:
    modules = _imported(*args)
    assert any(m.startswith("mlkube.cli.") for m in modules)  # the command did run
    assert not [m for m in modules if m.split(".")[0] in ("cdk8s", "jsii", "constructs", "cdk8s_plus_35")], "cdk8s/jsii loaded"


def test_validate_of_valid_files_loads_only_what_it_uses() -> None:
    # Issue 22: validate streams files and loads the policy rules, Python jsonschema (error reports of invalid
    # objects only), HTTP clients and the workflow writer only when it needs them.
    modules = _imported("validate", "dist")
    assert "mlkube.validation.files" in modules  # the streamed path ran
    assert not [m for m in modules if m.startswith(("mlkube.policy", "mlkube.traffic", "mlkube.pinning", "mlkube.gitops"))]
    assert not {"jsonschema", "urllib.request", "ruamel.yaml"} & set(modules)


def test_summaries_are_each_command_s_own_help() -> None:
    ctx = click.Context(main)
    lazy = main.lazy  # type: ignore[attr-defined]
    missing = sorted(set(lazy) - set(SUMMARIES))
    assert not missing, f"add these commands' first help line to SUMMARIES in mlkube/cli/__init__.py: {missing}"
    for name in lazy:
        command = main.get_command(ctx, name)
        assert command is not None
        for limit in (45, 60, 1000):
            assert click.Command(name, help=SUMMARIES[name]).get_short_help_str(limit) == command.get_short_help_str(limit), name


_ONE_APP = """
from mlkube import InferenceService, Platform

platform = Platform(environments=[{"name": "dev", "namespace": "dev-{app}"}])
platform.app("server", lambda app: InferenceService(app, "server", image="ghcr.io/acme/model:1.0", resources={"cpu": "1", "memory": "1Gi"}))
platform.synth()
"""


def test_one_app_synth_loads_no_workflow_writer_blueprint_loader_nor_python_jsonschema(tmp_path: Path) -> None:
    # Issue 22 item 6: a synth that writes no workflows (no GitOps settings) does not import the workflow writer and
    # ruamel.yaml, a platform of Python apps does not import the YAML blueprint loader, and the cache fingerprint reads kubernetes_validate's version without importing it (and jsonschema).
    app = tmp_path / "main.py"
    app.write_text(_ONE_APP)
    modules = _imported("synth", "--app", str(app), "--out", str(tmp_path / "dist"), cwd=tmp_path,
                        env={"MLKUBE_CACHE_DIR": str(tmp_path / "cache"), "PATH": os.environ["PATH"]})
    assert (tmp_path / "dist" / "dev" / "server").is_dir()  # the synth did run
    assert "mlkube.core.synth" in modules
    assert not {"mlkube.gitops.workflows", "ruamel.yaml", "jsonschema"} & set(modules)
    assert not [m for m in modules if m.startswith("mlkube.blueprint")], "the YAML blueprint loader is for blueprints"
    assert not [m for m in modules if m.startswith("kubernetes_validate")]
