"""Loading a platform file for mlkube chart: nothing is synthesized, even by a file that calls synth() unconditionally."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.chart.build import build_app, load_platform
from mlkube.errors import MlkubeError

APP = '''
from mlkube import Environment, InferenceService, Platform

platform = Platform(environments=[Environment(name="dev", namespace="ml")], out_dir={out!r})
platform.app("scoring", lambda app: InferenceService(app, "server", image="ghcr.io/acme/server:1.0", replicas=2))
platform.synth()
'''


def test_a_file_that_synthesizes_unconditionally_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    (tmp_path / "main.py").write_text(APP.format(out=str(out)))
    platform = load_platform(tmp_path / "main.py")
    assert not out.exists()
    build = build_app(platform, "dev", "scoring", out)
    assert sorted(build.objects)[:2] == ["deployment-server.yaml", "networkpolicy-server.yaml"]
    assert build.specs["server"][0] == "InferenceService"
    assert not out.exists()


def test_fails_when_the_file_defines_no_platform(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("x = 1\n")
    with pytest.raises(MlkubeError, match="defines 0 Platform objects at module level"):
        load_platform(tmp_path / "main.py")
