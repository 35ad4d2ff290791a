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
    assert "deployment-server.yaml" in build.objects
    assert build.specs["server"][0] == "InferenceService"
    assert not out.exists()


def test_fails_when_the_file_defines_no_platform(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("x = 1\n")
    with pytest.raises(MlkubeError, match="defines 0 Platform objects at module level"):
        load_platform(tmp_path / "main.py")


def test_an_app_folder_keeps_the_objects_another_app_puts_there() -> None:
    """A server that lets another app's pods call it writes their egress policy into the callers' folder (traffic/senders.py)."""
    from mlkube import Environment, InferenceService, Platform
    from mlkube.core.inference_service import Peer
    from mlkube.testing import synth_platform

    platform = Platform(environments=[Environment(name="dev", namespace="ml-{app}")])
    platform.app("client", lambda app: InferenceService(app, "caller", image="ghcr.io/acme/caller:1.0", replicas=2))
    platform.app("scoring", lambda app: InferenceService(app, "server", image="ghcr.io/acme/server:1.0", replicas=2, allow_from=[
        Peer(namespace="ml-client", pod_labels={"app.kubernetes.io/name": "caller"})]))
    synthesized = {obj["metadata"]["name"] for obj in synth_platform(platform).for_app("client")}
    built = {obj["metadata"]["name"] for obj in build_app(platform, "dev", "client", Path("unused-dist")).objects.values()}
    assert built == synthesized
    assert any(name.startswith("egress-to-") for name in built)
