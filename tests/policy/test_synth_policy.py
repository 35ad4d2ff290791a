"""The policy step of synth: errors fail synth (nothing written), warnings are printed, settings per environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from policy_examples import hardened_objects, naive_objects

from mlkube import Environment, MlApp, Platform
from mlkube.errors import MlkubeError
from mlkube.policy import waive
from mlkube.policy.synth_step import settings_for


def platform_with(objects: list[dict[str, Any]], **environment: Any) -> Platform:
    platform = Platform(environments=[Environment(name="dev", **environment)])

    @platform.app("fraud-scoring")
    def build(app: MlApp) -> None:
        for obj in objects:
            app.add_object(obj, f"{app.construct_path}/server")

    return platform


def test_hardened_app_synthesizes_without_warnings(tmp_path: Path) -> None:
    result = platform_with(hardened_objects()).synthesize(tmp_path / "dist")
    assert result.warnings == []
    assert (tmp_path / "dist" / "dev" / "fraud-scoring" / "deployment-server.yaml").exists()


def test_fails_when_objects_break_the_policy(tmp_path: Path) -> None:
    objects = naive_objects()
    for obj in objects:
        obj["metadata"]["namespace"] = "fraud-scoring"
    with pytest.raises(MlkubeError) as raised:
        platform_with(objects).synthesize(tmp_path / "dist")
    text = str(raised.value)
    assert text.startswith("error: synth failed; nothing was written (")
    assert ("  - dev/fraud-scoring/server: spec.template.spec.containers[0].securityContext.runAsNonRoot: MLK-PSS-007 "
            "Deployment/model-server: container 'server' may run as root: runAsNonRoot is not true on it or on the pod\n"
            "        hint: set securityContext.runAsNonRoot: true on the pod (and never false on a container); or waive it "
            "with a reason: Waiver(rule=\"MLK-PSS-007\", reason=\"...\")") in text
    assert "MLK-NET-002 Service/model-server: Service 'model-server' is of type LoadBalancer" in text
    assert not (tmp_path / "dist").exists()


def test_environment_allowed_registries_apply(tmp_path: Path) -> None:
    with pytest.raises(MlkubeError) as raised:
        platform_with(hardened_objects(), allowed_registries=("registry.acme.internal/",)).synthesize(tmp_path / "dist")
    assert [p.message.split(":")[0] for p in raised.value.problems] == ["MLK-IMG-002 Deployment/server"] * 2


def test_tags_are_warnings_where_digests_are_not_required(tmp_path: Path) -> None:
    objects = hardened_objects()
    objects[1]["spec"]["template"]["spec"]["containers"][0].update(image="ghcr.io/acme/fraud:1.0", imagePullPolicy="Always")
    result = platform_with(objects).synthesize(tmp_path / "dist")
    assert result.warnings == ["MLK-IMG-001 dev/fraud-scoring/server Deployment/server: spec.template.spec.containers[0].image: "
                               "container 'server' uses 'ghcr.io/acme/fraud:1.0', not pinned by digest"]
    assert "warning: MLK-IMG-001" in result.summary()


def test_settings_come_from_the_environment_with_safe_defaults() -> None:
    assert settings_for(Environment(name="dev")).allowed_registries == ()
    assert settings_for(Environment(name="dev")).require_digests is False
    assert settings_for(Environment(name="dev", allowed_registries=("ghcr.io/acme/",))).allowed_registries == ("ghcr.io/acme/",)
    assert settings_for(type("Env", (), {"require_pinned_images": True})()).require_digests is True


def test_waiver_lets_synth_pass_and_lands_in_the_file(tmp_path: Path) -> None:
    objects = hardened_objects()
    objects[2]["spec"]["type"] = "LoadBalancer"
    waive(objects[2], "MLK-NET-002", "public demo behind the cloud WAF")
    platform_with(objects).synthesize(tmp_path / "dist")
    written = yaml.safe_load((tmp_path / "dist" / "dev" / "fraud-scoring" / "service-server.yaml").read_text())
    assert written["metadata"]["annotations"] == {"mlkube.dev/waive.MLK-NET-002": "public demo behind the cloud WAF"}
